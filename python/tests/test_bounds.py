"""Resource bounds hold in a real process with a memory cap (protocol.md §6, docs/protocol.md
"Limits"): ended sessions are forgotten, oversize inputs are refused by their bound."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = ROOT / "examples" / "atlases" / "customer-support"
CAP = 3 * 1024**3  # address-space cap of the child, bytes

SCRIPT = r"""
import json, resource, sys
cap, atlas, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
import cra

def rss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

out = {}
with cra.Resolver(trace={"sink": "none"}) as r:
    r.load_atlas(atlas)
    scope = ["com.example.customer-support"]
    for i in range(n):
        sid = f"s{i}"
        r.resolve(agent="support-bot-1", session=sid, goal="refund", atlas_ids=scope)
        r.end_session(sid)
        if i == n // 4:
            out["rss_quarter_kb"] = rss_kb()
    out["rss_end_kb"] = rss_kb()
    stats = r.stats()
    out["sessions"], out["ended_sessions"] = stats["sessions"], stats["ended_sessions"]
    refused = {}
    for name, kwargs in {
        "session_id": dict(agent="a", session="s" * (100 * 1024 * 1024), goal="g"),
        "agent_id": dict(agent="a" * 300, session="x", goal="g"),
        "goal": dict(agent="a", session="y", goal="g" * 20_000),
    }.items():
        try:
            r.resolve(atlas_ids=scope, **kwargs)
            refused[name] = None
        except cra.CraError as e:
            refused[name] = [e.code, e.pointer]
    out["refused"] = refused
print(json.dumps(out))
"""


def _child(n: int) -> dict:  # type: ignore[type-arg]
    env = dict(os.environ)
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(CAP), str(SUPPORT), str(n)],
        capture_output=True, text=True, timeout=600, env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result: dict = json.loads(proc.stdout.strip().splitlines()[-1])  # type: ignore[type-arg]
    return result


@pytest.mark.slow
def test_ended_sessions_do_not_grow_memory_and_oversize_inputs_are_refused() -> None:
    out = _child(200_000)
    assert out["sessions"] == 0, out
    assert out["ended_sessions"] <= 65_536, out  # max_ended_sessions: the remembered ids are bounded
    # 150,000 more ended sessions after the first quarter: before the bound they cost about
    # 640 B each (~96 MB); now the peak RSS stays within a small margin
    growth_mb = (out["rss_end_kb"] - out["rss_quarter_kb"]) / 1024
    assert growth_mb < 32, out
    assert out["refused"] == {
        "session_id": ["LIMIT_EXCEEDED", ""],  # the 100 MB request is over 1 MiB as a whole
        "agent_id": ["LIMIT_EXCEEDED", "/requester/agent_id"],
        "goal": ["LIMIT_EXCEEDED", "/task/goal"],
    }, out
