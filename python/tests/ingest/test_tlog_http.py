"""The transparency log through a real ``cra serve`` (SQLite): checkpoints on the timer and on
demand, keys, proofs, entries, auth and tenancy, and the ``cra log`` CLI end to end: fetch a
bundle, verify it offline, tamper with the database, fetch again and see the verdict name it."""

from __future__ import annotations

import base64
import json
import os
import sqlite3
import stat
import subprocess
import sys
import time
from typing import Any, Dict, Iterator, List, Tuple

import pytest

from . import tlog_independent as ind
from .helpers import by_trace, field, lines
from .server import Server, write_tokens


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Server, str]]:
    d = tmp_path_factory.mktemp("tlog-srv")
    db = str(d / "ingest.sqlite3")
    tokens = str(d / "tokens.json")
    write_tokens(tokens)
    s = Server(f"sqlite:///{db}", tokens, str(d / "server.log"), "--sweep-seconds", "0", "--checkpoint-seconds",
               "0.2", "--log-origin", "audit.example/cra")
    s.start()
    try:
        yield s, db
    finally:
        s.stop()


def get(s: Server, path: str, token: str = "all-acme") -> Tuple[int, Any]:
    status, headers, raw = s.request("GET", path, token=token)
    if headers.get("content-type", "").startswith("application/json"):
        return status, json.loads(raw)
    return status, raw.decode()


def test_log_endpoints(srv: Tuple[Server, str], demo: bytes) -> None:
    s, db = srv
    key_file = os.path.join(os.path.dirname(s.log_path), "log.key")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600  # created on first start
    assert s.post(demo, "all-acme")[0] == 202
    keys = get(s, "/v1/log/keys")[1]
    assert keys["origin"] == "audit.example/cra/acme" and keys["vkeys"] == [keys["active"]]
    vkey = keys["active"]
    deadline = time.monotonic() + 60  # the timer signs within a few rounds
    while True:
        status, note = get(s, "/v1/log/checkpoint")
        if status == 200 and f"\n{len(lines(demo))}\n" in note:
            break
        assert time.monotonic() < deadline, (status, note)
        time.sleep(0.1)
    cp = ind.open_note(note, vkey)
    status, headers, raw = s.request("POST", "/v1/log/checkpoint", token="r-acme")
    assert status == 200 and headers["content-type"].startswith("text/plain") and raw.decode() == note
    assert headers["x-cra-log-size"] == str(cp["size"])
    assert get(s, f"/v1/log/checkpoint?size={cp['size']}")[1] == note
    assert get(s, "/v1/log/checkpoint?size=3")[0] == 404
    assert get(s, "/v1/log/checkpoints")[1]["checkpoints"][-1]["note"] == note
    state = get(s, "/v1/log/state")[1]
    assert base64.b64decode(state["root"]) == cp["root"]
    ls = lines(demo)
    leaves = [ind.h_leaf(x[:-1]) for x in ls]  # one batch: arrival order is file order... within each trace
    eid = str(field(ls[5], "event_id"))
    status, p = get(s, f"/v1/log/proof/inclusion?event_id={eid}")
    assert status == 200 and p["event_id"] == eid and p["checkpoint"] == note
    assert ind.check_inclusion(p["index"], p["size"], ind.h_leaf(ls[5][:-1]), ind.b64s(p["hashes"]), cp["root"])
    by_index = get(s, f"/v1/log/proof/inclusion?index={p['index']}")[1]
    assert by_index["hashes"] == p["hashes"] and by_index["leaf_hash"] == p["leaf_hash"]
    status, c = get(s, f"/v1/log/proof/consistency?from=7&to={cp['size']}")
    ent = get(s, f"/v1/log/entries?start=0&end={cp['size']}")[1]["entries"]
    log_leaves = [base64.b64decode(e["leaf_hash"]) for e in ent]
    assert sorted(log_leaves) == sorted(leaves) and ind.mth(log_leaves) == cp["root"]
    assert all(ind.h_leaf(e["line"].encode()) == base64.b64decode(e["leaf_hash"]) for e in ent)
    assert ind.check_consistency(7, cp["size"], ind.mth(log_leaves[:7]), cp["root"], ind.b64s(c["hashes"]))
    tid = next(iter(by_trace(demo)))
    one = get(s, f"/v1/log/proof/trace/{tid}")[1]
    status, headers, raw = s.request("POST", "/v1/log/proofs", json.dumps({"trace_ids": [tid, "nope"]}).encode(),
                                     "all-acme", {"Content-Type": "application/json"})
    many = json.loads(raw)
    assert status == 200 and many["missing"] == ["nope"] and many["traces"] == one["traces"]
    # errors, auth, tenancy
    assert get(s, "/v1/log/proof/inclusion?event_id=nope")[0] == 404
    assert get(s, "/v1/log/proof/inclusion?event_id=a&index=1")[0] == 400
    assert get(s, f"/v1/log/proof/inclusion?index=0&size={cp['size'] + 100}")[0] == 400
    assert get(s, "/v1/log/checkpoint", token="w-acme")[0] == 403
    assert s.request("GET", "/v1/log/checkpoint")[0] == 401
    assert s.request("POST", "/v1/log/proofs", b"{}", "all-acme")[0] == 400
    assert get(s, "/v1/log/checkpoint", token="all-globex")[0] == 404  # another tenant: its own (empty) log
    assert get(s, f"/v1/log/proof/inclusion?event_id={eid}", token="all-globex")[0] in (404,)
    metrics = s.request("GET", "/metrics")[2].decode()
    assert "cra_log_checkpoints_total" in metrics and "cra_log_refused_total 0" in metrics


