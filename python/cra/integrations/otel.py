"""Every governed call as an OpenTelemetry span, following the GenAI semantic conventions.

::

    from cra.integrations import otel
    otel.instrument()            # the global tracer provider; or instrument(tracer_provider=...)

Each call through a governed tool (core, LangChain, Agents SDK, the MCP proxy) is a span
``execute_tool {gen_ai.tool.name}`` (kind ``INTERNAL``) in the application's current trace, with

- ``gen_ai.operation.name`` = ``execute_tool``, ``gen_ai.tool.name``, ``gen_ai.tool.type`` =
  ``function``, ``gen_ai.tool.call.id`` (when the framework has one), ``gen_ai.agent.id`` and
  ``gen_ai.conversation.id`` (the CRA agent and session);
- the CRA decision: ``cra.action_id``, ``cra.decision`` (``authorized``, ``denied``,
  ``pending_approval``, or ``invalid_parameters``), ``cra.reason_code``, ``cra.policy_id``,
  ``cra.approval_id``, ``cra.execution_id``, ``cra.resolution_id``, ``cra.request_id`` and
  ``cra.trace_id`` (the TRACE chain the call is recorded in: look the request id up there;
  absent when the arguments were refused before an answer, with ``cra.pointer`` instead).
  TRACE event ids are not in the execute answer, so they are not on the span;
- ``error.type`` and status ``ERROR`` when the call was refused (``ActionDenied``,
  ``RateLimited``, ``InvalidParameters``) or the tool raised (its exception recorded); a call
  waiting for approval is not an error.

The tool runs inside the span, so spans the tool makes are its children. Without
OpenTelemetry installed nothing imports it: only this module needs ``opentelemetry-api``.
"""

from __future__ import annotations

from typing import Any, Optional

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, TracerProvider

from .. import calls
from ..errors import ApprovalRequired, InvalidParameters, NotAuthorized
from ..results import Authorization

__all__ = ["instrument", "Instrumentation"]

_SCOPE = "cra.integrations.otel"


class _Scope:
    __slots__ = ("span", "token")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.token = otel_context.attach(trace.set_span_in_context(span))

    def answered(self, auth: Authorization) -> None:
        raw = auth.raw
        span = self.span
        span.set_attribute("cra.decision", auth.status)
        for key in ("reason_code", "policy_id", "approval_id", "execution_id", "resolution_id", "request_id", "trace_id"):
            value = raw.get(key)
            if value is not None:
                span.set_attribute(f"cra.{key}", str(value))

    def end(self, error: Optional[BaseException]) -> None:
        span = self.span
        try:
            if isinstance(error, ApprovalRequired):
                pass  # waiting for a human is an outcome, not an error
            elif isinstance(error, InvalidParameters):
                span.set_attribute("cra.decision", "invalid_parameters")
                if error.pointer:
                    span.set_attribute("cra.pointer", error.pointer)
                span.set_attribute("error.type", type(error).__name__)
                span.set_status(Status(StatusCode.ERROR, error.message))
            elif isinstance(error, NotAuthorized):
                span.set_attribute("error.type", type(error).__name__)
                span.set_status(Status(StatusCode.ERROR, error.message))
            elif error is not None:
                span.record_exception(error)
                span.set_attribute("error.type", f"{type(error).__module__}.{type(error).__qualname__}")
                span.set_status(Status(StatusCode.ERROR, str(error) or type(error).__name__))
        finally:
            otel_context.detach(self.token)
            span.end()


class Instrumentation:
    """An installed span observer; :meth:`uninstrument` removes it."""

    def __init__(self, tracer_provider: Optional[TracerProvider] = None) -> None:
        self.tracer = trace.get_tracer(_SCOPE, tracer_provider=tracer_provider)

    def begin(self, info: calls.CallInfo) -> _Scope:
        """A span for the call, current until it ends."""
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": info.tool_name,
            "gen_ai.tool.type": "function",
            "gen_ai.conversation.id": info.session_id,
            "cra.action_id": info.action_id,
        }
        if info.call_id:
            attributes["gen_ai.tool.call.id"] = info.call_id
        if info.agent:
            attributes["gen_ai.agent.id"] = info.agent
        span = self.tracer.start_span(f"execute_tool {info.tool_name}", kind=SpanKind.INTERNAL, attributes=attributes)
        return _Scope(span)

    def uninstrument(self) -> None:
        """Stops making spans."""
        calls.remove_observer(self)


def instrument(tracer_provider: Optional[TracerProvider] = None) -> Instrumentation:
    """Makes a span for every governed call in this process, with ``tracer_provider`` (the
    global one by default). Returns the :class:`Instrumentation` (``uninstrument()`` to stop)."""
    inst = Instrumentation(tracer_provider)
    calls.add_observer(inst)
    return inst
