"""Counters of one server process, rendered as Prometheus text (``GET /metrics``).

Counters are per process (a load balancer's processes are scraped separately and summed by
Prometheus); ``cra_ingest_held_events`` is read from the database at scrape time, so it is the
deployment's total.
"""

from __future__ import annotations

import threading
import time
from typing import Dict, Optional

__all__ = ["Metrics"]


class Metrics:
    """Thread-safe counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: Dict[str, int] = {k: 0 for k in ("accepted", "duplicate", "rejected", "held", "released")}
        self.batches: Dict[str, int] = {}
        self.alerts = 0
        self.lag_seconds: Optional[float] = None
        self.started = time.time()

    def batch(self, status: int) -> None:
        """Counts one answered ``POST /v1/traces`` by status code."""
        with self._lock:
            key = str(status)
            self.batches[key] = self.batches.get(key, 0) + 1

    def outcome(self, counts: Dict[str, int], alerts: int, newest_ts_us: Optional[int]) -> None:
        """Adds a batch's counts; ``newest_ts_us`` (its newest stored event) sets the lag gauge."""
        with self._lock:
            for k in self.events:
                self.events[k] += int(counts.get(k, 0))
            self.alerts += alerts
            if newest_ts_us is not None:
                self.lag_seconds = max(0.0, time.time() - newest_ts_us / 1_000_000)

    def render(self, held: Optional[int], gaps: int) -> str:
        """The Prometheus exposition text."""
        with self._lock:
            out = [
                "# HELP cra_ingest_events_total Events by outcome since this process started.",
                "# TYPE cra_ingest_events_total counter",
            ]
            out += [f'cra_ingest_events_total{{result="{k}"}} {v}' for k, v in self.events.items()]
            out += ["# HELP cra_ingest_batches_total POST /v1/traces answers by HTTP status.",
                    "# TYPE cra_ingest_batches_total counter"]
            out += [f'cra_ingest_batches_total{{status="{k}"}} {v}' for k, v in sorted(self.batches.items())]
            out += ["# HELP cra_ingest_alerts_total Integrity alerts recorded by this process.",
                    "# TYPE cra_ingest_alerts_total counter", f"cra_ingest_alerts_total {self.alerts}",
                    "# HELP cra_ingest_gaps_total Gaps recorded by this process's held-event expiry.",
                    "# TYPE cra_ingest_gaps_total counter", f"cra_ingest_gaps_total {gaps}"]
            out += ["# HELP cra_ingest_lag_seconds Age of the newest event of the latest stored batch when it was stored.",
                    "# TYPE cra_ingest_lag_seconds gauge",
                    f"cra_ingest_lag_seconds {self.lag_seconds if self.lag_seconds is not None else 'NaN'}"]
            if held is not None:
                out += ["# HELP cra_ingest_held_events Events held waiting for a missing one (whole database).",
                        "# TYPE cra_ingest_held_events gauge", f"cra_ingest_held_events {held}"]
            out += ["# HELP cra_ingest_uptime_seconds Seconds since this process started.",
                    "# TYPE cra_ingest_uptime_seconds gauge", f"cra_ingest_uptime_seconds {time.time() - self.started:.3f}"]
            return "\n".join(out) + "\n"
