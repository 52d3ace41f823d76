"""``cra mcp-proxy``: the governing MCP proxy on the command line.

::

    cra mcp-proxy --atlas examples/atlases/customer-support --agent support-bot-1 \\
        --trace proxy-trace.jsonl -- python my_mcp_server.py

The MCP client (Claude Desktop, an IDE, an agent) starts this command instead of the server:
the proxy speaks MCP on its standard input and output, starts the server command, and
governs every ``tools/list`` and ``tools/call`` in one CRA session (ended when the client
disconnects). The server command may also be the URL of a streamable HTTP server.

Building the parser imports nothing but argparse; the MCP SDK is imported when the command runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from typing import Any, Dict, List, Mapping

__all__ = ["add_parser", "run"]

_DESCRIPTION = """Run an MCP server behind CRA. tools/list shows only the tools the session may use;
tools/call is authorized (arguments validated) before it reaches the server and reported after;
a refusal is a tool error (isError) with the reason; a call that needs approval asks the human
through MCP elicitation when the client supports it, else the result names the approval id.
Tool names map to action ids through --map and the config's "tools", else the name itself, else
the action whose tool name it is (orders.lookup <- orders_lookup)."""

_EPILOG = """config file (JSON, every key optional; flags win):
  {"agent": "support-bot-1", "session": "...", "goal": "...", "risk_tier": "medium",
   "capabilities": ["refunds"], "context": {...}, "tools": {"lookup": "orders.lookup"},
   "approver": "...", "elicitation": true}

example:
  cra mcp-proxy --atlas examples/atlases/customer-support --agent support-bot-1 \\
      --trace proxy.jsonl -- python server.py"""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Registers ``mcp-proxy`` on the ``cra`` subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "mcp-proxy", help="govern an MCP server: filter tools/list, authorize tools/call, ask for approvals",
        description=_DESCRIPTION, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--atlas", metavar="DIR", action="append", required=True, help="atlas directory or file (repeatable)")
    p.add_argument("--agent", metavar="ID", help="the agent id policies see (default: mcp-agent)")
    p.add_argument("--session", metavar="ID", help="the CRA session id (default: mcp-<random>)")
    p.add_argument("--goal", help="the task the session is resolved for (default: a generic MCP goal)")
    p.add_argument("--risk-tier", metavar="TIER", help="low, medium, high or critical")
    p.add_argument("--capability", metavar="ID", action="append", help="narrow the actions in scope (repeatable)")
    p.add_argument("--context", metavar="JSON", help="the request context (a JSON object) for context_matches")
    p.add_argument("--map", metavar="TOOL=ACTION", action="append", default=[], help="tool name to action id (repeatable)")
    p.add_argument("--config", metavar="FILE", help="a JSON config (see below)")
    p.add_argument("--trace", metavar="FILE", help="write the TRACE audit events to this JSONL file")
    p.add_argument("--approver", metavar="NAME", help="recorded as approver when the elicitation form names nobody")
    p.add_argument("--no-elicitation", action="store_true", help="never ask through elicitation: pending calls are refused")
    p.add_argument("server_command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...",
                   help="the MCP server to run (after --), or its streamable HTTP URL")
    return p


def _config(args: argparse.Namespace) -> Dict[str, Any]:
    if not args.config:
        return {}
    with open(args.config, "rb") as f:
        cfg = json.loads(f.read())
    if not isinstance(cfg, dict):
        raise ValueError(f"{args.config}: the config must be a JSON object")
    return cfg


def _names(cfg: Mapping[str, Any], pairs: List[str]) -> Dict[str, str]:
    names = {str(k): str(v) for k, v in dict(cfg.get("tools") or {}).items()}
    for pair in pairs:
        tool, sep, action = pair.partition("=")
        if not sep or not tool or not action:
            raise ValueError(f"--map {pair!r}: expected TOOL=ACTION")
        names[tool] = action
    return names


def run(args: argparse.Namespace) -> int:
    """Runs the proxy until the client disconnects; returns the exit code."""
    command = list(args.server_command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        sys.stderr.write("error: cra mcp-proxy needs the server command after --\n")
        return 2
    try:
        cfg = _config(args)
        names = _names(cfg, args.map)
        context = json.loads(args.context) if args.context else cfg.get("context")
    except (OSError, ValueError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
    if args.trace is None:
        sys.stderr.write("cra mcp-proxy: no --trace: decisions are enforced but not recorded\n")
    import anyio

    from .._term import safe
    from ..errors import CraError
    from ..resolver import Resolver

    try:
        resolver = Resolver(trace_file=args.trace, trace=None if args.trace else {"sink": "none"}, atlases=args.atlas)
    except CraError as e:
        sys.stderr.write(f"error: {safe(str(e))}\n")
        return 2
    agent = args.agent or cfg.get("agent") or "mcp-agent"
    session_id = args.session or cfg.get("session") or f"mcp-{uuid.uuid4()}"
    session = resolver.session(agent, session_id)
    resolve: Dict[str, Any] = {}
    for key, value in (("risk_tier", args.risk_tier or cfg.get("risk_tier")),
                       ("capabilities", args.capability or cfg.get("capabilities")), ("context", context)):
        if value is not None:
            resolve[key] = value
    try:
        session.resolve(args.goal or cfg.get("goal") or "use the tools of an MCP server through cra mcp-proxy", **resolve)
    except CraError as e:
        sys.stderr.write(f"error: {safe(str(e))}\n")
        resolver.close()
        return 2
    elicitation = not args.no_elicitation and bool(cfg.get("elicitation", True))
    approver = args.approver or cfg.get("approver") or "mcp-client-user"
    try:
        anyio.run(_serve, session, command, names, elicitation, approver)
    finally:
        try:
            session.end("client disconnected")
        finally:
            resolver.close()
    return 0


async def _serve(session: Any, command: List[str], names: Dict[str, str], elicitation: bool, approver: str) -> None:
    from mcp import Client, StdioServerParameters
    from mcp.server.stdio import stdio_server

    from .mcp import GoverningProxy

    target: Any
    if len(command) == 1 and command[0].startswith(("http://", "https://")):
        target = command[0]
    else:
        target = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    async with Client(target, cache=None) as upstream:
        proxy = GoverningProxy(session, upstream, names=names, elicitation=elicitation, approver=approver)
        server = proxy.server()
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
