"""The dashboard's endpoints below the browser: re-verification of stored lines (intact,
tampered, deleted, gap, malformed), the overview's numbers, facets, search, the query plans that
keep the list fast, the static files and their headers, and that the wheel carries them."""

from __future__ import annotations

import fnmatch
import json
import os
import sys
from typing import Any, Dict, Iterator, List

import pytest

from cra.server.dashboard import STATIC_DIR, facets, overview, pick_bucket, search
from cra.server.db import Database, now_us
from cra.server.ingest import Ingestor
from cra.server.reverify import reverify
from cra.server.settings import Settings

from ingest.helpers import ATLASES, by_trace, field, lines
from ingest.server import Server, write_tokens

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = None

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _store(db: Database, data: bytes, tenant: str = "acme") -> None:
    out = Ingestor(db, Settings(max_held_events=1000)).ingest(tenant, data)
    assert out.rejected == 0, out.to_json()


def _traces(demo: bytes) -> Dict[str, str]:
    """agent -> trace id of the demo."""
    return {str(json.loads(ls[0])["payload"]["agent_id"]): t for t, ls in by_trace(demo).items()}


def _set_raw(db: Database, trace: str, seq: int, raw: bytes) -> None:
    with db.write() as tx:
        tx.x("UPDATE events SET raw = ? WHERE tenant = 'acme' AND trace_id = ? AND sequence = ?", (raw, trace, seq))


def test_reverify_intact_then_a_tampered_line_is_named_once(db: Database, demo: bytes) -> None:
    _store(db, demo)
    t = _traces(demo)["support-bot-1"]
    r = reverify(db, "acme", t)
    assert r is not None and r["ok"] and r["status"] == "intact" and r["findings"] == []
    assert r["events"] == r["verified"] == 35 and r["head"] == r["stored_head"]
    raw = by_trace(demo)[t][12].rstrip(b"\n")
    _set_raw(db, t, 12, raw.replace(b'"status":"authorized"', b'"status":"authorised"', 1))
    r = reverify(db, "acme", t)
    assert r is not None and not r["ok"] and r["status"] == "broken"
    assert [(f["line"], f["sequence"], f["code"], f["severity"]) for f in r["findings"]] == [(13, 12, "hash_mismatch", "broken")]
    assert r["verified"] == 34  # every other line still verifies and links
    assert r["stored_integrity"] == "intact"  # read-only: the stored status is not changed
    assert reverify(db, "globex", t) is None and reverify(db, "acme", "nope") is None


def test_reverify_names_malformed_lines_relinked_lines_and_deleted_rows(db: Database, demo: bytes) -> None:
    _store(db, demo)
    t = _traces(demo)["oncall-alice"]
    ls = [x.rstrip(b"\n") for x in by_trace(demo)[t]]
    _set_raw(db, t, 3, b"{not json")
    r = reverify(db, "acme", t)
    assert r is not None and [(f["sequence"], f["code"]) for f in r["findings"]] == [(3, "malformed_event")]
    _set_raw(db, t, 3, ls[3])
    with db.write() as tx:  # a row deleted in the middle, and the last one
        tx.x("DELETE FROM events WHERE tenant = 'acme' AND trace_id = ? AND sequence IN (5, 19)", (t,))
    r = reverify(db, "acme", t)
    assert r is not None and r["status"] == "broken"
    codes = [(f["sequence"], f["code"]) for f in r["findings"]]
    assert codes[0] == (6, "missing_events"), codes
    assert (18, "head_mismatch") in codes and (18, "count_mismatch") in codes


def test_reverify_a_recorded_gap_is_a_gap_not_a_break(db: Database, demo: bytes) -> None:
    from cra.server.maintenance import expire_held

    t = _traces(demo)["support-bot-1"]
    ls = by_trace(demo)[t]
    _store(db, b"".join(ls[:5]))
    Ingestor(db, Settings(max_held_events=1000)).ingest("acme", b"".join(ls[7:]))  # 5 and 6 never arrive: held
    expire_held(db, 0.0, "acme")
    r = reverify(db, "acme", t)
    assert r is not None and r["ok"] and r["status"] == "gap"
    assert [(f["line"], f["sequence"], f["code"]) for f in r["findings"]] == [(6, 7, "recorded_gap")]


