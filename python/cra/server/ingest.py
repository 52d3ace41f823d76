"""``POST /v1/traces`` without HTTP: one JSONL batch in, counts out.

Steps, all in one write transaction (nothing of a batch is stored unless all of it is decided):

1. Split and read the lines (a line that cannot be an event: the whole batch is refused, 400,
   with its 1-based line number, and an alert is recorded).
2. Lock the batch's traces (rows created for new ones) and drop duplicates: an ``event_id``
   already stored (or held) with the same hash is counted as a duplicate, one with another
   hash is rejected (``duplicate_conflict``).
3. Per trace, the remaining lines either continue the stored head (sequence head + 1; genesis for
   a new trace) and go to libcra, or start further on and are **held** (bounded per tenant,
   in the database) until the missing events arrive or the hold expires (then a gap is recorded).
4. libcra verifies every line against the heads; lines of a trace from its first failure on
   are rejected with an integrity alert and the trace is marked ``broken``; the rest is stored.
5. Held events that now continue a head are released (verified and stored).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .chains import Chains, Rejection, RAW_PREFIX
from .db import Busy, Database, now_us
from .events import BadLine, Line, parse_lines, split_lines
from .settings import Settings
from .verify import Head

__all__ = ["Ingestor", "Outcome", "HeldFull", "BadLine"]

log = logging.getLogger("cra.server")


class HeldFull(Exception):
    """The tenant already holds the most events allowed (``max_held_events``): retry later (429)."""


@dataclass
class Outcome:
    """What happened to a batch (the 202 answer)."""

    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    held: int = 0
    released: int = 0
    alerts: int = 0
    errors: List[Rejection] = field(default_factory=list)
    newest_ts_us: Optional[int] = None
    #: Per batch line (in order), the leaf index of its event in the tenant's transparency log:
    #: stored now or already stored (a duplicate); None for a rejected or held line, or an event
    #: that has no leaf yet. None (no ``log`` in the answer) when the log is off.
    log_indices: Optional[List[Optional[int]]] = None
    #: The tree size once this batch's transaction committed (every index above is below it).
    log_size: Optional[int] = None

    def to_json(self) -> Dict[str, object]:
        """The answer body."""
        out: Dict[str, object] = {
            "accepted": self.accepted, "duplicate": self.duplicate, "rejected": self.rejected, "held": self.held,
            "released": self.released, "alerts": self.alerts, "errors": [e.to_json() for e in self.errors]}
        if self.log_indices is not None:
            out["log"] = {"size": self.log_size, "indices": self.log_indices}
        return out


class Ingestor:
    """Checks and stores batches of one deployment (any number of threads may call it)."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def ingest(self, tenant: str, body: bytes) -> Outcome:
        """Ingests one decompressed JSONL batch for ``tenant``. Raises :class:`BadLine` (400),
        :class:`HeldFull` (429) or :class:`~.db.Busy` (503)."""
        try:
            raws = split_lines(body, self.settings.max_lines, self.settings.max_line)
            lines = parse_lines(body, raws)
            with self.db.write() as tx:
                chains = Chains(tx, tenant, now_us())
                out = self._ingest(chains, lines)
                chains.save()
                if chains.log is not None:
                    self._log_indices(chains, lines, out)
                return out
        except BadLine as e:
            self._alert_bad_batch(tenant, body, e)
            raise

    def _alert_bad_batch(self, tenant: str, body: bytes, e: BadLine) -> None:
        raw = b""
        if e.line >= 1:
            parts = body.split(b"\n", e.line)
            raw = parts[e.line - 1] if len(parts) >= e.line else b""
        try:
            with self.db.write() as tx:
                tx.x("INSERT INTO alerts (tenant, line, code, message, raw_prefix, received_us) VALUES (?, ?, ?, ?, ?, ?)",
                     (tenant, e.line, e.code, e.message[:1000], raw[:RAW_PREFIX], now_us()))
        except Busy as b:  # the batch is refused all the same; the alert is only lost, and logged
            log.warning("could not record the alert for a refused batch (%s line %d): %s", e.code, e.line, b)

    def _ingest(self, chains: Chains, lines: List[Line]) -> Outcome:
        out = Outcome()
        first_seen: Dict[str, Tuple[str, int]] = {}
        for ln in lines:
            first_seen.setdefault(ln.trace_id, (ln.session_id, ln.ts_us))
        chains.lock(first_seen)
        fresh = self._drop_duplicates(chains, lines, out)
        pending: Dict[str, List[Line]] = {}
        for ln in fresh:
            pending.setdefault(ln.trace_id, []).append(ln)
        to_verify: List[Line] = []
        heads: Dict[str, Head] = {}
        to_hold: Dict[str, List[Line]] = {}
        for tid, group in pending.items():
            st = chains.traces[tid]
            expected = 0 if st.head is None else st.head.sequence + 1
            if group[0].sequence > expected:
                to_hold[tid] = group
                continue
            to_verify.extend(group)
            if st.head is not None:
                heads[tid] = st.head
        if to_hold:
            out.held = self._hold(chains, to_hold)
        out.accepted = chains.verify_and_store(to_verify, heads, batch_lines=True)
        for tid in chains.with_held([t for t in pending if t not in to_hold]):
            out.released += chains.release_held(tid)
        out.rejected += chains.rejected
        out.alerts = chains.alerts
        out.errors = chains.rejections
        out.newest_ts_us = chains.newest_ts_us
        return out

    def _drop_duplicates(self, chains: Chains, lines: List[Line], out: Outcome) -> List[Line]:
        """Lines not stored or held yet; counts duplicates, rejects conflicting reuses of an id."""
        ids = sorted({x.event_id for x in lines})
        known: Dict[str, Tuple[str, int, str]] = {}
        for table in ("events", "held_events"):
            extra = ", log_index" if table == "events" else ""
            for cond, part in chains.tx.among("event_id", ids):
                for r in chains.tx.q(f"SELECT event_id, trace_id, sequence, event_hash{extra} FROM {table}"
                                     f" WHERE tenant = ? AND {cond}", (chains.tenant, *part)):
                    known[r[0]] = (r[1], int(r[2]), r[3])
                    if extra and r[4] is not None:
                        chains.prior_logged[r[0]] = (int(r[4]), r[3])
        fresh: List[Line] = []
        seen: Dict[str, bytes] = {}
        for ln in lines:
            prior = seen.get(ln.event_id)
            if prior is not None:
                if prior == ln.raw:
                    out.duplicate += 1
                else:
                    chains.reject(ln, "duplicate_conflict", "another line of this batch has the same event_id", True)
                    chains.traces[ln.trace_id].worsen("broken")
                continue
            seen[ln.event_id] = ln.raw
            k = known.get(ln.event_id)
            if k is None:
                fresh.append(ln)
            elif k == (ln.trace_id, ln.sequence, ln.event_hash):
                out.duplicate += 1
            else:
                chains.reject(ln, "duplicate_conflict",
                              f"event_id is already stored for trace {k[0]} sequence {k[1]} with another hash", True)
                chains.traces[ln.trace_id].worsen("broken")
        return fresh

    def _log_indices(self, chains: Chains, lines: List[Line], out: Outcome) -> None:
        """Fills the answer's ``log``: each line's leaf index when its event (same id and hash)
        is stored with a leaf, now or before; the tree size after the transaction."""
        found = dict(chains.prior_logged)
        found.update(chains.logged)
        indices: List[Optional[int]] = []
        for ln in lines:
            hit = found.get(ln.event_id)
            indices.append(hit[0] if hit is not None and hit[1] == ln.event_hash else None)
        out.log_indices = indices
        rows = chains.tx.q("SELECT size FROM tlog_state WHERE tenant = ?", (chains.tenant,))
        out.log_size = int(rows[0][0]) if rows else 0

    def _hold(self, chains: Chains, groups: Dict[str, List[Line]]) -> int:
        """Holds lines that start past their trace's head. Each group is first checked from its
        own first line (hashes and links within the group), so a tampered event is rejected now
        rather than held."""
        lines = [x for g in groups.values() for x in g]
        synthetic = {tid: Head(g[0].sequence - 1, g[0].previous_hash) for tid, g in groups.items()}
        lines, _ = chains.check(lines, synthetic, batch_lines=True)
        held = chains.tx.q("SELECT COUNT(*) FROM held_events WHERE tenant = ?", (chains.tenant,))[0][0]
        if int(held) + len(lines) > self.settings.max_held_events:
            raise HeldFull(f"{held} events are already held for this tenant (limit {self.settings.max_held_events})")
        chains.tx.many(
            "INSERT INTO held_events (tenant, event_id, trace_id, sequence, event_hash, previous_hash, raw, received_us)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(chains.tenant, x.event_id, x.trace_id, x.sequence, x.event_hash, x.previous_hash, x.raw, chains.now_us)
             for x in lines],
        )
        return len(lines)
