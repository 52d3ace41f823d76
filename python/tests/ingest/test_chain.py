"""Ingest without HTTP, on SQLite and PostgreSQL: chains checked across batches, duplicates,
held events and gaps, tampering, tenants."""

from __future__ import annotations

import json
from typing import Any, List, Sequence

import pytest

import cra
from cra.server.db import Database
from cra.server.events import BadLine
from cra.server.ingest import HeldFull, Ingestor
from cra.server.maintenance import expire_held
from cra.server.query import TraceFilter, export_lines, get_trace, list_alerts, list_traces

from .helpers import SUPPORT, by_trace, field, lines, many_traces, tamper


def one(db: Database, sql: str, args: Sequence[Any] = ()) -> Any:
    with db.read() as tx:
        return tx.q(sql, args)[0][0]


def exported(db: Database, tenant: str, trace_id: str) -> bytes:
    it = export_lines(db, tenant, trace_id)
    assert it is not None
    return b"".join(it)


def test_batches_continue_across_requests_and_export_byte_for_byte(ingestor: Ingestor, db: Database, demo: bytes) -> None:
    ls = lines(demo)
    cuts = [0, 1, 7, 20, 21, 40, len(ls)]
    total = 0
    for a, b in zip(cuts, cuts[1:]):
        out = ingestor.ingest("acme", b"".join(ls[a:b]))
        assert (out.accepted, out.duplicate, out.rejected, out.held) == (b - a, 0, 0, 0), out.to_json()
        total += out.accepted
    assert one(db, "SELECT COUNT(*) FROM events") == len(ls) == total
    for tid, tl in by_trace(demo).items():
        raw = exported(db, "acme", tid)
        assert raw == b"".join(tl)  # byte for byte, in order
        assert cra.verify_trace(raw, ).ok
        t = get_trace(db, "acme", tid)
        assert t is not None and t["integrity"] == "intact" and t["events"] == len(tl) and t["ended"]
        assert t["head_sequence"] == len(tl) - 1 and t["head_hash"] == field(tl[-1], "event_hash")


def test_a_resend_stores_nothing_twice(ingestor: Ingestor, db: Database, demo: bytes) -> None:
    ls = lines(demo)
    first = ingestor.ingest("acme", b"".join(ls[:30]))
    again = ingestor.ingest("acme", b"".join(ls[:30]))
    assert (first.accepted, again.accepted, again.duplicate) == (30, 0, 30)
    overlap = ingestor.ingest("acme", b"".join(ls[25:]))
    assert (overlap.accepted, overlap.duplicate, overlap.rejected) == (len(ls) - 30, 5, 0)
    assert one(db, "SELECT COUNT(*) FROM events") == len(ls)
    assert one(db, "SELECT COUNT(DISTINCT event_id) FROM events") == len(ls)
    inside = ingestor.ingest("acme", ls[3] + ls[3])  # the same line twice in one batch
    assert (inside.duplicate, inside.rejected) == (2, 0)


def test_a_batch_ahead_of_a_missing_one_is_held_then_released(ingestor: Ingestor, db: Database, several: bytes) -> None:
    tid, tl = next(iter(by_trace(several).items()))
    assert len(tl) >= 6
    assert ingestor.ingest("acme", b"".join(tl[:2])).accepted == 2
    later = ingestor.ingest("acme", b"".join(tl[4:]))
    assert (later.accepted, later.held) == (0, len(tl) - 4)
    assert ingestor.ingest("acme", b"".join(tl[4:])).duplicate == len(tl) - 4  # resending held events
    assert one(db, "SELECT COUNT(*) FROM held_events") == len(tl) - 4
    middle = ingestor.ingest("acme", b"".join(tl[2:4]))
    assert (middle.accepted, middle.released) == (2, len(tl) - 4)
    assert one(db, "SELECT COUNT(*) FROM held_events") == 0
    assert exported(db, "acme", tid) == b"".join(tl)
    t = get_trace(db, "acme", tid)
    assert t is not None and t["integrity"] == "intact" and t["gaps"] == []


def test_a_new_trace_waits_for_its_genesis(ingestor: Ingestor, db: Database, several: bytes) -> None:
    tid, tl = next(iter(by_trace(several).items()))
    assert ingestor.ingest("acme", b"".join(tl[1:])).held == len(tl) - 1
    out = ingestor.ingest("acme", tl[0])
    assert (out.accepted, out.released) == (1, len(tl) - 1)
    assert cra.verify_trace(exported(db, "acme", tid)).ok


