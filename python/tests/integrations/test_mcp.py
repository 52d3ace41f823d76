"""The governing MCP proxy: a real MCP server (mcp_shop_server.py) behind ``cra mcp-proxy``,
driven by the MCP SDK's real client over stdio, on both protocol eras."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

import pytest

import cra

from ._support import HERE, SUPPORT, need, outcomes, subprocess_env

need("mcp")

import mcp_types as types  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.context import ClientRequestContext  # noqa: E402

SERVER = os.path.join(HERE, "mcp_shop_server.py")
REFUND: Dict[str, Any] = {"order_id": "ORD-1234", "amount": 450.0, "reason": "whole order damaged"}


def _proxy(tmp: str, *extra: str) -> StdioServerParameters:
    env = subprocess_env(SHOP_CALLS=os.path.join(tmp, "calls.jsonl"))
    args = ["-m", "cra", "mcp-proxy", "--atlas", SUPPORT, "--agent", "support-bot-1", "--session", "mcp-1",
            "--goal", "refund ORD-1234", "--trace", os.path.join(tmp, "trace.jsonl"),
            "--map", "refund_big=orders.refund_large", *extra, "--", sys.executable, SERVER]
    return StdioServerParameters(command=sys.executable, args=args, env=env)


def _forwarded(tmp: str) -> List[Dict[str, Any]]:
    path = os.path.join(tmp, "calls.jsonl")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _trace(tmp: str) -> List[Dict[str, Any]]:
    path = os.path.join(tmp, "trace.jsonl")
    assert cra.verify_trace(path, require_session_end=True).ok  # intact, and the session was ended
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _text(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


class Human:
    """The elicitation callback: answers every approval form the same way, and remembers them."""

    def __init__(self, action: str, approve: bool = True) -> None:
        self.action = action
        self.approve = approve
        self.asked: List[str] = []

    async def __call__(self, context: ClientRequestContext, params: types.ElicitRequestParams) -> types.ElicitResult:
        assert isinstance(params, types.ElicitRequestFormParams)
        self.asked.append(params.message)
        if self.action != "accept":
            return types.ElicitResult(action=self.action)  # type: ignore[arg-type]
        return types.ElicitResult(action="accept", content={"approve": self.approve, "approver": "supervisor@example.com"})


async def _session(params: StdioServerParameters, mode: str, human: Optional[Human],
                   calls: List[Tuple[str, Dict[str, Any]]]) -> Tuple[List[str], List[types.CallToolResult]]:
    async with Client(params, mode=mode, elicitation_callback=human, cache=None) as client:
        listed = [t.name for t in (await client.list_tools()).tools]
        results = [await client.call_tool(name, args) for name, args in calls]
    return listed, results


@pytest.mark.parametrize("mode", ["legacy", "2026-07-28"])
def test_the_proxy_governs_a_real_server(tmp_path: Any, mode: str) -> None:
    tmp = os.fspath(tmp_path)
    human = Human("accept")
    calls: List[Tuple[str, Dict[str, Any]]] = [
        ("orders.lookup", {"order_id": "ORD-1234"}),
        ("customers_delete_account", {"customer_id": "C-1"}),
        ("shell", {"command": "rm -rf /"}),
        ("orders.lookup", {"order_id": "12"}),
        ("tickets_reply", {"ticket_id": "T-1", "body": "hello"}),
        ("refund_big", REFUND),
        *[("orders_refund", {"order_id": "ORD-1234", "amount": float(n), "reason": "late"}) for n in (1, 2, 3, 4)],
    ]
    listed, results = asyncio.run(_session(_proxy(tmp), mode, human, calls))
    # the client sees only what the session may use: no denied action, no unmapped tool
    assert listed == ["orders.lookup", "orders_refund", "refund_big", "tickets_reply"]
    ok, denied, unknown, invalid, failing, approved, *refunds = results
    assert not ok.is_error and json.loads(_text(ok)) == {"order_id": "ORD-1234", "status": "shipped"}
    assert denied.is_error and _text(denied) == (
        "customers_delete_account was denied by policy deny-account-deletion: account deletion is handled by the "
        "privacy team, not by agents. Do not retry this call.")
    assert denied.meta is not None and denied.meta["cra/refusal"]["policy_id"] == "deny-account-deletion"
    assert unknown.is_error and "default_deny" in _text(unknown)
    assert invalid.is_error and "refused invalid arguments at /order_id" in _text(invalid)
    assert failing.is_error  # the server's own error, forwarded as it is
    assert not approved.is_error and _text(approved) == "refunded 450.0"
    (asked,) = human.asked
    assert "refund_big" in asked and "approve-large-refunds" in asked
    assert [r.is_error for r in refunds] == [False, False, False, True]
    assert "rate limited by policy refunds-per-session" in _text(refunds[-1])
    # exactly the authorized calls reached the server
    assert [(c["tool"], c["arguments"].get("amount")) for c in _forwarded(tmp)] == [
        ("orders.lookup", None), ("tickets_reply", None), ("refund_big", 450.0),
        ("orders_refund", 1.0), ("orders_refund", 2.0), ("orders_refund", 3.0)]
    events = _trace(tmp)
    counts = outcomes(events)
    assert counts["orders.refund_large:action.approved"] == 1 and counts["orders.refund_large:action.executed"] == 1
    assert counts["tickets.reply:action.failed"] == 1 and counts["customers.delete_account:action.denied"] == 1
    approvals = [e for e in events if e["event_type"] == "action.approved"]
    assert approvals[0]["payload"].get("approver") == "supervisor@example.com"


def test_without_elicitation_the_call_stays_pending(tmp_path: Any) -> None:
    tmp = os.fspath(tmp_path)
    listed, (pending, again) = asyncio.run(_session(_proxy(tmp), "legacy", None, [("refund_big", REFUND)] * 2))
    assert "refund_big" in listed
    for r in (pending, again):
        assert r.is_error and "needs a human approval" in _text(r) and "do not retry" in _text(r)
        assert r.meta is not None and r.meta["cra/refusal"]["kind"] == "pending_approval"
    assert pending.meta is not None and again.meta is not None
    assert pending.meta["cra/refusal"]["approval_id"] == again.meta["cra/refusal"]["approval_id"]  # one per call
    assert pending.meta["cra/refusal"]["approval_id"] in _text(pending)
    assert _forwarded(tmp) == []


@pytest.mark.parametrize("mode,action", [("legacy", "decline"), ("2026-07-28", "decline"), ("legacy", "cancel")])
def test_a_declined_or_dismissed_approval(tmp_path: Any, mode: str, action: str) -> None:
    tmp = os.fspath(tmp_path)
    human = Human(action)
    _, (r,) = asyncio.run(_session(_proxy(tmp), mode, human, [("refund_big", REFUND)]))
    assert r.is_error and len(human.asked) == 1
    if action == "decline":
        assert "a human rejected this call" in _text(r)
        counts = outcomes(_trace(tmp))
        assert counts["orders.refund_large:action.denied"] == 1 and counts["orders.refund_large:action.executed"] == 0
    else:
        assert "needs a human approval" in _text(r)  # dismissed: still pending
    assert _forwarded(tmp) == []


def test_an_upstream_server_over_streamable_http(tmp_path: Any) -> None:
    import socket
    import subprocess
    import time

    tmp = os.fspath(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, SERVER, "--http", str(port)], env=subprocess_env(
        SHOP_CALLS=os.path.join(tmp, "calls.jsonl")), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60  # readiness, not a timing assertion
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "the HTTP server did not start"
                time.sleep(0.1)
        params = _proxy(tmp)
        params.args[params.args.index("--") + 1:] = [f"http://127.0.0.1:{port}/mcp"]
        listed, (ok, denied) = asyncio.run(_session(params, "legacy", None, [
            ("orders.lookup", {"order_id": "ORD-1234"}), ("customers_delete_account", {"customer_id": "C-1"})]))
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert "orders.lookup" in listed and "customers_delete_account" not in listed
    assert not ok.is_error and denied.is_error
    assert [c["tool"] for c in _forwarded(tmp)] == ["orders.lookup"]


def test_usage_errors(tmp_path: Any) -> None:
    import subprocess

    env = subprocess_env()
    base = [sys.executable, "-m", "cra", "mcp-proxy", "--atlas", SUPPORT]
    p = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "needs the server command after --" in p.stderr
    p = subprocess.run(base + ["--map", "nonsense", "--", "true"], capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "expected TOOL=ACTION" in p.stderr
    p = subprocess.run([sys.executable, "-m", "cra", "mcp-proxy", "--atlas", os.fspath(tmp_path), "--", "true"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "error:" in p.stderr
