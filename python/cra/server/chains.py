"""Chain bookkeeping shared by the ingest path, held-event release and gap expiry.

Within one write transaction: lock the traces a batch touches, run lines through libcra against
the stored heads, store what verified (raw bytes plus index columns), reject the rest as
integrity alerts, and move each trace's head. Nothing is stored that libcra did not accept as
the continuation of the stored head (or, after an expired hold, of a recorded gap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from . import tlog
from .db import Tx
from .events import Line
from .events import BadLine
from .verify import Head, Verdict, verify_batch

__all__ = ["TraceState", "Rejection", "Chains", "RAW_PREFIX", "INTEGRITY_RANK"]

#: Bytes of a rejected line kept in its alert (enough to see what it was, bounded).
RAW_PREFIX = 4096
INTEGRITY_RANK = {"intact": 0, "gap": 1, "broken": 2}


@dataclass
class TraceState:
    """A locked trace row as this transaction sees and changes it."""

    trace_id: str
    head: Optional[Head]
    integrity: str
    agent_id: Optional[str]
    session_id: Optional[str]
    events: int
    ended: bool
    first_ts_us: int
    last_ts_us: int
    actions: Optional[Dict[str, str]] = None  # action -> atlas, loaded when needed
    atlases: Set[str] = field(default_factory=set)
    changed: bool = False
    backfill_agent: bool = False  # the agent became known after events were stored without it

    def worsen(self, integrity: str) -> None:
        """Integrity only gets worse: intact < gap < broken."""
        if INTEGRITY_RANK[integrity] > INTEGRITY_RANK[self.integrity]:
            self.integrity = integrity
            self.changed = True


@dataclass
class Rejection:
    """A line that was not stored (answered and recorded as an alert)."""

    line: Optional[int]  # 1-based batch line, None for held events
    trace_id: Optional[str]
    event_id: Optional[str]
    code: str
    message: str

    def to_json(self) -> Dict[str, object]:
        """The answer's form."""
        return {"line": self.line, "trace_id": self.trace_id, "event_id": self.event_id, "code": self.code,
                "message": self.message}


