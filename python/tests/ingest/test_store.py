"""Storage on SQLite and PostgreSQL: migrations, retention, attribution through joins."""

from __future__ import annotations

import pytest

from cra.server.db import Database, SchemaError, now_us, open_database
from cra.server.ingest import Ingestor
from cra.server.maintenance import apply_retention
from cra.server.query import TraceFilter, list_traces, stats, trace_events
from cra.server.schema import LATEST

from .helpers import by_trace, lines


def test_migrations_are_versioned_and_newer_schemas_refused(db: Database, db_url: str) -> None:
    with db.read() as tx:
        assert tx.q("SELECT version FROM schema_version ORDER BY version") == [(v,) for v in range(1, LATEST + 1)]
    again = open_database(db_url)  # a second process starting: nothing applied twice
    try:
        assert again.migrate() == LATEST
        with again.write() as tx:
            assert tx.q("SELECT COUNT(*) FROM schema_version")[0][0] == LATEST
            tx.x("INSERT INTO schema_version (version, applied_at_us) VALUES (?, ?)", (LATEST + 1, now_us()))
    finally:
        again.close()
    with pytest.raises(SchemaError, match="newer"):
        open_database(db_url)


def test_retention_deletes_whole_idle_traces_only(ingestor: Ingestor, db: Database, several: bytes) -> None:
    traces = list(by_trace(several).values())
    old, recent = traces[:3], traces[3:]
    for t in old:
        ingestor.ingest("acme", b"".join(t))
    for t in recent:
        ingestor.ingest("globex", b"".join(t))
    later = now_us() + 2 * 86_400_000_000  # two days on: globex's traces kept receiving, acme's did not
    with db.write() as tx:
        tx.x("UPDATE traces SET last_received_us = ? WHERE tenant = 'globex'", (later,))
    assert apply_retention(db, 0, now=later).traces == 0  # 0 keeps everything
    assert apply_retention(db, 1.0, tenant="globex", now=later).traces == 0  # scoped to a tenant
    res = apply_retention(db, 1.0, now=later)
    assert (res.traces, res.events) == (len(old), sum(len(t) for t in old))
    with db.read() as tx:
        for table in ("traces", "events", "trace_atlases", "trace_actions"):
            assert tx.q(f"SELECT COUNT(*) FROM {table} WHERE tenant = 'acme'")[0][0] == 0, table
        assert tx.q("SELECT COUNT(*) FROM events WHERE tenant = 'globex'")[0][0] == sum(len(t) for t in recent)


def test_events_are_attributed_and_counted(ingestor: Ingestor, db: Database, demo: bytes) -> None:
    ingestor.ingest("acme", demo)
    page = list_traces(db, "acme", TraceFilter(agent="oncall-alice"))
    assert len(page["traces"]) == 1 and page["traces"][0]["atlases"] == ["com.example.devops"]
    tid = page["traces"][0]["trace_id"]
    ev = trace_events(db, "acme", tid, limit=1000)
    assert ev is not None and all(e["agent_id"] == "oncall-alice" for e in ev["events"])
    assert all(e["trace_atlases"] == ["com.example.devops"] for e in ev["events"])
    denied = [e for e in ev["events"] if e["decision"] == "denied"]
    assert denied and all(e["atlas_id"] == "com.example.devops" and e["policy_id"] for e in denied)
    s = stats(db, "acme", 0, now_us() + 10**9, 86400 * 365 * 100, atlas="com.example.devops")
    assert s["totals"]["rejected"] == 1 and s["totals"]["approved"] == 0 and s["totals"]["pending"] == 1
    total = stats(db, "acme", 0, now_us() + 10**9, 86400 * 365 * 100)
    assert total["totals"]["allowed"] > s["totals"]["allowed"] > 0
    assert len(lines(demo)) == sum(int(t["events"]) for t in list_traces(db, "acme", TraceFilter())["traces"])


def test_the_sweep_timer_expires_held_events(ingestor: Ingestor, db: Database, several: bytes) -> None:
    import time

    from cra.server.maintenance import Sweeper
    from cra.server.query import get_trace

    tid, tl = next(iter(by_trace(several).items()))
    ingestor.ingest("acme", tl[0])
    assert ingestor.ingest("acme", b"".join(tl[2:])).held == len(tl) - 2
    sweeper = Sweeper(db, interval=0.05, hold_seconds=0.0, retention_days=0.0)
    sweeper.start()
    try:
        deadline = time.monotonic() + 60  # a bound on waiting, not an assertion about time
        while time.monotonic() < deadline:
            t = get_trace(db, "acme", tid)
            if t is not None and t["integrity"] == "gap":
                break
            time.sleep(0.05)
    finally:
        sweeper.stop()
    t = get_trace(db, "acme", tid)
    assert t is not None and t["integrity"] == "gap" and t["held"] == 0 and t["events"] == len(tl) - 1
    assert sweeper.gaps == 1
