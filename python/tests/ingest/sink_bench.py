"""The audit path end to end (not a test; ``make bench-ingest`` runs it after ``ingest.bench``).

    cd python/tests && python -m ingest.sink_bench [--seconds 10] [--rate 100] [--calls 4000] [--json]

**Record → queryable latency.** A real ``cra serve`` (SQLite, a fresh file) on 127.0.0.1; in this
process an agent thread resolves sessions at a steady rate (``--rate`` sessions per second for
``--seconds``; each session: resolve, three authorized lookups reported as executed, one denied
call, end: 11 events) through a ``cra.Resolver`` whose trace goes to the ingest through the
core's HTTP sink (gzip; configured in the resolver config JSON). A poller thread reads the
ingest's SQLite file every 2 ms (read-only, ``rowid > last``): rows become visible when the
ingest's transaction commits, which is when ``GET /v1/traces`` sees them. An event's latency is
the time it was first seen minus its own ``timestamp``, which the engine stamps when it records
the event (same machine, same clock). Runs with the defaults (the collector hands events to the sink
at least every ``flush_interval_ms`` 200; the sink POSTs at 512 events or ``batch_max_delay_ms``
1000), with ``batch_max_delay_ms`` 100, and with both at 20 ms (the floor: mostly the ingest).

**Cost on the resolving thread.** The same calls (``resolve``, ``authorize``; ``--calls`` of
each per sink) timed one by one with ``perf_counter_ns`` on three resolvers in the same run, in
interleaved rounds of 200 calls: the file sink (``fsync: batch``), the HTTP sink to the running
ingest, the HTTP sink to a receiver that only answers 202 (so the ingest's work on the shared
cores is not counted as the sink's), and the memory sink (drained between rounds, outside the
timing). The sinks' work is on background threads; what the calling thread pays is the enqueue.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import cra

from .helpers import SUPPORT
from .server import Server, write_tokens

TOKEN = "all-acme"


def pct(xs: List[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``xs``."""
    s = sorted(xs)
    if not s:
        return float("nan")
    return s[min(len(s) - 1, max(0, int(round(p / 100 * len(s) + 0.5)) - 1))]


