"""The conversation lifecycle: tools built once, sessions bound per run, transparent re-resolve
after expiry, refusals as values, context parameters never sent, signatures kept."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from typing import Any, Dict, Iterator, List

import pytest

import cra

from conftest import SUPPORT

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture
def resolver() -> Iterator[cra.Resolver]:
    """A deterministic resolver with the customer-support atlas only."""
    with cra.Resolver(deterministic=1, atlases=[SUPPORT]) as r:
        yield r


def _events(r: cra.Resolver) -> List[Dict[str, Any]]:
    return [json.loads(x) for x in r.drain_trace().splitlines()]


@cra.tool("orders.lookup")
def lookup(order_id: str) -> Dict[str, str]:
    """Built once, at import time: no resolver, no session."""
    CALLS.append(order_id)
    return {"order_id": order_id}


CALLS: List[str] = []


def test_a_tool_built_once_is_governed_in_each_bound_session(resolver: cra.Resolver) -> None:
    CALLS.clear()
    with resolver.conversation("support-bot-1", "conv-a", goal="look up ORD-1234") as a:
        assert cra.current_session() is a and a.resolution is not None
        assert lookup(order_id="ORD-1234") == {"order_id": "ORD-1234"}
        with resolver.conversation("support-bot-2", "conv-b", goal="look up ORD-5678"):
            lookup("ORD-5678")
        assert cra.current_session() is a  # bindings nest
    assert cra.current_session() is None
    executed = [e for e in _events(resolver) if e["event_type"] == "action.requested"]
    assert [e["session_id"] for e in executed] == ["conv-a", "conv-b"]
    assert CALLS == ["ORD-1234", "ORD-5678"]


def test_outside_a_conversation_the_tool_never_runs(resolver: cra.Resolver) -> None:
    CALLS.clear()
    with pytest.raises(cra.SessionNotBound) as e:
        lookup(order_id="ORD-1234")
    assert e.value.code == "SESSION_NOT_BOUND" and isinstance(e.value, cra.StateError)
    assert CALLS == []
    # a tool of one resolver does not run in a conversation of another
    bound_to = resolver.governed("orders.lookup", lambda order_id: CALLS.append(order_id))
    with cra.Resolver(atlases=[SUPPORT]) as other, other.conversation("support-bot-1", "x", goal="look up"):
        with pytest.raises(cra.SessionNotBound):
            bound_to(order_id="ORD-1234")
    assert CALLS == []


def test_bindings_are_per_thread_and_per_task(resolver: cra.Resolver) -> None:
    seen: Dict[str, str] = {}
    barrier = threading.Barrier(2)
    # last_authorization is per tool, shared by threads: the call and the read are made one step
    # so that the other thread's call cannot land in between (the bindings stay both live)
    call_and_read = threading.Lock()

    def run(i: int) -> None:
        with resolver.conversation("support-bot-1", f"thread-{i}", goal="look up ORD-1234"):
            barrier.wait()  # both bound at once
            with call_and_read:
                lookup(order_id="ORD-1234")
                auth = lookup.last_authorization
            s = cra.current_session()
            assert s is not None and auth is not None
            seen[s.session_id] = auth.resolution_id

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(seen) == ["thread-0", "thread-1"] and len(set(seen.values())) == 2

    @cra.tool("orders.lookup")
    async def alookup(order_id: str) -> str:
        await asyncio.sleep(0)
        s = cra.current_session()
        assert s is not None
        return s.session_id

    async def one(i: int) -> str:
        async with resolver.conversation("support-bot-1", f"task-{i}", goal="look up ORD-1234"):
            return await alookup(order_id="ORD-1234")

    async def main() -> List[str]:
        return list(await asyncio.gather(one(0), one(1)))

    assert asyncio.run(main()) == ["task-0", "task-1"]


def test_conversation_end_and_session_bind() -> None:
    with cra.Resolver(deterministic=1, atlases=[SUPPORT]) as r:
        with r.conversation("support-bot-1", "ending", goal="look up ORD-1234", end=True):
            lookup(order_id="ORD-1234")
        with pytest.raises(cra.SessionEnded):
            r.resolve(agent="support-bot-1", session="ending", goal="again")
        s = r.session("support-bot-1", "open")
        with s.bind(goal="look up ORD-1234", risk_tier="low"):
            lookup(order_id="ORD-1234")
        r.resolve(agent="support-bot-1", session="open", goal="still open")  # not ended
        with pytest.raises(TypeError):
            cra.bind("open")  # type: ignore[arg-type]


def test_an_expired_resolution_is_resolved_again_with_the_same_request() -> None:
    with cra.Resolver(deterministic=1, resolution_ttl=60, atlases=[SUPPORT]) as r:
        with r.conversation("support-bot-1", "long", goal="refund ORD-1234", risk_tier="medium") as s:
            first = s.resolution
            assert first is not None
            r.advance_clock(61)
            with pytest.raises(cra.ResolutionExpired):
                r.authorize("orders.lookup", {"order_id": "ORD-1234"}, session="long")  # the raw API does not
            assert lookup(order_id="ORD-1234") == {"order_id": "ORD-1234"}
            again = s.resolution
            assert again is not None and again.resolution_id != first.resolution_id
            assert lookup.last_authorization is not None
            assert lookup.last_authorization.resolution_id == again.resolution_id
        events = _events(r)
        requests = [e["payload"] for e in events if e["event_type"] == "carp.request.received"
                    and e["payload"].get("operation") == "resolve"]
        assert len(requests) == 2
        assert requests[0].get("goal") == requests[1].get("goal")


def test_authorizing_by_session_uses_the_cores_latest_resolution() -> None:
    with cra.Resolver(deterministic=1, atlases=[SUPPORT], config={"max_resolutions_per_session": 1}) as r:
        with r.conversation("support-bot-1", "evicted", goal="look up ORD-1234"):
            # a resolve made as JSON text (Python reads nothing of it) is the session's latest in
            # the core, and authorizing by session uses it: bindings keep no copy of their own
            text = r.resolve('{"requester": {"agent_id": "support-bot-1", "session_id": "evicted"}, "task": {"goal": "x"}}')
            auth = r.authorize("orders.lookup", {"order_id": "ORD-1234"}, session="evicted")
            assert auth.authorized and auth.resolution_id == text.resolution_id
            assert lookup(order_id="ORD-1234") == {"order_id": "ORD-1234"}
            assert lookup.last_authorization is not None and lookup.last_authorization.resolution_id == text.resolution_id
        r.end_session("evicted")
        with pytest.raises(cra.SessionEnded):
            r.authorize("orders.lookup", {"order_id": "ORD-1234"}, session="evicted")


def test_a_session_resolved_from_json_text_is_not_resolved_again() -> None:
    with cra.Resolver(deterministic=1, resolution_ttl=60, atlases=[SUPPORT]) as r:
        text = r.resolve('{"requester": {"agent_id": "support-bot-1", "session_id": "txt"}, "task": {"goal": "look up"}}')
        tool = r.governed("orders.lookup", lambda order_id: order_id, session="txt", agent="support-bot-1")
        assert tool(order_id="ORD-1234") == "ORD-1234"
        assert tool.last_authorization is not None and tool.last_authorization.resolution_id == text.resolution_id
        r.advance_clock(61)
        with pytest.raises(cra.ResolutionExpired):
            tool(order_id="ORD-1234")  # expired, and nothing made through Python to repeat: fails closed
        with pytest.raises(cra.InvalidRequest):  # another agent may not use the session
            r.authorize("orders.lookup", {"order_id": "ORD-1234"}, session="txt", agent="someone-else")


def test_refusals_are_values(resolver: cra.Resolver) -> None:
    ran: List[str] = []
    delete = resolver.governed("customers.delete_account", lambda customer_id: ran.append("delete"))
    refund_large = resolver.governed("orders.refund_large", lambda order_id, amount, reason: ran.append("large"))
    refund = resolver.governed("orders.refund", lambda order_id, amount, reason: ran.append("refund"))
    with resolver.conversation("support-bot-1", "values", goal="refund ORD-1234", atlas_ids=["com.example.customer-support"]):
        denied = delete.call_or_refusal(customer_id="C-1")
        assert isinstance(denied, cra.Refusal) and denied.kind == "denied" and not denied.retry
        assert denied.policy_id == "deny-account-deletion"
        assert str(denied) == ("customers.delete_account was denied by policy deny-account-deletion: account deletion "
                               "is handled by the privacy team, not by agents. Do not retry this call.")
        pending = refund_large.call_or_refusal(order_id="ORD-1234", amount=450.0, reason="damaged")
        assert isinstance(pending, cra.Refusal) and pending.kind == "pending_approval"
        assert pending.approval_id and pending.approval_id in str(pending) and "do not retry" in str(pending)
        for _ in range(3):
            assert refund.call_or_refusal(order_id="ORD-1234", amount=1.0, reason="late") is None
        limited = refund.call_or_refusal(order_id="ORD-1234", amount=1.0, reason="late")
        assert isinstance(limited, cra.Refusal) and limited.kind == "rate_limited"
        assert limited.policy_id == "refunds-per-session"
        invalid = refund.call_or_refusal(order_id="ORD-1234", amount=-5, reason="late")
        assert isinstance(invalid, cra.Refusal) and invalid.kind == "invalid_parameters" and invalid.retry
        assert invalid.pointer == "/amount" and "Correct the arguments" in str(invalid)
        resolver.reject(pending.approval_id or "", approver="supervisor")
        rejected = refund_large.call_or_refusal(order_id="ORD-1234", amount=450.0, reason="damaged")
        assert isinstance(rejected, cra.Refusal) and rejected.reason_code == "approval_rejected"
        assert "a human rejected this call" in str(rejected)
        assert rejected.to_dict()["refused"] is True
    assert ran == ["refund"] * 3
    with pytest.raises(cra.SessionNotBound):  # faults of the host program still raise
        delete.call_or_refusal(customer_id="C-1")
    with pytest.raises(TypeError):
        cra.Refusal.from_error(cra.SessionEnded("x"))


def test_approval_id_is_a_str_and_the_approved_call_runs_once(resolver: cra.Resolver) -> None:
    ran: List[float] = []

    @resolver.governed("orders.refund_large")
    def refund_large(order_id: str, amount: float, reason: str) -> str:
        ran.append(amount)
        return "refunded"

    with resolver.conversation("support-bot-1", "appr", goal="refund ORD-1234"):
        with pytest.raises(cra.ApprovalRequired) as e:
            refund_large(order_id="ORD-1234", amount=450.0, reason="damaged")
        approval_id: str = e.value.approval_id  # typed str: mypy --strict checks this line
        resolver.approve(approval_id, approver="supervisor@example.com")
        assert refund_large(order_id="ORD-1234", amount=450.0, reason="damaged") == "refunded"
        with pytest.raises(cra.ApprovalRequired):
            refund_large(order_id="ORD-1234", amount=450.0, reason="damaged")
    assert ran == [450.0]


class RunContextWrapper:
    """Stands in for the Agents SDK's context wrapper (same module and name)."""

    __module__ = "agents.run_context"


