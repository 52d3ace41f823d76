"""LangChain + LangGraph: a real agent loop (langchain's create_agent over LangGraph) driven by a
scripted chat model that reads the tool messages like a model would: it retries a call that
"failed, please try again", corrects arguments it is told to correct, and moves on otherwise."""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Optional, Sequence

import pytest

import cra

from ._support import need, outcomes, trace_events

need("langchain_core")
need("langgraph")
need("langchain")

from langchain.agents import create_agent  # noqa: E402
from langchain.tools import ToolRuntime  # noqa: E402
from langchain_core.callbacks import CallbackManagerForLLMRun  # noqa: E402
from langchain_core.language_models.chat_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langchain_core.tools import BaseTool, StructuredTool, ToolException, tool  # noqa: E402
from langgraph.checkpoint.memory import InMemorySaver  # noqa: E402
from langgraph.types import Command  # noqa: E402

from cra.integrations.langchain import GovernedTool, allowed_tools, govern_tool, govern_tools  # noqa: E402


class ReadingModel(BaseChatModel):
    """Calls the planned tools in order, one per turn, reading each tool message first: a
    generic failure is retried (up to twice), "Correct the arguments" makes it send the
    planned correction, anything else moves on."""

    plan: List[Dict[str, Any]]
    step: int = 0
    retries: int = 0
    calls: int = 0
    seen_tools: List[str] = []

    @property
    def _llm_type(self) -> str:
        return "reading-model"

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        self.seen_tools = [t.name for t in tools if isinstance(t, BaseTool)]
        return self

    def _call(self, item: Dict[str, Any], args: Optional[Dict[str, Any]] = None) -> AIMessage:
        self.calls += 1
        return AIMessage("", tool_calls=[{"name": item["name"], "args": args or item["args"], "id": f"call-{self.calls}"}])

    def _generate(self, messages: List[BaseMessage], stop: Optional[List[str]] = None,
                  run_manager: Optional[CallbackManagerForLLMRun] = None, **kwargs: Any) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage) and self.step > 0:
            text = str(last.content)
            previous = self.plan[self.step - 1]
            if "try again" in text.lower() and "do not retry" not in text.lower() and self.retries < 2:
                self.retries += 1
                return _result(self._call(previous))
            if "Correct the arguments" in text and "fixed" in previous and not previous.get("_fixed"):
                previous["_fixed"] = True
                return _result(self._call(previous, previous["fixed"]))
        if self.step < len(self.plan):
            self.step += 1
            return _result(self._call(self.plan[self.step - 1]))
        return _result(AIMessage("done"))


def _ask(text: str) -> Any:
    """The agent's input: one user message."""
    return {"messages": [HumanMessage(text)]}


def _result(message: AIMessage) -> ChatResult:
    return ChatResult(generations=[ChatGeneration(message=message)])


RAN: List[str] = []


@tool
def lookup_order(order_id: str, runtime: ToolRuntime) -> Dict[str, str]:
    """Look up an order by id (the runtime is injected by LangGraph, never sent to CRA)."""
    assert runtime.tool_call_id  # injected
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


def refund_large(order_id: str, amount: float, reason: str) -> str:
    """Refund over 100 (a supervisor approves)."""
    RAN.append(f"refund_large {amount}")
    return f"refunded {amount}"


TOOLS = govern_tools({  # built once, used by every conversation
    "orders.lookup": lookup_order,
    "customers.delete_account": delete_account,
    "orders.refund": refund,
    "orders.refund_large": refund_large,
})

PLAN: List[Dict[str, Any]] = [
    {"name": "lookup_order", "args": {"order_id": "ORD-1234"}},
    {"name": "delete_account", "args": {"customer_id": "C-1"}},
    {"name": "refund_large", "args": {"order_id": "ORD-1234", "amount": 450.0, "reason": "whole order damaged"}},
    {"name": "refund", "args": {"order_id": "ORD-1234", "amount": 10.0, "reason": "late"}},
    {"name": "refund", "args": {"order_id": "ORD-1234", "amount": 11.0, "reason": "late"}},
    {"name": "refund", "args": {"order_id": "ORD-1234", "amount": 12.0, "reason": "late"}},
    {"name": "refund", "args": {"order_id": "ORD-1234", "amount": 13.0, "reason": "late"}},
    {"name": "lookup_order", "args": {"order_id": "12"}, "fixed": {"order_id": "ORD-5678"}},
]


