"""Governed tools: authorize before a tool runs, report after, refuse with a clear exception.

An agent framework wraps each tool once; the model only ever sees the tool::

    @cra.tool("orders.refund")                      # built once; the session is bound per run
    def refund(order_id: str, amount: float, reason: str) -> dict:
        return payments.refund(order_id, amount, reason)

    with resolver.conversation("support-bot-1", "session-42", goal="refund ORD-1234"):
        refund(order_id="ORD-1234", amount=20.0, reason="damaged")   # authorized, run, reported
        # ActionDenied / ApprovalRequired(approval_id=...) / RateLimited when not authorized
        refund.call_or_refusal(...)                 # ... or the refusal as a value for the model

A tool may also be bound to one session when built (``session.governed(...)``,
``resolver.governed(..., session=...)``). Async tools (``async def``) are governed the same way.
The governed tool keeps the function's signature (``ParamSpec``): type checkers, IDEs and
frameworks that read signatures see the real parameters.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import sys
import typing
from typing import (TYPE_CHECKING, Any, Awaitable, Callable, Collection, Dict, FrozenSet, Generic, Mapping, Optional,
                    Sequence, Tuple, TypeVar, Union, cast, overload)

from . import calls
from .conversation import SessionRef
from .conversation import bind as _bind
from .errors import SessionEnded, SessionNotFound
from .refusal import REFUSALS, Refusal
from .results import Authorization, Resolution, Verdict

if sys.version_info >= (3, 10):  # pragma: no cover - version dependent
    from typing import ParamSpec
else:  # pragma: no cover - version dependent
    from typing_extensions import ParamSpec

if TYPE_CHECKING:  # pragma: no cover
    from .resolver import Resolver

__all__ = ["GovernedTool", "Session", "govern", "tool", "context_parameters"]

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")
ParametersFn = Callable[..., Mapping[str, Any]]

_NO_SELF: Any = object()
#: Type names of framework context objects (a tool's first parameter typed as one of these is
#: never sent as a parameter): OpenAI Agents SDK, LangChain/LangGraph, MCP servers.
_CONTEXT_TYPES = frozenset({"RunContextWrapper", "ToolContext", "ToolRuntime", "RunnableConfig", "Runtime", "Context",
                            "ServerRequestContext"})
_FRAMEWORKS = frozenset({"agents", "langchain", "langchain_core", "langgraph", "mcp", "fastmcp"})
#: Names distinctive enough to recognize in an annotation that cannot be evaluated.
_DISTINCTIVE = frozenset({"RunContextWrapper", "ToolContext", "ToolRuntime", "RunnableConfig"})


def _is_context_type(ann: Any) -> bool:
    if isinstance(ann, str):
        return ann.strip().strip("'\"").split("[", 1)[0].strip().rsplit(".", 1)[-1] in _DISTINCTIVE
    if typing.get_origin(ann) is typing.Annotated:
        ann = typing.get_args(ann)[0]
    origin = typing.get_origin(ann) or ann
    module = str(getattr(origin, "__module__", "") or "")
    return module.split(".", 1)[0] in _FRAMEWORKS and getattr(origin, "__name__", None) in _CONTEXT_TYPES


def context_parameters(fn: Callable[..., Any]) -> FrozenSet[str]:
    """The parameter of ``fn`` that is a framework context object, as a set of at most one name:
    the first parameter (after ``self``) when annotated as the Agents SDK's ``RunContextWrapper``
    or ``ToolContext``, LangChain's ``RunnableConfig`` or ``ToolRuntime``, LangGraph's
    ``Runtime`` or an MCP server ``Context``. Such objects are not JSON and not the model's
    arguments: governed tools never send them as parameters."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return frozenset()
    if params and params[0].name in ("self", "cls"):
        params = params[1:]
    if not params or params[0].kind not in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD):
        return frozenset()
    first = params[0]
    ann = first.annotation
    if isinstance(ann, str):
        try:
            ann = typing.get_type_hints(fn, include_extras=True).get(first.name, ann)
        except Exception:  # noqa: BLE001 - unresolvable forward references: match the text
            pass
    return frozenset({first.name}) if _is_context_type(ann) else frozenset()


