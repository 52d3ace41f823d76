"""A governing MCP proxy: in front of any MCP server, CRA decides which tools a client sees and
which calls reach the server.

``cra mcp-proxy --atlas DIR --agent A --trace t.jsonl -- <server command ...>`` (see
:mod:`cra.integrations.mcp_cli`), or from Python::

    proxy = GoverningProxy(session, upstream_client, names={"lookup": "orders.lookup"})
    server = proxy.server()          # an mcp low-level Server: run it on any transport

- ``tools/list`` shows only the upstream tools whose action the session may use now (allowed,
  or allowed once a human approves the call); tools that map to no action are hidden.
- ``tools/call`` is authorized (arguments validated against the action's schema) before it is
  forwarded, and its result reported after (``isError`` results as failures).
- A refusal is a tool result with ``isError: true``, the reason as text and the refusal in
  ``_meta["cra/refusal"]``; the server never sees the call.
- A call that needs approval asks the human through MCP elicitation when the client supports
  it (``elicitation/create`` on handshake-era connections, an ``InputRequiredResult`` on
  2026-07-28 ones); accepting approves it in CRA (recorded with the approver) and the call is
  forwarded, once. Otherwise the result names the approval id and says to wait.

Tool names map to action ids through ``names`` (``--map``/config), else the name itself when it
is an action id in scope, else the action whose tool name (``orders.lookup`` -> ``orders_lookup``)
it is.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Union

import mcp_types as types
from mcp import Client
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from .. import calls
from ..errors import ApprovalAlreadyDecided, ApprovalRequired
from ..governed import Session
from ..refusal import REFUSALS, Refusal
from ._names import tool_name

__all__ = ["GoverningProxy", "APPROVAL_KEY", "APPROVAL_SCHEMA"]

#: The key of CRA's approval request in an ``InputRequiredResult``.
APPROVAL_KEY = "cra_approval"
#: The elicitation form: approve or not, and who decides.
APPROVAL_SCHEMA: Dict[str, Any] = {
    "type": "object",
    "properties": {
        "approve": {"type": "boolean", "title": "Approve this call", "description": "Let the call run once"},
        "approver": {"type": "string", "title": "Your name", "description": "Recorded in the audit trail"},
    },
    "required": ["approve"],
}

CallResult = Union[types.CallToolResult, types.InputRequiredResult]


class GoverningProxy:
    """The proxy's handlers for one CRA session in front of one upstream MCP client.

    Args:
        session: the CRA session every call is governed in (resolved before serving).
        upstream: an entered :class:`mcp.Client` connected to the real server.
        names: tool name -> action id, for names that are neither.
        elicitation: ask for approvals through MCP elicitation when the client supports it.
        approver: recorded as the approver when the form names nobody (never the agent).
    """

    def __init__(self, session: Session, upstream: Client, *, names: Optional[Mapping[str, str]] = None,
                 elicitation: bool = True, approver: str = "mcp-client-user", name: str = "cra-mcp-proxy") -> None:
        self.session = session
        self.upstream = upstream
        self.names = dict(names or {})
        self.elicitation = elicitation
        self.approver = approver
        self.name = name

    def server(self) -> Server[Any]:
        """A low-level MCP server with the governing ``tools/list`` and ``tools/call``."""
        return Server(self.name, on_list_tools=self.list_tools, on_call_tool=self.call_tool)

    # -- mapping -----------------------------------------------------------------------------

    def _scope(self) -> List[str]:
        res = self.session.resolution
        if res is None:
            return []
        return res.allowed + res.pending + res.denied

    def action_for(self, name: str) -> Optional[str]:
        """The action a tool name stands for, or ``None`` (hidden and refused)."""
        if name in self.names:
            return self.names[name]
        scope = self._scope()
        if name in scope:
            return name
        for action in scope:
            if tool_name(action) == name:
                return action
        return None

    def _target(self) -> calls.Target:
        return calls.target(None, self.session, None)

    # -- tools/list --------------------------------------------------------------------------

    async def _upstream_tools(self) -> List[types.Tool]:
        tools: List[types.Tool] = []
        cursor: Optional[str] = None
        for _ in range(1000):
            page = await self.upstream.list_tools(cursor=cursor)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    async def list_tools(self, ctx: ServerRequestContext[Any], params: Optional[types.PaginatedRequestParams]
                         ) -> types.ListToolsResult:
        """The upstream tools this session may use now, unchanged."""
        tools = await self._upstream_tools()
        t = self._target()
        usable = set(calls.usable(t, [a for a in self._scope()]))  # re-resolves an expired session first
        return types.ListToolsResult(tools=[x for x in tools if self.action_for(x.name) in usable])

    # -- tools/call --------------------------------------------------------------------------

    async def call_tool(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams) -> CallResult:
        """Authorize, forward, report; refusals and approvals as described in the module."""
        name = params.name
        arguments = dict(params.arguments or {})
        action = self.action_for(name)
        if action is None:
            return _refused(Refusal("denied", name, tool=name, reason_code="default_deny",
                                    reason="no action of the loaded atlases stands for this tool"))
        try:
            try:
                return await self._forward(ctx, name, action, arguments)
            except ApprovalRequired as e:
                asked = await self._ask(ctx, params, name, arguments, e)
                if asked is not None:
                    return asked
                return await self._forward(ctx, name, action, arguments)
        except REFUSALS as e:
            return _refused(Refusal.from_error(e, tool=name))

    async def _forward(self, ctx: ServerRequestContext[Any], name: str, action: str, arguments: Dict[str, Any]
                       ) -> types.CallToolResult:
        async def invoke() -> types.CallToolResult:
            return await self.upstream.call_tool(name, arguments)

        return await calls.arun(self._target(), action, arguments, invoke, tool_name=name,
                                call_id=None if ctx.request_id is None else str(ctx.request_id), report=_reported)

    # -- approvals ---------------------------------------------------------------------------

    def _can_elicit(self, ctx: ServerRequestContext[Any]) -> bool:
        if not self.elicitation:
            return False
        caps = ctx.session.client_capabilities
        return caps is not None and caps.elicitation is not None

    async def _ask(self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams, name: str,
                   arguments: Dict[str, Any], e: ApprovalRequired) -> Optional[CallResult]:
        """Asks the human; ``None`` when the approval was granted (forward the call), else the
        result to return (the form, the rejection, or the pending refusal)."""
        if not self._can_elicit(ctx):
            raise e
        message = (f"The agent asks to call {name} with {json.dumps(arguments, ensure_ascii=False, sort_keys=True)}. "
                   f"CRA holds it for a human: {e.answer.get('reason') or 'approval required'}"
                   f"{' (policy ' + e.policy_id + ')' if e.policy_id else ''}. Approval {e.approval_id}.")
        if ctx.protocol_version in MODERN_PROTOCOL_VERSIONS:
            answer = (params.input_responses or {}).get(APPROVAL_KEY)
            if not isinstance(answer, types.ElicitResult) or params.request_state != e.approval_id:
                form = types.ElicitRequest(params=types.ElicitRequestFormParams(message=message,
                                                                                requested_schema=APPROVAL_SCHEMA))
                return types.InputRequiredResult(input_requests={APPROVAL_KEY: form}, request_state=e.approval_id)
        else:
            answer = await ctx.session.elicit_form(message, APPROVAL_SCHEMA, related_request_id=ctx.request_id)
        return self._decide(e, answer, name)

    def _decide(self, e: ApprovalRequired, answer: types.ElicitResult, name: str) -> Optional[CallResult]:
        content = answer.content or {}
        if answer.action == "cancel":
            raise e  # undecided: the call stays pending
        who = content.get("approver")
        approver = who.strip() if isinstance(who, str) and who.strip() else self.approver
        r = self.session.resolver
        try:
            if answer.action == "accept" and content.get("approve") is True:
                r.approve(e.approval_id, approver=approver, reason="approved through MCP elicitation")
                return None
            r.reject(e.approval_id, approver=approver, reason="declined through MCP elicitation")
        except ApprovalAlreadyDecided:
            return None  # decided meanwhile: the next authorization says how
        return _refused(Refusal("denied", e.action_id, tool=name, reason_code="approval_rejected",
                                reason="declined", policy_id=e.policy_id, approval_id=e.approval_id))


def _reported(result: types.CallToolResult) -> "tuple[Any, Optional[str]]":
    """What CRA records for an upstream result: the result, or its text as a failure."""
    if result.is_error:
        text = " ".join(c.text for c in result.content if isinstance(c, types.TextContent)) or "the tool reported an error"
        return None, text
    return result.model_dump(mode="json", by_alias=True, exclude_none=True), None


def _refused(refusal: Refusal) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(type="text", text=refusal.message)], is_error=True,
                                _meta={"cra/refusal": refusal.to_dict()})
