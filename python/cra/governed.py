"""Governed tools: authorize before a tool runs, report after, refuse with a clear exception.

An agent framework wraps each tool once; the model only ever sees the tool::

    session = resolver.session("support-bot-1", "session-42")
    session.resolve("customer wants a refund for ORD-1234")

    @session.governed("orders.refund")
    def refund(order_id: str, amount: float, reason: str) -> dict:
        return payments.refund(order_id, amount, reason)

    refund(order_id="ORD-1234", amount=20.0, reason="damaged")   # authorized, run, reported
    # ActionDenied / ApprovalRequired(approval_id=...) / RateLimited when not authorized

Async tools (``async def``) are governed the same way.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import time
from typing import TYPE_CHECKING, Any, Callable, Dict, Generic, Mapping, Optional, Sequence, Tuple, TypeVar, Union, overload

from .errors import SessionEnded, SessionNotFound
from .results import Authorization, Resolution, Verdict

if TYPE_CHECKING:  # pragma: no cover
    from .resolver import Resolver

__all__ = ["GovernedTool", "Session", "govern"]

F = TypeVar("F", bound=Callable[..., Any])


class GovernedTool(Generic[F]):
    """A tool function under governance. Call it like the function it wraps.

    Attributes:
        action_id: the action the tool runs.
        last_authorization: the :class:`~cra.Authorization` of the most recent call (per tool,
            shared between threads; read it right after a call in single-threaded code).
    """

    __name__: str
    __qualname__: str

    def __init__(
        self,
        resolver: "Resolver",
        action_id: str,
        fn: F,
        *,
        session: Union[str, "Session"],
        agent: Optional[str] = None,
        parameters: Optional[Callable[..., Mapping[str, Any]]] = None,
    ) -> None:
        self.resolver = resolver
        self.action_id = action_id
        self.fn = fn
        self._session = session
        self._agent = agent
        self._parameters = parameters
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
        (defaults are not filled in), or what the ``parameters`` callable returns."""
        if self._parameters is not None:
            return self._parameters(*args, **kwargs)
        if not args:
            return kwargs
        names = self._names
        if names is not None and len(args) <= len(names):
            params = dict(zip(names, args))
            params.update(kwargs)
            return params
        bound = self._sig.bind(*args, **kwargs)
        out: Dict[str, Any] = {}
        for name, value in bound.arguments.items():
            kind = self._sig.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                out.update(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                out[name] = list(value)
            else:
                out[name] = value
        return out

    def authorize(self, *args: Any, **kwargs: Any) -> Authorization:
        """Authorizes a call with these arguments without running the tool (the answer is
        returned, never raised; an authorized answer must still be reported)."""
        return self._authorize(self.parameters_of(args, kwargs))

    def _authorize(self, params: Mapping[str, Any]) -> Authorization:
        s = self._session
        if isinstance(s, Session):
            auth = self.resolver.authorize(self.action_id, params, session=s.session_id, agent=s.agent)
        else:
            auth = self.resolver.authorize(self.action_id, params, session=s, agent=self._agent)
        self.last_authorization = auth
        return auth

    # -- calling -----------------------------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._is_async:
            return self._acall(args, kwargs)
        auth = self._authorize(self.parameters_of(args, kwargs))
        if not auth.authorized:
            auth.raise_for_status()
        started = time.perf_counter()
        try:
            result = self.fn(*args, **kwargs)
        except BaseException as e:
            self.resolver.report(auth, error=e, duration_ms=(time.perf_counter() - started) * 1e3)
            raise
        self.resolver.report(auth, result, duration_ms=(time.perf_counter() - started) * 1e3)
        return result

    async def _acall(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        auth = self._authorize(self.parameters_of(args, kwargs))
        if not auth.authorized:
            auth.raise_for_status()
        started = time.perf_counter()
        try:
            result = await self.fn(*args, **kwargs)
        except BaseException as e:
            self.resolver.report(auth, error=e, duration_ms=(time.perf_counter() - started) * 1e3)
            raise
        self.resolver.report(auth, result, duration_ms=(time.perf_counter() - started) * 1e3)
        return result

    def __get__(self, obj: Any, objtype: Any = None) -> Any:
        """Governed methods: bind like a function (``self`` is not sent as a parameter)."""
        if obj is None:
            return self
        return functools.partial(self._call_bound, obj)

    def _call_bound(self, obj: Any, *args: Any, **kwargs: Any) -> Any:
        params = self._parameters(*args, **kwargs) if self._parameters is not None else self._bound_params(args, kwargs)
        if self._is_async:
            return self._acall_bound(obj, params, args, kwargs)
        auth = self._authorize(params)
        if not auth.authorized:
            auth.raise_for_status()
        started = time.perf_counter()
        try:
            result = self.fn(obj, *args, **kwargs)
        except BaseException as e:
            self.resolver.report(auth, error=e, duration_ms=(time.perf_counter() - started) * 1e3)
            raise
        self.resolver.report(auth, result, duration_ms=(time.perf_counter() - started) * 1e3)
        return result

    async def _acall_bound(self, obj: Any, params: Mapping[str, Any], args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Any:
        auth = self._authorize(params)
        if not auth.authorized:
            auth.raise_for_status()
        started = time.perf_counter()
        try:
            result = await self.fn(obj, *args, **kwargs)
        except BaseException as e:
            self.resolver.report(auth, error=e, duration_ms=(time.perf_counter() - started) * 1e3)
            raise
        self.resolver.report(auth, result, duration_ms=(time.perf_counter() - started) * 1e3)
        return result

    def _bound_params(self, args: Tuple[Any, ...], kwargs: Mapping[str, Any]) -> Mapping[str, Any]:
        names = self._names[1:] if self._names else None
        if not args:
            return kwargs
        if names is not None and len(args) <= len(names):
            params = dict(zip(names, args))
            params.update(kwargs)
            return params
        return self.parameters_of((None,) + tuple(args), kwargs)

    def __repr__(self) -> str:
        return f"<governed {self.action_id} {getattr(self.fn, '__qualname__', self.fn)!r}>"


@overload
def govern(resolver: "Resolver", action_id: str, fn: F, *, session: Union[str, "Session"], agent: Optional[str] = ...,
           parameters: Optional[Callable[..., Mapping[str, Any]]] = ...) -> GovernedTool[F]: ...


@overload
def govern(resolver: "Resolver", action_id: str, fn: None = ..., *, session: Union[str, "Session"],
           agent: Optional[str] = ...,
           parameters: Optional[Callable[..., Mapping[str, Any]]] = ...) -> Callable[[F], GovernedTool[F]]: ...


def govern(
    resolver: "Resolver",
    action_id: str,
    fn: Optional[F] = None,
    *,
    session: Union[str, "Session"],
    agent: Optional[str] = None,
    parameters: Optional[Callable[..., Mapping[str, Any]]] = None,
) -> Union[GovernedTool[F], Callable[[F], GovernedTool[F]]]:
    """Governs ``fn`` (or, without ``fn``, returns a decorator). See :class:`GovernedTool`."""

    def wrap(f: F) -> GovernedTool[F]:
        return GovernedTool(resolver, action_id, f, session=session, agent=agent, parameters=parameters)

    return wrap if fn is None else wrap(fn)


class Session:
    """An agent's session on a resolver: resolve, authorize and govern tools without naming
    the agent and session each time. As a context manager it ends the session on exit.

    >>> with resolver.session("support-bot-1", "session-42") as s:
    ...     s.resolve("refund ORD-1234", risk_tier="medium")
    ...     refund = s.governed("orders.refund", refund_impl)
    """

    __slots__ = ("resolver", "agent", "session_id", "resolution")

    def __init__(self, resolver: "Resolver", agent: str, session_id: str) -> None:
        self.resolver = resolver
        self.agent = agent
        self.session_id = session_id
        #: The latest resolution made through this object.
        self.resolution: Optional[Resolution] = None

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

    @overload
    def governed(self, action_id: str, fn: F, *,
                 parameters: Optional[Callable[..., Mapping[str, Any]]] = ...) -> GovernedTool[F]: ...

    @overload
    def governed(self, action_id: str, fn: None = ..., *,
                 parameters: Optional[Callable[..., Mapping[str, Any]]] = ...) -> Callable[[F], GovernedTool[F]]: ...

    def governed(
        self,
        action_id: str,
        fn: Optional[F] = None,
        *,
        parameters: Optional[Callable[..., Mapping[str, Any]]] = None,
    ) -> Union[GovernedTool[F], Callable[[F], GovernedTool[F]]]:
        """Governs a tool for this session (decorator or direct call); see :class:`GovernedTool`."""
        if fn is None:
            return govern(self.resolver, action_id, session=self, parameters=parameters)
        return govern(self.resolver, action_id, fn, session=self, parameters=parameters)

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
