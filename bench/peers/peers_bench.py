"""CRA against peer policy engines from Python, same process, same run (``make bench-peers``).

One decision: may the agent ``bench-agent`` call the tool ``tools.t3`` (allowed) or
``tools.t15`` (denied)? The same policy set is written for each engine:

- 20 tools ``tools.t0`` .. ``tools.t19``; one rule per tool: ``t0``-``t9`` allowed,
  ``t10``-``t19`` denied; anything else denied by default.
- Rules name only the tool: the agent-governance-toolkit's ``PolicyEvaluator`` tests one field
  per rule (``condition: {field, operator, value}``), so a rule on the agent *and* the tool is
  not expressible there; CRA and Cedar could test both, and would pay little for it.

Engines and calls timed:

- CRA (the ``cra`` package of this tree, cffi over libcra): an atlas with the 20 tools as
  actions (no parameter schema) and 20 policies (``allow``/``deny`` on one action each). Timed:
  ``authorize(tool, {})`` against a live resolution (the per-tool-call decision: verdict,
  rate limits, execution id, trace event; the ``report`` that closes an authorized call runs
  untimed), and the fast path ``allowed(session, tool)``.
- cedarpy: ``permit``/``forbid`` on ``Action::"call"`` and ``Tool::"tools.tN"``, no default permit
  (Cedar denies by default). Timed: ``is_authorized`` with the policies and entities parsed once
  (``PolicySet``/``Entities`` handles, the peer's fastest documented way).
- agent-governance-toolkit ``PolicyEvaluator`` (pure Python): a ``PolicyDocument`` with 20 rules
  ``tool_name eq tools.tN`` → ``allow``/``deny`` and ``defaults.action: deny``. Timed:
  ``evaluate({"tool_name": tool, "agent_id": "bench-agent"})``.

Before timing, every engine's answer is checked for the 20 tools and an unknown one:
the table is printed only when all three agree. Targets (issue 15): CRA's per-call decision
at least 10x faster than cedarpy and 5x faster than the toolkit evaluator (p50).

Usage: ``python peers_bench.py [--iterations N] [--json]``.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

TOOLS = [f"tools.t{i}" for i in range(20)]
ALLOWED = set(TOOLS[:10])
ALLOW_TOOL, DENY_TOOL, UNKNOWN = "tools.t3", "tools.t15", "tools.t99"
AGENT, SESSION = "bench-agent", "bench-session"
#: peer p50 / CRA p50 that issue 15 asks for.
TARGETS = {"cedarpy": 10.0, "agent-governance-toolkit": 5.0}


def cra_engine() -> Tuple[Callable[[str], bool], Callable[[str], bool], Callable[[Any], Any], Any]:
    """(authorize(tool) -> bool, allowed(tool) -> bool, report(answer), resolver)."""
    import cra

    atlas = {
        "atlas_version": "1.0", "atlas_id": "com.bench.peers", "version": "1.0.0", "name": "Peers",
        "description": "the peer benchmark's policies",
        "actions": [{"action_id": t, "name": t, "description": "a tool"} for t in TOOLS],
        "capabilities": [{"capability_id": "tools", "name": "tools", "actions": TOOLS}],
        "policies": [{"policy_id": f"p-{t}", "type": "allow" if t in ALLOWED else "deny", "actions": [t]} for t in TOOLS],
    }
    r = cra.Resolver({"trace": {"sink": "none", "overflow": "drop"}})
    r.load_atlas(atlas)
    res = r.resolve(agent=AGENT, session=SESSION, goal="call a tool")

    def authorize(tool: str) -> Any:
        return r.authorize(tool, {}, resolution=res)

    def report(answer: Any) -> None:
        if answer.authorized:
            r.report(answer, None)

    def decide(tool: str) -> bool:
        a = authorize(tool)
        report(a)
        return bool(a.authorized)

    return authorize, lambda tool: r.allowed(SESSION, tool), report, (r, decide)


def cedar_engine() -> Callable[[str], bool]:
    import cedarpy

    text = "\n".join(
        f'{"permit" if t in ALLOWED else "forbid"}(principal, action == Action::"call", resource == Tool::"{t}");'
        for t in TOOLS
    )
    policies = cedarpy.PolicySet.from_str(text) if hasattr(cedarpy, "PolicySet") else text
    entities: Any = cedarpy.Entities.from_json_str("[]") if hasattr(cedarpy, "Entities") else []

    def decide(tool: str) -> bool:
        request = {"principal": f'Agent::"{AGENT}"', "action": 'Action::"call"', "resource": f'Tool::"{tool}"', "context": {}}
        return bool(cedarpy.is_authorized(request, policies, entities).allowed)

    return decide


def toolkit_engine() -> Callable[[str], bool]:
    from agent_os.policies.evaluator import PolicyEvaluator
    from agent_os.policies.schema import PolicyDocument

    doc = PolicyDocument.model_validate({
        "version": "1.0", "name": "peers",
        "rules": [{"name": f"r-{t}", "condition": {"field": "tool_name", "operator": "eq", "value": t},
                   "action": "allow" if t in ALLOWED else "deny"} for t in TOOLS],
        "defaults": {"action": "deny"},
    })
    evaluator = PolicyEvaluator(policies=[doc])

    def decide(tool: str) -> bool:
        return bool(evaluator.evaluate({"tool_name": tool, "agent_id": AGENT}).allowed)

    return decide


def timed(iterations: int, f: Callable[[], Any], after: Optional[Callable[[Any], Any]] = None) -> Tuple[float, float]:
    """(p50, p99) in nanoseconds over individually timed calls of ``f`` (``after(result)``
    runs untimed after each)."""
    for _ in range(max(iterations // 10, 10)):
        out = f()
        if after is not None:
            after(out)
    clock = time.perf_counter_ns
    samples = [0] * iterations
    gc.disable()
    try:
        for i in range(iterations):
            t = clock()
            out = f()
            samples[i] = clock() - t
            if after is not None:
                after(out)
    finally:
        gc.enable()
    samples.sort()
    return float(samples[len(samples) // 2]), float(samples[min(int(len(samples) * 0.99), len(samples) - 1)])


def run(iterations: int) -> List[Dict[str, Any]]:
    authorize, allowed, report, (resolver, cra_decide) = cra_engine()
    engines: Dict[str, Callable[[str], bool]] = {
        "cra authorize": cra_decide, "cra fast path": allowed, "cedarpy": cedar_engine(),
        "agent-governance-toolkit": toolkit_engine(),
    }
    for tool in TOOLS + [UNKNOWN]:
        answers = {name: decide(tool) for name, decide in engines.items()}
        expected = tool in ALLOWED
        if any(a != expected for a in answers.values()):
            raise SystemExit(f"peers_bench: the engines disagree on {tool}: {answers} (expected {expected})")
    rows: List[Dict[str, Any]] = []
    for tool in (ALLOW_TOOL, DENY_TOOL):
        cases: List[Tuple[str, Callable[[], Any], Optional[Callable[[Any], Any]], int]] = [
            ("CRA authorize(tool, {})", lambda: authorize(tool), report, iterations),
            ("CRA allowed(session, tool) fast path", lambda: allowed(tool), None, iterations * 5),
            ("cedarpy is_authorized (parsed once)", lambda: engines["cedarpy"](tool), None, iterations),
            ("agent-governance-toolkit PolicyEvaluator", lambda: engines["agent-governance-toolkit"](tool), None, iterations),
        ]
        for name, f, after, n in cases:
            p50, p99 = timed(n, f, after)
            rows.append({"decision": tool, "engine": name, "p50_ns": p50, "p99_ns": p99})
    resolver.close()
    return rows


def render(rows: Sequence[Dict[str, Any]]) -> str:
    """The table: p50/p99 per engine and decision, and each p50 over CRA's of the same decision
    (authorize, with the issue's target, and the fast path)."""
    lines = [f"{'decision':<10} {'engine':<42} {'p50':>10} {'p99':>10}   {'/ CRA authorize p50 (target)':<34} / CRA fast path p50"]
    for row in rows:
        def base(prefix: str) -> float:
            return float(next(r["p50_ns"] for r in rows if r["decision"] == row["decision"] and r["engine"].startswith(prefix)))
        ratio = row["p50_ns"] / base("CRA authorize")
        fast = row["p50_ns"] / base("CRA allowed")
        target = next((v for k, v in TARGETS.items() if row["engine"].startswith(k)), None)
        verdict = "" if target is None else f" (>= {target:.0f}x: {'met' if ratio >= target else 'NOT MET'})"
        lines.append(f"{row['decision']:<10} {row['engine']:<42} {row['p50_ns'] / 1000:>8.2f}µs {row['p99_ns'] / 1000:>8.2f}µs   "
                     f"{f'{ratio:6.2f}x{verdict}':<34} {fast:8.1f}x")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="peers_bench.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    if a.iterations < 1:
        p.error("--iterations must be at least 1")
    rows = run(a.iterations)
    if a.json:
        print(json.dumps(rows))
        return 0
    import cedarpy
    from importlib.metadata import version

    print(f"== peers, one decision each, {a.iterations} calls per row (CRA fast path x5); "
          f"cra {version('cra-governance')}, cedarpy {version('cedarpy')}, "
          f"agent-governance-toolkit {version('agent-governance-toolkit')}; python {sys.version.split()[0]}")
    del cedarpy
    print(render(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
