"""The pieces without a database: bodies and their bounds, tokens, lines, settings, times."""

from __future__ import annotations

import asyncio
import dataclasses
import gzip
import hashlib
import json
from typing import Any, AsyncIterator, Dict, List

import pytest
import zstandard

from cra.server.body import BodyError, decompress, read_limited
from cra.server.events import BadLine, parse_line, split_lines
from cra.server.settings import Settings, SettingsError
from cra.server.timeparse import TimeError, parse_time
from cra.server.tokens import TokenFileError, TokenStore

from .helpers import lines


def test_decompress_each_encoding_and_its_bounds() -> None:
    data = b'{"a":1}\n' * 1000
    assert decompress(data, None, 10**6) == data
    assert decompress(gzip.compress(data), "gzip", 10**6) == data
    assert decompress(zstandard.ZstdCompressor().compress(data), "zstd", 10**6) == data
    for body, enc in ((data, "identity"), (gzip.compress(data), "gzip"), (zstandard.ZstdCompressor().compress(data), "zstd")):
        with pytest.raises(BodyError) as e:
            decompress(body, enc, len(data) - 1)
        assert e.value.status == 413
    bomb = gzip.compress(b"\0" * (50 * 1024 * 1024))
    with pytest.raises(BodyError) as e:
        decompress(bomb, "gzip", 1024 * 1024)
    assert e.value.status == 413
    bad = [(b"nope", "gzip"), (gzip.compress(data)[:-20], "gzip"), (gzip.compress(data) + b"x", "gzip"),
           (b"nope", "zstd"), (zstandard.ZstdCompressor().compress(data)[:-9], "zstd")]
    for body, enc in bad:
        with pytest.raises(BodyError) as e:
            decompress(body, enc, 10**6)
        assert e.value.status == 400, (enc, body[:10])
    with pytest.raises(BodyError) as e:
        decompress(data, "br", 10**6)
    assert e.value.status == 415


def test_read_limited_stops_at_the_limit() -> None:
    async def chunks(n: int) -> AsyncIterator[bytes]:
        for _ in range(n):
            yield b"x" * 1000

    assert len(asyncio.run(read_limited(chunks(5), 5000, None))) == 5000
    for declared in (None, "4000"):
        with pytest.raises(BodyError) as e:
            asyncio.run(read_limited(chunks(5), 4999, declared))
        assert e.value.status == 413
    with pytest.raises(BodyError) as e:
        asyncio.run(read_limited(chunks(1), 10, "ten"))
    assert e.value.status == 400


def test_tokens_file(tmp_path: Any) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps({"plain": {"tenant": "acme", "rights": ["write"]},
                                "sha256:" + hashlib.sha256(b"secret").hexdigest(): {"tenant": "b", "rights": ["read", "admin"]}}))
    store = TokenStore.from_file(str(path))
    p = store.lookup("plain")
    assert p is not None and p.tenant == "acme" and p.can("write") and not p.can("read")
    q = store.lookup("secret")
    assert q is not None and q.tenant == "b" and q.can("admin")
    assert store.lookup("sha256:" + hashlib.sha256(b"secret").hexdigest()) is None  # the hash is not the token
    assert store.lookup("") is None and store.lookup("x" * 10000) is None and store.lookup("plain ") is None
    bad: List[Any] = [
        [], {}, {"t": {"tenant": "a"}}, {"t": {"tenant": "a", "rights": ["root"]}}, {"t": {"tenant": "a b", "rights": ["read"]}},
        {"t": {"tenant": "a", "rights": ["read"], "x": 1}}, {"sha256:xyz": {"tenant": "a", "rights": ["read"]}},
        {"t": "acme"},
    ]
    for doc in bad:
        with pytest.raises(TokenFileError):
            TokenStore.from_mapping(doc)
    with pytest.raises(TokenFileError):
        TokenStore.from_mapping({"s": {"tenant": "a", "rights": ["read"]},
                                 "sha256:" + hashlib.sha256(b"s").hexdigest(): {"tenant": "b", "rights": ["read"]}})
    for text in ("{not json", ""):
        path.write_text(text)
        with pytest.raises(TokenFileError):
            TokenStore.from_file(str(path))
    with pytest.raises(TokenFileError):
        TokenStore.from_file(str(tmp_path / "missing.json"))


