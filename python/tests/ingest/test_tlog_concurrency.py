"""Three ``cra serve`` processes on one PostgreSQL database append to one tenant's log at once
(batches racing through different processes, resent, reversed), each signing checkpoints on its
own timer while a client asks for more on demand. The tree never forks: one order of leaves (every
stored event exactly once, indices 0..n-1), every checkpoint any process signed is a prefix of
that one order (its root recomputed here), and each consecutive pair has a consistency proof that
the independent verifier accepts."""

from __future__ import annotations

import json
import os
import random
import threading
from typing import Any, Dict, List

import pytest

from cra.server.db import open_database

from . import tlog_independent as ind
from .helpers import by_trace, lines, many_traces
from .pg import Cluster
from .server import Server, write_tokens


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_several_processes_never_fork_the_tree(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ingest.sqlite3'}"
    else:
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        url = cluster.new_database()
    data = many_traces(os.path.join(os.fspath(tmp_path), "t.jsonl"), 6, calls=12)
    ls = lines(data)
    traces = list(by_trace(data).values())
    longest = max(len(t) for t in traces)
    batches = [b"".join(x for t in traces for x in t[i:i + 3]) for i in range(0, longest, 3)]
    tokens = str(tmp_path / "tokens.json")
    write_tokens(tokens)
    servers = [Server(url, tokens, str(tmp_path / f"s{i}.log"), "--sweep-seconds", "0", "--checkpoint-seconds", "0.05")
               .start() for i in range(3)]
    errors: List[str] = []
    notes: List[str] = []
    done = threading.Event()
    lock = threading.Lock()

    def feed(worker: int) -> None:
        order = batches[::-1] if worker == 2 else batches
        for n, body in enumerate(order):
            srv = servers[(n + worker) % 3]
            for _ in range(300):
                status, ans, _ = srv.post(body, "all-kill")
                if status not in (429, 503):
                    break
            if status != 202:
                with lock:
                    errors.append(f"{status} {ans}")
                return

    def ask() -> None:
        rng = random.Random(1)
        while not done.is_set():
            status, _, raw = rng.choice(servers).request("POST", "/v1/log/checkpoint", token="all-kill")
            if status == 200:
                with lock:
                    notes.append(raw.decode())

    try:
        feeders = [threading.Thread(target=feed, args=(w,)) for w in range(3)]
        asker = threading.Thread(target=ask)
        asker.start()
        for t in feeders:
            t.start()
        for t in feeders:
            t.join(300)
        done.set()
        asker.join(60)
        assert not errors, errors
        final = servers[0].request("POST", "/v1/log/checkpoint", token="all-kill")[2].decode()
        key = json.loads(servers[1].request("GET", "/v1/log/keys", token="all-kill")[2])["active"]
        db = open_database(url, pool_size=1)
        try:
            with db.read() as tx:
                rows = tx.q("SELECT log_index, raw FROM events WHERE tenant = 'kill' ORDER BY log_index")
                stored = [str(r[0]) for r in tx.q("SELECT note FROM tlog_checkpoints WHERE tenant = 'kill' ORDER BY size")]
        finally:
            db.close()
        assert [int(r[0]) for r in rows] == list(range(len(ls)))  # every event once, one order
        assert sorted(bytes(r[1]) + b"\n" for r in rows) == sorted(ls)
        leaves = [ind.h_leaf(bytes(r[1])) for r in rows]
        seen: Dict[int, bytes] = {}
        all_notes = notes + stored + [final]
        assert len(stored) > 3, "the processes signed checkpoints along the way"
        for note in all_notes:
            cp = ind.open_note(note, key)
            size, root = int(cp["size"]), cp["root"]
            assert seen.setdefault(size, root) == root, f"two roots for size {size}: a fork"
        sizes = sorted(seen)
        assert sizes[-1] == len(ls)
        # each root is the root of a prefix of the one order
        for size in sizes:
            assert ind.mth(leaves[:size]) == seen[size], size
        for a, b in zip(sizes, sizes[1:]):
            status, _, raw = servers[a % 3].request("GET", f"/v1/log/proof/consistency?from={a}&to={b}", token="all-kill")
            assert status == 200, raw
            assert ind.check_consistency(a, b, seen[a], seen[b], ind.b64s(json.loads(raw)["hashes"])), (a, b)
    finally:
        done.set()
        for s in servers:
            s.stop()
