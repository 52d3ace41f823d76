"""OpenAI Agents SDK: the real Runner loop with a custom ``Model`` that reads tool outputs like a
model would: it retries a call that "failed, please try again", sends the planned correction
when told to correct its arguments, and moves on otherwise. No network (tracing disabled)."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, Dict, List, Optional, Tuple

import pytest

import cra

from ._support import need, outcomes, trace_events

need("agents")

from agents import (  # noqa: E402
    Agent,
    FunctionTool,
    Model,
    ModelResponse,
    RunContextWrapper,
    Runner,
    Usage,
    function_tool,
    set_tracing_disabled,
)
from agents.exceptions import UserError  # noqa: E402
from agents.testing import assistant_message, function_call  # noqa: E402

from cra.integrations.openai_agents import (  # noqa: E402
    action_id_for,
    approval_for,
    approve,
    govern_function_tool,
    govern_tools,
    reject,
    tool_name,
)

set_tracing_disabled(True)

Step = Tuple[str, Dict[str, Any], Optional[Dict[str, Any]]]  # tool name, arguments, correction


class ReadingModel(Model):
    """A scripted model that reads the last tool output before its next move."""

    def __init__(self, plan: List[Step]) -> None:
        self.plan = plan
        self.step = 0
        self.calls = 0
        self.retries = 0
        self.corrected = 0
        self.outputs: List[str] = []
        self.seen_tools: List[str] = []

    def _call(self, name: str, args: Dict[str, Any]) -> ModelResponse:
        self.calls += 1
        return ModelResponse(output=[function_call(name, args, call_id=f"call-{self.calls}")], usage=Usage(),
                             response_id=None)

    async def get_response(self, system_instructions: Optional[str], input: Any, model_settings: Any, tools: Any,
                           output_schema: Any, handoffs: Any, tracing: Any, **kwargs: Any) -> ModelResponse:
        self.seen_tools = [t.name for t in tools]
        last = input[-1] if isinstance(input, list) and input else None
        if isinstance(last, dict) and last.get("type") == "function_call_output" and self.step > 0:
            text = str(last.get("output"))
            self.outputs.append(text)
            name, args, fixed = self.plan[self.step - 1]
            if "try again" in text.lower() and "do not retry" not in text.lower() and self.retries < 2:
                self.retries += 1
                return self._call(name, args)
            if "Correct the arguments" in text and fixed is not None and self.corrected < 1:
                self.corrected += 1
                return self._call(name, fixed)
        if self.step < len(self.plan):
            self.step += 1
            name, args, _ = self.plan[self.step - 1]
            return self._call(name, args)
        return ModelResponse(output=[assistant_message("done")], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        raise NotImplementedError


RAN: List[str] = []


def lookup(ctx: RunContextWrapper[Any], order_id: str) -> Dict[str, str]:
    """Look up an order (the SDK injects the run context; it is never sent to CRA)."""
    RAN.append(f"lookup {order_id}")
    return {"order_id": order_id, "status": "shipped"}


def delete_account(customer_id: str) -> str:
    """Delete a customer account."""
    RAN.append("delete")  # pragma: no cover - never authorized
    return "deleted"  # pragma: no cover


def refund(order_id: str, amount: float, reason: str) -> str:
    """Refund up to 100."""
    RAN.append(f"refund {amount}")
    return f"refunded {amount}"


async def refund_large(order_id: str, amount: float, reason: str) -> str:
    """Refund over 100; a supervisor approves."""
    RAN.append(f"refund_large {amount}")
    return f"refunded {amount}"


def close_ticket(ticket_id: str) -> str:
    """Close a ticket (its backend is down)."""
    RAN.append("close")
    raise ConnectionError("ticket backend down")


TOOLS = govern_tools({  # built once
    "orders.lookup": lookup,
    "customers.delete_account": delete_account,
    "orders.refund": refund,
    "orders.refund_large": refund_large,
    "tickets.close": close_ticket,
})

PLAN: List[Step] = [
    ("orders_lookup", {"order_id": "ORD-1234"}, None),
    ("customers_delete_account", {"customer_id": "C-1"}, None),
    ("orders_refund_large", {"order_id": "ORD-1234", "amount": 450.0, "reason": "whole order damaged"}, None),
    ("orders_refund", {"order_id": "ORD-1234", "amount": 10.0, "reason": "late"}, None),
    ("orders_refund", {"order_id": "ORD-1234", "amount": 11.0, "reason": "late"}, None),
    ("orders_refund", {"order_id": "ORD-1234", "amount": 12.0, "reason": "late"}, None),
    ("orders_refund", {"order_id": "ORD-1234", "amount": 13.0, "reason": "late"}, None),
    ("orders_lookup", {"order_id": "12"}, {"order_id": "ORD-5678"}),
]


def test_names_map_to_actions_and_back() -> None:
    assert [t.name for t in TOOLS] == ["orders_lookup", "customers_delete_account", "orders_refund",
                                       "orders_refund_large", "tickets_close"]
    assert action_id_for("orders_refund_large") == "orders.refund_large"
    assert tool_name("a.b-c/d") == "a_b-c_d" and len(tool_name("x." * 80)) == 64
    assert tool_name("x." * 80) != tool_name("x." * 79 + "y")
    first = TOOLS[0]
    assert isinstance(first, FunctionTool)
    lookup_schema = first.params_json_schema
    assert list(lookup_schema["properties"]) == ["order_id"]  # the context parameter is the SDK's
    with pytest.raises(ValueError):  # one name, two actions: refused
        govern_tools({"orders.list_recent": function_tool(refund, name_override="orders_refund")})


def test_full_agent_loop(resolver: cra.Resolver, trace_path: str) -> None:
    RAN.clear()
    model = ReadingModel(list(PLAN))
    agent = Agent(name="support", model=model, tools=TOOLS)

    async def main() -> Any:
        with resolver.conversation("support-bot-1", "conv-1", goal="Customer wants refunds for ORD-1234"):
            result = await Runner.run(agent, "refund ORD-1234 please")
            (item,) = result.interruptions  # the large refund waits for a human
            asked = approval_for(item)
            assert asked["action_id"] == "orders.refund_large" and asked["parameters"]["amount"] == 450.0
            assert "refund_large 450.0" not in RAN
            state = result.to_state()
            approve(state, item, approver="supervisor@example.com")
            return await Runner.run(agent, state)

    result = asyncio.run(main())
    assert result.final_output == "done"
    assert RAN == ["lookup ORD-1234", "refund_large 450.0", "refund 10.0", "refund 11.0", "refund 12.0",
                   "lookup ORD-5678"]
    denied, limited, invalid = model.outputs[1], model.outputs[6], model.outputs[7]
    assert denied == ("customers_delete_account was denied by policy deny-account-deletion: account deletion is "
                      "handled by the privacy team, not by agents. Do not retry this call.")
    assert "rate limited by policy refunds-per-session" in limited
    assert "refused invalid arguments at /order_id" in invalid
    assert model.retries == 0 and model.corrected == 1
    counts = outcomes(trace_events(resolver, trace_path))
    assert counts["customers.delete_account:action.denied"] == 1
    assert counts["orders.refund_large:action.approved"] == 1 and counts["orders.refund_large:action.executed"] == 1
    assert counts["orders.refund:action.executed"] == 3 and counts["orders.refund:action.denied"] == 1
    assert counts["orders.lookup:action.executed"] == 2


def test_a_tool_failure_is_reported_as_failed_and_told_the_sdk_way(resolver: cra.Resolver, trace_path: str) -> None:
    RAN.clear()
    model = ReadingModel([("tickets_close", {"ticket_id": "T-1"}, None)])
    with resolver.conversation("support-bot-1", "failing", goal="close T-1"):
        asyncio.run(Runner.run(Agent(name="support", model=model, tools=TOOLS), "close it"))
    # the SDK's generic message: the reading model retries, as models do (twice here)
    assert model.outputs[0] == "An error occurred while running the tool. Please try again."
    assert model.retries == 2 and RAN == ["close"] * 3
    counts = outcomes(trace_events(resolver, trace_path))
    assert counts["tickets.close:action.failed"] == 3 and counts["tickets.close:action.executed"] == 0


def test_an_ungoverned_refusal_is_a_generic_error_and_gets_retried() -> None:
    """The problem this integration solves, shown with the real loop."""

    @function_tool
    def delete(customer_id: str) -> str:
        """Refuses by raising."""
        raise PermissionError("not allowed")

    model = ReadingModel([("delete", {"customer_id": "C-1"}, None)])
    asyncio.run(Runner.run(Agent(name="a", model=model, tools=[delete]), "delete C-1"))
    assert model.retries == 2  # the model tried the forbidden call three times


def test_rejection_message_and_session_as_run_context(resolver: cra.Resolver, trace_path: str) -> None:
    RAN.clear()
    session = resolver.session("support-bot-1", "ctx-session")
    session.resolve("refund ORD-1234")
    model = ReadingModel([("orders_refund_large", {"order_id": "ORD-1234", "amount": 300.0, "reason": "broken"}, None)])
    agent = Agent(name="support", model=model, tools=TOOLS)

    async def main() -> Any:
        result = await Runner.run(agent, "refund", context=session)  # no conversation: the context names it
        (item,) = result.interruptions
        state = result.to_state()
        reject(state, item, approver="supervisor", reason="not eligible", session=session)
        return await Runner.run(agent, state, context=session)

    asyncio.run(main())
    assert RAN == [] and "a human rejected this call" in model.outputs[-1]
    counts = outcomes(trace_events(resolver, trace_path))
    assert counts["orders.refund_large:action.denied"] == 1 and counts["orders.refund_large:action.executed"] == 0


def test_approvals_as_messages_and_hidden_tools(resolver: cra.Resolver) -> None:
    quiet = govern_tools({"orders.refund_large": refund_large, "customers.delete_account": delete_account},
                         approvals="message", hide_unusable=True)
    model = ReadingModel([("orders_refund_large", {"order_id": "ORD-1234", "amount": 300.0, "reason": "broken"}, None)])
    with resolver.conversation("support-bot-1", "quiet", goal="refund ORD-1234"):
        result = asyncio.run(Runner.run(Agent(name="support", model=model, tools=quiet), "refund"))
        assert result.interruptions == []
        (pending,) = resolver.approvals(session_id="quiet")
    assert model.seen_tools == ["orders_refund_large"]  # delete is denied: hidden from the model
    assert pending["approval_id"] in model.outputs[0] and "needs a human approval" in model.outputs[0]


def test_an_existing_function_tool_keeps_its_name(resolver: cra.Resolver) -> None:
    @function_tool(name_override="lookup_order")
    def existing(order_id: str) -> str:
        """Look up an order."""
        return f"found {order_id}"

    governed = govern_function_tool(existing, "orders.lookup")
    assert isinstance(governed, FunctionTool) and governed.name == "lookup_order"
    assert existing.name == "lookup_order" and action_id_for("lookup_order") == "orders.lookup"
    model = ReadingModel([("lookup_order", {"order_id": "ORD-1234"}, None)])
    with resolver.conversation("support-bot-1", "existing", goal="look up"):
        asyncio.run(Runner.run(Agent(name="a", model=model, tools=[governed]), "look up"))
    assert json.loads(json.dumps(model.outputs[0])) == "found ORD-1234"
    with pytest.raises(UserError) as e:  # a fault of the host program fails the run: no tool output
        asyncio.run(Runner.run(Agent(name="a", model=ReadingModel([("lookup_order", {"order_id": "ORD-1"}, None)]),
                                     tools=[governed]), "look up"))
    assert isinstance(e.value.__cause__, cra.SessionNotBound)


def test_a_cra_tool_taking_the_run_context_works_under_function_tool(resolver: cra.Resolver) -> None:
    """Issue 13: a tool whose first parameter is the SDK's context failed with "Type is not JSON
    serializable" (the context was sent as a parameter). It is left out now."""

    @cra.tool("orders.lookup")
    def with_context(ctx: RunContextWrapper[Any], order_id: str) -> str:
        assert isinstance(ctx, RunContextWrapper)
        return f"found {order_id}"

    sdk_tool = function_tool(with_context)
    assert list(sdk_tool.params_json_schema["properties"]) == ["order_id"]
    model = ReadingModel([("with_context", {"order_id": "ORD-1234"}, None)])
    with resolver.conversation("support-bot-1", "ctx-first", goal="look up"):
        asyncio.run(Runner.run(Agent(name="a", model=model, tools=[sdk_tool]), "look up"))
    assert model.outputs == ["found ORD-1234"]