def test_context_parameters_are_never_sent(resolver: cra.Resolver) -> None:
    def with_ctx(ctx: RunContextWrapper, order_id: str) -> str:
        return order_id

    def with_text_annotation(ctx: "ToolRuntime[Any]", order_id: str) -> str:  # type: ignore[name-defined] # noqa: F821
        return order_id

    def with_exclude(conn: object, order_id: str) -> str:
        return order_id

    def plain(ctx: object, order_id: str) -> str:
        return order_id

    assert cra.governed.context_parameters(with_ctx) == {"ctx"}
    assert cra.governed.context_parameters(with_text_annotation) == {"ctx"}
    assert cra.governed.context_parameters(plain) == frozenset()
    with resolver.conversation("support-bot-1", "ctx", goal="look up ORD-1234"):
        a = resolver.governed("orders.lookup", with_ctx)
        assert a(RunContextWrapper(), "ORD-1234") == "ORD-1234"  # positional context: left out
        b = resolver.governed("orders.lookup", with_text_annotation)
        assert b(object(), order_id="ORD-1234") == "ORD-1234"
        c = resolver.governed("orders.lookup", with_exclude, exclude=["conn"])
        assert c(conn=object(), order_id="ORD-1234") == "ORD-1234"
        assert c.parameters_of((object(), "ORD-1234"), {}) == {"order_id": "ORD-1234"}
        d = resolver.governed("orders.lookup", plain)
        with pytest.raises(cra.InvalidRequest):  # an object is not JSON: refused, never sent
            d(object(), "ORD-1234")


