"""Receipts for agents (docs/transparency.md §8): a resolver with the HTTP sink and
``receipts_file`` delivers to a real ``cra serve``; the sink's own thread fetches the first
checkpoint covering each batch and its leaves' proofs and writes one receipt per batch. The
receipts verify offline with the server's key (``cra log receipts``; also re-checked here with the
test's independent implementation), tampered receipts or a tampered copy of the events fail, and a
receiver without a log (or a token without the ``read`` right) yields no receipts and no storm of
requests. No timing asserts: every wait is on a condition with a generous bound."""

from __future__ import annotations

import base64
import http.server
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Tuple

import pytest

import cra

from . import tlog_independent as ind
from .helpers import SUPPORT, lines, many_traces
from .server import Server, write_tokens

SEED = 4242
SESSIONS = 6


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("receipts-srv")
    tokens = str(d / "tokens.json")
    write_tokens(tokens)
    s = Server(f"sqlite:///{d / 'ingest.sqlite3'}", tokens, str(d / "server.log"), "--sweep-seconds", "0",
               "--checkpoint-seconds", "0.2", "--log-origin", "audit.example/cra")
    s.start()
    try:
        yield s
    finally:
        s.stop()


def wait_for(what: str, cond: Callable[[], bool], bound: float = 120.0) -> None:
    deadline = time.monotonic() + bound
    while not cond():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


def traffic(r: cra.Resolver) -> None:
    """The traffic of :func:`helpers.many_traces` (same seed: byte-identical events)."""
    r.load_atlas(SUPPORT)
    for s in range(SESSIONS):
        sid = f"s-{s}"
        res = r.resolve(agent="support-bot-1", session=sid, goal="look up an order",
                        atlas_ids=["com.example.customer-support"])
        for c in range(3):
            auth = r.authorize("orders.lookup", {"order_id": f"ORD-{1000 + c}"}, resolution=res)
            r.report(auth, {"ok": c})
        r.authorize("customers.delete_account", {"customer_id": "C-1"}, resolution=res)
        r.end_session(sid)


def http_resolver(url: str, token: str, receipts: str, **extra: Any) -> cra.Resolver:
    http = {"url": url, "token": token, "batch_max_events": 7, "batch_max_delay_ms": 20, "timeout_ms": 5000,
            "max_retries": 2, "backoff_initial_ms": 5, "backoff_max_ms": 50, "receipts_file": receipts, **extra}
    return cra.Resolver(trace={"sink": "http", "http": http}, deterministic=SEED)


def http_stats(r: cra.Resolver) -> Dict[str, Any]:
    st: Dict[str, Any] = r.stats()["trace"]["http"]
    return st


def run_cli(*args: str) -> Tuple[int, str]:
    p = subprocess.run([sys.executable, "-m", "cra", "log", *args], capture_output=True, text=True, timeout=120)
    return p.returncode, p.stdout + p.stderr


def vkey_of(s: Server) -> str:
    status, keys = s.get_json("/v1/log/keys", "all-acme")
    assert status == 200
    return str(keys["active"])


def test_ingest_answer_names_leaves_and_duplicates_keep_theirs(srv: Server, tmp_path: Any) -> None:
    data = many_traces(str(tmp_path / "t.jsonl"), 2, deterministic=99)
    status, body, _ = srv.post(data, "all-acme")
    assert status == 202 and body["accepted"] == len(lines(data))
    idx = body["log"]["indices"]
    assert len(idx) == len(lines(data)) and None not in idx
    assert len(set(idx)) == len(idx) and max(idx) < body["log"]["size"]
    again = srv.post(data, "all-acme")[1]  # every line a duplicate: still provable, at the same leaves
    assert again["duplicate"] == len(lines(data)) and again["log"]["indices"] == idx
    # the leaves are the events' lines: check one with the proofs-by-index answer
    wait_for("a checkpoint covering the batch",
             lambda: srv.get_json(f"/v1/log/checkpoints?after={max(idx)}&limit=1", "all-acme")[1]["checkpoints"] != [])
    status, _, raw = srv.request("POST", "/v1/log/proofs", json.dumps({"indices": idx[:3]}).encode(), "all-acme")
    assert status == 200
    ans = json.loads(raw)
    cp = ind.open_note(ans["checkpoint"], vkey_of(srv))
    for ln, leaf in zip(lines(data)[:3], ans["leaves"]):
        assert leaf["leaf_hash"] == base64.b64encode(ind.h_leaf(ln[:-1])).decode()
        proof = [base64.b64decode(ans["hashes"][k]) for k in leaf["proof"]]
        assert ind.check_inclusion(leaf["index"], ans["size"], ind.h_leaf(ln[:-1]), proof, cp["root"])
    bad = srv.request("POST", "/v1/log/proofs", json.dumps({"indices": [10 ** 9]}).encode(), "all-acme")
    assert bad[0] == 409
    both = srv.request("POST", "/v1/log/proofs", json.dumps({"indices": [0], "trace_ids": ["x"]}).encode(), "all-acme")
    assert both[0] == 400


