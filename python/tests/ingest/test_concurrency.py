"""Two ``cra serve`` processes on one database, fed at once from several threads: batches of one
trace race through different processes, arrive out of order and twice. Every event ends stored
exactly once and every chain intact (PostgreSQL row locks; SQLite's single writer)."""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, List

import pytest

import cra
from cra.server.db import open_database

from .helpers import by_trace, lines, many_traces
from .pg import Cluster
from .server import Server, write_tokens


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_processes_one_database(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ingest.sqlite3'}"
    else:
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        url = cluster.new_database()
    data = many_traces(os.path.join(os.fspath(tmp_path), "t.jsonl"), 4, calls=25)
    ls = lines(data)
    traces = list(by_trace(data).values())
    # every batch continues all four traces by a few events: concurrent batches contend for heads
    longest = max(len(t) for t in traces)
    batches = [b"".join(x for t in traces for x in t[i:i + 4]) for i in range(0, longest, 4)]
    tokens = str(tmp_path / "tokens.json")
    write_tokens(tokens)
    servers = [Server(url, tokens, str(tmp_path / f"s{i}.log"), "--sweep-seconds", "0").start() for i in range(2)]
    errors: List[str] = []
    totals: Dict[str, int] = {"accepted": 0, "released": 0, "duplicate": 0, "rejected": 0}
    lock = threading.Lock()

    def feed(worker: int) -> None:
        # each worker sends every batch (so each is sent 3 times) to alternating processes: two
        # workers in the same order at the same time (the same batch races through both
        # processes), one backwards (later batches first: held, then released); a 429/503 is
        # retried as the sink would
        order = batches[::-1] if worker == 2 else batches
        for n, body in enumerate(order):
            srv = servers[(n + worker) % 2]
            for _ in range(200):
                status, ans, _ = srv.post(body, "all-kill")
                if status in (429, 503):
                    continue
                break
            with lock:
                if status != 202:
                    errors.append(f"{status} {ans}")
                    return
                for k in totals:
                    totals[k] += int(ans[k])

    try:
        threads = [threading.Thread(target=feed, args=(w,)) for w in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not errors, errors
        assert totals["rejected"] == 0
        assert totals["accepted"] + totals["released"] == len(ls)
        db = open_database(url, pool_size=1)
        try:
            with db.read() as tx:
                n, distinct = tx.q("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events")[0]
                states = tx.q("SELECT integrity, COUNT(*) FROM traces GROUP BY integrity")
                held = tx.q("SELECT COUNT(*) FROM held_events")[0][0]
        finally:
            db.close()
        assert (n, distinct, held) == (len(ls), len(ls), 0)
        assert states == [("intact", len(by_trace(data)))]
        for tid, tl in list(by_trace(data).items())[:5]:
            raw = servers[1].request("GET", f"/v1/traces/{tid}.jsonl", token="all-kill")[2]
            assert raw == b"".join(tl) and cra.verify_trace(raw).ok
    finally:
        for s in servers:
            s.stop()