def _tool_messages(state: Dict[str, Any]) -> List[ToolMessage]:
    return [m for m in state["messages"] if isinstance(m, ToolMessage)]


def test_full_agent_loop(resolver: cra.Resolver, trace_path: str) -> None:
    RAN.clear()
    model = ReadingModel(plan=[dict(p) for p in PLAN])
    agent = create_agent(model, TOOLS, checkpointer=InMemorySaver())
    config: Any = {"configurable": {"thread_id": "conv-1"}}
    with resolver.conversation("support-bot-1", "conv-1", goal="Customer wants refunds for ORD-1234"):
        state = agent.invoke(_ask("refund ORD-1234 please"), config)
        # paused on the large refund: a LangGraph interrupt naming the approval of this call
        (pause,) = state["__interrupt__"]
        asked = pause.value
        assert asked["type"] == "cra.approval" and asked["action_id"] == "orders.refund_large"
        assert asked["parameters"] == {"order_id": "ORD-1234", "amount": 450.0, "reason": "whole order damaged"}
        assert [a["approval_id"] for a in resolver.approvals()] == [asked["approval_id"]]
        assert "refund_large 450.0" not in RAN
        resolver.approve(asked["approval_id"], approver="supervisor@example.com")
        state = agent.invoke(Command(resume=True), config)
    assert "__interrupt__" not in state
    msgs = _tool_messages(state)
    by_id = {m.tool_call_id: m for m in msgs}
    assert [m.status for m in msgs] == ["success", "error", "success", "success", "success", "success", "error",
                                        "error", "success"]
    denied = by_id["call-2"]
    assert denied.content == ("delete_account was denied by policy deny-account-deletion: account deletion is handled "
                              "by the privacy team, not by agents. Do not retry this call.")
    limited = msgs[6]
    assert "rate limited by policy refunds-per-session" in str(limited.content)
    invalid = msgs[7]
    assert "refused invalid arguments at /order_id" in str(invalid.content)
    assert RAN == ["lookup ORD-1234", "refund_large 450.0", "refund 10.0", "refund 11.0", "refund 12.0",
                   "lookup ORD-5678"]
    assert model.retries == 0  # nothing said "try again": the model never retried a refused call
    counts = outcomes(trace_events(resolver, trace_path))
    assert counts["customers.delete_account:action.denied"] == 1
    assert counts["orders.refund_large:action.approved"] == 1
    assert counts["orders.refund_large:action.executed"] == 1
    assert counts["orders.refund:action.executed"] == 3 and counts["orders.refund:action.denied"] == 1
    assert counts["orders.lookup:action.executed"] == 2


def test_an_ungoverned_refusal_crashes_the_loop_and_a_generic_error_is_retried() -> None:
    """The problem this integration solves, shown with the real loop."""

    @tool
    def forbidden(customer_id: str) -> str:
        """A tool that refuses by raising."""
        raise PermissionError("not allowed")

    agent = create_agent(ReadingModel(plan=[{"name": "forbidden", "args": {"customer_id": "C-1"}}]), [forbidden])
    with pytest.raises(PermissionError):
        agent.invoke(_ask("delete C-1"))


def test_resume_with_a_decision_and_a_rejection(resolver: cra.Resolver, trace_path: str) -> None:
    RAN.clear()
    plan = [{"name": "refund_large", "args": {"order_id": "ORD-1234", "amount": 300.0, "reason": "broken"}}]
    for thread, decision, expect in (("approve", True, "success"), ("reject", False, "error")):
        agent = create_agent(ReadingModel(plan=[dict(p) for p in plan]), TOOLS, checkpointer=InMemorySaver())
        config: Any = {"configurable": {"thread_id": thread}}
        with resolver.conversation("support-bot-1", thread, goal="refund ORD-1234"):
            agent.invoke(_ask("refund"), config)
            state = agent.invoke(Command(resume={"approved": decision, "approver": "supervisor", "reason": "checked"}),
                                 config)
        (msg,) = _tool_messages(state)
        assert msg.status == expect
        if not decision:
            assert "a human rejected this call" in str(msg.content)
    assert RAN == ["refund_large 300.0"]
    counts = outcomes(trace_events(resolver, trace_path))
    assert counts["orders.refund_large:action.approved"] == 1 and counts["orders.refund_large:action.executed"] == 1


