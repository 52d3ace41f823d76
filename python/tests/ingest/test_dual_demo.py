"""``cra demo --ingest`` (``make demo-dual``): agent processes with in-process resolvers send their
traces through the core's HTTP sink to a ``cra serve`` the demo starts, which is then queried.
The demo checks itself (events sent = events stored, intact traces, queries, export verifies);
these tests run it as a user would, and once against an ingest that refuses the agents' token,
where those checks must fail."""

from __future__ import annotations

import os
import re
import subprocess
import sys

from cra.dual_demo import AGENTS

from .helpers import ATLASES, REPO
from .server import Server, write_tokens


def _demo(*args: str, env: "dict[str, str] | None" = None) -> "subprocess.CompletedProcess[str]":
    e = {k: v for k, v in os.environ.items() if k not in ("CRA_TRACE_TOKEN", "CRA_TOKEN", "CRA_SERVER")}
    e.update(NO_COLOR="1", **(env or {}))
    return subprocess.run([sys.executable, "-m", "cra", "demo", "--ingest", "--atlases", ATLASES, *args],
                          capture_output=True, text=True, cwd=REPO, env=e, timeout=600)


def test_the_dual_mode_demo_runs_and_checks_itself() -> None:
    r = _demo()
    out = r.stdout
    assert r.returncode == 0, out + r.stderr
    assert re.search(r"started `cra serve` on http://127\.0\.0\.1:\d+", out)
    assert '"sink": "http"' in out and '"token_env": "CRA_TRACE_TOKEN"' in out
    for name, _, sessions in AGENTS:
        row = next(line for line in out.splitlines() if line.strip().startswith(name + " "))
        assert re.search(rf"\s{sessions}\s", row), row
        assert re.search(r"\d+ events / \d+ POSTs, \d+ retried, 0 dropped", row), row
    # The query answers with the first agent's traces, intact; the stats count the denials.
    assert f"$ cra traces list --agent {AGENTS[0][0]}" in out
    listed = [line for line in out.splitlines() if AGENTS[0][0] + "-session-" in line]
    assert len(listed) == AGENTS[0][2], out
    assert all(" intact " in line for line in listed), listed
    assert re.search(r"denied [1-9]\d*, rate_limited [1-9]", out), out
    assert "every chain is intact" in out
    m = re.search(r"OK: (\d+) events from 3 agent processes reached the ingest", out)
    assert m and int(m.group(1)) > 100, out
    assert "CHECK FAILED" not in out


def test_the_demo_fails_when_the_ingest_refuses_the_agents(tmp_path: "os.PathLike[str]") -> None:
    """Against a running ingest whose tokens file does not know the agents' token, every batch is
    refused (401, not retried, dropped and counted by the sink): the demo must say so and exit 1."""
    d = os.fspath(tmp_path)
    tokens = os.path.join(d, "tokens.json")
    write_tokens(tokens)
    srv = Server(f"sqlite:///{os.path.join(d, 'db.sqlite3')}", tokens, os.path.join(d, "server.log"), "--sweep-seconds", "0").start()
    try:
        r = _demo("--server", srv.url(), "--write-token", "not-a-known-token", "--read-token", "r-acme")
    finally:
        srv.stop()
    assert r.returncode == 1, r.stdout + r.stderr
    assert "CHECK FAILED" in r.stdout
    assert re.search(r"the trace lost events|events acknowledged of", r.stdout), r.stdout
    assert re.search(r"0 traces stored for \d+ sessions", r.stdout), r.stdout


def test_usage_errors() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("CRA_TRACE_TOKEN", "CRA_TOKEN")}
    r = subprocess.run([sys.executable, "-m", "cra", "demo", "--keep"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "go with --ingest" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-m", "cra", "demo", "--ingest", "--server", "http://127.0.0.1:9"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "needs --write-token and --read-token" in r.stderr, r.stderr
