"""Real traces for the ingest tests: recorded by ``cra.Resolver(trace_file=...)`` against the
repository's example atlases, and small helpers to cut them into batches."""

from __future__ import annotations

import io
import json
import os
from typing import Any, Dict, List, Mapping, Union

import cra
from cra.demo import run_demo

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ATLASES = os.path.join(REPO, "examples", "atlases")
SUPPORT = os.path.join(ATLASES, "customer-support")
DEVOPS = os.path.join(ATLASES, "devops")


def demo_trace(path: str) -> bytes:
    """The scripted demo (two agents, two atlases; allowed, denied, pending, approved, rejected,
    rate-limited, executed and failed calls) recorded to ``path``; returns its bytes."""
    assert run_demo(ATLASES, path, out=io.StringIO()) == 0
    with open(path, "rb") as f:
        return f.read()


def many_traces(path: str, sessions: int, calls: int = 3, agent: str = "support-bot-1",
                deterministic: Union[None, int, Mapping[str, Any]] = None, end: bool = True) -> bytes:
    """``sessions`` support sessions of ``calls`` authorized lookups each (plus one denied call),
    recorded to ``path``; returns the bytes."""
    with cra.Resolver(trace_file=path, deterministic=deterministic) as r:
        r.load_atlas(SUPPORT)
        for s in range(sessions):
            sid = f"s-{s}"
            res = r.resolve(agent=agent, session=sid, goal="look up an order", atlas_ids=["com.example.customer-support"])
            for c in range(calls):
                auth = r.authorize("orders.lookup", {"order_id": f"ORD-{1000 + c}"}, resolution=res)
                r.report(auth, {"ok": c})
            r.authorize("customers.delete_account", {"customer_id": "C-1"}, resolution=res)
            if end:
                r.end_session(sid)
    with open(path, "rb") as f:
        return f.read()


def lines(data: bytes) -> List[bytes]:
    """The lines of a trace, each with its LF."""
    return data.splitlines(keepends=True)


def by_trace(data: bytes) -> Dict[str, List[bytes]]:
    """Lines grouped by trace id, in file order."""
    out: Dict[str, List[bytes]] = {}
    for ln in lines(data):
        out.setdefault(json.loads(ln)["trace_id"], []).append(ln)
    return out


def field(line: bytes, name: str) -> object:
    """One member of an event line."""
    return json.loads(line)[name]


def tamper(line: bytes, old: bytes, new: bytes) -> bytes:
    """The line with one byte string replaced (its hash no longer matches)."""
    assert old in line, (old, line[:120])
    return line.replace(old, new, 1)


def retime(line: bytes) -> bytes:
    """The line with its timestamp's last microsecond digit changed (still canonical, hash stale)."""
    ts = str(field(line, "timestamp"))
    new = ts[:-2] + str((int(ts[-2]) + 1) % 10) + "Z"
    return tamper(line, ts.encode(), new.encode())


def atlas_doc(path: str) -> Dict[str, Any]:
    """An example atlas as one self-contained document (context inlined by libcra's loader),
    what ``POST /v1/replay`` takes."""
    return cra.trace.atlas_document(path)