def test_an_expired_hold_records_a_gap_and_keeps_what_verifies(ingestor: Ingestor, db: Database, several: bytes) -> None:
    tid, tl = next(iter(by_trace(several).items()))
    ingestor.ingest("acme", b"".join(tl[:2]))
    assert ingestor.ingest("acme", b"".join(tl[3:])).held == len(tl) - 3
    assert expire_held(db, 3600.0)["gaps"] == 0  # not old enough yet
    res = expire_held(db, 0.0)
    assert (res["gaps"], res["stored"]) == (1, len(tl) - 3)
    t = get_trace(db, "acme", tid)
    assert t is not None and t["integrity"] == "gap" and t["gaps"][0]["from_sequence"] == 2
    assert t["gaps"][0]["to_sequence"] == 2 and t["events"] == len(tl) - 1
    report = cra.verify_trace(exported(db, "acme", tid))
    assert not report.ok and report.errors[0]["code"] == "sequence_gap"  # the export shows the gap honestly
    late = ingestor.ingest("acme", tl[2])  # the missing event arrives after the gap was recorded
    assert late.accepted == 0 and late.rejected == 1


def test_a_tampered_held_event_is_rejected_when_it_arrives(ingestor: Ingestor, db: Database, several: bytes) -> None:
    tid, tl = next(iter(by_trace(several).items()))
    bad = tamper(tl[3], b'"sequence":3', b'"sequence":3 ')
    with pytest.raises(BadLine):
        ingestor.ingest("acme", b"".join([tl[2], bad]))
    bad = tamper(tl[4], b'"orders.lookup"', b'"orders.refund"')
    out = ingestor.ingest("acme", b"".join([tl[3], bad, tl[5]]))
    assert (out.held, out.rejected) == (1, 2) and out.errors[0].code == "hash_mismatch" and out.errors[0].line == 2
    assert one(db, "SELECT COUNT(*) FROM held_events") == 1


def test_a_tampered_event_is_rejected_alerted_and_never_stored(ingestor: Ingestor, db: Database, several: bytes) -> None:
    traces = list(by_trace(several).items())
    (tid, tl), (other, ol) = traces[0], traces[1]
    assert b"orders.lookup" in tl[4]
    bad = tamper(tl[4], b"orders.lookup", b"orders.refund")
    out = ingestor.ingest("acme", b"".join(tl[:4] + [bad] + tl[5:] + ol))
    assert out.accepted == 4 + len(ol) and out.rejected == len(tl) - 4, out.to_json()
    assert out.errors[0].code == "hash_mismatch" and out.errors[0].line == 5  # 1-based
    assert one(db, "SELECT COUNT(*) FROM events WHERE trace_id = ?", (tid,)) == 4
    assert one(db, "SELECT COUNT(*) FROM events WHERE raw = ?", (bad.rstrip(b"\n"),)) == 0
    t = get_trace(db, "acme", tid)
    assert t is not None and t["integrity"] == "broken" and t["alerts"] == 1
    o = get_trace(db, "acme", other)
    assert o is not None and o["integrity"] == "intact"
    alert = list_alerts(db, "acme")["alerts"][0]
    assert (alert["code"], alert["line"], alert["trace_id"], alert["sequence"]) == ("hash_mismatch", 5, tid, 4)
    assert "orders.refund" in alert["raw_prefix"]
    # the genuine event can still be sent: it continues the stored head
    fixed = ingestor.ingest("acme", b"".join(tl[4:]))
    assert fixed.accepted == len(tl) - 4
    assert cra.verify_trace(exported(db, "acme", tid)).ok
    t = get_trace(db, "acme", tid)
    assert t is not None and t["integrity"] == "broken"  # the alert stays on record


def test_a_reordered_batch_stores_only_the_intact_prefix(ingestor: Ingestor, db: Database, several: bytes) -> None:
    tid, tl = next(iter(by_trace(several).items()))
    shuffled = tl[:2] + [tl[3], tl[2]] + tl[4:]
    out = ingestor.ingest("acme", b"".join(shuffled))
    assert (out.accepted, out.rejected) == (2, len(tl) - 2)
    assert out.errors[0].code == "sequence_gap" and out.errors[0].line == 3
    assert one(db, "SELECT MAX(sequence) FROM events WHERE trace_id = ?", (tid,)) == 1


def test_a_forked_event_with_a_valid_hash_breaks_the_chain(ingestor: Ingestor, db: Database, tmp_path: Any) -> None:
    # two deterministic runs share ids but differ in content: run B's event 3 is a valid event
    # that does not follow run A's event 2
    a = by_trace(many_traces(str(tmp_path / "a.jsonl"), 1, calls=3, deterministic=7))
    b = by_trace(many_traces(str(tmp_path / "b.jsonl"), 1, calls=3, agent="support-bot-2", deterministic=7))
    (tid, al), (tid_b, bl) = next(iter(a.items())), next(iter(b.items()))
    assert tid == tid_b and al[3] != bl[3] and field(al[3], "event_id") == field(bl[3], "event_id")
    assert ingestor.ingest("acme", b"".join(al[:3])).accepted == 3
    fork = ingestor.ingest("acme", b"".join(bl[3:5]))
    assert fork.accepted == 0 and fork.rejected == 2
    assert fork.errors[0].code in ("chain_broken", "duplicate_conflict")
    conflict = ingestor.ingest("acme", bl[1])  # same event_id as a stored event, other bytes
    assert (conflict.rejected, conflict.errors[0].code) == (1, "duplicate_conflict")
    assert one(db, "SELECT COUNT(*) FROM events") == 3
    t = get_trace(db, "acme", tid)
    assert t is not None and t["integrity"] == "broken"


