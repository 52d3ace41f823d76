"""CRA for the OpenAI Agents SDK: governed function tools, refusals the model reads, approvals
through the SDK's human-in-the-loop.

::

    from cra.integrations.openai_agents import approve, governed_function_tool

    refund = governed_function_tool(refund_impl, "orders.refund_large")   # tool name orders_refund_large
    agent = Agent(name="support", tools=[refund, ...])
    with resolver.conversation("support-bot-1", "conv-42", goal=user_message):
        result = await Runner.run(agent, user_message)
        for item in result.interruptions:                # a call waits for a human
            state = result.to_state()
            approve(state, item, approver="alice@example.com")   # CRA and the SDK both
            result = await Runner.run(agent, state)              # the call runs, once

- Dotted action ids become valid tool names (``orders.refund`` -> ``orders_refund``) and back
  (:func:`action_id_for`).
- A refusal (denied, rate limited, invalid arguments) is the tool's output: the model reads
  "denied by policy X: reason. Do not retry this call." instead of "An error occurred while
  running the tool. Please try again.".
- A call that needs approval is a ``needs_approval`` interruption: the run pauses with a
  ``ToolApprovalItem``; :func:`approve`/:func:`reject` decide it in CRA and in the run state.
  With ``approvals="message"`` the model is told a human was asked instead.
- The session is the one bound where the run happens (``resolver.conversation``), or a
  :class:`~cra.Session` passed as the run context (``Runner.run(agent, input, context=session)``
  or a context object with a ``cra_session`` attribute).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Awaitable, Callable, Dict, List, Literal, Mapping, Optional, Union

from agents import FunctionTool, RunContextWrapper, RunState, Tool, ToolApprovalItem, function_tool
from agents import tool as _agents_tool
from agents.tool_context import ToolContext

from .. import calls
from ..governed import GovernedTool as _CraGovernedTool
from ..governed import Session
from ..refusal import REFUSALS, Refusal
from ..resolver import Resolver
from ..results import Verdict
from ._names import NameMap, tool_name

__all__ = ["governed_function_tool", "govern_function_tool", "govern_tools", "approve", "reject", "approval_for",
           "action_id_for", "tool_name", "Approvals"]

Approvals = Literal["sdk", "message"]
_NAMES = NameMap()


def action_id_for(name: str) -> Optional[str]:
    """The action a governed tool's name stands for (``orders_refund`` -> ``orders.refund``)."""
    return _NAMES.action(name)


def _session_of(context: Any) -> Optional[Session]:
    if isinstance(context, Session):
        return context
    s = getattr(context, "cra_session", None)
    return s if isinstance(s, Session) else None


def _target(run_context: Any, session: Optional[Session], resolver: Optional[Resolver]) -> calls.Target:
    """The explicit session, else a Session given as the run context, else the bound one."""
    if session is None:
        session = _session_of(getattr(run_context, "context", None))
    return calls.target(resolver, session, None)


def _arguments(text: Optional[str]) -> Optional[Dict[str, Any]]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _same(a: Any, b: Any) -> bool:
    return bool(json.loads(json.dumps(a, sort_keys=True)) == json.loads(json.dumps(b, sort_keys=True)))


def _needs_approval(action_id: str, session: Optional[Session], resolver: Optional[Resolver],
                    ) -> Callable[[RunContextWrapper[Any], Dict[str, Any], str], Awaitable[bool]]:
    """The SDK's per-call ``needs_approval``: true when CRA holds this exact call for a human.

    Asks CRA for the call's approval without consuming anything: an approved approval of the
    same call means no (CRA authorizes it when the tool runs); otherwise the execute answer
    says (``pending_approval`` names the approval a human must decide)."""

    async def needs(run_context: RunContextWrapper[Any], parameters: Dict[str, Any], call_id: str) -> bool:
        t = _target(run_context, session, resolver)
        if t.resolver.check(t.session_id, action_id) is not Verdict.PENDING_APPROVAL:
            return False
        for a in t.resolver.approvals(t.session_id, status=["approved"]):
            if a["action_id"] == action_id and _same(a["parameters"], parameters):
                return False
        try:
            answer = calls.authorize(t, action_id, parameters)
        except REFUSALS:
            return False  # invalid arguments: refused when the tool runs
        if answer.authorized:  # pragma: no cover - approved between the two questions: run it
            t.resolver.report(answer, error={"message": "authorized while asking for approval; the call runs again",
                                             "code": "cra.superseded"})
            return False
        return answer.status == "pending_approval"

    return needs


