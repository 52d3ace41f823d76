"""SIGKILL of the server in the middle of a batch: the client resends (at-least-once) and the
store ends with exactly one copy of each event, every chain intact."""

from __future__ import annotations

import http.client
import os
from typing import Any

import pytest

import cra

from .helpers import by_trace, lines, many_traces
from .pg import Cluster
from .server import Server, write_tokens


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """About 8,000 events in 1,000 sessions."""
    return many_traces(os.path.join(os.fspath(tmp_path_factory.mktemp("big")), "big.jsonl"), 1000, calls=2)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_sigkill_mid_batch_then_resend_stores_each_event_once(backend: str, big: bytes, tmp_path: Any,
                                                              request: pytest.FixtureRequest) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'ingest.sqlite3'}"
    else:
        cluster: Cluster = request.getfixturevalue("pg_cluster")
        url = cluster.new_database()
    tokens = str(tmp_path / "tokens.json")
    write_tokens(tokens)
    ls = lines(big)
    first, second = b"".join(ls[:200]), b"".join(ls[200:])
    srv = Server(url, tokens, str(tmp_path / "server.log"), "--sweep-seconds", "0").start()
    try:
        assert srv.post(first, "all-kill")[1]["accepted"] == 200
        # send the second batch whole, then kill the server while it works on it
        c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
        c.request("POST", "/v1/traces", body=second, headers={"Authorization": "Bearer all-kill"})
        srv.kill()
        with pytest.raises((http.client.HTTPException, OSError)):
            c.getresponse().read()
        c.close()
    finally:
        srv.stop()
    again = Server(url, tokens, str(tmp_path / "server2.log"), "--sweep-seconds", "0").start()
    try:
        for body in (first, second):  # the client resends everything it has no 202 for (and more)
            status, ans, _ = again.post(body, "all-kill")
            assert status == 202 and ans["rejected"] == 0 and ans["held"] == 0, ans
            assert ans["accepted"] + ans["duplicate"] == len(lines(body))
        from cra.server.db import open_database

        db = open_database(url, pool_size=1)
        try:
            with db.read() as tx:
                n, distinct = tx.q("SELECT COUNT(*), COUNT(DISTINCT event_id) FROM events WHERE tenant = 'kill'")[0]
                intact = tx.q("SELECT COUNT(*) FROM traces WHERE tenant = 'kill' AND integrity = 'intact'")[0][0]
        finally:
            db.close()
        traces = by_trace(big)
        assert (n, distinct, intact) == (len(ls), len(ls), len(traces))
        for tid in list(traces)[::250]:
            status, _, raw = again.request("GET", f"/v1/traces/{tid}.jsonl", token="all-kill")
            assert status == 200 and raw == b"".join(traces[tid]) and cra.verify_trace(raw).ok
    finally:
        again.stop()