class Poller(threading.Thread):
    """Notes when each event of the ingest's SQLite file becomes visible (committed), from the
    rows present at start on."""

    def __init__(self, path: str, interval: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.path, self.interval = path, interval
        self.seen: Dict[str, Tuple[int, int]] = {}  # event_id -> (ts_us, seen_us)
        self.stop_ = threading.Event()
        self.conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        self.last = int(self.conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM events").fetchone()[0])

    def run(self) -> None:
        try:
            while not self.stop_.is_set():
                rows = self.conn.execute("SELECT rowid, event_id, ts_us FROM events WHERE rowid > ? ORDER BY rowid",
                                         (self.last,)).fetchall()
                now = time.time_ns() // 1000
                for rowid, eid, ts in rows:
                    self.seen.setdefault(eid, (int(ts), now))
                    self.last = max(self.last, int(rowid))
                time.sleep(self.interval)
        finally:
            self.conn.close()


def agent_session(r: cra.Resolver, sid: str) -> None:
    res = r.resolve(agent="support-bot-1", session=sid, goal="look up an order", atlas_ids=["com.example.customer-support"])
    for c in range(3):
        auth = r.authorize("orders.lookup", {"order_id": f"ORD-{1000 + c}"}, resolution=res)
        r.report(auth, {"ok": c})
    r.authorize("customers.delete_account", {"customer_id": "C-1"}, resolution=res)
    r.end_session(sid)


#: Latency runs: (name, collector flush_interval_ms, HTTP sink batch_max_delay_ms); None = default (200, 1000).
CONFIGS: Tuple[Tuple[str, Optional[int], Optional[int]], ...] = (
    ("defaults", None, None),
    ("delay 100 ms", None, 100),
    ("interval 20, delay 20 ms", 20, 20),
)


def latency(srv: Server, db_path: str, seconds: float, rate: float, interval_ms: Optional[int], delay_ms: Optional[int],
            tag: str) -> Dict[str, Any]:
    """One latency run; returns the figures."""
    http: Dict[str, Any] = {"url": srv.url() + "/v1/traces", "token": TOKEN}
    if delay_ms is not None:
        http["batch_max_delay_ms"] = delay_ms
    trace: Dict[str, Any] = {"sink": "http", "http": http}
    if interval_ms is not None:
        trace["flush_interval_ms"] = interval_ms
    poller = Poller(db_path)
    poller.start()
    sessions = int(seconds * rate)
    try:
        with cra.Resolver({"trace": trace}) as r:
            r.load_atlas(SUPPORT)
            t0 = time.perf_counter()
            for i in range(sessions):
                pause = t0 + i / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                agent_session(r, f"{tag}-{i}")
            r.flush(60.0)  # returns once every event is acknowledged (committed) by the ingest
            st = r.stats()["trace"]
        written = int(st["written"])
        deadline = time.monotonic() + 30
        while len(poller.seen) < written and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        poller.stop_.set()
        poller.join()
    vals = [(seen - ts) / 1000.0 for ts, seen in poller.seen.values()]
    http_st = st.get("http") or {}
    return {"run": tag, "flush_interval_ms": interval_ms or 200, "batch_max_delay_ms": delay_ms or 1000,
            "sessions": sessions, "events": written,
            "seen": len(vals), "p50_ms": round(pct(vals, 50), 1), "p99_ms": round(pct(vals, 99), 1),
            "max_ms": round(max(vals), 1) if vals else None, "batches": http_st.get("sent_batches"),
            "dropped": st.get("dropped"), "retried": http_st.get("retried")}


class NullReceiver:
    """A receiver in its own process that reads each POST and answers 202 without doing anything,
    so that the HTTP sink's own cost can be told from the ingest's work on the shared cores."""

    CODE = (
        "import http.server, sys\n"
        "class H(http.server.BaseHTTPRequestHandler):\n"
        "    protocol_version = 'HTTP/1.1'\n"
        "    def do_POST(self):\n"
        "        self.rfile.read(int(self.headers.get('content-length', 0)))\n"
        "        self.send_response(202); self.send_header('content-length', '2'); self.end_headers(); self.wfile.write(b'{}')\n"
        "    def log_message(self, *a): pass\n"
        "s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)\n"
        "print(s.server_address[1], flush=True)\n"
        "s.serve_forever()\n"
    )

    def start(self) -> "NullReceiver":
        import subprocess

        self.proc = subprocess.Popen([sys.executable, "-c", self.CODE], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}/v1/traces"
        return self

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def timed(calls: int, rounds: int, resolvers: Dict[str, cra.Resolver], drain: Dict[str, bool],
          tag: str) -> Dict[str, Dict[str, List[float]]]:
    """Times resolve and authorize per sink, interleaving the sinks round by round."""
    out: Dict[str, Dict[str, List[float]]] = {k: {"resolve": [], "authorize": []} for k in resolvers}
    per_round = max(1, calls // rounds)
    ns = time.perf_counter_ns
    for rnd in range(rounds):
        for name, r in resolvers.items():
            res_t, auth_t = out[name]["resolve"], out[name]["authorize"]
            gc.disable()
            try:
                for i in range(per_round):
                    sid = f"{tag}-{name}-{rnd}-{i}"
                    t = ns()
                    res = r.resolve(agent="support-bot-1", session=sid, goal="look up an order",
                                    atlas_ids=["com.example.customer-support"])
                    t1 = ns()
                    r.authorize("orders.lookup", {"order_id": "ORD-1000"}, resolution=res)
                    t2 = ns()
                    res_t.append((t1 - t) / 1000.0)
                    auth_t.append((t2 - t1) / 1000.0)
                    r.end_session(sid)
            finally:
                gc.enable()
            if drain.get(name):
                r.drain_trace()
    return out


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=10.0, help="length of each latency run (default %(default)s)")
    ap.add_argument("--rate", type=float, default=100.0, help="sessions per second in the latency runs (default %(default)s)")
    ap.add_argument("--calls", type=int, default=4000, help="timed resolve and authorize calls per sink (default %(default)s)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="cra-sink-bench-")
    tokens = os.path.join(work, "tokens.json")
    write_tokens(tokens)
    db_path = os.path.join(work, "ingest.sqlite3")
    srv = Server(f"sqlite:///{db_path}", tokens, os.path.join(work, "server.log"), "--sweep-seconds", "0").start()
    report: Dict[str, Any] = {"cpus": os.cpu_count(), "load_average": os.getloadavg()[0]}
    try:
        runs = []
        for n, (tag, interval, delay) in enumerate(CONFIGS):
            row = latency(srv, db_path, args.seconds, args.rate, interval, delay, f"run{n}")
            row["run"] = tag
            runs.append(row)
            if not args.json:
                print(f"record -> queryable, collector flush_interval_ms {row['flush_interval_ms']:>3}, HTTP sink "
                      f"batch_max_delay_ms {row['batch_max_delay_ms']:>4}: "
                      f"p50 {row['p50_ms']:>7.1f} ms  p99 {row['p99_ms']:>7.1f} ms  max {row['max_ms']} ms  "
                      f"({row['seen']} of {row['events']} events seen, {row['batches']} POSTs, {row['dropped']} dropped)",
                      flush=True)
        report["latency"] = runs

        trace_path = os.path.join(work, "file-sink.jsonl")
        null = NullReceiver().start()
        resolvers = {
            "file": cra.Resolver(trace_file=trace_path),
            "http": cra.Resolver({"trace": {"sink": "http", "http": {"url": srv.url() + "/v1/traces", "token": TOKEN}}}),
            "http-null": cra.Resolver({"trace": {"sink": "http", "http": {"url": null.url, "token": TOKEN}}}),
            "memory": cra.Resolver(),
        }
        try:
            for r in resolvers.values():
                r.load_atlas(SUPPORT)
            timed(400, 2, resolvers, {"memory": True}, "warm")  # warm-up
            t = timed(args.calls, 20, resolvers, {"memory": True}, "timed")
            http_stats = resolvers["http"].stats()["trace"]
        finally:
            for r in resolvers.values():
                r.close()
            null.stop()
        cost = {}
        for name, m in t.items():
            cost[name] = {op: {"p50_us": round(pct(v, 50), 2), "p99_us": round(pct(v, 99), 2), "n": len(v)} for op, v in m.items()}
            if not args.json:
                print(f"resolving thread, {name:<9} sink: resolve p50 {cost[name]['resolve']['p50_us']:>7.1f} us "
                      f"p99 {cost[name]['resolve']['p99_us']:>8.1f} us | authorize p50 {cost[name]['authorize']['p50_us']:>6.1f} us "
                      f"p99 {cost[name]['authorize']['p99_us']:>7.1f} us", flush=True)
        report["thread_cost"] = cost
        report["http_sink"] = {k: http_stats.get(k) for k in ("written", "dropped", "sink_errors")} | {"http": http_stats.get("http")}
    finally:
        srv.stop()
    if args.json:
        json.dump(report, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