def test_receipts_are_written_and_verify_offline_and_tampering_fails(srv: Server, tmp_path: Any) -> None:
    ref_path = str(tmp_path / "mine.jsonl")
    ref = many_traces(ref_path, SESSIONS, deterministic=SEED)  # the sender's own copy of what it sends
    rpath = str(tmp_path / "receipts.jsonl")
    r = http_resolver(srv.url() + "/v1/traces", "all-acme", rpath)
    try:
        traffic(r)
        r.flush(60)
        wait_for("every batch delivered", lambda: http_stats(r)["queued_events"] == 0 and http_stats(r)["sent_events"]
                 == len(lines(ref)))
        wait_for("a receipt for every batch", lambda: http_stats(r)["receipts_written"] == http_stats(r)["sent_batches"])
        st = http_stats(r)
    finally:
        r.close()
    assert st["receipts_pending"] == 0 and st["receipts_failed"] == 0 and st["receipts_unavailable"] == 0, st
    assert st["sent_batches"] >= 3  # several batches (7 events each)
    with open(rpath, "rb") as f:
        receipts = [json.loads(x) for x in f.read().splitlines()]
    assert len(receipts) == st["sent_batches"]
    vkey = vkey_of(srv)
    mine = {json.loads(ln)["event_id"]: ln[:-1] for ln in lines(ref)}
    listed: List[str] = []
    for rc in receipts:  # independent check: signature, every leaf is our own line, inclusion
        assert rc["format"] == "cra-receipt/1"
        cp = ind.open_note(rc["checkpoint"], vkey)
        assert cp["size"] == rc["size"]
        hashes = [base64.b64decode(h) for h in rc["hashes"]]
        for ev in rc["events"]:
            leaf = ind.h_leaf(mine[ev["event_id"]])
            assert base64.b64decode(ev["leaf_hash"]) == leaf
            assert ind.check_inclusion(ev["index"], rc["size"], leaf, [hashes[k] for k in ev["proof"]], cp["root"])
            listed.append(ev["event_id"])
    assert sorted(listed) == sorted(mine)  # every event sent has its receipt, once

    code, out = run_cli("receipts", "--key", vkey, rpath, "--trace", ref_path)
    assert code == 0 and "verified" in out, out
    verdict = cra.tlog.verify_receipts(keys=[vkey], receipts=open(rpath, "rb").read(), traces=ref)
    assert verdict.ok and verdict.events == len(mine) and not verdict.notes, verdict.to_json()

    def tampered(change: Callable[[List[Dict[str, Any]]], None]) -> Tuple[int, str]:
        docs = [json.loads(json.dumps(x)) for x in receipts]
        change(docs)
        p = str(tmp_path / "tampered.jsonl")
        with open(p, "w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in docs))
        return run_cli("receipts", "--key", vkey, p, "--trace", ref_path, "--json")

    def root_changed(docs: List[Dict[str, Any]]) -> None:
        head, sigs = docs[0]["checkpoint"].split("\n\n", 1)
        origin, size, root = head.split("\n")
        other = base64.b64encode(bytes(32)).decode()
        docs[0]["checkpoint"] = f"{origin}\n{size}\n{other}\n\n{sigs}"

    def proof_changed(docs: List[Dict[str, Any]]) -> None:
        docs[1]["hashes"][0] = base64.b64encode(bytes(32)).decode()

    def index_moved(docs: List[Dict[str, Any]]) -> None:
        docs[0]["events"][0]["index"] += 1

    def receipt_for_other_bytes(docs: List[Dict[str, Any]]) -> None:
        docs[2]["batch_blake3"] = "00" * 32

    for change, code_expected in [(root_changed, "bad_signature"), (proof_changed, "not_included"),
                                  (index_moved, "not_included"), (receipt_for_other_bytes, "batch_mismatch")]:
        code, out = tampered(change)
        assert code == 1, (change.__name__, out)
        assert code_expected in {p["code"] for p in json.loads(out)["problems"]}, (change.__name__, out)

    # the sender's copy rewritten (a recomputed chain would not help: the log holds what was sent)
    first = lines(ref)[0]
    ev = json.loads(first)
    ev["ts"] = ev.get("ts", "") + "x" if isinstance(ev.get("ts"), str) else 1
    forged = json.dumps(ev, separators=(",", ":"), sort_keys=True).encode() + b"\n"
    other = str(tmp_path / "forged.jsonl")
    with open(other, "wb") as fw:
        fw.write(forged + b"".join(lines(ref)[1:]))
    code, out = run_cli("receipts", "--key", vkey, rpath, "--trace", other, "--json")
    codes = {p["code"] for p in json.loads(out)["problems"]}
    assert code == 1 and {"leaf_mismatch", "batch_mismatch"} <= codes, out
    # another log's key: nothing verifies
    code, out = run_cli("receipts", "--key", "audit.example/cra/globex+00000000+AQ" + "A" * 42 + "=", rpath)
    assert code in (1, 2) and "verified" not in out.splitlines()[-1:], out


class _NoLog(http.server.BaseHTTPRequestHandler):
    """A receiver that stores batches (202) and has no transparency log; with ``positions`` its
    answer names log positions but ``/v1/log/...`` is 404 all the same."""

    positions = False
    log_requests = 0
    lock = threading.Lock()

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        if self.path == "/v1/traces":
            import gzip

            data = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
            k = data.count(b"\n")
            ans: Dict[str, Any] = {"accepted": k, "duplicate": 0, "rejected": 0}
            if type(self).positions:
                ans["log"] = {"size": 10 ** 6, "indices": list(range(k))}
            self._answer(202, json.dumps(ans).encode())
            return
        with type(self).lock:
            type(self).log_requests += 1
        self._answer(404, b'{"detail": "Not Found"}')

    def do_GET(self) -> None:
        with type(self).lock:
            type(self).log_requests += 1
        self._answer(404, b'{"detail": "Not Found"}')


@pytest.mark.parametrize("positions", [False, True], ids=["no-positions", "log-404"])
def test_a_receiver_without_a_log_gives_no_receipts_and_no_storm(tmp_path: Any, positions: bool) -> None:
    handler: Any = type("NoLog", (_NoLog,), {"positions": positions, "log_requests": 0, "lock": threading.Lock()})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    rpath = str(tmp_path / "receipts.jsonl")
    try:
        r = http_resolver(f"http://127.0.0.1:{httpd.server_address[1]}/v1/traces", "any-token", rpath)
        try:
            traffic(r)
            r.flush(60)
            wait_for("every batch delivered and its receipt settled",
                     lambda: http_stats(r)["queued_events"] == 0 and http_stats(r)["sent_batches"] > 0 and
                     http_stats(r)["receipts_unavailable"] == http_stats(r)["sent_batches"])
            st = http_stats(r)
            stats = r.stats()["trace"]
        finally:
            r.close()
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert st["receipts_written"] == 0 and st["receipts_failed"] == 0 and st["receipts_pending"] == 0, st
    assert st["receipts_last_error"], st
    assert st["dropped"] == 0 and stats["sink_errors"] == 0, stats  # delivery itself is untouched
    assert os.path.getsize(rpath) == 0
    # without positions nothing is asked; with them, the first 404 stops every later request
    assert handler.log_requests == (1 if positions else 0), handler.log_requests


def test_a_token_without_read_right_gives_no_receipts(srv: Server, tmp_path: Any) -> None:
    rpath = str(tmp_path / "receipts.jsonl")
    r = http_resolver(srv.url() + "/v1/traces", "w-acme", rpath)
    try:
        traffic(r)
        r.flush(60)
        wait_for("delivery and the receipts settled", lambda: http_stats(r)["queued_events"] == 0 and
                 http_stats(r)["sent_batches"] > 0 and
                 http_stats(r)["receipts_unavailable"] == http_stats(r)["sent_batches"])
        st = http_stats(r)
    finally:
        r.close()
    assert st["receipts_written"] == 0 and "403" in str(st["receipts_last_error"]), st
    assert os.path.getsize(rpath) == 0


def test_receipts_config_errors_point_at_the_field(tmp_path: Any) -> None:
    with pytest.raises(cra.InvalidConfig) as e:
        http_resolver("http://127.0.0.1:9/ingest", "t", str(tmp_path / "r.jsonl"))
    assert "/trace/http/receipts_file" in str(e.value) and "/v1/traces" in str(e.value)
    with pytest.raises(cra.InvalidConfig) as e:
        http_resolver("http://127.0.0.1:9/v1/traces", "t", str(tmp_path / "r.jsonl"), receipts_max_pending=0)
    assert "receipts_max_pending" in str(e.value)
    with pytest.raises(cra.CraError):
        http_resolver("http://127.0.0.1:9/v1/traces", "t", str(tmp_path / "no-such-dir" / "r.jsonl"))