def test_overview_numbers_and_filters(db: Database, demo: bytes) -> None:
    _store(db, demo)
    now = now_us()
    o = overview(db, "acme", now - 3_600_000_000, now + 60_000_000)
    tot = o["decisions"]["totals"]
    assert tot["denied"] == 3 and tot["rate_limited"] == 1 and tot["pending"] == 2 and tot["approved"] == 1 and tot["rejected"] == 1
    denied = {(d["action_id"], d["policy_id"], d["reason_code"]): d["count"] for d in o["top_denied"]}
    assert denied[("customers.delete_account", "deny-account-deletion", "policy_denied")] == 1
    assert denied[("k8s.deployments.deploy", "approve-production-deploys", "approval_rejected")] == 1
    assert [(r["action_id"], r["policy_id"]) for r in o["rate_limited"]] == [("orders.refund", "refunds-per-session")]
    a = o["approvals"]
    assert (a["requested"], a["approved"], a["rejected"], a["waiting"]) == (2, 1, 1, 0)
    assert a["median_decision_seconds"] is not None
    assert o["integrity"] == {"intact": 2, "gap": 0, "broken": 0} and o["traces"] == 2
    assert sum(b["allowed"] for b in o["decisions"]["buckets"]) == tot["allowed"]
    dev = overview(db, "acme", now - 3_600_000_000, now + 60_000_000, agent="oncall-alice")
    assert {d["action_id"] for d in dev["top_denied"]} == {"k8s.namespaces.delete", "k8s.deployments.deploy"}
    sup = overview(db, "acme", now - 3_600_000_000, now + 60_000_000, atlas="com.example.customer-support")
    assert {d["action_id"] for d in sup["top_denied"]} == {"customers.delete_account"} and sup["traces"] == 1
    assert overview(db, "globex", now - 3_600_000_000, now)["traces"] == 0
    assert overview(db, "globex", now - 3_600_000_000, now)["any_traces"] is False
    old = overview(db, "acme", now - 7_200_000_000, now - 3_600_000_000)
    assert old["traces"] == 0 and old["any_traces"] is True  # "none in this range", not "none yet"
    assert pick_bucket(0, 7 * 86400 * 10**6) == 3 * 3600 and pick_bucket(0, 3600 * 10**6) == 60


def test_waiting_approvals_and_their_age(db: Database, tmp_path: Any) -> None:
    import cra

    from ingest.helpers import SUPPORT

    path = os.path.join(str(tmp_path), "w.jsonl")
    with cra.Resolver(trace_file=path) as r:
        r.load_atlas(SUPPORT)
        res = r.resolve(agent="support-bot-1", session="w", goal="refund", atlas_ids=["com.example.customer-support"])
        r.authorize("orders.refund_large", {"order_id": "ORD-2001", "amount": 899.0, "reason": "broken"}, resolution=res)
    with open(path, "rb") as f:
        _store(db, f.read())
    now = now_us()
    a = overview(db, "acme", now - 3_600_000_000, now + 60_000_000)["approvals"]
    assert a["waiting"] == 1 and a["pending"][0]["action_id"] == "orders.refund_large"
    assert a["pending"][0]["policy_id"] == "approve-large-refunds" and a["pending"][0]["waiting_seconds"] >= 0


def test_facets_and_search(db: Database, demo: bytes) -> None:
    _store(db, demo)
    f = facets(db, "acme")
    assert f["agents"] == ["oncall-alice", "support-bot-1"]
    assert f["atlases"] == ["com.example.customer-support", "com.example.devops"]
    assert "orders.refund" in f["actions"] and "k8s.pods.list" in f["actions"]
    t = _traces(demo)["support-bot-1"]
    assert search(db, "acme", t)["results"] == [{"trace_id": t, "match": "trace id"}]
    assert search(db, "acme", t[:10])["results"][0] == {"trace_id": t, "match": "trace id prefix"}
    assert search(db, "acme", "demo-support-1")["results"] == [{"trace_id": t, "match": "session"}]
    eid = str(field(by_trace(demo)[t][3], "event_id"))
    assert search(db, "acme", eid)["results"] == [{"trace_id": t, "match": "event id"}]
    assert search(db, "acme", "oncall-alice")["agent"] == "oncall-alice"
    assert search(db, "acme", "%")["results"] == [] and search(db, "globex", t)["results"] == []


def test_the_list_filters_probe_each_trace_not_every_event(tmp_path: Any) -> None:
    """The plan that made a decision filter take 30 s at 100,000 traces must not come back:
    the EXISTS probe goes through (tenant, trace_id, decision, ...), and each filter has an
    index giving the list's order."""
    from cra.server.db import open_database

    d = open_database(f"sqlite:///{tmp_path}/p.sqlite3")
    try:
        with d.read() as tx:
            def plan(sql: str, *args: Any) -> str:
                return " | ".join(str(r[3]) for r in tx.q("EXPLAIN QUERY PLAN " + sql, args))
            order = " ORDER BY t.first_ts_us DESC, t.trace_id DESC LIMIT 51"
            p = plan("SELECT t.trace_id FROM traces t WHERE t.tenant = ? AND EXISTS (SELECT 1 FROM events e WHERE"
                     " e.tenant = t.tenant AND e.trace_id = t.trace_id AND e.decision = ?)" + order, "a", "denied")
            assert "events_by_trace_facts" in p and "TEMP B-TREE" not in p, p
            for col, idx in (("agent_id", "traces_by_agent_time"), ("integrity", "traces_by_integrity_time"),
                             ("session_id", "traces_by_session_time")):
                p = plan(f"SELECT t.trace_id FROM traces t WHERE t.tenant = ? AND t.{col} = ?" + order, "a", "x")
                assert idx in p and "TEMP B-TREE" not in p, p
    finally:
        d.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    d = tmp_path_factory.mktemp("dash-srv")
    tokens = str(d / "tokens.json")
    write_tokens(tokens)
    s = Server(f"sqlite:///{d / 'db.sqlite3'}", tokens, str(d / "server.log"), "--sweep-seconds", "0",
               "--atlases", ATLASES).start()
    try:
        yield s
    finally:
        s.stop()


