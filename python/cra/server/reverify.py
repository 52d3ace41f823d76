"""``POST /v1/traces/{id}/verify``: check a stored trace again, from its raw lines, with libcra.

Ingest verified every event when it arrived; this answers a later question: are the bytes in the
database still the ones that were verified? The stored lines are read back in sequence order, a
page at a time, and handed to ``cra.verify_trace`` (libcra: BLAKE3 over RFC 8785, the same
verifier as ``cra verify``), each page continuing the head the previous page ended on. Nothing
here hashes or parses JSON to decide validity.

Every finding names the 1-based line of the export (``GET /v1/traces/{id}.jsonl``), its sequence
and event id, libcra's code and message. After a failing line the check goes on from the head the
failing line *declares* (its stored ``event_hash``), so one altered event is reported once and the
lines after it are still checked against it; a line that no longer links is reported too.
Recorded gaps (events given up after ``hold_seconds``) are reported as ``recorded_gap`` and the
check continues after them like ingest did; a jump in sequence with no recorded gap
(``missing_events``) means rows were deleted. Finally the last line must be the head the trace
row recorded (``head_mismatch`` otherwise: events deleted from the end, or the row edited).

Read-only: the answer does not change the trace's stored integrity.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple

from .. import _json
from ..trace import verify_trace
from .db import Database, now_us
from .query import _iso

__all__ = ["reverify", "MAX_FINDINGS", "PAGE"]

#: Lines handed to libcra per call (and read from the database per query).
PAGE = 2000
#: Findings reported at most; the check stops there (``truncated``).
MAX_FINDINGS = 100


@dataclass
class _Row:
    line: int  # 1-based in the export
    sequence: int
    event_id: str
    event_hash: str  # the stored column (what the line declares, as ingested)
    raw: bytes


@dataclass(frozen=True)
class _Head:
    sequence: int
    event_hash: str


def _previous_hash(raw: bytes) -> Optional[str]:
    """The ``previous_event_hash`` a line declares (only to continue after a recorded gap)."""
    try:
        v = _json.loads(raw).get("previous_event_hash")
    except Exception:  # a line that is not JSON any more: nothing to continue from
        return None
    return v if isinstance(v, str) else None


class _Check:
    def __init__(self, trace_id: str, gaps: List[Tuple[int, int]]) -> None:
        self.trace_id = trace_id
        self.gaps = gaps
        self.head: Optional[_Head] = None  # None: the next line must be genesis
        self.findings: List[Dict[str, Any]] = []
        self.verified = 0
        self.lines = 0
        self.truncated = False

    def find(self, row: _Row, code: str, message: str) -> None:
        if len(self.findings) >= MAX_FINDINGS:
            self.truncated = True
            return
        self.findings.append({"line": row.line, "sequence": row.sequence, "event_id": row.event_id,
                              "code": code, "message": message,
                              "severity": "gap" if code == "recorded_gap" else "broken"})

    def _gap(self, row: _Row, expected: int) -> None:
        recorded = [g for g in self.gaps if g[0] <= expected and row.sequence - 1 <= g[1]]
        if recorded:
            self.find(row, "recorded_gap", f"events {expected} to {row.sequence - 1} never arrived; the gap was"
                      " recorded at ingest (the trace is marked gap) and the chain is checked on from here")
        else:
            self.find(row, "missing_events", f"the stored events jump from sequence {expected - 1} to {row.sequence}:"
                      f" {row.sequence - expected} stored event(s) are missing and no gap was recorded")
        prev = _previous_hash(row.raw)
        self.head = _Head(row.sequence - 1, prev) if prev is not None else None

    def run(self, rows: List[_Row]) -> None:
        """Checks a page of rows (sequence order), continuing ``head``."""
        i = 0
        while i < len(rows) and not self.truncated:
            expected = 0 if self.head is None else self.head.sequence + 1
            if rows[i].sequence != expected:
                self._gap(rows[i], expected)
            # the run of rows from i on without a jump in sequence
            j = i + 1
            while j < len(rows) and rows[j].sequence == rows[j - 1].sequence + 1:
                j += 1
            i = self._segment(rows[i:j]) + i

    def _segment(self, rows: List[_Row]) -> int:
        """Verifies consecutive rows; returns how many were consumed (all, or up to and including
        the first failing one)."""
        data = b"".join(r.raw + b"\n" for r in rows)
        heads = {} if self.head is None else {self.trace_id: {"sequence": self.head.sequence,
                                                               "event_hash": self.head.event_hash}}
        report = verify_trace(data, heads=heads)
        fails: List[Dict[str, Any]] = sorted((dict(e) for e in report.errors), key=lambda e: int(e["line"]))
        others = [t for t in report.traces if t["trace_id"] != self.trace_id]
        if others and not fails:  # a line names another trace and starts a chain of its own
            first = min(int(t.get("first_line", 0)) for t in others)
            fails = [{"line": first, "code": "wrong_trace",
                      "message": f"the line belongs to trace {others[0]['trace_id']!r}, not this one"}]
        if not fails:
            self.verified += len(rows)
            self.lines += len(rows)
            last = rows[-1]
            self.head = _Head(last.sequence, last.event_hash)
            return len(rows)
        f = fails[0]
        at = int(f["line"])
        bad = rows[at]
        self.verified += at
        self.lines += at + 1
        self.find(bad, str(f["code"]), str(f["message"]))
        # go on from what the failing line declares, so the rest of the chain is still checked
        self.head = _Head(bad.sequence, bad.event_hash)
        return at + 1


def reverify(db: Database, tenant: str, trace_id: str) -> Optional[Dict[str, Any]]:
    """The re-verification report of one stored trace, or None when it does not exist for ``tenant``.

    ``{trace_id, ok, status, events, verified, stored_integrity, stored_head, head, findings:
    [{line, sequence, event_id, code, message, severity}], truncated, checked_at}``. ``ok`` is
    true when every stored line verified, links to the one before (or follows a recorded gap)
    and the last one is the recorded head; ``status`` is ``intact``, ``gap`` (only recorded
    gaps) or ``broken``."""
    with db.read() as tx:
        t = tx.q("SELECT integrity, head_sequence, head_hash, events FROM traces WHERE tenant = ? AND trace_id = ?",
                 (tenant, trace_id))
        if not t:
            return None
        gaps = [(int(a), int(b)) for a, b in tx.q(
            "SELECT from_sequence, to_sequence FROM gaps WHERE tenant = ? AND trace_id = ? ORDER BY from_sequence",
            (tenant, trace_id))]
    integrity, head_seq, head_hash, recorded_events = t[0]
    check = _Check(trace_id, gaps)
    after, line = -1, 0
    last: Optional[_Row] = None
    while not check.truncated:
        with db.read() as tx:
            page = tx.q("SELECT sequence, event_id, event_hash, raw FROM events WHERE tenant = ? AND trace_id = ?"
                        " AND sequence > ? ORDER BY sequence LIMIT ?", (tenant, trace_id, after, PAGE))
        if not page:
            break
        rows = []
        for seq, eid, h, raw in page:
            line += 1
            rows.append(_Row(line, int(seq), str(eid), str(h), bytes(raw)))
        check.run(rows)
        last = rows[-1]
        after = last.sequence
        if len(page) < PAGE:
            break
    stored_head: Optional[Dict[str, Any]] = None
    if head_seq is not None:
        stored_head = {"sequence": int(head_seq), "event_hash": str(head_hash)}
        if not check.truncated and last is not None and (int(head_seq), str(head_hash)) != (last.sequence, last.event_hash):
            check.find(last, "head_mismatch", f"the trace's recorded head is sequence {int(head_seq)}"
                       f" ({str(head_hash)[:12]}…) but the last stored event is sequence {last.sequence}:"
                       " events were removed from the end, or the trace row was changed")
    if not check.truncated and line != int(recorded_events):
        where = last if last is not None else _Row(0, -1, "", "", b"")
        check.find(where, "count_mismatch", f"the trace row counts {int(recorded_events)} events but {line} are stored")
    broken = any(f["severity"] == "broken" for f in check.findings) or check.truncated
    return {
        "trace_id": trace_id,
        "ok": not broken,
        "status": "broken" if broken else ("gap" if check.findings else "intact"),
        "events": line,
        "verified": check.verified,
        "stored_integrity": integrity,
        "stored_head": stored_head,
        "head": None if last is None else {"sequence": last.sequence, "event_hash": last.event_hash},
        "findings": check.findings,
        "truncated": check.truncated,
        "checked_at": _iso(now_us()),
        "verifier": "libcra",
    }