def test_a_malformed_line_refuses_the_whole_batch_with_its_line(ingestor: Ingestor, db: Database, several: bytes) -> None:
    ls = lines(several)
    cases = [
        (ls[:3] + [b"not json\n"] + ls[3:5], 4, "malformed_event"),
        (ls[:2] + [ls[2].replace(b'{"event_hash"', b'{ "event_hash"', 1)], 3, "malformed_event"),  # not canonical
        (ls[:2] + [b"\n"] + ls[2:3], 3, "malformed_event"),
        ([ls[0], b'{"sequence": 1}\n'], 2, "malformed_event"),
    ]
    for batch, line, code in cases:
        with pytest.raises(BadLine) as e:
            ingestor.ingest("acme", b"".join(batch))
        assert (e.value.line, e.value.code) == (line, code), e.value
    with pytest.raises(BadLine) as e:
        ingestor.ingest("acme", b"".join(ls[:3]).rstrip(b"\n"))
    assert e.value.line == 3 and "LF" in e.value.message
    assert one(db, "SELECT COUNT(*) FROM events") == 0 and one(db, "SELECT COUNT(*) FROM traces") == 0
    assert one(db, "SELECT COUNT(*) FROM alerts") == len(cases) + 1


def test_tenants_are_separate(ingestor: Ingestor, db: Database, demo: bytes) -> None:
    assert ingestor.ingest("acme", demo).accepted == len(lines(demo))
    assert ingestor.ingest("globex", demo).accepted == len(lines(demo))  # same ids, another tenant
    tid = next(iter(by_trace(demo)))
    assert len(list_traces(db, "acme", TraceFilter())["traces"]) == 2
    assert list_traces(db, "initech", TraceFilter())["traces"] == []
    assert get_trace(db, "initech", tid) is None and export_lines(db, "initech", tid) is None


def test_chains_are_keyed_by_trace_not_session(ingestor: Ingestor, db: Database, tmp_path: Any) -> None:
    data = b""
    for run in range(2):  # two processes use the same session id: two traces
        path = str(tmp_path / f"run{run}.jsonl")
        with cra.Resolver(trace_file=path) as r:
            r.load_atlas(SUPPORT)
            r.resolve(agent="support-bot-1", session="again", goal="x", atlas_ids=["com.example.customer-support"])
            r.end_session("again")
        with open(path, "rb") as f:
            data += f.read()
    traces = by_trace(data)
    assert len(traces) == 2
    first, second = traces.values()
    assert ingestor.ingest("acme", b"".join(first)).accepted == len(first)
    assert ingestor.ingest("acme", b"".join(second)).accepted == len(second)
    rows = list_traces(db, "acme", TraceFilter(session="again"))["traces"]
    assert len(rows) == 2 and all(r["integrity"] == "intact" for r in rows)


def test_held_events_are_bounded_per_tenant(db: Database, several: bytes) -> None:
    from cra.server.settings import Settings

    ing = Ingestor(db, Settings(max_held_events=5))
    tl = list(by_trace(several).values())
    assert ing.ingest("acme", b"".join(tl[0][1:5])).held == 4
    with pytest.raises(HeldFull):
        ing.ingest("acme", b"".join(tl[1][1:3]))
    assert ing.ingest("globex", b"".join(tl[1][1:3])).held == 2  # another tenant has its own bound
    assert one(db, "SELECT COUNT(*) FROM held_events WHERE tenant = 'acme'") == 4


def test_every_stored_event_names_its_agent_and_actions_their_atlas(ingestor: Ingestor, db: Database, demo: bytes) -> None:
    ingestor.ingest("acme", demo)
    with db.read() as tx:
        rows: List[Any] = tx.q("SELECT event_type, agent_id, atlas_id, action_id FROM events")
    assert rows and all(r[1] for r in rows)
    acted = [r for r in rows if r[3] and r[0] != "carp.request.received"]
    assert acted and all(r[2] in ("com.example.customer-support", "com.example.devops") for r in acted)
    agents = {json.loads(x)["session_id"]: None for x in lines(demo)}
    assert len(agents) == 2