def _governed_invoker(
    inner: Callable[[ToolContext[Any], str], Awaitable[Any]],
    action_id: str,
    name: str,
    session: Optional[Session],
    resolver: Optional[Resolver],
) -> Callable[[ToolContext[Any], str], Awaitable[Any]]:
    async def invoke(ctx: ToolContext[Any], arguments: str) -> Any:
        params = _arguments(arguments)
        if params is None:
            return f"{name} refused its arguments: they are not a JSON object. Correct the arguments and call again."
        t = _target(ctx, session, resolver)
        try:
            return await calls.arun(t, action_id, params, lambda: inner(ctx, arguments), tool_name=name,
                                    call_id=ctx.tool_call_id)
        except REFUSALS as e:
            return Refusal.from_error(e, tool=name).message

    return invoke


def _invoker(tool: FunctionTool, action_id: str, name: str, session: Optional[Session], resolver: Optional[Resolver]) -> Any:
    """The governed ``on_invoke_tool``. For tools made by ``function_tool`` the authorization
    goes between the SDK's failure handling and the function, so an exception of the function
    is reported to CRA as a failure and still shown to the model the SDK's way. (This reaches
    into the SDK's invoker; without it the whole invoker is governed and a failure the SDK
    turns into text is reported as that text.)"""
    original = tool.on_invoke_tool
    raw = getattr(original, "_invoke_tool_impl", None)
    on_error = getattr(original, "_on_handled_error", None)
    rewrap = getattr(_agents_tool, "_with_context_function_tool_failure_error_handler", None)
    if raw is not None and on_error is not None and rewrap is not None:
        return rewrap(_governed_invoker(raw, action_id, name, session, resolver), on_error)
    return _governed_invoker(original, action_id, name, session, resolver)


def govern_function_tool(
    tool: FunctionTool,
    action_id: Optional[str] = None,
    *,
    name: Optional[str] = None,
    session: Optional[Session] = None,
    resolver: Optional[Resolver] = None,
    approvals: Approvals = "sdk",
    hide_unusable: bool = False,
) -> FunctionTool:
    """Governs an existing ``FunctionTool`` as ``action_id`` (default: the action its name
    stands for, else the name). Returns a new tool; the original is unchanged.

    ``approvals="sdk"`` makes a call CRA holds for a human a ``needs_approval`` interruption;
    ``"message"`` returns the pending refusal to the model. ``hide_unusable=True`` hides the
    tool from the model while the session may not use the action (``is_enabled``).
    """
    action = action_id or action_id_for(tool.name) or tool.name
    shown = name or tool.name
    _NAMES.add(shown, action)
    fields: Dict[str, Any] = {"name": shown, "on_invoke_tool": _invoker(tool, action, shown, session, resolver)}
    if approvals == "sdk":
        fields["needs_approval"] = _needs_approval(action, session, resolver)
    if hide_unusable:
        fields["is_enabled"] = _enabled(action, session, resolver, tool.is_enabled)
    governed = dataclasses.replace(tool, **fields)
    governed.__dict__["cra_action_id"] = action
    return governed


def _enabled(action_id: str, session: Optional[Session], resolver: Optional[Resolver], before: Any) -> Any:
    async def enabled(run_context: RunContextWrapper[Any], agent: Any) -> bool:
        if before is False:
            return False
        if callable(before):
            ok = before(run_context, agent)
            if hasattr(ok, "__await__"):
                ok = await ok
            if not ok:
                return False
        t = _target(run_context, session, resolver)
        return bool(calls.usable(t, [action_id]))

    return enabled