def test_pages_and_files_are_served_with_a_strict_policy(server: Server) -> None:
    status, h, body = server.request("GET", "/")
    assert status == 200 and h["content-type"].startswith("text/html") and b'src="ui/app.js"' in body
    csp = h["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp
    assert h["x-content-type-options"] == "nosniff"
    status, h, body = server.request("GET", "/ui/app.js")
    assert status == 200 and h["content-type"].startswith("text/javascript") and b"import" in body
    etag = h["etag"]
    assert server.request("GET", "/ui/app.js", headers={"If-None-Match": etag})[0] == 304
    for bad in ("/ui/../dashboard.py", "/ui/%2e%2e/dashboard.py", "/ui/nope.js", "/ui/"):
        assert server.request("GET", bad)[0] == 404, bad
    # nothing in the app is fetched from elsewhere
    for root, _, names in os.walk(STATIC_DIR):
        for n in names:
            with open(os.path.join(root, n), "rb") as fh:
                text = fh.read()
            assert b"http://" not in text.replace(b"http://www.w3.org/2000/svg", b"") and b"https://" not in text, n


def test_endpoints_need_a_read_token_of_the_tenant(server: Server, demo: bytes) -> None:
    assert server.post(demo, "all-query")[0] == 202
    t = next(iter(by_trace(demo)))
    for method, path in (("GET", "/v1/dashboard/overview"), ("GET", "/v1/dashboard/facets"),
                         ("GET", "/v1/dashboard/search?q=x"), ("GET", "/v1/dashboard/atlases"),
                         ("POST", f"/v1/traces/{t}/verify")):
        assert server.request(method, path)[0] == 401, path
        assert server.request(method, path, token="w-acme")[0] == 403, path
    status, _, body = server.request("GET", "/v1/dashboard/whoami", token="w-acme")
    assert status == 200 and json.loads(body) == {"tenant": "acme", "rights": ["write"]}
    assert server.request("GET", "/v1/dashboard/whoami", token="nope")[0] == 401
    status, _, body = server.request("POST", f"/v1/traces/{t}/verify", token="all-query")
    assert status == 200 and json.loads(body)["status"] == "intact"
    assert server.request("POST", f"/v1/traces/{t}/verify", token="all-acme")[0] == 404  # another tenant's
    status, _, body = server.request("GET", "/v1/dashboard/overview?since=all", token="all-query")
    assert status == 200 and json.loads(body)["traces"] == 2
    assert server.request("GET", "/v1/dashboard/overview?since=yesterday", token="all-query")[0] == 400
    status, _, body = server.request("GET", "/v1/dashboard/atlases", token="all-query")
    known = {a["atlas_id"]: a for a in json.loads(body)["atlases"]}
    assert set(known) == {"com.example.customer-support", "com.example.devops"}
    doc = known["com.example.customer-support"]["document"]
    assert all("content" in p and "files" not in p for p in doc["context_packs"])  # self-contained: replayable as sent
    paths = json.loads(server.request("GET", "/openapi.json")[2])["paths"]
    assert "/v1/traces/{trace_id}/verify" in paths and "/v1/dashboard/overview" in paths and "/" not in paths


def test_the_wheel_carries_the_dashboard_files() -> None:
    """maturin packs the python-source package; the include globs name the static files too, so
    every file under cra/server/static matches one (checked here: a new kind of file would fail)."""
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    with open(os.path.join(PYTHON_DIR, "pyproject.toml"), "rb") as fh:
        cfg = tomllib.load(fh)
    globs: List[str] = [str(i["path"]) for i in cfg["tool"]["maturin"]["include"] if i.get("format") in (None, "wheel")
                        or "wheel" in (i.get("format") or [])]
    files: List[str] = []
    # the source tree's files (the tests may import the installed package: its STATIC_DIR is elsewhere)
    for root, _, names in os.walk(os.path.join(PYTHON_DIR, "cra", "server", "static")):
        files += [os.path.relpath(os.path.join(root, n), PYTHON_DIR).replace(os.sep, "/") for n in names]
    assert files and {"cra/server/static/index.html", "cra/server/static/app.js"} <= set(files)
    for name in files:
        assert any(fnmatch.fnmatch(name, g) for g in globs), name