def test_governed_tools_keep_their_signature() -> None:
    import inspect

    assert list(inspect.signature(lookup).parameters) == ["order_id"]
    assert lookup.__name__ == "lookup" and lookup.name == "lookup" and lookup.__doc__
    assert inspect.signature(lookup).return_annotation in (Dict[str, str], "Dict[str, str]")


@pytest.mark.slow
def test_mypy_sees_the_real_parameters(tmp_path: Any) -> None:
    pytest.importorskip("mypy")
    case = tmp_path / "case.py"
    case.write_text(
        "import cra\n"
        "@cra.tool('orders.lookup')\n"
        "def lookup(order_id: str) -> int:\n"
        "    return 1\n"
        "x: int = lookup(order_id='ORD-1')\n"
        "lookup(order_id=5)\n"
        "lookup(order='ORD-1')\n"
        "def approve(r: cra.Resolver, e: cra.ApprovalRequired) -> None:\n"
        "    r.approve(e.approval_id, approver='a')\n"
        "def maybe(r: cra.Resolver, e: cra.NotAuthorized) -> None:\n"
        "    r.approve(e.approval_id, approver='a')\n"
    )
    p = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-error-summary", "--follow-imports=silent", str(case)],
                       cwd=os.path.dirname(HERE), capture_output=True, text=True, timeout=600)
    errors = [line for line in p.stdout.splitlines() if ": error:" in line]
    lines = sorted(int(line.split(":")[1]) for line in errors)
    assert lines == [6, 7, 11], p.stdout  # wrong type, unknown keyword, Optional approval id
