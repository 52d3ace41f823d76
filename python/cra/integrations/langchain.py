"""CRA for LangChain and LangGraph: govern existing tools, refuse with a message the model reads.

::

    from cra.integrations.langchain import govern_tools, allowed_tools

    tools = govern_tools({"orders.lookup": lookup_order, "orders.refund": refund})  # BaseTool,
    agent = create_agent(model, tools, checkpointer=InMemorySaver())                # @tool or function
    with resolver.conversation("support-bot-1", thread_id, goal=user_message):
        agent.invoke({"messages": [...]}, {"configurable": {"thread_id": thread_id}})

- Each call is authorized before the tool runs and reported after (``cra.calls``).
- A refusal (denied, rate limited, invalid arguments, waiting for a human) is the tool message
  the model sees (``status="error"``), never an exception out of the agent loop.
- An approval inside a LangGraph graph with a checkpointer is a LangGraph ``interrupt``: the
  graph pauses with ``{"type": "cra.approval", "approval_id", ...}``; approve it with
  ``resolver.approve(approval_id, approver=...)`` (or resume with
  ``Command(resume={"approved": True, "approver": "alice"})``) and the call runs, once.
- :func:`allowed_tools` turns the session's resolution into the tool list to bind to the model.

Requires ``langchain-core``; LangGraph only for interrupts.
"""

# No ``from __future__ import annotations`` here: LangChain reads the annotations of ``_run`` on
# every call (to find the RunnableConfig parameter), and string annotations would be evaluated
# (compiled) each time.
import contextvars
import functools
import inspect
from typing import Any, Callable, Dict, FrozenSet, List, Literal, Mapping, Optional, Sequence, Tuple, Union

from langchain_core.callbacks import AsyncCallbackManagerForToolRun, CallbackManagerForToolRun
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, ToolException
from langchain_core.tools import tool as as_langchain_tool
from langchain_core.tools.base import ArgsSchema
from pydantic import ConfigDict
from pydantic_core import to_jsonable_python

from .. import calls
from ..errors import ApprovalAlreadyDecided, ApprovalRequired
from ..governed import GovernedTool as _CraGovernedTool
from ..governed import Session
from ..refusal import REFUSALS, Refusal
from ..resolver import Resolver
from ..results import Resolution

__all__ = ["GovernedTool", "govern_tool", "govern_tools", "allowed_tools", "Refused", "Approvals"]

Approvals = Literal["auto", "interrupt", "message"]
_CALL_ID: "contextvars.ContextVar[Optional[str]]" = contextvars.ContextVar("cra_langchain_call_id", default=None)
_CHECKPOINTER = "__pregel_checkpointer"


