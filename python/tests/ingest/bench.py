"""Ingest throughput (not a test): events/s stored with libcra verification, by batch size, on
SQLite and on PostgreSQL (a throwaway server, as in the tests), in-process and over HTTP.

    cd python/tests && python -m ingest.bench [--events 20000] [--json]

Each run ingests the same recorded trace (support sessions recorded by ``cra.Resolver`` against
examples/atlases) into a fresh database, in batches of 100, 1,000 and 10,000 lines, in file
order. "in-process" calls ``Ingestor.ingest`` (split, read, lock, dedup, verify, store, commit);
"in-process (Python reader)" the same with the lines read by ``parse_line`` alone, as before
libcra's ``cra_trace_scan`` read them (the before/after of that change, in the same run);
"http" POSTs the batches, gzip-compressed, to a real ``cra serve`` on 127.0.0.1 from one client.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
import time
from typing import Any, Dict, List

from cra.server import events
from cra.server.db import open_database
from cra.server.ingest import Ingestor
from cra.server.settings import Settings

from .helpers import lines, many_traces
from .pg import Cluster
from .server import Server, write_tokens

BATCHES = (100, 1000, 10000)


def _trace(events: int, work: str) -> List[bytes]:
    path = os.path.join(work, "bench.jsonl")
    sessions = max(1, events // 7 + 1)
    data = lines(many_traces(path, sessions, calls=2))
    return data[:events]


def _inprocess(url: str, ls: List[bytes], batch: int, python_reader: bool = False) -> float:
    """``python_reader``: read lines with parse_line alone (how the ingest read them before
    ``cra_trace_scan``), for the before/after comparison."""
    db = open_database(url, pool_size=2)
    saved = events._scan
    try:
        if python_reader:
            events._scan = lambda body: None
        ing = Ingestor(db, Settings(max_lines=max(batch, 100_000)))
        t0 = time.perf_counter()
        for i in range(0, len(ls), batch):
            out = ing.ingest("bench", b"".join(ls[i:i + batch]))
            assert out.rejected == 0 and out.held == 0, out.to_json()
        return len(ls) / (time.perf_counter() - t0)
    finally:
        events._scan = saved
        db.close()


def _http(url: str, ls: List[bytes], batch: int, work: str) -> float:
    tokens = os.path.join(work, "tokens.json")
    write_tokens(tokens)
    srv = Server(url, tokens, os.path.join(work, "server.log"), "--sweep-seconds", "0").start()
    try:
        bodies = [gzip.compress(b"".join(ls[i:i + batch]), 1) for i in range(0, len(ls), batch)]
        t0 = time.perf_counter()
        for body in bodies:
            status, ans, _ = srv.post(body, "all-kill", "gzip")
            assert status == 202 and ans["rejected"] == 0, ans
        return len(ls) / (time.perf_counter() - t0)
    finally:
        srv.stop()


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20000, help="events per run (default %(default)s)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="cra-ingest-bench-")
    ls = _trace(args.events, work)
    cluster = Cluster().start()
    rows: List[Dict[str, Any]] = []
    try:
        for backend in ("sqlite", "postgresql"):
            for batch in BATCHES:
                for mode in ("in-process (Python reader)", "in-process", "http"):
                    if backend == "sqlite":
                        name = mode.replace(" ", "_").replace("(", "").replace(")", "")
                        url = f"sqlite:///{os.path.join(work, f'{name}-{batch}.sqlite3')}"
                    else:
                        url = cluster.new_database()
                    if mode == "http":
                        rate = _http(url, ls, batch, work)
                    else:
                        rate = _inprocess(url, ls, batch, python_reader=mode != "in-process")
                    rows.append({"backend": backend, "batch": batch, "mode": mode, "events": len(ls),
                                 "events_per_s": round(rate)})
                    if not args.json:
                        print(f"{backend:<11} batch {batch:>6}  {mode:<27}  {rate:>9,.0f} events/s", flush=True)
    finally:
        cluster.stop()
    if args.json:
        json.dump({"cpus": os.cpu_count(), "rows": rows}, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
