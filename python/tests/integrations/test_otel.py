"""OpenTelemetry: a span per governed call, GenAI attribute names, CRA decision, current trace."""

from __future__ import annotations

import json
from typing import Any, Dict, Iterator, List

import pytest

import cra

from ._support import need

need("opentelemetry.sdk")

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as gen_ai  # noqa: E402
from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

from cra.integrations import otel  # noqa: E402


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Spans of governed calls, captured in memory while instrumented."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    inst = otel.instrument(provider)
    exporter.provider = provider  # type: ignore[attr-defined]
    yield exporter
    inst.uninstrument()


def _by_name(exporter: InMemorySpanExporter) -> Dict[str, List[ReadableSpan]]:
    out: Dict[str, List[ReadableSpan]] = {}
    for s in exporter.get_finished_spans():
        out.setdefault(s.name, []).append(s)
    return out


def test_attribute_names_follow_the_genai_conventions() -> None:
    # the names we write are the conventions' own constants
    assert gen_ai.GEN_AI_OPERATION_NAME == "gen_ai.operation.name"
    assert gen_ai.GenAiOperationNameValues.EXECUTE_TOOL.value == "execute_tool"
    assert gen_ai.GEN_AI_TOOL_NAME == "gen_ai.tool.name" and gen_ai.GEN_AI_TOOL_CALL_ID == "gen_ai.tool.call.id"
    assert gen_ai.GEN_AI_TOOL_TYPE == "gen_ai.tool.type" and gen_ai.GEN_AI_CONVERSATION_ID == "gen_ai.conversation.id"
    assert gen_ai.GEN_AI_AGENT_ID == "gen_ai.agent.id"


def test_each_governed_call_is_a_span_in_the_current_trace(resolver: cra.Resolver, trace_path: str,
                                                           spans: InMemorySpanExporter) -> None:
    tracer = spans.provider.get_tracer("app")  # type: ignore[attr-defined]

    @cra.tool("orders.lookup")
    def lookup(order_id: str) -> str:
        with tracer.start_as_current_span("db query"):
            return order_id

    @cra.tool("customers.delete_account")
    def delete(customer_id: str) -> None:  # pragma: no cover - never authorized
        return None

    @cra.tool("orders.refund_large")
    def refund_large(order_id: str, amount: float, reason: str) -> None:  # pragma: no cover - never approved
        return None

    @cra.tool("tickets.reply")
    def reply(ticket_id: str, body: str) -> None:
        raise ConnectionError("ticket system down")

    with resolver.conversation("support-bot-1", "otel-1", goal="refund ORD-1234") as s:
        with tracer.start_as_current_span("agent turn"):
            assert lookup(order_id="ORD-1234") == "ORD-1234"
            assert isinstance(delete.call_or_refusal(customer_id="C-1"), cra.Refusal)
            assert isinstance(refund_large.call_or_refusal(order_id="ORD-1234", amount=300.0, reason="x1y"), cra.Refusal)
            assert isinstance(lookup.call_or_refusal(order_id="12"), cra.Refusal)
            with pytest.raises(ConnectionError):
                reply(ticket_id="T-1", body="hello")
        assert s.resolution is not None
        trace_id = s.resolution.trace_id
    got = _by_name(spans)
    (ok, invalid) = got["execute_tool lookup"]
    (denied,) = got["execute_tool delete"]
    (pending,) = got["execute_tool refund_large"]
    (failed,) = got["execute_tool reply"]
    (db,) = got["db query"]
    (turn_span,) = got["agent turn"]
    for span in (ok, invalid, denied, pending, failed):
        assert span.kind is SpanKind.INTERNAL
        assert span.parent is not None and span.parent.span_id == turn_span.context.span_id  # joins the app's trace
        assert span.context.trace_id == turn_span.context.trace_id
        attrs = span.attributes or {}
        assert attrs["gen_ai.operation.name"] == "execute_tool" and attrs["gen_ai.tool.type"] == "function"
        assert attrs["gen_ai.conversation.id"] == "otel-1" and attrs["gen_ai.agent.id"] == "support-bot-1"
        assert attrs.get("cra.trace_id") == (None if span is invalid else trace_id)  # invalid: no answer
    assert db.parent is not None and db.parent.span_id == ok.context.span_id  # the tool runs inside its span
    a = ok.attributes or {}
    assert a["gen_ai.tool.name"] == "lookup" and a["cra.action_id"] == "orders.lookup"
    assert a["cra.decision"] == "authorized" and a["cra.execution_id"] and a["cra.policy_id"] == "allow-support-agents"
    assert ok.status.status_code is StatusCode.UNSET
    d = denied.attributes or {}
    assert d["cra.decision"] == "denied" and d["cra.policy_id"] == "deny-account-deletion"
    assert d["cra.reason_code"] == "policy_denied" and d["error.type"] == "ActionDenied"
    assert denied.status.status_code is StatusCode.ERROR
    p = pending.attributes or {}
    assert p["cra.decision"] == "pending_approval" and p["cra.approval_id"] == resolver.approvals()[0]["approval_id"]
    assert pending.status.status_code is StatusCode.UNSET and "error.type" not in p
    i = invalid.attributes or {}
    assert i["cra.decision"] == "invalid_parameters" and i["cra.pointer"] == "/execution/parameters/order_id"
    f = failed.attributes or {}
    assert f["cra.decision"] == "authorized" and f["error.type"] == "builtins.ConnectionError"
    assert failed.status.status_code is StatusCode.ERROR
    assert [e.name for e in failed.events] == ["exception"]
    # the request id leads to the call in the TRACE file
    resolver.flush()
    with open(trace_path) as fh:
        events = [json.loads(line) for line in fh]
    denied_ids = {e["payload"].get("request_id") for e in events if e["event_type"] == "carp.request.received"}
    assert d["cra.request_id"] in denied_ids


def test_framework_call_ids_and_uninstrument(resolver: cra.Resolver, spans: InMemorySpanExporter) -> None:
    need("langchain_core")
    from cra.integrations.langchain import govern_tool

    def lookup_order(order_id: str) -> str:
        """Look up an order."""
        return order_id

    tool: Any = govern_tool(lookup_order, "orders.lookup")
    with resolver.conversation("support-bot-1", "otel-2", goal="look up"):
        tool.invoke({"type": "tool_call", "id": "call-42", "name": "lookup_order", "args": {"order_id": "ORD-1234"}})
        (span,) = spans.get_finished_spans()
        assert (span.attributes or {})["gen_ai.tool.call.id"] == "call-42"
        for observer in list(cra.calls._observers):
            if isinstance(observer, otel.Instrumentation):
                observer.uninstrument()
        tool.invoke({"order_id": "ORD-1234"})
    assert len(spans.get_finished_spans()) == 1
