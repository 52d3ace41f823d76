"""One governed call, shared by governed tools and every integration.

:func:`run` (and :func:`arun` for coroutines) is the whole protocol of a tool call: find the
session (explicit, or bound by a conversation), authorize the call (re-resolving once with the
same request when the session's resolution expired or was forgotten), run the tool only when
authorized, report its result or exception, and tell the observers (OpenTelemetry spans, see
:mod:`cra.integrations.otel`). A refusal raises :class:`~cra.NotAuthorized` (or
:class:`~cra.InvalidParameters`); integrations turn it into a :class:`~cra.Refusal` for the model.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, List, Mapping, NamedTuple, Optional, Protocol, Tuple, TypeVar, Union

from .conversation import _CURRENT, SessionRef
from .errors import ResolutionExpired, ResolutionNotFound, SessionNotBound
from .results import Authorization, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from .governed import Session
    from .resolver import Resolver

__all__ = ["Target", "target", "authorize", "usable", "run", "arun", "CallInfo", "CallObserver", "CallScope", "add_observer", "remove_observer"]

T = TypeVar("T")


class Target(NamedTuple):
    """Where a call is governed: the resolver, the agent and the session."""

    resolver: "Resolver"
    agent: Optional[str]
    session_id: str
    #: The :class:`~cra.Session` object when there is one (its ``resolution`` is kept current).
    session: "Optional[Session]"


def target(resolver: "Optional[Resolver]", session: "Union[str, Session, None]", agent: Optional[str] = None) -> Target:
    """The target of a call: an explicit session (object, or id on ``resolver``), else the
    session bound by the current conversation. :class:`~cra.SessionNotBound` when there is none,
    or when the bound session belongs to another resolver than ``resolver``."""
    if isinstance(session, SessionRef):
        return Target(session.resolver, session.agent, session.session_id, session)
    if session is not None:
        if resolver is None:
            raise TypeError("a session id needs its resolver")
        return Target(resolver, agent, session, None)
    bound = _CURRENT.get()
    if bound is None:
        raise SessionNotBound(
            "no session is bound here: call the tool inside `with resolver.conversation(agent, session_id):` "
            "(or `with cra.bind(session):`), or build it with session=",
            code="SESSION_NOT_BOUND",
        )
    if resolver is not None and bound.resolver is not resolver:
        raise SessionNotBound(
            f"the bound session {bound.session_id!r} belongs to another resolver than this tool's", code="SESSION_NOT_BOUND"
        )
    return Target(bound.resolver, bound.agent, bound.session_id, bound)


def authorize(t: Target, action_id: str, parameters: Mapping[str, Any], idempotency_key: Optional[str] = None) -> Authorization:
    """Authorizes one call against the session's latest resolution. When that resolution
    expired or was forgotten (``RESOLUTION_EXPIRED``/``RESOLUTION_NOT_FOUND``), resolves again
    once with the same request (same goal, risk tier, context...) and asks once more; a session
    never resolved through this resolver raises as before."""
    r = t.resolver
    try:
        return r.authorize(action_id, parameters, session=t.session_id, agent=t.agent, idempotency_key=idempotency_key)
    except (ResolutionExpired, ResolutionNotFound):
        res = r._resolve_again(t.session_id, t.agent)
        if res is None:
            raise
        if t.session is not None:
            t.session.resolution = res
        return r.authorize(action_id, parameters, session=t.session_id, agent=t.agent, idempotency_key=idempotency_key)


#: The fast-path verdicts under which a tool is shown to the model: allowed, or allowed once a
#: human approves the call. Denied, rate-limited-now and unknown actions are not shown.
VISIBLE = frozenset({Verdict.ALLOWED, Verdict.PENDING_APPROVAL})


def usable(t: Target, action_ids: "Iterable[str]") -> List[str]:
    """The actions of ``action_ids`` the session may use now (fast path, nothing consumed or
    recorded), in order. When the session has no live resolution at all it is resolved again
    once with its latest request, as :func:`authorize` does."""
    ids = list(action_ids)
    check = t.resolver.check
    verdicts = [check(t.session_id, a) for a in ids]
    if ids and all(v is Verdict.NO_RESOLUTION for v in verdicts):
        res = t.resolver._resolve_again(t.session_id, t.agent)
        if res is not None:
            if t.session is not None:
                t.session.resolution = res
            verdicts = [check(t.session_id, a) for a in ids]
    return [a for a, v in zip(ids, verdicts) if v in VISIBLE]


# -- observers -------------------------------------------------------------------------------


class CallInfo(NamedTuple):
    """What an observer learns when a governed call begins."""

    action_id: str
    #: The name the model called (the action id when the tool has no other name).
    tool_name: str
    #: The framework's id of this tool call (LangChain tool_call_id, Agents SDK call_id, MCP request id).
    call_id: Optional[str]
    agent: Optional[str]
    session_id: str


class CallScope(Protocol):
    """One observed call: told the authorization answer, then its end."""

    def answered(self, authorization: Authorization) -> None:
        """The execute answer (authorized, denied or pending_approval)."""

    def end(self, error: Optional[BaseException]) -> None:
        """The call is over: ``error`` is the refusal, the tool's exception, or ``None``."""


