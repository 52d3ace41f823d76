"""Reading the store for one tenant: trace lists, one trace's events, raw export, dashboard counts.

Every query is scoped by tenant in SQL (a tenant never sees another's rows). Lists are paged
with an opaque cursor (the sort key of the last row, base64url JSON) and a bounded ``limit``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .. import _json
from .db import Database

__all__ = ["TraceFilter", "QueryError", "list_traces", "get_trace", "trace_events", "export_lines", "stats",
           "list_alerts", "MAX_LIMIT", "INTEGRITY", "DECISIONS"]

MAX_LIMIT = 1000
INTEGRITY = ("intact", "gap", "broken")
DECISIONS = ("allowed", "pending", "denied", "rate_limited", "approved", "rejected", "executed", "failed",
             "allow", "deny", "partial", "requires_approval")
_EXPORT_PAGE = 2000
MAX_BUCKETS = 10_000
#: 9999-12-31T23:59:59.999999Z
MAX_US = 253402300799999999


class QueryError(ValueError):
    """A bad query parameter (400; the message names it)."""


@dataclass
class TraceFilter:
    """Filters of a trace list; every one optional, all must match."""

    agent: Optional[str] = None
    atlas: Optional[str] = None
    action: Optional[str] = None
    decision: Optional[str] = None
    event_type: Optional[str] = None
    integrity: Optional[str] = None
    session: Optional[str] = None
    since_us: Optional[int] = None
    until_us: Optional[int] = None

    def check(self) -> None:
        """Raises :class:`QueryError` for values no trace can have."""
        if self.integrity is not None and self.integrity not in INTEGRITY:
            raise QueryError(f"integrity must be one of {', '.join(INTEGRITY)}")
        if self.decision is not None and self.decision not in DECISIONS:
            raise QueryError(f"decision must be one of {', '.join(DECISIONS)}")

    def where(self, tenant: str) -> Tuple[str, List[Any]]:
        """The WHERE clause over ``traces t`` and its parameters."""
        self.check()
        sql = ["t.tenant = ?"]
        args: List[Any] = [tenant]
        for col, val in (("t.agent_id", self.agent), ("t.integrity", self.integrity), ("t.session_id", self.session)):
            if val is not None:
                sql.append(f"{col} = ?")
                args.append(val)
        if self.since_us is not None:
            sql.append("t.last_ts_us >= ?")
            args.append(self.since_us)
        if self.until_us is not None:
            sql.append("t.first_ts_us < ?")
            args.append(self.until_us)
        if self.atlas is not None:
            sql.append("EXISTS (SELECT 1 FROM trace_atlases a WHERE a.tenant = t.tenant AND a.trace_id = t.trace_id"
                       " AND a.atlas_id = ?)")
            args.append(self.atlas)
        ev: List[str] = []
        for col, val in (("e.action_id", self.action), ("e.decision", self.decision), ("e.event_type", self.event_type)):
            if val is not None:
                ev.append(f"{col} = ?")
                args.append(val)
        if ev:
            sql.append("EXISTS (SELECT 1 FROM events e WHERE e.tenant = t.tenant AND e.trace_id = t.trace_id AND "
                       + " AND ".join(ev) + ")")
        return " AND ".join(sql), args


def _cursor_out(key: Tuple[int, str]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(key)).encode()).decode().rstrip("=")


def _cursor_in(cursor: str) -> Tuple[int, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        a, b = json.loads(raw)
        if not isinstance(a, int) or not isinstance(b, str):
            raise ValueError
        return a, b
    except Exception:
        raise QueryError("cursor is not one this server handed out") from None


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit must be 1-{MAX_LIMIT}")
    return limit


_TRACE_COLS = ("trace_id", "session_id", "agent_id", "integrity", "events", "ended", "head_sequence", "head_hash",
               "first_ts_us", "last_ts_us", "first_received_us", "last_received_us")


def _trace_json(r: Sequence[Any], atlases: List[str]) -> Dict[str, Any]:
    d = dict(zip(_TRACE_COLS, r))
    d["ended"] = bool(d["ended"])
    d["atlases"] = atlases
    d["first_timestamp"] = _iso(d["first_ts_us"])
    d["last_timestamp"] = _iso(d["last_ts_us"])
    return d


def _iso(us: Optional[int]) -> Optional[str]:
    if us is None:
        return None
    import datetime as dt

    try:
        t = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=us)
    except OverflowError:
        return None
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _atlases(tx: Any, tenant: str, ids: List[str]) -> Dict[str, List[str]]:
    out: Dict[str, List[str]] = {i: [] for i in ids}
    if not ids:
        return out
    for cond, part in tx.among("trace_id", ids):
        for tid, atlas in tx.q(f"SELECT trace_id, atlas_id FROM trace_atlases WHERE tenant = ? AND {cond}"
                               " ORDER BY trace_id, atlas_id", (tenant, *part)):
            out[tid].append(atlas)
    return out


def list_traces(db: Database, tenant: str, f: TraceFilter, limit: int = 100, cursor: Optional[str] = None) -> Dict[str, Any]:
    """Traces matching ``f``, newest first (by first event time, then trace id), one page."""
    limit = _limit(limit)
    where, args = f.where(tenant)
    if cursor:
        ts, tid = _cursor_in(cursor)
        where += " AND (t.first_ts_us < ? OR (t.first_ts_us = ? AND t.trace_id < ?))"
        args += [ts, ts, tid]
    cols = ", ".join("t." + c for c in _TRACE_COLS)
    with db.read() as tx:
        rows = tx.q(f"SELECT {cols} FROM traces t WHERE {where} ORDER BY t.first_ts_us DESC, t.trace_id DESC LIMIT ?",
                    (*args, limit + 1))
        more = len(rows) > limit
        rows = rows[:limit]
        atl = _atlases(tx, tenant, [r[0] for r in rows])
    traces = [_trace_json(r, atl[r[0]]) for r in rows]
    nxt = _cursor_out((rows[-1][8], rows[-1][0])) if more else None
    return {"traces": traces, "next_cursor": nxt}


def get_trace(db: Database, tenant: str, trace_id: str) -> Optional[Dict[str, Any]]:
    """One trace with its gaps and alert count, or None (also for another tenant's trace)."""
    cols = ", ".join(_TRACE_COLS)
    with db.read() as tx:
        rows = tx.q(f"SELECT {cols} FROM traces WHERE tenant = ? AND trace_id = ?", (tenant, trace_id))
        if not rows:
            return None
        d = _trace_json(rows[0], _atlases(tx, tenant, [trace_id])[trace_id])
        d["gaps"] = [{"from_sequence": a, "to_sequence": b, "recorded_us": c} for a, b, c in tx.q(
            "SELECT from_sequence, to_sequence, recorded_us FROM gaps WHERE tenant = ? AND trace_id = ? ORDER BY from_sequence",
            (tenant, trace_id))]
        d["alerts"] = int(tx.q("SELECT COUNT(*) FROM alerts WHERE tenant = ? AND trace_id = ?", (tenant, trace_id))[0][0])
        d["held"] = int(tx.q("SELECT COUNT(*) FROM held_events WHERE tenant = ? AND trace_id = ?", (tenant, trace_id))[0][0])
    return d


def trace_events(db: Database, tenant: str, trace_id: str, after: int = -1, limit: int = 100) -> Optional[Dict[str, Any]]:
    """A page of one trace's events in sequence order: index columns plus the event itself."""
    limit = _limit(limit)
    with db.read() as tx:
        t = tx.q("SELECT agent_id FROM traces WHERE tenant = ? AND trace_id = ?", (tenant, trace_id))
        if not t:
            return None
        atlases = _atlases(tx, tenant, [trace_id])[trace_id]
        rows = tx.q("SELECT sequence, event_id, event_type, ts_us, agent_id, atlas_id, action_id, decision, policy_id,"
                    " reason_code, raw FROM events WHERE tenant = ? AND trace_id = ? AND sequence > ? ORDER BY sequence LIMIT ?",
                    (tenant, trace_id, after, limit + 1))
    more = len(rows) > limit
    out = []
    for r in rows[:limit]:
        out.append({"sequence": r[0], "event_id": r[1], "event_type": r[2], "ts_us": r[3], "agent_id": r[4] or t[0][0],
                    "atlas_id": r[5], "trace_atlases": atlases, "action_id": r[6], "decision": r[7], "policy_id": r[8],
                    "reason_code": r[9], "event": _json.loads(bytes(r[10]))})
    return {"trace_id": trace_id, "events": out, "next_after": out[-1]["sequence"] if more else None}


def export_lines(db: Database, tenant: str, trace_id: str) -> Optional[Iterator[bytes]]:
    """The stored raw lines of a trace, LF-terminated, in sequence order (pages of 2000; no
    connection is held between pages). None when the trace does not exist for this tenant."""
    with db.read() as tx:
        if not tx.q("SELECT 1 FROM traces WHERE tenant = ? AND trace_id = ?", (tenant, trace_id)):
            return None

    def pages() -> Iterator[bytes]:
        after = -1
        while True:
            with db.read() as tx:
                rows = tx.q("SELECT sequence, raw FROM events WHERE tenant = ? AND trace_id = ? AND sequence > ?"
                            " ORDER BY sequence LIMIT ?", (tenant, trace_id, after, _EXPORT_PAGE))
            if not rows:
                return
            yield b"".join(bytes(r[1]) + b"\n" for r in rows)
            after = int(rows[-1][0])
            if len(rows) < _EXPORT_PAGE:
                return

    return pages()


def stats(db: Database, tenant: str, since_us: int, until_us: int, bucket_s: int, agent: Optional[str] = None,
          atlas: Optional[str] = None) -> Dict[str, Any]:
    """Decision counts per time bucket (by event time) and totals: denials by policy, approvals,
    rate-limit hits, resolutions by decision."""
    if bucket_s < 1:
        raise QueryError("bucket must be at least 1 second")
    if until_us <= since_us:
        raise QueryError("until must be after since")
    if since_us < 0 or until_us > MAX_US:
        raise QueryError("since and until must lie between 1970 and 9999")
    if (until_us - since_us) // (bucket_s * 1_000_000) > MAX_BUCKETS:
        raise QueryError(f"at most {MAX_BUCKETS} buckets: widen bucket or narrow the range")
    # decision IN (...) rather than IS NOT NULL: one range per decision on (tenant, decision, ts_us, ...)
    where = f"e.tenant = ? AND e.decision IN ({', '.join('?' for _ in DECISIONS)}) AND e.ts_us >= ? AND e.ts_us < ?"
    args: List[Any] = [tenant, *DECISIONS, since_us, until_us]
    if agent is not None:
        where += " AND e.agent_id = ?"
        args.append(agent)
    if atlas is not None:  # the trace's atlases once (uncorrelated), not one probe per event
        where += " AND (e.atlas_id = ? OR (e.atlas_id IS NULL AND e.trace_id IN (SELECT a.trace_id FROM trace_atlases a" \
                 " WHERE a.tenant = ? AND a.atlas_id = ?)))"
        args += [atlas, tenant, atlas]
    width = bucket_s * 1_000_000
    with db.read() as tx:
        rows = tx.q(f"SELECT (e.ts_us - ?) / ? AS b, e.decision, COUNT(*) FROM events e WHERE {where}"
                    " GROUP BY b, e.decision ORDER BY b", (since_us, width, *args))
        by_policy = tx.q(f"SELECT e.policy_id, COUNT(*) FROM events e WHERE {where} AND e.decision = 'denied'"
                         " GROUP BY e.policy_id ORDER BY COUNT(*) DESC, e.policy_id", args)
        rate_policy = tx.q(f"SELECT e.policy_id, COUNT(*) FROM events e WHERE {where} AND e.decision = 'rate_limited'"
                           " GROUP BY e.policy_id ORDER BY COUNT(*) DESC, e.policy_id", args)
    buckets: Dict[int, Dict[str, int]] = {}
    totals: Dict[str, int] = {d: 0 for d in DECISIONS}
    for b, decision, n in rows:
        bucket = buckets.setdefault(int(b), {d: 0 for d in DECISIONS})
        if decision in bucket:
            bucket[decision] += int(n)
            totals[decision] += int(n)
    return {
        "since": _iso(since_us), "until": _iso(until_us), "bucket_seconds": bucket_s,
        "buckets": [{"start": _iso(since_us + b * width), **c} for b, c in sorted(buckets.items())],
        "totals": totals,
        "denials_by_policy": {str(p): int(n) for p, n in by_policy},
        "rate_limit_hits_by_policy": {str(p): int(n) for p, n in rate_policy},
        "approvals": totals["approved"],
        "rejections": totals["rejected"],
        "rate_limit_hits": totals["rate_limited"],
    }


def list_alerts(db: Database, tenant: str, trace_id: Optional[str] = None, after_id: int = 0, limit: int = 100) -> Dict[str, Any]:
    """Integrity alerts of a tenant (oldest first, paged by id)."""
    limit = _limit(limit)
    sql = ("SELECT id, trace_id, session_id, event_id, sequence, line, code, message, raw_prefix, received_us FROM alerts"
           " WHERE tenant = ? AND id > ?")
    args: List[Any] = [tenant, after_id]
    if trace_id is not None:
        sql += " AND trace_id = ?"
        args.append(trace_id)
    with db.read() as tx:
        rows = tx.q(sql + " ORDER BY id LIMIT ?", (*args, limit + 1))
    more = len(rows) > limit
    out = [{"id": r[0], "trace_id": r[1], "session_id": r[2], "event_id": r[3], "sequence": r[4], "line": r[5],
            "code": r[6], "message": r[7], "raw_prefix": bytes(r[8] or b"").decode("utf-8", "replace"),
            "received": _iso(r[9])} for r in rows[:limit]]
    return {"alerts": out, "next_after": out[-1]["id"] if more else None}
