"""Background work: expire held events into recorded gaps, and apply retention.

Both run on a timer in every server process (``sweep_seconds``) and on demand through the admin
endpoints. They are safe to run from several processes at once: each trace is handled under its
row lock (PostgreSQL ``FOR UPDATE``; SQLite's single writer), in bounded slices per transaction.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from . import tlog
from .chains import Chains
from .db import Busy, Database, now_us

__all__ = ["expire_held", "apply_retention", "Sweeper", "RetentionResult"]

log = logging.getLogger("cra.server")
_SLICE = 100


def expire_held(db: Database, hold_seconds: float, tenant: Optional[str] = None, now: Optional[int] = None) -> Dict[str, int]:
    """Traces whose oldest held event waited ``hold_seconds``: gap recorded, held events that
    verify from there stored. Returns counts (traces, gaps, stored, rejected)."""
    cutoff = (now if now is not None else now_us()) - int(hold_seconds * 1_000_000)
    totals = {"traces": 0, "gaps": 0, "stored": 0, "rejected": 0}
    done: set = set()  # type: ignore[type-arg]
    while True:
        with db.read() as tx:
            sql = "SELECT tenant, trace_id FROM held_events WHERE received_us <= ?"
            args: List[object] = [cutoff]
            if tenant is not None:
                sql += " AND tenant = ?"
                args.append(tenant)
            rows = tx.q(sql + " GROUP BY tenant, trace_id ORDER BY tenant, trace_id LIMIT 1000", args)
        todo = [(t, tr) for t, tr in rows if (t, tr) not in done]
        if not todo:
            return totals
        for part_start in range(0, len(todo), _SLICE):
            part = todo[part_start:part_start + _SLICE]
            with db.write() as tx:
                by_tenant: Dict[str, List[str]] = {}
                for t, tr in part:
                    by_tenant.setdefault(t, []).append(tr)
                for t, traces in sorted(by_tenant.items()):
                    chains = Chains(tx, t, now if now is not None else now_us())
                    chains.lock({tr: ("", 0) for tr in traces})
                    for tr in sorted(traces):
                        stored, gaps = chains.expire_held(tr)
                        totals["stored"] += stored
                        totals["gaps"] += gaps
                        totals["traces"] += 1
                    totals["rejected"] += chains.rejected
                    chains.save()
            done.update(part)


@dataclass
class RetentionResult:
    """What retention deleted."""

    traces: int = 0
    events: int = 0
    alerts: int = 0


_TRACE_TABLES = ("events", "trace_atlases", "trace_actions", "held_events", "gaps")


def apply_retention(db: Database, days: float, tenant: Optional[str] = None, now: Optional[int] = None) -> RetentionResult:
    """Deletes whole traces whose last batch arrived more than ``days`` ago (server clock), with
    their events, index rows, gaps and held events, and alerts older than that. ``days`` <= 0
    deletes nothing. Each deleted trace is recorded in its tenant's transparency log (a
    ``deleted`` record naming the trace and its leaves), in the same transaction."""
    res = RetentionResult()
    if days <= 0:
        return res
    cutoff = (now if now is not None else now_us()) - int(days * 86_400_000_000)
    while True:
        with db.write() as tx:
            sql = "SELECT tenant, trace_id FROM traces WHERE last_received_us < ?"
            args: List[object] = [cutoff]
            if tenant is not None:
                sql += " AND tenant = ?"
                args.append(tenant)
            rows: Sequence[Tuple[str, str]] = [(r[0], r[1]) for r in tx.q(sql + f" LIMIT {_SLICE}{tx.for_update}", args)]
            if not rows:
                break
            by_tenant: Dict[str, List[str]] = {}
            for t, tr in rows:
                by_tenant.setdefault(t, []).append(tr)
            for t, traces in sorted(by_tenant.items()):  # tenants' log rows locked in one order
                if tlog.ENABLED:  # the deletion itself is logged: a monitor tells it from a silent one
                    tlog.record_deletions(tx, t, sorted(traces), "retention")
                for cond, part in tx.among("trace_id", sorted(traces)):
                    for table in _TRACE_TABLES:
                        n = tx.x(f"DELETE FROM {table} WHERE tenant = ? AND {cond}", (t, *part))
                        if table == "events":
                            res.events += n
                    res.traces += tx.x(f"DELETE FROM traces WHERE tenant = ? AND {cond}", (t, *part))
    with db.write() as tx:
        sql = "DELETE FROM alerts WHERE received_us < ?"
        args2: List[object] = [cutoff]
        if tenant is not None:
            sql += " AND tenant = ?"
            args2.append(tenant)
        res.alerts = tx.x(sql, args2)
    return res


class Sweeper:
    """A daemon thread running :func:`expire_held` and :func:`apply_retention` every ``interval`` s."""

    def __init__(self, db: Database, interval: float, hold_seconds: float, retention_days: float) -> None:
        self.db = db
        self.interval = interval
        self.hold_seconds = hold_seconds
        self.retention_days = retention_days
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        #: Counters for /metrics (gaps recorded, traces deleted by this process's timer).
        self.gaps = 0
        self.expired_traces = 0

    def start(self) -> None:
        """Starts the thread (no-op when ``interval`` is 0)."""
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="cra-ingest-sweeper", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread and waits (bounded) for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def run_once(self) -> None:
        """One round (also what the timer does)."""
        held = expire_held(self.db, self.hold_seconds)
        self.gaps += held["gaps"]
        if self.retention_days > 0:
            self.expired_traces += apply_retention(self.db, self.retention_days).traces

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.run_once()
            except Busy as e:
                log.warning("sweep postponed: %s", e)
            except Exception:  # keep the timer alive; the error is logged with its traceback
                log.exception("sweep failed")