def test_without_langgraph_a_pending_approval_is_a_message(resolver: cra.Resolver) -> None:
    refund_tool = next(t for t in TOOLS if t.action_id == "orders.refund_large")
    with resolver.conversation("support-bot-1", "plain", goal="refund ORD-1234"):
        out = refund_tool.invoke({"type": "tool_call", "name": "refund_large", "id": "x1",
                                  "args": {"order_id": "ORD-1234", "amount": 200.0, "reason": "broken"}})
    assert isinstance(out, ToolMessage) and out.status == "error" and out.tool_call_id == "x1"
    (pending,) = resolver.approvals()
    assert pending["approval_id"] in str(out.content) and "needs a human approval" in str(out.content)


def test_the_model_only_sees_allowed_tools(resolver: cra.Resolver) -> None:
    with resolver.conversation("support-bot-1", "seen", goal="refund ORD-1234") as s:
        names = [t.name for t in allowed_tools(TOOLS)]
        assert names == ["lookup_order", "refund", "refund_large"]  # delete_account is denied
        assert s.resolution is not None
        assert [t.name for t in allowed_tools(TOOLS, s.resolution)] == names
        model = ReadingModel(plan=[])
        create_agent(model, allowed_tools(TOOLS)).invoke(_ask("hi"))
        assert model.seen_tools == names
    with resolver.conversation("support-trainee-1", "trainee", goal="look up an order"):
        assert "delete_account" not in [t.name for t in allowed_tools(TOOLS)]


def test_async_loop_and_one_tool_list_for_two_conversations(resolver: cra.Resolver, trace_path: str) -> None:
    RAN.clear()

    async def converse(thread: str, order: str) -> Dict[str, Any]:
        model = ReadingModel(plan=[{"name": "lookup_order", "args": {"order_id": order}}])
        agent = create_agent(model, TOOLS)
        async with resolver.conversation("support-bot-1", thread, goal=f"look up {order}"):
            state: Dict[str, Any] = await agent.ainvoke(_ask("look it up"))
            return state

    async def main() -> List[Dict[str, Any]]:
        return list(await asyncio.gather(converse("a", "ORD-1111"), converse("b", "ORD-2222")))

    for state in asyncio.run(main()):
        assert [m.status for m in _tool_messages(state)] == ["success"]
    assert sorted(RAN) == ["lookup ORD-1111", "lookup ORD-2222"]
    sessions = {e["session_id"] for e in trace_events(resolver, trace_path) if e["event_type"] == "action.executed"}
    assert sessions == {"a", "b"}


def test_governing_existing_tools_and_errors(resolver: cra.Resolver) -> None:
    class Lookup(BaseTool):
        name: str = "lookup"
        description: str = "Look up an order."

        def _run(self, order_id: str) -> str:
            return f"found {order_id}"

    gt = govern_tool(Lookup(), "orders.lookup")
    assert isinstance(gt, GovernedTool) and gt.name == "lookup" and gt.action_id == "orders.lookup"
    with resolver.conversation("support-bot-1", "existing", goal="look up"):
        assert gt.invoke({"order_id": "ORD-1234"}) == "found ORD-1234"
        assert gt.invoke("ORD-5678") == "found ORD-5678"  # a single string input is its one field
        assert "refused invalid arguments at /order_id" in gt.invoke("5678")
    with pytest.raises(cra.SessionNotBound):  # outside a conversation: a fault, not a tool message
        gt.invoke({"order_id": "ORD-1234"})
    with pytest.raises(TypeError):
        govern_tool(gt, "orders.lookup")
    with pytest.raises(TypeError):
        govern_tool(cra.tool("orders.lookup", refund), "orders.lookup")

    def flaky(order_id: str) -> str:
        """Fails with a ToolException the tool handles itself."""
        raise ToolException("backend down")

    handled = StructuredTool.from_function(flaky, handle_tool_error=True)
    unhandled = StructuredTool.from_function(flaky)
    with resolver.conversation("support-bot-1", "flaky", goal="look up"):
        assert govern_tool(handled, "orders.lookup").invoke({"order_id": "ORD-1234"}) == "backend down"
        with pytest.raises(ToolException):  # the wrapped tool's own error handling is kept
            govern_tool(unhandled, "orders.lookup").invoke({"order_id": "ORD-1234"})
