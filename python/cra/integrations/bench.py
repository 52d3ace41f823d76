"""Overhead of governance per framework: one tool call, ungoverned and governed (p50/p99).

``python -m cra.integrations.bench [--iterations N] [--json]`` (``make bench-integrations``).
Each case times single calls of the same tool, once as the framework runs it and once through
CRA (authorize, run, report; trace written to a file in a temporary directory):

- ``core``: a plain function vs ``cra.tool`` in a conversation;
- ``core+otel``: the governed call with an OpenTelemetry span (SDK provider, nothing exported);
- ``langchain``: ``StructuredTool.invoke`` vs the governed tool's ``invoke``;
- ``openai-agents``: ``FunctionTool.on_invoke_tool`` vs the governed tool's;
- ``mcp``: ``call_tool`` on an in-process MCP server vs through the governing proxy (also
  in-process, so the proxy's extra MCP hop is part of the governed figure).

A framework that is not installed is skipped. This is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional

from ..governed import tool as governed_tool
from ..resolver import Resolver

_EXAMPLE = os.path.join("examples", "atlases", "customer-support")
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _atlas(given: Optional[str]) -> str:
    """The customer-support example atlas: ``--atlas``, else from the current directory (the
    repository root, as ``make`` runs it), else next to the source tree."""
    for path in (given, _EXAMPLE, os.path.join(_SOURCE_ROOT, _EXAMPLE)):
        if path and os.path.isdir(path):
            return path
    raise SystemExit("cannot find examples/atlases/customer-support: run from the repository root or pass --atlas")
ARGS = {"order_id": "ORD-1234"}


def lookup(order_id: str) -> Dict[str, str]:
    """The tool every case calls."""
    return {"order_id": order_id, "status": "shipped"}


def _percentiles(samples: List[int]) -> Dict[str, float]:
    s = sorted(samples)
    return {"p50_us": s[len(s) // 2] / 1e3, "p99_us": s[min(len(s) - 1, int(len(s) * 0.99))] / 1e3}


def _time(fn: Callable[[], Any], n: int) -> Dict[str, float]:
    for _ in range(max(10, n // 10)):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        out.append(time.perf_counter_ns() - t0)
    return _percentiles(out)


async def _atime(fn: Callable[[], Awaitable[Any]], n: int) -> Dict[str, float]:
    for _ in range(max(10, n // 10)):
        await fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        await fn()
        out.append(time.perf_counter_ns() - t0)
    return _percentiles(out)


def _core(r: Resolver, n: int) -> Dict[str, Any]:
    governed = governed_tool("orders.lookup", lookup)
    with r.conversation("support-bot-1", "bench-core", goal="look up ORD-1234"):
        return {"ungoverned": _time(lambda: lookup(**ARGS), n), "governed": _time(lambda: governed(**ARGS), n)}


def _otel(r: Resolver, n: int) -> Dict[str, Any]:
    from opentelemetry.sdk.trace import TracerProvider

    from . import otel

    governed = governed_tool("orders.lookup", lookup)
    with r.conversation("support-bot-1", "bench-otel", goal="look up ORD-1234"):
        plain = _time(lambda: governed(**ARGS), n)
        inst = otel.instrument(TracerProvider())
        try:
            spans = _time(lambda: governed(**ARGS), n)
        finally:
            inst.uninstrument()
    return {"ungoverned": plain, "governed": spans, "note": "ungoverned = governed without spans"}


def _langchain(r: Resolver, n: int) -> Dict[str, Any]:
    from langchain_core.tools import StructuredTool

    from .langchain import govern_tool

    plain = StructuredTool.from_function(lookup)
    governed = govern_tool(lookup, "orders.lookup")
    with r.conversation("support-bot-1", "bench-lc", goal="look up ORD-1234"):
        return {"ungoverned": _time(lambda: plain.invoke(ARGS), n), "governed": _time(lambda: governed.invoke(ARGS), n)}


def _openai_agents(r: Resolver, n: int) -> Dict[str, Any]:
    from agents import FunctionTool, function_tool
    from agents.tool_context import ToolContext

    from .openai_agents import govern_function_tool

    plain = function_tool(lookup, name_override="bench_lookup")
    governed = govern_function_tool(plain, "orders.lookup", name="bench_lookup_governed", approvals="message")
    text = json.dumps(ARGS)

    def ctx(tool: FunctionTool) -> ToolContext[Any]:
        return ToolContext(context=None, tool_name=tool.name, tool_call_id="call-1", tool_arguments=text)

    async def main() -> Dict[str, Any]:
        c1, c2 = ctx(plain), ctx(governed)
        with r.conversation("support-bot-1", "bench-oa", goal="look up ORD-1234"):
            return {"ungoverned": await _atime(lambda: plain.on_invoke_tool(c1, text), n),
                    "governed": await _atime(lambda: governed.on_invoke_tool(c2, text), n)}

    return asyncio.run(main())


def _mcp(r: Resolver, n: int) -> Dict[str, Any]:
    from mcp import Client
    from mcp.server import MCPServer

    from .mcp import GoverningProxy

    shop = MCPServer("shop")
    shop.tool(name="orders.lookup")(lookup)

    async def main() -> Dict[str, Any]:
        session = r.session("support-bot-1", "bench-mcp")
        session.resolve("look up ORD-1234")
        async with Client(shop, cache=None) as direct, Client(shop, cache=None) as upstream:
            proxy = GoverningProxy(session, upstream)
            async with Client(proxy.server(), cache=None) as governed:
                await direct.list_tools()
                await governed.list_tools()
                return {"ungoverned": await _atime(lambda: direct.call_tool("orders.lookup", ARGS), n),
                        "governed": await _atime(lambda: governed.call_tool("orders.lookup", ARGS), n),
                        "note": "governed includes the proxy's own in-process MCP hop"}

    return asyncio.run(main())


CASES: Dict[str, Callable[[Resolver, int], Dict[str, Any]]] = {
    "core": _core, "core+otel": _otel, "langchain": _langchain, "openai-agents": _openai_agents, "mcp": _mcp,
}


def run(iterations: int, atlas: Optional[str] = None) -> Dict[str, Any]:
    """Every case that can run here: ``{case: {ungoverned, governed, overhead_p50_us} or {skipped}}``."""
    results: Dict[str, Any] = {}
    path = _atlas(atlas)
    with tempfile.TemporaryDirectory() as tmp, Resolver(trace_file=os.path.join(tmp, "bench.jsonl"), atlases=[path]) as r:
        for name, case in CASES.items():
            try:
                out = case(r, iterations)
            except ImportError as e:
                results[name] = {"skipped": f"not installed: {e.name or e}"}
                continue
            out["overhead_p50_us"] = round(out["governed"]["p50_us"] - out["ungoverned"]["p50_us"], 1)
            results[name] = out
    return results


def main(argv: Optional[List[str]] = None) -> int:
    """Prints the table (or JSON)."""
    p = argparse.ArgumentParser(prog="python -m cra.integrations.bench", description=__doc__.split("\n")[0])
    p.add_argument("--iterations", type=int, default=2000, help="calls per measurement (default: %(default)s)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--atlas", metavar="DIR", help="the customer-support example atlas (default: found from here)")
    args = p.parse_args(argv)
    results = run(args.iterations, args.atlas)
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return 0
    sys.stdout.write(f"one tool call, {args.iterations} calls each (µs)\n")
    sys.stdout.write(f"{'case':<14} {'ungoverned p50':>15} {'p99':>9} {'governed p50':>13} {'p99':>9} {'overhead p50':>13}\n")
    for name, out in results.items():
        if "skipped" in out:
            sys.stdout.write(f"{name:<14} skipped ({out['skipped']})\n")
            continue
        u, g = out["ungoverned"], out["governed"]
        sys.stdout.write(f"{name:<14} {u['p50_us']:>15.1f} {u['p99_us']:>9.1f} {g['p50_us']:>13.1f} {g['p99_us']:>9.1f} "
                         f"{out['overhead_p50_us']:>13.1f}\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