def governed_function_tool(
    fn: Callable[..., Any],
    action_id: str,
    *,
    name: Optional[str] = None,
    session: Optional[Session] = None,
    resolver: Optional[Resolver] = None,
    approvals: Approvals = "sdk",
    hide_unusable: bool = False,
    **function_tool_options: Any,
) -> FunctionTool:
    """A governed ``FunctionTool`` from a Python function (sync or async; a first parameter
    typed ``RunContextWrapper``/``ToolContext`` is injected by the SDK and never sent to CRA).
    The tool is named after the action (``orders.refund`` -> ``orders_refund``) unless
    ``name`` says otherwise; ``function_tool_options`` go to the SDK's ``function_tool``."""
    if isinstance(fn, _CraGovernedTool):
        raise TypeError("pass the plain function: a cra governed tool would be authorized twice")
    shown = name or tool_name(action_id)
    tool = function_tool(fn, name_override=shown, **function_tool_options)
    return govern_function_tool(tool, action_id, name=shown, session=session, resolver=resolver, approvals=approvals,
                                hide_unusable=hide_unusable)


def govern_tools(
    tools: Mapping[str, Union[FunctionTool, Callable[..., Any]]],
    *,
    session: Optional[Session] = None,
    resolver: Optional[Resolver] = None,
    approvals: Approvals = "sdk",
    hide_unusable: bool = False,
) -> List[Tool]:
    """Governs ``{action_id: FunctionTool or function}``: functions are named after their
    action, existing tools keep their names. The list is what ``Agent(tools=...)`` takes."""
    out: List[Tool] = []
    for action, t in tools.items():
        if isinstance(t, FunctionTool):
            out.append(govern_function_tool(t, action, session=session, resolver=resolver, approvals=approvals,
                                            hide_unusable=hide_unusable))
        else:
            out.append(governed_function_tool(t, action, session=session, resolver=resolver, approvals=approvals,
                                              hide_unusable=hide_unusable))
    return out


# -- approvals ---------------------------------------------------------------------------------


def approval_for(item: ToolApprovalItem, session: Optional[Session] = None) -> Dict[str, Any]:
    """The pending CRA approval of an interrupted call (``approval_id``, ``action_id``,
    ``parameters``, ``policy_id``, ``policy_reason``, ``expires_at``...), to show a human.
    ``LookupError`` when CRA holds no approval for it."""
    t = calls.target(None, session, None)
    name = item.name or ""
    action = action_id_for(name) or name
    params = _arguments(item.arguments)
    for a in t.resolver.approvals(t.session_id):
        if a["action_id"] == action and params is not None and _same(a["parameters"], params):
            return a
    raise LookupError(f"no pending CRA approval for {name} with these arguments in session {t.session_id!r}")


def approve(state: RunState[Any, Any], item: ToolApprovalItem, *, approver: str, reason: Optional[str] = None,
            session: Optional[Session] = None) -> Dict[str, Any]:
    """Approves an interrupted call in CRA (recorded with ``approver``) and in the run state;
    resume with ``Runner.run(agent, state)`` and the call runs, once."""
    t = calls.target(None, session, None)
    decided = t.resolver.approve(approval_for(item, session)["approval_id"], approver=approver, reason=reason)
    state.approve(item)
    return decided


def reject(state: RunState[Any, Any], item: ToolApprovalItem, *, approver: str, reason: Optional[str] = None,
           session: Optional[Session] = None) -> Dict[str, Any]:
    """Rejects an interrupted call in CRA and in the run state; the model is told a human
    rejected it and not to retry."""
    t = calls.target(None, session, None)
    pending = approval_for(item, session)
    decided = t.resolver.reject(pending["approval_id"], approver=approver, reason=reason)
    refusal = Refusal("denied", pending["action_id"], tool=item.name, reason_code="approval_rejected",
                      reason=reason or "rejected", policy_id=pending.get("policy_id"), approval_id=pending["approval_id"])
    state.reject(item, rejection_message=refusal.message)
    return decided
