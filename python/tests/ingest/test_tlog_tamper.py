"""A malicious operator edits the store directly (SQLite and PostgreSQL): deletes a session, cuts
a session's tail, rewrites an event and recomputes its chain, reorders events, rolls the whole
log back and grows it again, and, holding the signing key, rebuilds the tree and re-signs it. A
verifier holding an earlier checkpoint (and, for the per-trace checks, the bundle it fetched
then) detects each one and its verdict names what: which trace, which event, which leaf.

The per-trace hash chain alone misses every one of these (each test shows it where it applies)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Dict, List, Set

import pytest

import cra
from cra import tlog
from cra.server.db import Database
from cra.server.ingest import Ingestor
from cra.server.tlog import LogService

from .helpers import by_trace, lines
from .tlog_helpers import bundle, entries, export, rebuild_log, restore, rewrite_chain, service, snapshot, vkey

T = "acme"


@dataclass
class World:
    db: Database
    svc: LogService
    ingestor: Ingestor
    key: str
    tids: List[str]
    traces: Dict[str, List[bytes]]
    kept: Dict[str, Any]  # the bundle the verifier fetched (and kept) before the tampering
    old: str  # its checkpoint

    def indices(self, trace_id: str) -> Dict[int, int]:
        """sequence -> leaf, as the kept bundle's proofs say."""
        for t in self.kept["proofs"]["traces"]:
            if t["trace_id"] == trace_id:
                return {e["sequence"]: e["index"] for e in t["events"]}
        raise KeyError(trace_id)

    def verify(self) -> tlog.Verdict:
        """What the verifier does later: fetch the same traces with a new checkpoint and the
        consistency proof from its kept one, and check all of it against the kept bundle."""
        now = bundle(self.svc, self.db, T, self.tids)
        old_size = tlog.open_checkpoint(self.old, [self.key]).size
        new_size = tlog.open_checkpoint(now["checkpoint"], [self.key]).size
        cons = self.svc.consistency(T, old_size, new_size) if old_size <= new_size else None
        return tlog.verify(keys=[self.key], checkpoint=now["checkpoint"], traces=now["traces"], proofs=now["proofs"],
                           kept=self.kept, consistency=cons)

    def audit(self) -> tlog.Verdict:
        """What a monitor does: every leaf of a new checkpoint, against the kept one."""
        cp = self.svc.checkpoint(T)
        return tlog.audit(keys=[self.key], checkpoint=cp.note, entries=entries(self.svc, T, cp.size),
                          old_checkpoint=self.old)


@pytest.fixture
def world(db: Database, ingestor: Ingestor, several: bytes, tmp_path: Any) -> World:
    ls = lines(several)
    for i in range(0, len(ls), 16):
        ingestor.ingest(T, b"".join(ls[i:i + 16]))
    svc = service(db, str(tmp_path))
    traces = by_trace(several)
    tids = list(traces)
    kept = bundle(svc, db, T, tids)
    w = World(db, svc, ingestor, vkey(svc, T), tids, traces, kept, kept["checkpoint"])
    assert w.verify().ok and w.audit().ok  # before: all is well
    return w


def where(v: tlog.Verdict) -> Set[Any]:
    return {(p.code, p.trace_id, p.sequence, p.index) for p in v.problems}


def delete_trace(db: Database, trace_id: str) -> None:
    with db.write() as tx:
        for table in ("events", "trace_atlases", "trace_actions", "traces"):
            tx.x(f"DELETE FROM {table} WHERE tenant = ? AND trace_id = ?", (T, trace_id))


def test_a_deleted_session_is_named(world: World) -> None:
    victim = world.tids[3]
    idx = world.indices(victim)
    delete_trace(world.db, victim)
    v = world.verify()
    assert v.codes() == {"missing_trace", "missing_event"}, v.to_json()
    assert {p.trace_id for p in v.problems} == {victim}
    assert {(p.sequence, p.index) for p in v.problems if p.code == "missing_event"} == set(idx.items())
    a = world.audit()  # a monitor needs no kept bundle: the log still has the leaves, the store not the events
    assert where(a) == {("missing_leaf", None, None, i) for i in idx.values()}, a.to_json()


def test_a_deleted_session_hidden_by_rebuilding_and_re_signing_the_log_is_caught(world: World, demo: bytes) -> None:
    victim = world.tids[0]
    delete_trace(world.db, victim)
    rebuild_log(world.db, world.svc, T)  # the operator signs the tree without the session...
    world.ingestor.ingest(T, demo)  # ...and lets it grow past the size the verifier knows
    world.svc.checkpoint(T)
    new_cp = world.svc.get_checkpoint(T)
    assert new_cp is not None and new_cp.size > tlog.open_checkpoint(world.old, [world.key]).size
    assert tlog.verify(keys=[world.key], checkpoint=new_cp.note).ok  # alone, the new checkpoint looks fine
    v = world.verify()
    assert "inconsistent" in v.codes() and "missing_trace" in v.codes(), v.to_json()
    a = world.audit()
    assert "log_rewritten" in a.codes() and "missing_leaf" not in a.codes(), a.to_json()