class GovernedTool(Generic[P, R]):
    """A tool function under governance. Call it like the function it wraps.

    Attributes:
        action_id: the action the tool runs.
        name: the name the model knows the tool by (the function's name).
        exclude: parameters never sent to CRA (``exclude=`` and a framework context parameter).
        last_authorization: the :class:`~cra.Authorization` of the most recent call (per tool,
            shared between threads; read it right after a call in single-threaded code).
    """

    __name__: str
    __qualname__: str

    def __init__(
        self,
        resolver: "Optional[Resolver]",
        action_id: str,
        fn: Callable[P, R],
        *,
        session: Union[str, "Session", None] = None,
        agent: Optional[str] = None,
        parameters: Optional[ParametersFn] = None,
        exclude: Collection[str] = (),
        name: Optional[str] = None,
    ) -> None:
        if isinstance(session, str) and resolver is None:
            raise TypeError("a governed tool bound to a session id needs its resolver")
        self.resolver = resolver
        self.action_id = action_id
        self.fn = fn
        self._session = session
        self._agent = agent
        self._parameters = parameters
        self.exclude: FrozenSet[str] = frozenset(exclude) | context_parameters(fn)
        fn_name = getattr(fn, "__name__", None)
        self.name: str = name or (fn_name if fn_name and fn_name != "<lambda>" else action_id)
        self.last_authorization: Optional[Authorization] = None
        sig = inspect.signature(fn)
        self._sig = sig
        simple = all(
            p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY, p.VAR_KEYWORD) for p in sig.parameters.values()
        )
        self._names: Optional[Tuple[str, ...]] = (
            tuple(p.name for p in sig.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD) if simple else None
        )
        self._is_async = inspect.iscoroutinefunction(fn)
        functools.update_wrapper(self, fn)
        if self._is_async:
            # frameworks ask whether a tool is async: answer like the function would
            mark = getattr(inspect, "markcoroutinefunction", None)
            if mark is not None:  # Python 3.12+
                mark(self)
            self._is_coroutine = getattr(asyncio.coroutines, "_is_coroutine", None)

    # -- what the tool is asked to do --------------------------------------------------------

    def parameters_of(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        """The parameters a call is authorized with: the arguments the caller passed, by name
        (defaults are not filled in; excluded and context parameters left out), or what the
        ``parameters`` callable returns."""
        if self._parameters is not None:
            return self._parameters(*args, **kwargs)
        return self._drop(self._by_name(self._names, args, kwargs))

    def _by_name(self, names: Optional[Tuple[str, ...]], args: Sequence[Any], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        if not args:
            return kwargs
        if names is not None and len(args) <= len(names):
            params = dict(zip(names, args))
            params.update(kwargs)
            return params
        bound = self._sig.bind(*args, **kwargs)
        out: Dict[str, Any] = {}
        for pname, value in bound.arguments.items():
            kind = self._sig.parameters[pname].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                out.update(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                out[pname] = list(value)
            else:
                out[pname] = value
        return out

    def _drop(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        ex = self.exclude
        if not ex or not any(k in params for k in ex):
            return params
        return {k: v for k, v in params.items() if k not in ex}

    def _params_for(self, obj: Any, args: Tuple[Any, ...], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        if self._parameters is not None:
            return self._parameters(*args, **kwargs)
        if obj is _NO_SELF:
            return self._drop(self._by_name(self._names, args, kwargs))
        names = self._names[1:] if self._names else None
        if names is None and args:
            first = next(iter(self._sig.parameters))  # the method's self
            return self._drop({k: v for k, v in self._by_name(None, (obj,) + args, kwargs).items() if k != first})
        return self._drop(self._by_name(names, args, kwargs))

    def target(self) -> calls.Target:
        """Where the next call is governed: the tool's session, else the one bound here
        (:class:`~cra.SessionNotBound` when there is none)."""
        return calls.target(self.resolver, self._session, self._agent)

    def authorize(self, *args: P.args, **kwargs: P.kwargs) -> Authorization:
        """Authorizes a call with these arguments without running the tool (the answer is
        returned, never raised; an authorized answer must still be reported)."""
        auth = calls.authorize(self.target(), self.action_id, self.parameters_of(args, kwargs))
        self.last_authorization = auth
        return auth

    def _remember(self, auth: Authorization) -> None:
        self.last_authorization = auth

    # -- calling -----------------------------------------------------------------------------

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._is_async:
            return cast(R, self._acall(_NO_SELF, args, kwargs))
        return self._call(_NO_SELF, args, kwargs)

    def _call(self, obj: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> R:
        params = self._params_for(obj, args, kwargs)
        fn: Callable[..., R] = self.fn
        invoke = (lambda: fn(*args, **kwargs)) if obj is _NO_SELF else (lambda: fn(obj, *args, **kwargs))
        return calls.run(self.target(), self.action_id, params, invoke, tool_name=self.name, on_authorized=self._remember)

    async def _acall(self, obj: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        params = self._params_for(obj, args, kwargs)
        fn: Callable[..., Awaitable[Any]] = cast(Callable[..., Awaitable[Any]], self.fn)
        invoke = (lambda: fn(*args, **kwargs)) if obj is _NO_SELF else (lambda: fn(obj, *args, **kwargs))
        return await calls.arun(self.target(), self.action_id, params, invoke, tool_name=self.name,
                                on_authorized=self._remember)

    def call_or_refusal(self, *args: P.args, **kwargs: P.kwargs) -> Union[R, Refusal]:
        """Calls the tool; a refusal (denied, pending approval, rate limited, invalid
        parameters) comes back as a :class:`~cra.Refusal` to hand to the model instead of an
        exception. Other errors still raise. Async tools: :meth:`acall_or_refusal`."""
        if self._is_async:
            raise TypeError(f"{self.name} is async: use `await tool.acall_or_refusal(...)`")
        try:
            return self._call(_NO_SELF, args, kwargs)
        except REFUSALS as e:
            return Refusal.from_error(e, tool=self.name)

    async def acall_or_refusal(self: "GovernedTool[P, Awaitable[T]]", *args: P.args, **kwargs: P.kwargs) -> Union[T, Refusal]:
        """:meth:`call_or_refusal` for ``async def`` tools."""
        try:
            result: T = await self._acall(_NO_SELF, args, kwargs)
            return result
        except REFUSALS as e:
            return Refusal.from_error(e, tool=self.name)

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """Governed methods: bind like a function (``self`` is not sent as a parameter)."""
        if obj is None:
            return self
        return functools.partial(self._call_bound, obj)

    def _call_bound(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        if self._is_async:
            return self._acall(obj, args, kwargs)
        return self._call(obj, args, kwargs)

    def __repr__(self) -> str:
        return f"<governed {self.action_id} {getattr(self.fn, '__qualname__', self.fn)!r}>"


@overload
def govern(resolver: "Optional[Resolver]", action_id: str, fn: Callable[P, R], *, session: Union[str, "Session", None] = ...,
           agent: Optional[str] = ..., parameters: Optional[ParametersFn] = ..., exclude: Collection[str] = ...,
           name: Optional[str] = ...) -> GovernedTool[P, R]: ...


@overload
def govern(resolver: "Optional[Resolver]", action_id: str, fn: None = ..., *, session: Union[str, "Session", None] = ...,
           agent: Optional[str] = ..., parameters: Optional[ParametersFn] = ..., exclude: Collection[str] = ...,
           name: Optional[str] = ...) -> Callable[[Callable[P, R]], GovernedTool[P, R]]: ...


def govern(
    resolver: "Optional[Resolver]",
    action_id: str,
    fn: Optional[Callable[P, R]] = None,
    *,
    session: Union[str, "Session", None] = None,
    agent: Optional[str] = None,
    parameters: Optional[ParametersFn] = None,
    exclude: Collection[str] = (),
    name: Optional[str] = None,
) -> Union[GovernedTool[P, R], Callable[[Callable[P, R]], GovernedTool[P, R]]]:
    """Governs ``fn`` (or, without ``fn``, returns a decorator). See :class:`GovernedTool`.
    Without ``session`` the tool is governed in the session bound where it is called."""

    def wrap(f: Callable[P, R]) -> GovernedTool[P, R]:
        return GovernedTool(resolver, action_id, f, session=session, agent=agent, parameters=parameters,
                            exclude=exclude, name=name)

    return wrap if fn is None else wrap(fn)


@overload
def tool(action_id: str, fn: Callable[P, R], *, parameters: Optional[ParametersFn] = ..., exclude: Collection[str] = ...,
         name: Optional[str] = ...) -> GovernedTool[P, R]: ...


@overload
def tool(action_id: str, fn: None = ..., *, parameters: Optional[ParametersFn] = ..., exclude: Collection[str] = ...,
         name: Optional[str] = ...) -> Callable[[Callable[P, R]], GovernedTool[P, R]]: ...


def tool(
    action_id: str,
    fn: Optional[Callable[P, R]] = None,
    *,
    parameters: Optional[ParametersFn] = None,
    exclude: Collection[str] = (),
    name: Optional[str] = None,
) -> Union[GovernedTool[P, R], Callable[[Callable[P, R]], GovernedTool[P, R]]]:
    """A governed tool built once, governed in the session bound where it is called
    (``with resolver.conversation(agent, session_id):`` or :func:`cra.bind`)::

        @cra.tool("orders.refund")
        def refund(order_id: str, amount: float) -> dict: ...
    """
    if fn is None:
        return govern(None, action_id, parameters=parameters, exclude=exclude, name=name)
    return govern(None, action_id, fn, parameters=parameters, exclude=exclude, name=name)


class Session(SessionRef):
    """An agent's session on a resolver: resolve, authorize and govern tools without naming
    the agent and session each time. As a context manager it ends the session on exit.

    >>> with resolver.session("support-bot-1", "session-42") as s:
    ...     s.resolve("refund ORD-1234", risk_tier="medium")
    ...     refund = s.governed("orders.refund", refund_impl)
    """

    __slots__ = ()
    # resolver, agent, session_id and resolution: see SessionRef (cra.conversation)

    def resolve(self, goal: str, **kwargs: Any) -> Resolution:
        """Resolves a task for this session (keywords as :meth:`cra.Resolver.resolve`)."""
        res = self.resolver.resolve(agent=self.agent, session=self.session_id, goal=goal, **kwargs)
        self.resolution = res
        return res

    def authorize(self, action_id: str, parameters: Optional[Mapping[str, Any]] = None, **kwargs: Any) -> Authorization:
        """Authorizes one call against the session's latest resolution."""
        return self.resolver.authorize(action_id, parameters, session=self.session_id, agent=self.agent, **kwargs)

    def check(self, action_id: str) -> Verdict:
        """The fast path for this session."""
        return self.resolver.check(self.session_id, action_id)

    def allowed(self, action_id: str) -> bool:
        """True when the fast path allows ``action_id`` now."""
        return self.resolver.allowed(self.session_id, action_id)

    def bind(self, *, goal: Optional[str] = None, end: bool = False, **resolve: Any) -> "_bind":
        """Binds this session as the current one for a ``with`` block (see :func:`cra.bind`)."""
        return _bind(self, goal=goal, end=end, **resolve)

    @overload
    def governed(self, action_id: str, fn: Callable[P, R], *, parameters: Optional[ParametersFn] = ...,
                 exclude: Collection[str] = ..., name: Optional[str] = ...) -> GovernedTool[P, R]: ...

    @overload
    def governed(self, action_id: str, fn: None = ..., *, parameters: Optional[ParametersFn] = ...,
                 exclude: Collection[str] = ..., name: Optional[str] = ...) -> Callable[[Callable[P, R]], GovernedTool[P, R]]: ...

    def governed(
        self,
        action_id: str,
        fn: Optional[Callable[P, R]] = None,
        *,
        parameters: Optional[ParametersFn] = None,
        exclude: Collection[str] = (),
        name: Optional[str] = None,
    ) -> Union[GovernedTool[P, R], Callable[[Callable[P, R]], GovernedTool[P, R]]]:
        """Governs a tool for this session (decorator or direct call); see :class:`GovernedTool`."""
        if fn is None:
            return govern(self.resolver, action_id, session=self, parameters=parameters, exclude=exclude, name=name)
        return govern(self.resolver, action_id, fn, session=self, parameters=parameters, exclude=exclude, name=name)

    def end(self, reason: Optional[str] = None) -> Dict[str, Any]:
        """Ends the session."""
        return self.resolver.end_session(self.session_id, reason)

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, exc_type: Any, *rest: object) -> None:
        if self.resolver.closed:
            return
        try:
            self.end("ended" if exc_type is None else "error")
        except (SessionNotFound, SessionEnded):
            pass  # never resolved, or already ended
        except Exception:  # noqa: BLE001 - never mask the body's exception
            if exc_type is None:
                raise

    def __repr__(self) -> str:
        return f"<cra.Session agent={self.agent!r} session={self.session_id!r}>"