def test_split_and_parse_lines(demo: bytes) -> None:
    ls = lines(demo)
    assert len(split_lines(demo, 1000, 10**6)) == len(ls)
    for body, line in ((b"", 1), (ls[0] + ls[1].rstrip(b"\n"), 2), (ls[0] + b"\n" + ls[1], 2)):
        with pytest.raises(BadLine) as e:
            split_lines(body, 1000, 10**6)
        assert e.value.line == line
    with pytest.raises(BadLine) as e:
        split_lines(b"".join(ls[:5]), 4, 10**6)
    assert e.value.code == "too_many_lines"
    with pytest.raises(BadLine) as e:
        split_lines(ls[0], 10, 100)
    assert e.value.code == "line_too_long"
    ev = parse_line(0, ls[0].rstrip(b"\n"))
    assert ev.sequence == 0 and ev.event_type == "session.started" and ev.ts_us > 0
    obj = json.loads(ls[0])
    changes: List[Dict[str, Any]] = [{"sequence": -1}, {"sequence": 2**53}, {"sequence": True}, {"payload": []},
                                     {"timestamp": "yesterday"}, {"event_id": ""}, {"trace_id": "t" * 600},
                                     {"session_id": None}]
    for change in changes:
        with pytest.raises(BadLine):
            parse_line(6, json.dumps(dict(obj, **change)).encode())
    for raw in (b"[1]", b"nan", b'{"a":'):
        with pytest.raises(BadLine) as e:
            parse_line(6, raw)
        assert e.value.line == 7


def test_settings_from_env_and_checks() -> None:
    s = Settings.from_env({"CRA_INGEST_MAX_BODY": "1000", "CRA_INGEST_HOLD_SECONDS": "2.5", "CRA_INGEST_DB": "x.db"},
                          port=9000, max_body=None)
    assert (s.max_body, s.hold_seconds, s.port, s.db) == (1000, 2.5, 9000, "x.db")
    for bad in ({"CRA_INGEST_MAX_BODY": "lots"}, {"CRA_INGEST_MAX_BODY": "0"}, {"CRA_INGEST_HOLD_SECONDS": "-1"},
                {"CRA_INGEST_DB": "mysql://x"}, {"CRA_INGEST_PORT": "70000"}):
        with pytest.raises(SettingsError):
            Settings.from_env(bad)


def test_time_parameters() -> None:
    now = 1_800_000_000_000_000
    assert parse_time("24h", "since", now) == now - 86_400_000_000
    assert parse_time("2026-11-25T12:00:00Z", "since") == parse_time("2026-11-25T12:00:00.000000Z", "since")
    assert parse_time("2026-11-25", "since") == parse_time("2026-11-25T00:00:00Z", "since")
    assert parse_time(None, "since") is None
    for bad in ("soon", "12", "2026-11-25T12:00:00", "-3h"):
        with pytest.raises(TimeError):
            parse_time(bad, "since")