class Chains:
    """The traces one transaction works on, for one tenant."""

    def __init__(self, tx: Tx, tenant: str, now_us: int) -> None:
        self.tx = tx
        self.tenant = tenant
        self.now_us = now_us
        self.traces: Dict[str, TraceState] = {}
        self.rejections: List[Rejection] = []
        self.rejected = 0
        self.alerts = 0
        self.newest_ts_us: Optional[int] = None
        #: The tenant's transparency log: every stored event is appended, in the order stored
        #: (its row is locked at the first store of the transaction; see :mod:`.tlog`).
        self.log: Optional[tlog.Appender] = tlog.Appender(tx, tenant) if tlog.ENABLED else None
        #: event_id -> (leaf index, event_hash) of every event this transaction stored with a leaf
        #: (for the receipt part of the 202 answer).
        self.logged: Dict[str, Tuple[int, str]] = {}
        #: The same for events of a batch that were already stored (duplicates).
        self.prior_logged: Dict[str, Tuple[int, str]] = {}

    # -- locking ---------------------------------------------------------------------------
    def lock(self, first_seen: Mapping[str, Tuple[str, int]]) -> None:
        """Creates missing trace rows and locks them all (sorted, so concurrent batches cannot
        deadlock). ``first_seen``: trace_id -> (session_id, timestamp of its first line)."""
        ids = sorted(t for t in first_seen if t not in self.traces)
        if not ids:
            return
        self.tx.many(
            "INSERT INTO traces (tenant, trace_id, session_id, first_ts_us, last_ts_us, first_received_us, last_received_us)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(self.tenant, t, first_seen[t][0], first_seen[t][1], first_seen[t][1], self.now_us, self.now_us) for t in ids],
        )
        for cond, part in self.tx.among("trace_id", ids):
            rows = self.tx.q(
                "SELECT trace_id, head_sequence, head_hash, integrity, agent_id, session_id, events, ended, first_ts_us,"
                f" last_ts_us FROM traces WHERE tenant = ? AND {cond} ORDER BY trace_id{self.tx.for_update}",
                (self.tenant, *part),
            )
            for r in rows:
                head = Head(int(r[1]), str(r[2])) if r[1] is not None else None
                st = TraceState(r[0], head, r[3], r[4], r[5], int(r[6]), bool(r[7]), int(r[8]), int(r[9]))
                st.actions = None if st.events else {}  # nothing stored yet: no action -> atlas rows
                self.traces[r[0]] = st
        stored = sorted(t for t in ids if self.traces[t].actions is None)
        for t in stored:
            self.traces[t].actions = {}
        for cond, part in self.tx.among("trace_id", stored):  # the known actions of every trace with events
            for tid, action, atlas in self.tx.q(f"SELECT trace_id, action_id, atlas_id FROM trace_actions WHERE tenant = ?"
                                                f" AND {cond}", (self.tenant, *part)):
                acts = self.traces[tid].actions
                assert acts is not None
                acts[action] = atlas

    def with_held(self, trace_ids: Sequence[str]) -> List[str]:
        """Those of ``trace_ids`` that have held events (one query per 500)."""
        ids = sorted(set(trace_ids))
        out: List[str] = []
        for cond, part in self.tx.among("trace_id", ids):
            out += [r[0] for r in self.tx.q(f"SELECT DISTINCT trace_id FROM held_events WHERE tenant = ? AND {cond}",
                                            (self.tenant, *part))]
        return sorted(out)

    # -- verification and storage ----------------------------------------------------------
    def check(self, lines: Sequence[Line], heads: Mapping[str, Head], batch_lines: bool) -> Tuple[List[Line], Verdict]:
        """Runs ``lines`` (several traces, each in chain order) through libcra continuing
        ``heads``. Returns the lines that verified; the first failing line of each trace is
        rejected with an alert, the later lines of that trace are rejected too (they cannot link)
        and the trace is marked ``broken``. Raises :class:`~.events.BadLine` (1-based batch line)
        when libcra finds a malformed line."""
        data = b"".join(x.raw + b"\n" for x in lines)
        verdict = verify_batch(data, heads)
        bad_from: Dict[str, int] = {}
        for f in verdict.failures:
            if f.code == "malformed_event" or f.trace_id is None:
                n = lines[f.line].index + 1 if (batch_lines and f.line < len(lines)) else 0
                raise BadLine(n, f.message, f.code)
            if f.trace_id not in bad_from:
                bad_from[f.trace_id] = f.line
                self.reject(lines[f.line], f.code, f.message, batch_lines)
                self.traces[f.trace_id].worsen("broken")
        accepted: List[Line] = []
        for pos, ln in enumerate(lines):
            start = bad_from.get(ln.trace_id)
            if start is None or pos < start:
                accepted.append(ln)
            elif pos > start:
                self.reject(ln, "after_broken_event", "an earlier event of this trace in the batch was rejected",
                            batch_lines, alert=False)
        return accepted, verdict

    def verify_and_store(self, lines: Sequence[Line], heads: Mapping[str, Head], batch_lines: bool) -> int:
        """:meth:`check`, then stores what verified and moves the heads. Returns events stored."""
        if not lines:
            return 0
        accepted, verdict = self.check(lines, heads, batch_lines)
        self._store(accepted)
        last: Dict[str, Line] = {x.trace_id: x for x in accepted}
        for tid, ln in last.items():
            st = self.traces[tid]
            chain = verdict.chains.get(tid)
            expect = Head(ln.sequence, ln.event_hash)
            if chain is None or chain.head != expect:  # fail closed if we disagree with libcra about the head
                raise RuntimeError(f"libcra's head for trace {tid} ({chain}) differs from the stored lines ({expect})")
            st.head = expect
            st.ended = chain.ended
            st.changed = True
        return len(accepted)

    def reject(self, ln: Line, code: str, message: str, batch_line: bool, alert: bool = True) -> None:
        """Counts a rejected line, answers it, and records an integrity alert when ``alert``."""
        self.rejected += 1
        r = Rejection(ln.index + 1 if batch_line else None, ln.trace_id, ln.event_id, code, message)
        if len(self.rejections) < 100:
            self.rejections.append(r)
        if alert:
            self.alerts += 1
            self.tx.x(
                "INSERT INTO alerts (tenant, trace_id, session_id, event_id, sequence, line, code, message, raw_prefix,"
                " received_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.tenant, ln.trace_id, ln.session_id, ln.event_id, ln.sequence, r.line, code, message[:1000],
                 ln.raw[:RAW_PREFIX], self.now_us),
            )

    def _actions(self, st: TraceState) -> Dict[str, str]:
        if st.actions is None:
            rows = self.tx.q("SELECT action_id, atlas_id FROM trace_actions WHERE tenant = ? AND trace_id = ?",
                             (self.tenant, st.trace_id))
            st.actions = {r[0]: r[1] for r in rows}
        return st.actions

    def _store(self, accepted: Sequence[Line]) -> None:
        rows: List[Tuple[object, ...]] = []
        first = self.log.append([ln.raw for ln in accepted]) if self.log is not None and accepted else None
        new_actions: List[Tuple[str, str, str, str]] = []
        new_atlases: Set[Tuple[str, str]] = set()
        for ln in accepted:
            st = self.traces[ln.trace_id]
            f = ln.facts
            if f.agent_id and not st.agent_id:
                st.agent_id = f.agent_id
                st.changed = True
                st.backfill_agent = st.events > 0
            known = self._actions(st)
            for action, atlas in f.action_atlases.items():
                if action not in known:
                    known[action] = atlas
                    new_actions.append((self.tenant, ln.trace_id, action, atlas))
            for atlas in f.atlases:
                if atlas not in st.atlases:
                    st.atlases.add(atlas)
                    new_atlases.add((ln.trace_id, atlas))
            atlas_id = f.atlas_id or (known.get(f.action_id) if f.action_id else None)
            rows.append((self.tenant, ln.trace_id, ln.sequence, ln.event_id, ln.session_id, ln.event_type, ln.ts_us,
                         f.agent_id or st.agent_id, atlas_id, f.action_id, f.decision, f.policy_id, f.reason_code,
                         ln.event_hash, ln.raw, self.now_us, None if first is None else first + len(rows)))
            if first is not None:
                self.logged[ln.event_id] = (first + len(rows) - 1, ln.event_hash)
            if st.events == 0:
                st.first_ts_us = ln.ts_us
                st.last_ts_us = ln.ts_us
            st.first_ts_us = min(st.first_ts_us, ln.ts_us)
            st.last_ts_us = max(st.last_ts_us, ln.ts_us)
            if not st.session_id:
                st.session_id = ln.session_id
            st.events += 1
            st.changed = True
            if self.newest_ts_us is None or ln.ts_us > self.newest_ts_us:
                self.newest_ts_us = ln.ts_us
        self.tx.copy("events", ("tenant", "trace_id", "sequence", "event_id", "session_id", "event_type", "ts_us",
                                "agent_id", "atlas_id", "action_id", "decision", "policy_id", "reason_code",
                                "event_hash", "raw", "received_us", "log_index"), rows)
        self.tx.many("INSERT INTO trace_actions (tenant, trace_id, action_id, atlas_id) VALUES (?, ?, ?, ?)"
                     " ON CONFLICT DO NOTHING", new_actions)
        self.tx.many("INSERT INTO trace_atlases (tenant, trace_id, atlas_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                     [(self.tenant, t, a) for t, a in sorted(new_atlases)])

    # -- held events -----------------------------------------------------------------------
    def release_held(self, trace_id: str) -> int:
        """Stores held events of ``trace_id`` that now continue its head; returns how many."""
        released = 0
        while True:
            st = self.traces[trace_id]
            expected = 0 if st.head is None else st.head.sequence + 1
            run = self._held_run(trace_id, expected)
            if not run:
                return released
            released += self._apply_held(st, run, {} if st.head is None else {trace_id: st.head})

    def _held_run(self, trace_id: str, expected: Optional[int]) -> List[Line]:
        """The held events of a trace from ``expected`` on without a hole (None: from the first held)."""
        from .events import parse_line

        rows = self.tx.q("SELECT sequence, raw FROM held_events WHERE tenant = ? AND trace_id = ? ORDER BY sequence, event_id"
                         " LIMIT 100000", (self.tenant, trace_id))
        run: List[Line] = []
        for seq, raw in rows:
            seq = int(seq)
            if expected is None:
                expected = seq
            if seq != expected + len(run):
                if seq < expected + len(run):
                    continue  # a second event claiming a position already in the run: left held, expires
                break
            run.append(parse_line(len(run), bytes(raw)))
        return run

    def _apply_held(self, st: TraceState, run: List[Line], heads: Mapping[str, Head]) -> int:
        try:
            stored = self.verify_and_store(run, heads, batch_lines=False)
        except BadLine as e:  # cannot happen for lines that passed the batch checks; fail closed all the same
            for ln in run:
                self.reject(ln, e.code, e.message, False)
            st.worsen("broken")
            stored = 0
        ids = [x.event_id for x in run]
        for cond, part in self.tx.among("event_id", ids):
            self.tx.x(f"DELETE FROM held_events WHERE tenant = ? AND {cond}", (self.tenant, *part))
        return stored

    def expire_held(self, trace_id: str) -> Tuple[int, int]:
        """Gives up waiting for a trace's missing events: records the gap, marks the trace ``gap``
        and stores the held events that verify from there. Returns (events stored, gaps)."""
        from .events import parse_line

        st = self.traces[trace_id]
        start = 0 if st.head is None else st.head.sequence + 1
        stale = self.tx.q("SELECT raw FROM held_events WHERE tenant = ? AND trace_id = ? AND sequence < ?",
                          (self.tenant, trace_id, start))
        for (raw,) in stale:  # positions stored meanwhile by other events: a fork, never stored
            ln = parse_line(0, bytes(raw))
            self.reject(ln, "conflict", f"another event is stored at sequence {ln.sequence} of this trace", False)
            st.worsen("broken")
        if stale:
            self.tx.x("DELETE FROM held_events WHERE tenant = ? AND trace_id = ? AND sequence < ?",
                      (self.tenant, trace_id, start))
        run = self._held_run(trace_id, None)
        if not run:
            return 0, 0
        first = run[0]
        if first.sequence == start:
            return self.release_held(trace_id), 0
        self.tx.x("INSERT INTO gaps (tenant, trace_id, from_sequence, to_sequence, recorded_us) VALUES (?, ?, ?, ?, ?)",
                  (self.tenant, trace_id, start, first.sequence - 1, self.now_us))
        st.worsen("gap")
        synthetic = Head(first.sequence - 1, first.previous_hash)
        stored = self._apply_held(st, run, {trace_id: synthetic})
        return stored + self.release_held(trace_id), 1

    # -- write back ------------------------------------------------------------------------
    def save(self) -> None:
        """Writes every changed trace row back (one pipelined statement), and the log's tiles and
        state when events were stored."""
        if self.log is not None:
            self.log.flush()
        changed = [st for st in self.traces.values() if st.changed]
        self.tx.many(
            "UPDATE traces SET head_sequence = ?, head_hash = ?, integrity = ?, agent_id = ?, session_id = ?,"
            " events = ?, ended = ?, first_ts_us = ?, last_ts_us = ?, last_received_us = ?"
            " WHERE tenant = ? AND trace_id = ?",
            [(st.head.sequence if st.head else None, st.head.event_hash if st.head else None, st.integrity,
              st.agent_id, st.session_id, st.events, int(st.ended), st.first_ts_us, st.last_ts_us, self.now_us,
              self.tenant, st.trace_id) for st in changed],
        )
        self.tx.many("UPDATE events SET agent_id = ? WHERE tenant = ? AND trace_id = ? AND agent_id IS NULL",
                     [(st.agent_id, self.tenant, st.trace_id) for st in changed if st.backfill_agent and st.agent_id])