class Refused(ToolException):
    """Raised inside a governed tool for a refusal; LangChain turns it into the tool message
    (``status="error"``) the model sees. :attr:`refusal` is the :class:`~cra.Refusal`."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


class GovernedTool(BaseTool):
    """A LangChain tool under CRA governance: the wrapped tool's name, description and schema
    (injected arguments such as ``ToolRuntime`` keep working), authorized before it runs."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: BaseTool
    """The tool that runs when CRA authorizes the call."""
    action_id: str
    """The CRA action the tool performs."""
    approvals: Approvals = "auto"
    """``interrupt``: a LangGraph interrupt; ``message``: a refusal message naming the approval;
    ``auto``: an interrupt inside a LangGraph run with a checkpointer, else the message."""
    cra_session: Optional[Any] = None
    """A :class:`~cra.Session` to govern in; ``None`` (the default): the session bound where
    the tool is called (``resolver.conversation``)."""
    cra_resolver: Optional[Any] = None
    """With ``cra_session=None``: only run in conversations of this resolver."""

    # -- the wrapped tool's face -------------------------------------------------------------

    @property
    def tool_call_schema(self) -> ArgsSchema:
        """The wrapped tool's schema for the model."""
        return self.inner.tool_call_schema

    def get_input_schema(self, config: Optional[RunnableConfig] = None) -> Any:
        """The wrapped tool's full input schema (with injected arguments)."""
        return self.inner.get_input_schema(config)

    @functools.cached_property
    def _injected_args_keys(self) -> FrozenSet[str]:
        keys: FrozenSet[str] = getattr(self.inner, "_injected_args_keys", frozenset())
        return keys

    @property
    def func(self) -> Optional[Callable[..., Any]]:
        """The wrapped tool's function (LangGraph reads its annotations for injection)."""
        f: Optional[Callable[..., Any]] = getattr(self.inner, "func", None) or getattr(self.inner, "coroutine", None)
        return f

    @functools.cached_property
    def _model_fields(self) -> FrozenSet[str]:
        schema = self.inner.tool_call_schema
        if isinstance(schema, dict):
            return frozenset(schema.get("properties") or ())
        return frozenset(getattr(schema, "model_fields", None) or ())

    # -- calls -------------------------------------------------------------------------------

    def run(self, tool_input: Union[str, Dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        """:meth:`BaseTool.run`, remembering the tool call id for the trace and spans."""
        token = _CALL_ID.set(kwargs.get("tool_call_id"))
        try:
            return super().run(tool_input, *args, **kwargs)
        finally:
            _CALL_ID.reset(token)

    async def arun(self, tool_input: Union[str, Dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
        """:meth:`BaseTool.arun`, remembering the tool call id for the trace and spans."""
        token = _CALL_ID.set(kwargs.get("tool_call_id"))
        try:
            return await super().arun(tool_input, *args, **kwargs)
        finally:
            _CALL_ID.reset(token)

    def _target(self) -> calls.Target:
        return calls.target(self.cra_resolver, self.cra_session, None)

    def _parameters(self, args: Tuple[Any, ...], kwargs: Mapping[str, Any]) -> Dict[str, Any]:
        """The model's arguments (never injected ones), as JSON values."""
        fields = self._model_fields
        params = {k: v for k, v in kwargs.items() if k in fields}
        if args:  # a single-input tool given a string: named after its one field
            key = next(iter(fields)) if len(fields) == 1 else "input"
            params[key] = args[0] if len(args) == 1 else list(args)
        out: Dict[str, Any] = to_jsonable_python(params)
        return out

    def _forward(self, method: Callable[..., Any], kwargs: Dict[str, Any], config: RunnableConfig, run_manager: Any) -> Dict[str, Any]:
        accepts = _accepts(method)
        fwd = dict(kwargs)
        if "config" in accepts:
            fwd["config"] = config
        if "run_manager" in accepts:
            fwd["run_manager"] = run_manager
        return fwd

    def _run(self, *args: Any, config: RunnableConfig, run_manager: Optional[CallbackManagerForToolRun] = None,
             **kwargs: Any) -> Any:
        t = self._target()
        params = self._parameters(args, kwargs)
        fwd = self._forward(self.inner._run, kwargs, config, run_manager)

        def invoke() -> Any:
            return self.inner._run(*args, **fwd)

        try:
            try:
                return calls.run(t, self.action_id, params, invoke, tool_name=self.name, call_id=_CALL_ID.get())
            except ApprovalRequired as e:
                if not self._interrupts():
                    raise
                _decide(t, e, self._interrupt(t, e, params))
                return calls.run(t, self.action_id, params, invoke, tool_name=self.name, call_id=_CALL_ID.get())
        except REFUSALS as e:
            raise Refused(Refusal.from_error(e, tool=self.name)) from None

    async def _arun(self, *args: Any, config: RunnableConfig, run_manager: Optional[AsyncCallbackManagerForToolRun] = None,
                    **kwargs: Any) -> Any:
        t = self._target()
        params = self._parameters(args, kwargs)
        fwd = self._forward(self.inner._arun, kwargs, config, run_manager)

        async def invoke() -> Any:
            return await self.inner._arun(*args, **fwd)

        try:
            try:
                return await calls.arun(t, self.action_id, params, invoke, tool_name=self.name, call_id=_CALL_ID.get())
            except ApprovalRequired as e:
                if not self._interrupts():
                    raise
                _decide(t, e, self._interrupt(t, e, params))
                return await calls.arun(t, self.action_id, params, invoke, tool_name=self.name, call_id=_CALL_ID.get())
        except REFUSALS as e:
            raise Refused(Refusal.from_error(e, tool=self.name)) from None

    # -- approvals ---------------------------------------------------------------------------

    def _interrupts(self) -> bool:
        if self.approvals == "message":
            return False
        if self.approvals == "interrupt":
            return True
        try:
            from langgraph.config import get_config
        except ImportError:
            return False
        try:
            configurable = get_config().get("configurable") or {}
        except RuntimeError:  # not inside a LangGraph run
            return False
        return configurable.get(_CHECKPOINTER) is not None

    def _interrupt(self, t: calls.Target, e: ApprovalRequired, params: Mapping[str, Any]) -> Any:
        from langgraph.types import interrupt

        answer = e.answer
        return interrupt({
            "type": "cra.approval",
            "approval_id": e.approval_id,
            "action_id": self.action_id,
            "tool": self.name,
            "tool_call_id": _CALL_ID.get(),
            "parameters": dict(params),
            "policy_id": e.policy_id,
            "reason": answer.get("reason"),
            "agent_id": t.agent,
            "session_id": t.session_id,
        })


def _decide(t: calls.Target, e: ApprovalRequired, decision: Any) -> None:
    """Applies a resume value ``{"approved": bool, "approver": str, "reason"?: str}``; any other
    value means the approval was decided elsewhere (``resolver.approve``) or not at all."""
    if not isinstance(decision, Mapping) or not isinstance(decision.get("approved"), bool):
        return
    reason = decision.get("reason")
    try:
        if decision["approved"]:
            t.resolver.approve(e.approval_id, approver=decision.get("approver"), reason=reason)
        else:
            t.resolver.reject(e.approval_id, approver=decision.get("approver"), reason=reason)
    except ApprovalAlreadyDecided:
        pass  # decided elsewhere meanwhile: the next authorization says how


@functools.lru_cache(maxsize=256)
def _accepts(method: Callable[..., Any]) -> FrozenSet[str]:
    try:
        return frozenset(inspect.signature(method).parameters)
    except (TypeError, ValueError):
        return frozenset()


def _handle(inner: BaseTool) -> Callable[[ToolException], Any]:
    """The wrapper's ``handle_tool_error``: a refusal's message, else the wrapped tool's own
    handling (re-raised when it handles nothing)."""
    flag = inner.handle_tool_error

    def handle(e: ToolException) -> Any:
        if isinstance(e, Refused):
            return e.refusal.message
        if not flag:
            raise e
        if isinstance(flag, bool):
            return e.args[0] if e.args else "Tool execution error"
        if isinstance(flag, str):
            return flag
        return flag(e)

    return handle


def govern_tool(
    tool: Union[BaseTool, Callable[..., Any]],
    action_id: Optional[str] = None,
    *,
    name: Optional[str] = None,
    session: Optional[Session] = None,
    resolver: Optional[Resolver] = None,
    approvals: Approvals = "auto",
) -> GovernedTool:
    """Governs a LangChain tool (``BaseTool``, ``StructuredTool``, ``@tool``) or a plain
    function (made a ``StructuredTool`` first) as ``action_id`` (default: the tool's name).

    Without ``session`` the tool is governed in the session bound where it is called; with
    ``resolver`` only in that resolver's conversations.
    """
    if isinstance(tool, GovernedTool):
        raise TypeError(f"{tool.name} is already governed (as {tool.action_id})")
    if isinstance(tool, _CraGovernedTool):
        raise TypeError("govern the plain function, not a cra governed tool (it would be authorized twice)")
    inner: BaseTool = tool if isinstance(tool, BaseTool) else as_langchain_tool(tool)
    fields: Dict[str, Any] = {
        "name": name or inner.name,
        "description": inner.description,
        "args_schema": inner.args_schema,
        "return_direct": inner.return_direct,
        "response_format": inner.response_format,
        "handle_validation_error": inner.handle_validation_error,
        "handle_tool_error": _handle(inner),
        "tags": inner.tags,
        "metadata": inner.metadata,
        "inner": inner,
        "action_id": action_id or inner.name,
        "approvals": approvals,
        "cra_session": session,
        "cra_resolver": resolver,
    }
    extras = getattr(inner, "extras", None)
    if extras is not None:
        fields["extras"] = extras
    return GovernedTool(**fields)


def govern_tools(
    tools: Union[Mapping[str, Union[BaseTool, Callable[..., Any]]], Sequence[Union[BaseTool, Callable[..., Any]]]],
    *,
    session: Optional[Session] = None,
    resolver: Optional[Resolver] = None,
    approvals: Approvals = "auto",
) -> List[GovernedTool]:
    """Governs several tools: a mapping ``{action_id: tool}``, or a sequence of tools whose
    names are their action ids."""
    items = list(tools.items()) if isinstance(tools, Mapping) else [(None, t) for t in tools]
    return [govern_tool(t, a, session=session, resolver=resolver, approvals=approvals) for a, t in items]


def allowed_tools(
    tools: Sequence[GovernedTool],
    resolution: Optional[Resolution] = None,
    *,
    session: Optional[Session] = None,
) -> List[GovernedTool]:
    """The tools the model may see: those whose action is allowed (or allowed once a human
    approves the call), in order. From ``resolution`` when given (its lists), else from the
    session's live resolution (``session=``, or the session bound here; fast path, revocation
    immediate, resolved again once when expired). Denied, unknown and rate-limited-now
    actions are left out: ``model.bind_tools(allowed_tools(tools))``."""
    if resolution is not None:
        visible = set(resolution.allowed) | set(resolution.pending)
        return [t for t in tools if t.action_id in visible]
    t = calls.target(None, session, None)
    usable = set(calls.usable(t, dict.fromkeys(x.action_id for x in tools)))
    return [x for x in tools if x.action_id in usable]