def test_cra_serve_refuses_bad_configuration_before_listening(tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    from cra.cli import main

    for k in ("CRA_INGEST_TOKENS", "CRA_INGEST_DB"):
        monkeypatch.delenv(k, raising=False)
    good = tmp_path / "tokens.json"
    good.write_text(json.dumps({"t": {"tenant": "a", "rights": ["read"]}}))
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    notdb = tmp_path / "not.sqlite3"
    notdb.write_bytes(b"this is not a database" * 100)
    cases = [
        (["serve"], "tokens file is required"),
        (["serve", "--tokens", str(bad)], "non-empty"),
        (["serve", "--tokens", str(tmp_path / "none.json")], "cannot read"),
        (["serve", "--tokens", str(good), "--db", "mysql://x"], "sqlite:///PATH or postgresql"),
        (["serve", "--tokens", str(good), "--db", f"sqlite:///{tmp_path}/no/such/dir/x.db"], "does not exist"),
        (["serve", "--tokens", str(good), "--db", f"sqlite:///{notdb}"], "cannot open the database"),
        (["serve", "--tokens", str(good), "--db", "postgresql://u:secret@127.0.0.1:1/x"], "u:***@"),
        (["serve", "--tokens", str(good), "--port", "99999"], "port"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "secret" not in err, (argv, err)


def _variants(base: bytes) -> List[bytes]:
    """Lines around one real event: payloads of every shape facts() reads, lines libcra's scan
    does not read (so parse_line reads them), and lines that are no event at all."""
    ev = json.loads(base)
    out: List[bytes] = []

    def with_payload(p: Any) -> None:
        e = dict(ev, payload=p)
        out.append(json.dumps(e, separators=(",", ":"), sort_keys=True).encode())

    for p in (
        {},
        {"agent_id": "a" * 600, "status": "pending_approval", "action_id": 5, "actions": ["x"]},
        {"agent_id": 7, "request": {"requester": {"agent_id": "req-agent"}}},
        {"agent_id": "", "request": {"requester": {"agent_id": "ignored"}}},
        {"request": {"requester": "not an object"}}, {"request": [1, 2]}, {"request": {"requester": {"agent_id": ["x"]}}},
        {"actions": ["only"]}, {"actions": ["a", "b"]}, {"actions": [3]}, {"actions": "x"},
        {"decision": "rejected", "reason_code": "rate_limit_exceeded"}, {"decision": {"x": 1}},
        {"verdicts": [{"action_id": "a", "atlas_id": "at", "why": [1]}, 3, {"action_id": "b"}, {"action_id": "c", "atlas_id": ""}]},
        {"verdicts": {"a": 1}}, {"atlases": [{"atlas_id": "x", "v": 1}, "y", {"atlas_id": 3}, {"atlas_id": "x"}]},
        {"atlases": "x", "atlas_id": "own", "policy_id": "p" * 700}, {"atlas_id": "", "policy_id": None, "reason_code": 1.5},
        {"status": "authorized", "nested": {"agent_id": "not this"}, "é": "ü\u2028"},
    ):
        for t in ("action.requested", "action.denied", "carp.resolution.completed", "policy.evaluated", "session.started"):
            e = dict(ev, payload=p, event_type=t)
            out.append(json.dumps(e, separators=(",", ":"), sort_keys=True).encode())
    with_payload({"agent_id": "bot"})
    # Not read by the scan (parse_line decides): other timestamp forms, spacing, extra members,
    # a member twice, ids at and over the bounds, sequences at the bounds.
    for ts in ("2026-11-25T12:00:00Z", "2026-11-25T12:00:00.5+00:00", "2026-11-25 12:00:00.123456Z", "2026-11-25T12:00:60.000000Z"):
        out.append(json.dumps(dict(ev, timestamp=ts)).encode())
    out.append(json.dumps(ev, indent=1).replace("\n", " ").encode())
    out.append(json.dumps(dict(ev, extra=1)).encode())
    out.append(base[:-1] + b',"payload":{"agent_id":"twice"}}')
    out.append(base.replace(b'"payload":{', b'"payload":{"agent_id":"x","agent_id":"y",', 1))
    for k, v in (("event_id", "e" * 512), ("trace_id", "t" * 513), ("sequence", 2**53 - 1), ("sequence", 2**53),
                 ("sequence", -1), ("sequence", 1.0), ("sequence", True), ("session_id", ""), ("event_type", 3),
                 ("payload", []), ("timestamp", "yesterday"), ("event_hash", None)):
        out.append(json.dumps(dict(ev, **{k: v})).encode())
    out += [b"[1,2]", b"not json", b'"x"', b"\xff\xfe", b"{}"]
    return out


def _read_one_by_one(raws: List[bytes]) -> List[Any]:
    got: List[Any] = []
    for i, raw in enumerate(raws):
        try:
            got.append(parse_line(i, raw))
        except BadLine as e:
            got.append(("BadLine", e.line, e.code, e.message))
    return got


def test_libcra_batch_reading_equals_parse_line(demo: bytes, several: bytes) -> None:
    """parse_lines (one cra_trace_scan call, parse_line for the lines it does not read) gives
    exactly what parse_line gives, line by line: the same Line objects and index facts, the same
    BadLine for the first line that is no event."""
    from cra.server.events import _scan, parse_lines

    real = lines(demo) + lines(several)
    body = b"".join(real)
    raws = split_lines(body, 10**6, 1 << 20)
    whole = _scan(body)
    assert whole is not None and all(x is not None for x in whole), "the scan reads every real event"
    assert parse_lines(body, raws) == [parse_line(i, r) for i, r in enumerate(raws)]
    odd = _variants(real[0].rstrip(b"\n")) + _variants(real[-1].rstrip(b"\n"))
    scanned = _scan(b"".join(x + b"\n" for x in odd))
    assert scanned is not None and any(x is None for x in scanned) and sum(x is not None for x in scanned) > 100
    want = _read_one_by_one(odd)
    # Every line alone (a batch stops at its first bad line), and the good ones together.
    for i, raw in enumerate(odd):
        try:
            got: Any = parse_lines(raw + b"\n", [raw])[0]
            got = dataclasses.replace(got, index=i)
        except BadLine as e:
            got = ("BadLine", e.line + i, e.code, e.message)
        assert got == want[i], (i, raw[:300])
    good = [r for r, w in zip(odd, want) if not isinstance(w, tuple)]
    assert parse_lines(b"".join(x + b"\n" for x in good), good) == [parse_line(i, r) for i, r in enumerate(good)]
