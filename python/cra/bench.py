"""Percentile benchmark of the Python boundary (``cra bench``, ``make bench-python``).

Times individual calls with ``time.perf_counter_ns`` (about 50-80 ns of timer overhead is
included in every figure) on the same synthetic atlas and requests as the Rust harness
(``core/benches/resolve.rs``): 100 policies over 20 actions in two capabilities, agent
``bench-agent``, goal ``help with a refund``. Given the Rust harness's output
(``--rust FILE``), prints the Rust figures of the same run side by side.

The resolver records its trace with sink ``none`` and overflow ``drop`` (events are still
chained and hashed on the background thread, like the Rust row "+ trace enqueue"): the C ABI
has no way to switch recording off.
"""

from __future__ import annotations

import argparse
import gc
import re
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from . import _json
from ._lowlevel import ffi, lib
from .resolver import Resolver

__all__ = ["synthetic_atlas", "percentiles", "run", "main"]

#: Issue 15's targets: resolve p50 <= 10 µs and <= 3x the same-run Rust typed resolve,
#: authorize p50 <= 5 µs, fast path p50 <= 0.5 µs.
TARGETS = {"resolve": 10_000.0, "resolve_vs_rust": 3.0, "authorize": 5_000.0, "allowed": 500.0}
#: The Rust row the resolve targets compare with.
RUST_RESOLVE = "resolve, 100 rules, 10 actions in scope"