def test_cli_fetch_verify_tamper_verify(srv: Tuple[Server, str], several: bytes, tmp_path: Any) -> None:
    s, db = srv
    assert s.post(several, "all-cli")[0] == 202
    env = dict(os.environ, CRA_SERVER=s.url(), CRA_TOKEN="all-cli")

    def cli(*args: str) -> "subprocess.CompletedProcess[bytes]":
        return subprocess.run([sys.executable, "-m", "cra", "log", *args], capture_output=True, env=env, timeout=120)

    r = cli("vkeys")
    assert r.returncode == 0, r.stderr
    (tmp_path / "vkeys").write_bytes(r.stdout)
    tids = list(by_trace(several))
    b1, b2 = str(tmp_path / "b1.json"), str(tmp_path / "b2.json")
    r = cli("fetch", *tids, "-o", b1)
    assert r.returncode == 0, r.stderr
    r = cli("verify", "--key-file", str(tmp_path / "vkeys"), "--bundle", b1, "--require-session-end")
    assert r.returncode == 0 and b"verified" in r.stdout, r.stdout + r.stderr
    r = cli("audit", "--key-file", str(tmp_path / "vkeys"))
    assert r.returncode == 0, r.stdout + r.stderr
    b0 = str(tmp_path / "b0.json")  # a query's export: the traces an agent left this week
    r = cli("fetch", "--agent", "support-bot-1", "--since", "7d", "-o", b0)
    assert r.returncode == 0 and b"12 of 12 traces" in r.stderr, r.stderr
    r = cli("verify", "--key-file", str(tmp_path / "vkeys"), "--bundle", b0, "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["traces"] == 12, r.stdout
    cp_file = tmp_path / "cp.txt"
    assert cli("checkpoint", "-o", str(cp_file)).returncode == 0
    # the operator cuts a session's tail in the database file
    victim = tids[4]
    last = len(by_trace(several)[victim]) - 1
    with sqlite3.connect(db) as c:
        c.execute("DELETE FROM events WHERE tenant = 'cli' AND trace_id = ? AND sequence = ?", (victim, last))
    r = cli("fetch", "--kept", b1, "-o", b2)
    assert r.returncode == 0, r.stderr
    r = cli("verify", "--key-file", str(tmp_path / "vkeys"), "--bundle", b2, "--kept", b1, "--json")
    assert r.returncode == 1, r.stdout + r.stderr
    verdict: Dict[str, Any] = json.loads(r.stdout)
    probs: List[Dict[str, Any]] = verdict["problems"]
    assert [(p["code"], p["trace_id"], p["sequence"]) for p in probs] == [("missing_event", victim, last)]
    r = cli("audit", "--key-file", str(tmp_path / "vkeys"), "--old-checkpoint", str(cp_file), "--json")
    assert r.returncode == 1 and [p["code"] for p in json.loads(r.stdout)["problems"]] == ["missing_leaf"]
    r = cli("verify", "--key", "x.example/log+00000000+AAAA", "--bundle", b2)
    assert r.returncode == 2  # a key that is not a key: usage
    bad = json.loads(open(b1).read())
    bad["checkpoint"] = bad["checkpoint"].replace("\n\n", "\nextension\n\n")
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    r = cli("verify", "--key-file", str(tmp_path / "vkeys"), "--bundle", str(tmp_path / "bad.json"))
    assert r.returncode == 1 and b"bad_signature" in r.stdout
    key_file = os.path.join(os.path.dirname(s.log_path), "log.key")
    r = cli("vkey", "--log-key", key_file, "--origin", "localhost/cra-ingest/cli")
    assert r.returncode == 0 and r.stdout.count(b"\n") == 1
