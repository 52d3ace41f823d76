"""The HTTP API of a real ``cra serve`` (uvicorn subprocess on 127.0.0.1), on SQLite and on
PostgreSQL: encodings, answers and their status codes, auth and tenancy, limits, back-pressure,
export that verifies, query, stats, replay, admin, health, metrics, and the CLI client."""

from __future__ import annotations

import gzip
import json
import os
import sqlite3
import subprocess
import sys
from typing import Any, Callable, Dict, Iterator, List

import pytest
import zstandard

import cra

from .helpers import DEVOPS, SUPPORT, atlas_doc, by_trace, field, lines, retime
from .pg import Cluster
from .server import Server, write_tokens

MAX_BODY = 1024 * 1024
MAX_DECOMPRESSED = 4 * 1024 * 1024


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp(f"srv-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{d / 'ingest.sqlite3'}"
    else:
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        url = cluster.new_database()
    tokens = str(d / "tokens.json")
    write_tokens(tokens)
    s = Server(url, tokens, str(d / "server.log"), "--max-body", str(MAX_BODY), "--max-decompressed",
               str(MAX_DECOMPRESSED), "--max-held-events", "20", "--sweep-seconds", "0",
               env={"CRA_INGEST_LOCK_TIMEOUT_SECONDS": "1"})
    s.start()
    try:
        yield s
    finally:
        s.stop()


def test_batches_in_every_encoding_export_byte_for_byte(server: Server, demo: bytes, tmp_path: Any) -> None:
    ls = lines(demo)
    parts = [b"".join(ls[:10]), b"".join(ls[10:30]), b"".join(ls[30:])]
    bodies = [(parts[0], None), (gzip.compress(parts[1]), "gzip"), (zstandard.ZstdCompressor().compress(parts[2]), "zstd")]
    for (body, enc), plain in zip(bodies, parts):
        status, ans, _ = server.post(body, "all-acme", enc)
        assert status == 202, ans
        assert (ans["accepted"], ans["duplicate"], ans["rejected"], ans["held"]) == (len(lines(plain)), 0, 0, 0)
    for tid, tl in by_trace(demo).items():
        status, headers, raw = server.request("GET", f"/v1/traces/{tid}.jsonl", token="r-acme")
        assert status == 200 and headers["content-type"].startswith("application/x-ndjson")
        assert raw == b"".join(tl)
        path = tmp_path / "export.jsonl"
        path.write_bytes(raw)
        verify = subprocess.run([sys.executable, "-m", "cra", "verify", str(path)], capture_output=True)
        assert verify.returncode == 0, verify.stdout
    status, ans, _ = server.post(gzip.compress(demo), "all-acme", "gzip")
    assert status == 202 and (ans["accepted"], ans["duplicate"]) == (0, len(ls))


def test_auth_rights_and_tenants(server: Server, demo: bytes) -> None:
    tid = next(iter(by_trace(demo)))
    assert server.post(demo, "all-globex")[0] == 202
    status, headers, body = server.request("POST", "/v1/traces", demo)
    assert status == 401 and headers["www-authenticate"].startswith("Bearer")
    assert json.loads(body)["error"]["code"] == "unauthorized"
    assert server.post(demo, "no-such-token")[0] == 401
    assert server.request("GET", "/v1/traces", token="no-such-token")[0] == 401
    assert server.post(demo, "r-acme")[0] == 403  # read right only
    assert server.request("GET", "/v1/traces", token="w-acme")[0] == 403  # write right only
    assert server.request("POST", "/v1/admin/retention?days=1", token="r-acme")[0] == 403
    status, _, _ = server.request("GET", "/v1/traces", token="r-acme", headers={"X-Cra-Tenant": "globex"})
    assert status == 403
    assert server.post(demo, "hashed-secret")[0] == 202  # a token known by its SHA-256 only
    # another tenant's trace is invisible: 404, empty lists
    assert server.request("GET", f"/v1/traces/{tid}", token="all-busy")[0] == 404
    assert server.request("GET", f"/v1/traces/{tid}.jsonl", token="all-busy")[0] == 404
    assert server.request("GET", f"/v1/traces/{tid}/events", token="all-busy")[0] == 404
    assert server.get_json("/v1/traces", "all-busy")[1]["traces"] == []
    assert server.get_json(f"/v1/traces/{tid}", "all-globex")[0] == 200


def test_limits_answer_413_and_store_nothing(server: Server, demo: bytes) -> None:
    big = b"x" * (MAX_BODY + 1)
    status, ans, _ = server.post(big, "all-tight")
    assert status == 413 and ans["error"]["code"] == "body_too_large"
    # a zip bomb: 200 MiB of zeros in about 200 KB of gzip, refused at the decompressed limit
    bomb = gzip.compress(b"0" * (200 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < MAX_BODY
    status, ans, _ = server.post(bomb, "all-tight", "gzip")
    assert status == 413 and "decompresses" in ans["error"]["message"]
    zbomb = zstandard.ZstdCompressor(level=19).compress(b"0" * (64 * 1024 * 1024))
    status, ans, _ = server.post(zbomb, "all-tight", "zstd")
    assert status == 413
    assert server.post(b"garbage", "all-tight", "gzip")[0] == 400
    assert server.post(demo, "all-tight", "br")[0] == 415
    assert server.get_json("/v1/traces", "all-tight")[1]["traces"] == []


def test_a_bad_line_is_400_with_its_number(server: Server, demo: bytes) -> None:
    ls = lines(demo)
    status, ans, _ = server.post(b"".join(ls[:2]) + b"{oops}\n" + ls[2], "all-tight")
    assert status == 400 and ans["error"]["line"] == 3 and "line 3" in ans["error"]["message"]
    status, ans, _ = server.post(b"", "all-tight")
    assert status == 400 and ans["error"]["code"] == "empty_batch"
    assert server.get_json("/v1/traces", "all-tight")[1]["traces"] == []
    alerts = server.get_json("/v1/alerts", "all-tight")[1]["alerts"]
    assert [a["line"] for a in alerts] == [3, 1]


def test_a_tampered_event_is_rejected_and_alerted(server: Server, demo: bytes) -> None:
    tid, tl = next(iter(by_trace(demo).items()))
    bad = retime(tl[2])
    status, ans, _ = server.post(b"".join(tl[:2] + [bad] + tl[3:]), "all-retain")
    assert status == 202 and (ans["accepted"], ans["rejected"]) == (2, len(tl) - 2)
    assert ans["errors"][0]["code"] == "hash_mismatch" and ans["errors"][0]["line"] == 3
    alerts = server.get_json(f"/v1/alerts?trace_id={tid}", "all-retain")[1]["alerts"]
    assert len(alerts) == 1 and alerts[0]["code"] == "hash_mismatch"
    t = server.get_json(f"/v1/traces/{tid}", "all-retain")[1]
    assert t["integrity"] == "broken" and t["events"] == 2
    status, _, raw = server.request("GET", f"/v1/traces/{tid}.jsonl", token="all-retain")
    assert raw == b"".join(tl[:2])


def test_held_events_then_gap_and_429_past_the_bound(server: Server, several: bytes) -> None:
    traces = list(by_trace(several).values())
    t0 = traces[0]
    assert server.post(b"".join(t0[:2]), "all-tight")[1]["accepted"] == 2
    status, ans, _ = server.post(b"".join(t0[3:]), "all-tight")  # event 2 missing
    assert status == 202 and (ans["accepted"], ans["held"]) == (0, len(t0) - 3)
    tid = field(t0[0], "trace_id")
    assert server.get_json(f"/v1/traces/{tid}", "all-tight")[1]["held"] == len(t0) - 3
    more = [x for t in traces[1:] for x in t[1:]]  # none of these traces has its genesis here
    status, ans, headers = server.post(b"".join(more), "all-tight")
    assert status == 429 and int(headers["retry-after"]) >= 1 and ans["error"]["code"] == "too_many_held"
    status, _, body = server.request("POST", "/v1/admin/expire-held", token="all-tight")
    assert status == 200 and json.loads(body)["gaps"] == 1
    t = server.get_json(f"/v1/traces/{tid}", "all-tight")[1]
    assert t["integrity"] == "gap" and t["gaps"][0]["from_sequence"] == 2 and t["held"] == 0
    assert server.get_json("/v1/traces?integrity=gap", "all-tight")[1]["traces"][0]["trace_id"] == tid


def test_busy_database_answers_503_with_retry_after(server: Server, several: bytes) -> None:
    batch = b"".join(lines(several)[:8])
    lock: Any
    release: Callable[[], object]
    if server.db_url.startswith("sqlite"):
        lock = sqlite3.connect(server.db_url[len("sqlite:///"):], isolation_level=None)
        lock.execute("BEGIN IMMEDIATE")
        release = lambda: lock.execute("ROLLBACK")  # noqa: E731
    else:
        import psycopg

        lock = psycopg.connect(server.db_url)
        lock.execute("LOCK TABLE traces IN ACCESS EXCLUSIVE MODE")
        release = lock.rollback
    try:
        status, ans, headers = server.post(batch, "all-busy")
        assert status == 503 and int(headers["retry-after"]) >= 1 and ans["error"]["code"] == "busy"
    finally:
        release()
        lock.close()
    status, ans, _ = server.post(batch, "all-busy")  # the client's retry goes through
    assert status == 202 and ans["accepted"] == 8


def test_query_filters_pagination_events_and_stats(server: Server, demo: bytes) -> None:
    assert server.post(demo, "all-query")[0] == 202
    traces = by_trace(demo)
    support = [t for t, tl in traces.items() if b"support-bot-1" in tl[0]][0]
    def q(path: str) -> Any:
        return server.get_json(path, "all-query")[1]

    assert [t["trace_id"] for t in q("/v1/traces?agent=support-bot-1")["traces"]] == [support]
    assert [t["trace_id"] for t in q("/v1/traces?atlas=com.example.customer-support")["traces"]] == [support]
    assert [t["trace_id"] for t in q("/v1/traces?action=orders.refund_large&decision=approved")["traces"]] == [support]
    assert len(q("/v1/traces?decision=denied")["traces"]) == 2
    assert len(q("/v1/traces?event_type=action.failed")["traces"]) == 1
    assert q("/v1/traces?integrity=broken")["traces"] == []
    assert q("/v1/traces?since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z")["traces"] == []
    assert len(q("/v1/traces?since=1h")["traces"]) == 2
    page1 = q("/v1/traces?limit=1")
    page2 = q(f"/v1/traces?limit=1&cursor={page1['next_cursor']}")
    assert page2["next_cursor"] is None
    assert {page1["traces"][0]["trace_id"], page2["traces"][0]["trace_id"]} == set(traces)
    assert server.request("GET", "/v1/traces?integrity=shaky", token="all-query")[0] == 400
    assert server.request("GET", "/v1/traces?cursor=nonsense", token="all-query")[0] == 400
    assert server.request("GET", "/v1/traces?limit=0", token="all-query")[0] == 400
    ev = q(f"/v1/traces/{support}/events?limit=5")
    assert [e["sequence"] for e in ev["events"]] == [0, 1, 2, 3, 4] and ev["next_after"] == 4
    rest = q(f"/v1/traces/{support}/events?after=4&limit=1000")
    assert len(ev["events"]) + len(rest["events"]) == len(traces[support])
    assert all(e["agent_id"] == "support-bot-1" for e in rest["events"])
    assert rest["events"][-1]["event"]["event_type"] == "session.ended"
    s = q("/v1/stats?since=1h&bucket=60")
    decided = [json.loads(x) for x in lines(demo)]
    want_allowed = sum(1 for e in decided if e["event_type"] == "action.requested" and e["payload"]["status"] == "authorized")
    assert s["totals"]["allowed"] == want_allowed > 0
    assert s["rate_limit_hits"] == 1 and s["approvals"] == 1 and s["rejections"] == 1
    assert s["totals"]["pending"] == 2 and s["denials_by_policy"]["deny-destructive"] >= 1
    assert sum(b["allowed"] for b in s["buckets"]) == want_allowed
    only = q("/v1/stats?since=1h&agent=oncall-alice")
    assert only["approvals"] == 0 and only["rejections"] == 1


def test_replay_against_a_candidate_atlas(server: Server, demo: bytes) -> None:
    assert server.post(demo, "all-replay")[0] == 202
    doc = atlas_doc(SUPPORT)
    doc["policies"].append({"policy_id": "freeze-refunds", "type": "deny", "actions": ["orders.refund"],
                            "reason": "refunds are frozen"})
    devops = atlas_doc(DEVOPS)
    status, _, body = server.request("POST", "/v1/replay", json.dumps({"atlases": [doc, devops],
                                     "filter": {"agent": "support-bot-1"}}).encode(), token="all-replay")
    assert status == 200, body
    rep = json.loads(body)
    assert rep["traces"] == 1 and rep["replayed"] >= 1
    assert any("orders.refund" in c["no_longer_allowed"] for c in rep["changed"]), rep
    assert all(c["trace_id"] in by_trace(demo) for c in rep["changed"])
    same = json.loads(server.request("POST", "/v1/replay", json.dumps({"atlases": [atlas_doc(SUPPORT), devops],
                                     "filter": {}}).encode(), token="all-replay")[2])
    assert same["traces"] == 2 and same["changed"] == []
    status, _, body = server.request("POST", "/v1/replay", b'{"atlases": [{"atlas_id": 1}]}', token="all-replay")
    assert status == 400


def test_retention_deletes_whole_traces_of_the_admins_tenant(server: Server, several: bytes) -> None:
    assert server.post(b"".join(lines(several)[:20]), "all-retain")[0] == 202
    before = len(server.get_json("/v1/traces", "all-retain")[1]["traces"])
    others = len(server.get_json("/v1/traces", "all-acme")[1]["traces"])
    assert before > 0
    status, _, body = server.request("POST", "/v1/admin/retention?days=0.000000001", token="all-retain")
    assert status == 200 and json.loads(body)["traces"] == before
    assert server.get_json("/v1/traces", "all-retain")[1]["traces"] == []
    assert len(server.get_json("/v1/traces", "all-acme")[1]["traces"]) == others


def test_health_metrics_openapi(server: Server) -> None:
    status, _, body = server.request("GET", "/healthz")
    assert status == 200 and json.loads(body)["ok"] is True
    status, headers, body = server.request("GET", "/metrics")
    text = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/plain")
    for name in ('cra_ingest_events_total{result="accepted"}', 'cra_ingest_events_total{result="duplicate"}',
                 'cra_ingest_events_total{result="rejected"}', 'cra_ingest_events_total{result="held"}',
                 "cra_ingest_held_events", "cra_ingest_lag_seconds", 'cra_ingest_batches_total{status="202"}'):
        assert name in text, name
    accepted = [ln for ln in text.splitlines() if ln.startswith('cra_ingest_events_total{result="accepted"}')][0]
    assert int(accepted.split()[-1]) > 0
    status, _, body = server.request("GET", "/openapi.json")
    paths = json.loads(body)["paths"]
    for p in ("/v1/traces", "/v1/traces/{trace_id}.jsonl", "/v1/traces/{trace_id}", "/v1/stats", "/v1/replay",
              "/v1/admin/retention", "/healthz", "/metrics"):
        assert p in paths, p
    assert "application/x-ndjson" in json.dumps(paths["/v1/traces"]["post"]["requestBody"])


def test_cli_lists_and_exports(server: Server, demo: bytes, tmp_path: Any) -> None:
    assert server.post(demo, "all-cli")[0] == 202
    env = dict(os.environ, CRA_SERVER=server.url(), CRA_TOKEN="all-cli")

    def cli(*args: str) -> "subprocess.CompletedProcess[bytes]":
        return subprocess.run([sys.executable, "-m", "cra", *args], capture_output=True, env=env, timeout=120)

    r = cli("traces", "list", "--agent", "oncall-alice", "--since", "1h", "--json")
    assert r.returncode == 0, r.stderr
    rows: List[Dict[str, Any]] = json.loads(r.stdout)["traces"]
    assert len(rows) == 1 and rows[0]["agent_id"] == "oncall-alice"
    r = cli("traces", "list")
    assert r.returncode == 0 and b"2 traces" in r.stdout
    out = tmp_path / "t.jsonl"
    r = cli("traces", "export", rows[0]["trace_id"], "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert cli("verify", str(out)).returncode == 0
    assert out.read_bytes() == by_trace(demo)[rows[0]["trace_id"]][0] + b"".join(by_trace(demo)[rows[0]["trace_id"]][1:])
    r = cli("traces", "export", "no-such-trace")
    assert r.returncode == 2 and b"404" in r.stderr
    r = subprocess.run([sys.executable, "-m", "cra", "traces", "list", "--token", "wrong"], capture_output=True,
                       env=dict(env), timeout=120)
    assert r.returncode == 2 and b"401" in r.stderr
