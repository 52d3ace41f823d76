"""Transparency-log benchmarks (not tests): what the log costs ingest, and proof sizes and times
for big trees.

    cd python/tests && python -m ingest.tlog_bench [--events 20000] [--rounds 3] [--sizes 1e6,1e7] [--json]

1. **Ingest with and without the log**: the same recorded trace ingested in-process
   (``Ingestor.ingest``) into fresh SQLite and PostgreSQL databases, in batches of 100, 1,000 and
   10,000 lines, with the log on and off (``cra.server.tlog.ENABLED``), the two alternating
   ``--rounds`` times; the medians of events/s by wall clock and by this process's CPU time
   (steadier on a shared machine), and their ratio.
2. **Big trees**: ``--sizes`` leaves appended (in transactions of 100,000, through the same
   ``Appender`` as ingest) into a SQLite log (and 10^6 into PostgreSQL); then, with cold tile
   caches, inclusion proofs of random leaves, consistency proofs from random sizes, a batch of
   100 inclusion proofs (a trace's worth) and the root recomputed from tiles (the self-audit of a
   checkpoint): hashes per proof, bytes, tile rows read, milliseconds. Every proof is checked.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from typing import Any, Dict, List, Tuple

from cra.server import tlog as server_tlog
from cra.server.db import Database, open_database
from cra.server.ingest import Ingestor
from cra.server.merkle import TreeReader
from cra.server.settings import Settings
from cra.server.tlog import Appender, tile_reader
from cra.tlog import leaf_hash, verify_consistency, verify_inclusion

from .helpers import lines, many_traces
from .pg import Cluster

BATCHES = (100, 1000, 10000)


def _ingest(url: str, ls: List[bytes], batch: int, log: bool) -> Tuple[float, float]:
    server_tlog.ENABLED = log
    db = open_database(url, pool_size=2)
    try:
        ing = Ingestor(db, Settings(max_lines=max(batch, 100_000)))
        w, c = time.perf_counter(), time.process_time()
        for i in range(0, len(ls), batch):
            out = ing.ingest("bench", b"".join(ls[i:i + batch]))
            assert out.rejected == 0 and out.held == 0, out.to_json()
        return len(ls) / (time.perf_counter() - w), len(ls) / (time.process_time() - c)
    finally:
        server_tlog.ENABLED = True
        db.close()


def ingest_bench(work: str, cluster: Cluster, events: int, rounds: int, out: List[Dict[str, Any]], quiet: bool) -> None:
    ls = lines(many_traces(os.path.join(work, "bench.jsonl"), max(1, events // 7 + 1), calls=2))[:events]
    n = 0
    for backend in ("sqlite", "postgresql"):
        for batch in BATCHES:
            res: Dict[bool, List[Tuple[float, float]]] = {True: [], False: []}
            for _ in range(rounds):
                for log in (False, True):
                    n += 1
                    url = f"sqlite:///{os.path.join(work, f'i{n}.sqlite3')}" if backend == "sqlite" else cluster.new_database()
                    res[log].append(_ingest(url, ls, batch, log))
            row: Dict[str, Any] = {"bench": "ingest", "backend": backend, "batch": batch, "events": len(ls),
                                   "rounds": rounds}
            for log in (False, True):
                tag = "with_log" if log else "without_log"
                row[f"{tag}_wall"] = round(statistics.median(r[0] for r in res[log]))
                row[f"{tag}_cpu"] = round(statistics.median(r[1] for r in res[log]))
            row["ratio_wall"] = round(row["with_log_wall"] / row["without_log_wall"], 3)
            row["ratio_cpu"] = round(row["with_log_cpu"] / row["without_log_cpu"], 3)
            out.append(row)
            if not quiet:
                print(f"ingest {backend:<10} batch {batch:>6}: without the log {row['without_log_wall']:>7,} ev/s "
                      f"(cpu {row['without_log_cpu']:>7,}), with {row['with_log_wall']:>7,} ev/s "
                      f"(cpu {row['with_log_cpu']:>7,}): x{row['ratio_wall']:.3f} wall, x{row['ratio_cpu']:.3f} cpu",
                      flush=True)


def _build(db: Database, size: int) -> float:
    t0 = time.perf_counter()
    step = 100_000
    for start in range(0, size, step):
        with db.write() as tx:
            ap = Appender(tx, "big")
            ap.append([b"leaf %d" % i for i in range(start, min(size, start + step))])
            ap.flush()
    return time.perf_counter() - t0


def _ms(t: float) -> float:
    return round(t * 1000, 3)


def tree_bench(url: str, backend: str, size: int, out: List[Dict[str, Any]], quiet: bool) -> None:
    db = open_database(url, pool_size=2)
    try:
        server_tlog._EDGES.clear()
        build = _build(db, size)
        with db.read() as tx:
            root = bytes(tx.q("SELECT root FROM tlog_state WHERE tenant = 'big'")[0][0])
            tiles = int(tx.q("SELECT COUNT(*) FROM tlog_tiles WHERE tenant = 'big'")[0][0])
        rng = random.Random(size)
        incl: List[Tuple[float, int, int]] = []
        for _ in range(200):
            i = rng.randrange(size)
            with db.read() as tx:
                reader = TreeReader(tile_reader(tx, "big"))  # cold: nothing cached
                t = time.perf_counter()
                path = reader.inclusion(i, size)
                incl.append((time.perf_counter() - t, len(path), reader.reads))
            assert verify_inclusion(leaf_hash(b"leaf %d" % i), i, size, path, root)
        cons: List[Tuple[float, int, int]] = []
        for _ in range(50):
            m = rng.randrange(1, size)
            with db.read() as tx:
                reader = TreeReader(tile_reader(tx, "big"))
                t = time.perf_counter()
                path = reader.consistency(m, size)
                old = reader.root(m)
                cons.append((time.perf_counter() - t, len(path), reader.reads))
            assert verify_consistency(m, size, old, root, path)
        with db.read() as tx:
            reader = TreeReader(tile_reader(tx, "big"))
            t = time.perf_counter()
            assert reader.root(size) == root
            audit = time.perf_counter() - t
            first = rng.randrange(size - 100_000) if size > 100_000 else 0
            batch_idx = sorted(rng.sample(range(first, min(size, first + 100_000)), 100))  # a trace's events, near
            reader = TreeReader(tile_reader(tx, "big"))
            t = time.perf_counter()
            paths = reader.inclusions(batch_idx, size)
            batch_t = time.perf_counter() - t
            batch_reads = reader.reads
        distinct = len({h for p in paths for h in p})
        row = {"bench": "tree", "backend": backend, "leaves": size, "build_s": round(build, 1), "tile_rows": tiles,
               "inclusion_hashes_max": max(x[1] for x in incl), "inclusion_bytes_max": 32 * max(x[1] for x in incl),
               "inclusion_tiles_read_max": max(x[2] for x in incl),
               "inclusion_ms_median": _ms(statistics.median(x[0] for x in incl)),
               "inclusion_ms_max": _ms(max(x[0] for x in incl)),
               "consistency_hashes_max": max(x[1] for x in cons), "consistency_tiles_read_max": max(x[2] for x in cons),
               "consistency_ms_median": _ms(statistics.median(x[0] for x in cons)),
               "root_from_tiles_ms": _ms(audit), "batch100_ms": _ms(batch_t), "batch100_tiles_read": batch_reads,
               "batch100_distinct_hashes": distinct}
        out.append(row)
        if not quiet:
            print(f"tree {backend:<10} {size:>11,} leaves: built in {row['build_s']} s ({tiles:,} tile rows); inclusion "
                  f"{row['inclusion_hashes_max']} hashes ({row['inclusion_bytes_max']} B), <= "
                  f"{row['inclusion_tiles_read_max']} tile rows, median {row['inclusion_ms_median']} ms; consistency <= "
                  f"{row['consistency_hashes_max']} hashes, median {row['consistency_ms_median']} ms; root from tiles "
                  f"{row['root_from_tiles_ms']} ms; 100 proofs in one batch {row['batch100_ms']} ms "
                  f"({batch_reads} tile rows, {distinct} distinct hashes)", flush=True)
    finally:
        db.close()


def main(argv: Any = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20000, help="events per ingest run (default %(default)s)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating runs with and without the log (default 3)")
    ap.add_argument("--sizes", default="1e6,1e7", help="tree sizes for the proof benchmark (default %(default)s)")
    ap.add_argument("--skip-ingest", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    work = tempfile.mkdtemp(prefix="cra-tlog-bench-")
    cluster = Cluster().start()
    rows: List[Dict[str, Any]] = []
    try:
        if not args.skip_ingest:
            ingest_bench(work, cluster, args.events, args.rounds, rows, args.json)
        for s in (int(float(x)) for x in args.sizes.split(",") if x):
            tree_bench(f"sqlite:///{os.path.join(work, f'tree-{s}.sqlite3')}", "sqlite", s, rows, args.json)
            if s <= 1_000_000:
                tree_bench(cluster.new_database(), "postgresql", s, rows, args.json)
    finally:
        cluster.stop()
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)
    if args.json:
        json.dump({"cpus": os.cpu_count(), "rows": rows}, sys.stdout, indent=2)
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
