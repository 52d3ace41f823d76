"""Resolvers inherited through ``os.fork()``: refused in the child, never flushed there, and the
child exits at once; the parent's resolver carries on.

The fork happens in a fresh interpreter (a subprocess), never in the pytest process: the child
does the calls and writes what it saw to a pipe, the parent waits for it with a deadline (a hang
fails the test instead of blocking it) and prints one JSON report for the test to check.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SUPPORT

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")

SCRIPT = r"""
import json, os, signal, sys, time
import cra

support, workdir = sys.argv[1], sys.argv[2]
parent_trace = os.path.join(workdir, "parent.jsonl")
child_trace = os.path.join(workdir, "child.jsonl")

r = cra.Resolver(trace_file=parent_trace, atlases=[support])
r.resolve(agent="support-bot-1", session="p", goal="refund ORD-1234")
garbage = cra.Resolver(atlases=[support])  # dropped by the child: its finalizer must not call libcra
ran = []
lookup = r.governed("orders.lookup", lambda order_id: ran.append(order_id), session="p")

read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(read_end)
    seen = {}

    def attempt(name, fn):
        try:
            fn()
            seen[name] = "no exception"
        except cra.CraError as e:
            seen[name] = [type(e).__name__, e.code, isinstance(e, cra.StateError), e.message]

    attempt("resolve", lambda: r.resolve(agent="support-bot-1", session="c", goal="x"))
    attempt("allowed", lambda: r.allowed("p", "orders.lookup"))
    attempt("check", lambda: r.check("p", "orders.lookup"))
    attempt("authorize", lambda: r.authorize("orders.lookup", {"order_id": "ORD-1234"}, session="p"))
    attempt("governed", lambda: lookup(order_id="ORD-1234"))
    attempt("flush", lambda: r.flush())
    attempt("drain_trace", lambda: r.drain_trace())
    attempt("stats", lambda: r.stats())
    attempt("close", lambda: r.close())
    seen["closed"] = r.closed
    seen["ran"] = ran
    del garbage
    with cra.Resolver(trace_file=child_trace, atlases=[support]) as fresh:
        seen["fresh"] = fresh.resolve(agent="support-bot-1", session="c", goal="refund ORD-1234").decision
    os.write(write_end, json.dumps(seen).encode())
    os.close(write_end)
    sys.exit(0)  # a normal exit: atexit hooks and finalizers run

os.close(write_end)
with os.fdopen(read_end, "rb") as f:
    seen = json.loads(f.read() or b"null")
deadline = time.monotonic() + 20  # the bug this guards against made the child's exit take 30 s
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done:
        break
    if time.monotonic() > deadline:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        status = "hung"
        break
    time.sleep(0.05)
r.resolve(agent="support-bot-1", session="p2", goal="refund ORD-1234")
r.close()
report = cra.verify_trace(parent_trace)
print(json.dumps({
    "child": seen,
    "status": status if status == "hung" else os.waitstatus_to_exitcode(status),
    "parent_trace_ok": report.ok,
    "parent_sessions": report.sessions,
    "child_trace_ok": cra.verify_trace(child_trace).ok,
}))
"""


def test_inherited_resolver_is_refused_and_the_child_exits_at_once(tmp_path: Path) -> None:
    p = subprocess.run(
        [sys.executable, "-c", SCRIPT, SUPPORT, str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert p.returncode == 0, p.stdout + p.stderr
    assert "panicked" not in p.stderr, p.stderr
    out = json.loads(p.stdout)
    assert out["status"] == 0, out  # exited by itself, normally ("hung" when killed at the deadline)
    child = out["child"]
    for call in ("resolve", "allowed", "check", "authorize", "governed", "flush", "drain_trace", "stats"):
        name, code, is_state_error, message = child[call]
        assert (name, code, is_state_error) == ("ResolverForked", "RESOLVER_FORKED", True), (call, child[call])
        assert "create a new Resolver" in message and "fork()" in message
    assert child["close"] == "no exception" and child["closed"] is True
    assert child["ran"] == []  # the governed tool never ran in the child
    assert child["fresh"] == "partial"  # a resolver made in the child works
    assert out["child_trace_ok"] is True
    assert out["parent_trace_ok"] is True and out["parent_sessions"] == 2  # p and p2; nothing from the child


def test_resolver_forked_is_a_cra_error() -> None:
    import pickle

    import cra
    from cra.errors import error_class

    assert error_class("RESOLVER_FORKED") is cra.ResolverForked
    e = cra.ResolverForked("inherited", code="RESOLVER_FORKED")
    assert isinstance(e, cra.StateError) and isinstance(e, cra.CraError)
    back = pickle.loads(pickle.dumps(e))
    assert type(back) is cra.ResolverForked and back.code == "RESOLVER_FORKED"