def test_a_cut_tail_is_named(world: World) -> None:
    victim = world.tids[5]
    idx = world.indices(victim)
    last = max(idx)
    with world.db.write() as tx:
        tx.x("DELETE FROM events WHERE tenant = ? AND trace_id = ? AND sequence >= ?", (T, victim, last - 1))
        head = tx.q("SELECT event_hash FROM events WHERE tenant = ? AND trace_id = ? AND sequence = ?",
                    (T, victim, last - 2))[0][0]
        tx.x("UPDATE traces SET head_sequence = ?, head_hash = ?, events = events - 2, ended = 0 WHERE tenant = ?"
             " AND trace_id = ?", (last - 2, head, T, victim))
    assert cra.verify_trace(export(world.db, T, [victim])).ok  # the shorter chain verifies
    v = world.verify()
    assert where(v) == {("missing_event", victim, s, idx[s]) for s in (last - 1, last)}, v.to_json()
    a = world.audit()
    assert where(a) == {("missing_leaf", None, None, idx[s]) for s in (last - 1, last)}, a.to_json()


def test_a_rewritten_event_with_a_recomputed_chain_is_named(world: World) -> None:
    victim = world.tids[2]
    idx = world.indices(victim)
    changed = rewrite_chain(world.db, T, victim, 2, lambda p: p.update(goal="something else entirely"))
    assert len(changed) == len(idx) - 2
    assert cra.verify_trace(export(world.db, T, [victim])).ok  # the chain alone is fooled
    v = world.verify()
    assert v.codes() == {"not_included", "changed_event"}, v.to_json()
    assert {(p.trace_id, p.sequence) for p in v.problems} == {(victim, s) for s in idx if s >= 2}
    a = world.audit()
    assert where(a) == {("leaf_mismatch", victim, s, idx[s]) for s in idx if s >= 2}, a.to_json()


def test_a_rewrite_hidden_by_rebuilding_and_re_signing_the_log_is_caught(world: World) -> None:
    victim = world.tids[2]
    rewrite_chain(world.db, T, victim, 0, lambda p: p.update(agent_id="someone-else"))
    rebuild_log(world.db, world.svc, T)
    v = world.verify()  # same size, another root: two signed views of one tree size
    assert {"inconsistent", "changed_event"} <= v.codes(), v.to_json()
    assert "not_included" not in v.codes()  # the rewritten events are in the rebuilt tree; the kept proofs say otherwise
    a = world.audit()
    assert a.codes() == {"log_rewritten"}, a.to_json()


def test_reordered_events_are_named(world: World) -> None:
    a_tid, b_tid = world.tids[1], world.tids[7]
    ia, ib = world.indices(a_tid)[1], world.indices(b_tid)[4]
    with world.db.write() as tx:  # swap two events' places in the log
        tx.x("UPDATE events SET log_index = -1 WHERE tenant = ? AND log_index = ?", (T, ia))
        tx.x("UPDATE events SET log_index = ? WHERE tenant = ? AND log_index = ?", (ia, T, ib))
        tx.x("UPDATE events SET log_index = ? WHERE tenant = ? AND log_index = -1", (ib, T))
    v = world.verify()
    assert where(v) == {("not_included", a_tid, 1, ib), ("not_included", b_tid, 4, ia),
                        ("moved_event", a_tid, 1, ia), ("moved_event", b_tid, 4, ib)}, v.to_json()
    a = world.audit()
    assert {x for x in where(a) if x[0] == "leaf_mismatch"} == {("leaf_mismatch", b_tid, 4, ia),
                                                               ("leaf_mismatch", a_tid, 1, ib)}, a.to_json()
    assert all(c.startswith("chain_") for c in a.codes() - {"leaf_mismatch"})  # in log order the chains break too


def test_a_reordered_and_re_signed_log_is_caught(world: World) -> None:
    rebuild_log(world.db, world.svc, T, order="trace_id, sequence")  # one session after the other
    v = world.verify()
    assert "inconsistent" in v.codes() and "moved_event" in v.codes(), v.to_json()
    a = world.audit()
    assert a.codes() == {"log_rewritten"}, a.to_json()


def test_a_log_rolled_back_and_grown_again_is_caught(db: Database, ingestor: Ingestor, several: bytes, demo: bytes,
                                                     tmp_path: Any) -> None:
    ls = lines(several)
    svc = service(db, str(tmp_path))
    key = vkey(svc, T)
    ingestor.ingest(T, b"".join(ls[:30]))
    backup = snapshot(db)
    ingestor.ingest(T, b"".join(ls[30:60]))
    kept = svc.checkpoint(T)  # the verifier keeps this one
    restore(db, backup)  # the operator goes back to the backup...
    ingestor.ingest(T, demo)  # ...and other events take the place of the lost ones
    now = svc.checkpoint(T)
    assert now.size > kept.size
    assert tlog.verify(keys=[key], checkpoint=now.note).ok  # alone it looks fine
    cons = svc.consistency(T, kept.size, now.size)
    v = tlog.verify(keys=[key], checkpoint=now.note, old_checkpoint=kept.note, consistency=cons)
    assert v.codes() == {"inconsistent"}, v.to_json()
    a = tlog.audit(keys=[key], checkpoint=now.note, entries=entries(svc, T, now.size), old_checkpoint=kept.note)
    assert a.codes() == {"log_rewritten"}, a.to_json()
    # rolled back and not (yet) grown past the kept size: the log shrank
    restore(db, backup)
    small = svc.checkpoint(T)
    v = tlog.verify(keys=[key], checkpoint=small.note, old_checkpoint=kept.note)
    assert v.codes() == {"log_shrank"}, v.to_json()
    json.dumps(v.to_json())