class CallObserver(Protocol):
    """Something that watches every governed call (OpenTelemetry, metrics...)."""

    def begin(self, info: CallInfo) -> CallScope:
        """A call begins (before authorization); the scope is entered in the caller's context."""


_observers: Tuple[CallObserver, ...] = ()
_observers_lock = threading.Lock()


def add_observer(observer: CallObserver) -> None:
    """Adds an observer of every governed call in this process."""
    global _observers
    with _observers_lock:
        _observers = _observers + (observer,)


def remove_observer(observer: CallObserver) -> None:
    """Removes an observer (no error when it is not there)."""
    global _observers
    with _observers_lock:
        _observers = tuple(o for o in _observers if o is not observer)


class _Scopes:
    __slots__ = ("scopes",)

    def __init__(self, info: CallInfo, observers: Tuple[CallObserver, ...]) -> None:
        self.scopes: List[CallScope] = [o.begin(info) for o in observers]

    def answered(self, auth: Authorization) -> None:
        for s in self.scopes:
            s.answered(auth)

    def end(self, error: Optional[BaseException]) -> None:
        for s in reversed(self.scopes):
            s.end(error)


def _begin(t: Target, action_id: str, tool_name: Optional[str], call_id: Optional[str]) -> Optional[_Scopes]:
    observers = _observers
    if not observers:
        return None
    return _Scopes(CallInfo(action_id, tool_name or action_id, call_id, t.agent, t.session_id), observers)


# -- the call --------------------------------------------------------------------------------


def run(
    t: Target,
    action_id: str,
    parameters: Mapping[str, Any],
    invoke: Callable[[], T],
    *,
    tool_name: Optional[str] = None,
    call_id: Optional[str] = None,
    on_authorized: Optional[Callable[[Authorization], None]] = None,
    report: "Optional[Callable[[T], Tuple[Any, Optional[str]]]]" = None,
) -> T:
    """Authorizes, runs ``invoke()`` when authorized, reports; raises the refusal otherwise.

    ``on_authorized(answer)`` sees every execute answer before it is acted on. ``report(result)``
    may turn the result into what is reported: ``(value, None)`` reports ``value``,
    ``(None, message)`` reports a failure (an MCP result with ``isError``, say)."""
    scope = _begin(t, action_id, tool_name, call_id)
    try:
        auth = _authorized(t, scope, action_id, parameters, on_authorized)
        started = time.perf_counter()
        try:
            result = invoke()
        except BaseException as e:
            t.resolver.report(auth, error=e, duration_ms=(time.perf_counter() - started) * 1e3)
            raise
        _report(t, auth, result, report, (time.perf_counter() - started) * 1e3)
    except BaseException as e:
        if scope is not None:
            scope.end(e)
        raise
    if scope is not None:
        scope.end(None)
    return result


async def arun(
    t: Target,
    action_id: str,
    parameters: Mapping[str, Any],
    invoke: Callable[[], Awaitable[T]],
    *,
    tool_name: Optional[str] = None,
    call_id: Optional[str] = None,
    on_authorized: Optional[Callable[[Authorization], None]] = None,
    report: Optional[Callable[[T], Tuple[Any, Optional[str]]]] = None,
) -> T:
    """:func:`run` for a coroutine."""
    scope = _begin(t, action_id, tool_name, call_id)
    try:
        auth = _authorized(t, scope, action_id, parameters, on_authorized)
        started = time.perf_counter()
        try:
            result = await invoke()
        except BaseException as e:
            t.resolver.report(auth, error=e, duration_ms=(time.perf_counter() - started) * 1e3)
            raise
        _report(t, auth, result, report, (time.perf_counter() - started) * 1e3)
    except BaseException as e:
        if scope is not None:
            scope.end(e)
        raise
    if scope is not None:
        scope.end(None)
    return result


def _authorized(t: Target, scope: Optional[_Scopes], action_id: str, parameters: Mapping[str, Any],
                on_authorized: Optional[Callable[[Authorization], None]]) -> Authorization:
    """The authorization of one call, shown to the scope and ``on_authorized``; raises the refusal."""
    auth = authorize(t, action_id, parameters)
    if scope is not None:
        scope.answered(auth)
    if on_authorized is not None:
        on_authorized(auth)
    if not auth.authorized:
        auth.raise_for_status()
    return auth


def _report(t: Target, auth: Authorization, result: Any, report: "Optional[Callable[[Any], Tuple[Any, Optional[str]]]]", ms: float) -> None:
    if report is None:
        t.resolver.report(auth, result, duration_ms=ms)
        return
    value, failure = report(result)
    if failure is None:
        t.resolver.report(auth, value, duration_ms=ms)
    else:
        t.resolver.report(auth, error=failure, duration_ms=ms)