def synthetic_atlas(rules: int) -> Dict[str, Any]:
    """The Rust bench's synthetic atlas: ``rules`` policies over ``max(rules/5, 20)`` actions."""
    n_actions = max(rules // 5, 20)
    groups = n_actions // 10
    actions: List[Dict[str, Any]] = []
    caps: List[Dict[str, Any]] = []
    for g in range(groups):
        ids = [f"svc{g}.op{i}" for i in range(10)]
        actions.extend({"action_id": i, "name": i, "description": "synthetic action"} for i in ids)
        caps.append({"capability_id": f"cap{g}", "name": f"group {g}", "actions": ids})
    policies: List[Dict[str, Any]] = []
    for i in range(rules):
        g, k = i % groups, i // groups
        if k == 0:
            p: Dict[str, Any] = {"policy_id": f"p{i}", "type": "deny", "actions": [f"svc{g}.op9"], "reason": "synthetic deny"}
        elif k == 1:
            p = {"policy_id": f"p{i}", "type": "require_approval", "actions": [f"svc{g}.op8"]}
        elif k == 2:
            p = {"policy_id": f"p{i}", "type": "rate_limit", "actions": [f"svc{g}.op7"],
                 "parameters": {"max_calls": 1000000, "window_seconds": 60}}
        elif k == 3:
            p = {"policy_id": f"p{i}", "type": "allow", "actions": [f"svc{g}.*"], "conditions": {"agents": ["bench-*"]}}
        else:
            p = {"policy_id": f"p{i}", "type": "allow", "actions": [f"svc{g}.op{k % 10}"],
                 "conditions": {"agents": [f"other-agent-{k}"], "risk_tiers": ["high"]}, "priority": k}
        policies.append(p)
    packs = [
        {"pack_id": "guide", "name": "Guide", "content": "x" * 400, "priority": 200},
        {"pack_id": "cap0-notes", "name": "Notes", "content": "y" * 200, "conditions": {"capabilities": ["cap0"]}},
        {"pack_id": "kw", "name": "Keyword", "content": "z" * 100, "keywords": ["refund"]},
    ]
    return {"atlas_version": "1.0", "atlas_id": "com.bench.synthetic", "version": "1.0.0", "name": "Synthetic",
            "description": "bench", "actions": actions, "capabilities": caps, "policies": policies, "context_packs": packs}


def percentiles(
    iterations: int, f: Callable[[], Any], after: Optional[Callable[[Any], Any]] = None
) -> Tuple[float, float, float]:
    """(p50, p99, p99.9) in nanoseconds over ``iterations`` individually timed calls of ``f``.
    With ``after``, ``after(f())`` runs untimed after each call (the report that closes an
    authorized call)."""
    box: List[Any] = [None]

    def kept() -> None:
        box[0] = f()

    timed = f if after is None else kept
    for _ in range(max(iterations // 10, 1)):
        out = f()
        if after is not None:
            after(out)
    samples = [0] * iterations
    clock = time.perf_counter_ns
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for i in range(iterations):
            t = clock()
            timed()
            samples[i] = clock() - t
            if after is not None:
                after(box[0])
    finally:
        if gc_was:
            gc.enable()
    samples.sort()

    def q(p: float) -> float:
        return float(samples[min(int(len(samples) * p), len(samples) - 1)])

    return q(0.50), q(0.99), q(0.999)


def run(iterations: int = 20000) -> List[Dict[str, Any]]:
    """Runs every Python measurement; one dict per row (name, p50_ns, p99_ns, p999_ns, rust)."""
    rows: List[Dict[str, Any]] = []
    cfg = {"max_resolutions_per_session": 64, "trace": {"sink": "none", "overflow": "drop"}}
    with Resolver(cfg) as r:
        r.load_atlas(synthetic_atlas(100))
        narrow = {"requester": {"agent_id": "bench-agent", "session_id": "bench-session"},
                  "task": {"goal": "help with a refund", "required_capabilities": ["cap0"]}}
        wide = {"requester": {"agent_id": "bench-agent", "session_id": "bench-session"},
                "task": {"goal": "help with a refund"}}
        body = _json.dumps(narrow)
        ptr = r._handle()
        out = ffi.new("CraBuffer *")
        err = ffi.new("CraError **")
        resolve_c = lib.cra_resolver_resolve
        free = lib.cra_buffer_free

        def c_only() -> None:
            resolve_c(ptr, body, len(body), out, err)
            free(out)

        def add(name: str, rust: Optional[str], f: Callable[[], Any], n: int = iterations,
                after: Optional[Callable[[Any], Any]] = None) -> None:
            p50, p99, p999 = percentiles(n, f, after)
            rows.append({"name": name, "p50_ns": p50, "p99_ns": p99, "p999_ns": p999, "rust": rust})

        def parsed() -> Any:
            res = r.resolve(narrow)
            return res.allowed, res.context

        add("C call only (bytes in, no parse), 10 actions", RUST_RESOLVE, c_only)
        add("resolve(dict) -> Resolution, 10 actions", RUST_RESOLVE, lambda: r.resolve(narrow))
        add("  + .allowed and .context read (parsed)", RUST_RESOLVE, parsed)
        add("resolve(keywords) -> Resolution, 10 actions", RUST_RESOLVE,
            lambda: r.resolve(agent="bench-agent", session="bench-session", goal="help with a refund",
                              capabilities=["cap0"]))
        add("resolve(dict) -> Resolution, all 20 actions", "resolve, 100 rules, 20 actions + trace enqueue",
            lambda: r.resolve(wide))
        r.resolve(wide)
        add("allowed(session, action) fast path", "fast path check(session, action)",
            lambda: r.allowed("bench-session", "svc0.op3"), iterations * 5)
        add("check(session, action) -> Verdict", "fast path check(session, action)",
            lambda: r.check("bench-session", "svc0.op3"), iterations * 5)
        res = r.resolve(narrow)
        n = max(iterations // 4, 100)
        add("authorize(svc0.op3) -> Authorization", "execute", lambda: r.authorize("svc0.op3", {}, resolution=res), n,
            after=lambda a: r.report(a, None))
        add("authorize + report (svc0.op3)", None,
            lambda: r.report(r.authorize("svc0.op3", {}, resolution=res), None), n)
    return rows


_RUST_LINE = re.compile(r"^(?P<name>.+?)\s+p50\s+(?P<p50>[\d.]+) ns\s+p99\s+(?P<p99>[\d.]+) ns")


def parse_rust(text: str) -> Dict[str, Tuple[float, float]]:
    """The percentile lines of ``cargo bench -p cra-core --bench resolve`` by name; the first
    line whose name starts with ``execute`` is also filed under ``execute``."""
    out: Dict[str, Tuple[float, float]] = {}
    for line in text.splitlines():
        m = _RUST_LINE.match(line.strip())
        if m:
            name = m.group("name").strip()
            out[name] = (float(m.group("p50")), float(m.group("p99")))
            if name.startswith("execute") and "execute" not in out:
                out["execute"] = out[name]
    return out


def _us(ns: float) -> str:
    return f"{ns / 1000:.2f} µs"


def render(rows: Sequence[Dict[str, Any]], rust: Dict[str, Tuple[float, float]]) -> str:
    """The side-by-side table."""
    lines = [
        f"{'Python (cra, cffi)':<46} {'p50':>10} {'p99':>10}   {'Rust, same run':<46} {'p50':>9} {'p99':>9}",
    ]
    for row in rows:
        rname = row["rust"] or ""
        r50, r99 = rust.get(rname, (float("nan"), float("nan")))
        rust_cols = f"{rname:<46} {_us(r50):>9} {_us(r99):>9}" if rname in rust else (f"{rname} (not run)" if rname else "")
        lines.append(f"{row['name']:<46} {_us(row['p50_ns']):>10} {_us(row['p99_ns']):>10}   {rust_cols}")
    return "\n".join(lines)


def verdicts(rows: Sequence[Dict[str, Any]], rust: Optional[Dict[str, Tuple[float, float]]] = None) -> List[str]:
    """Issue 15's targets against the figures: resolve p50 <= 10 µs and <= 3x the same-run Rust
    typed resolve, authorize p50 <= 5 µs, fast path p50 <= 0.5 µs."""
    out = []
    rust_resolve = (rust or {}).get(RUST_RESOLVE)

    def line(what: str, p50: float, limit: float) -> str:
        return f"target {what}: {_us(p50)} {'met' if p50 <= limit else 'NOT MET'}"

    for row in rows:
        name, p50 = row["name"], row["p50_ns"]
        if name.startswith("resolve(dict)") and "10 actions" in name:
            out.append(line("resolve p50 <= 10 µs", p50, TARGETS["resolve"]))
            if rust_resolve:
                ratio = p50 / rust_resolve[0]
                ok = ratio <= TARGETS["resolve_vs_rust"]
                out.append(f"target resolve p50 <= 3x Rust typed resolve ({_us(rust_resolve[0])}): "
                           f"{ratio:.1f}x {'met' if ok else 'NOT MET'}")
        if name.startswith("authorize(") and "report" not in name:
            out.append(line("authorize p50 <= 5 µs", p50, TARGETS["authorize"]))
        if name.startswith("allowed("):
            out.append(line("fast path p50 <= 0.5 µs", p50, TARGETS["allowed"]))
    return out


def main(argv: Optional[Sequence[str]] = None, *, iterations: Optional[int] = None, as_json: bool = False) -> int:
    """``python -m cra.bench [--iterations N] [--rust FILE] [--json]``."""
    rust_text = ""
    if iterations is None:
        p = argparse.ArgumentParser(prog="python -m cra.bench", description=__doc__)
        p.add_argument("--iterations", type=int, default=20000)
        p.add_argument("--rust", metavar="FILE", help="output of the Rust percentile harness of the same run")
        p.add_argument("--json", action="store_true")
        a = p.parse_args(argv)
        iterations, as_json = a.iterations, a.json
        if iterations < 1:
            p.error(f"argument --iterations: must be at least 1, not {iterations}")
        if a.rust:
            with open(a.rust, encoding="utf-8") as f:
                rust_text = f.read()
    if iterations < 1:
        raise ValueError(f"iterations must be at least 1, not {iterations}")
    rows = run(iterations)
    rust = parse_rust(rust_text)
    if as_json:
        sys.stdout.write(_json.dumps({"json": _json.BACKEND, "rows": rows, "rust": rust}).decode() + "\n")
        return 0
    sys.stdout.write(f"== Python boundary: {iterations} calls per row (JSON: {_json.BACKEND}; timer overhead included)\n")
    sys.stdout.write(render(rows, rust) + "\n")
    for v in verdicts(rows, rust):
        sys.stdout.write(v + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
