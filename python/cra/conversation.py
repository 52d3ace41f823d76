"""The conversation lifecycle: tools are built once, each run binds its own agent and session.

Frameworks build tools when the application starts; sessions are per conversation. A governed
tool built without a session finds the session *bound* where it is called (a
:mod:`contextvars` variable, so threads started with a copied context and asyncio tasks see the
binding of the code that started them)::

    @cra.governed("orders.refund")                  # built once, no resolver, no session
    def refund(order_id: str, amount: float) -> dict: ...

    with resolver.conversation("support-bot-1", "conv-42", goal="refund ORD-1234"):
        refund(order_id="ORD-1234", amount=20.0)    # governed in conv-42

Called outside any conversation such a tool raises :class:`~cra.SessionNotBound` and never
runs (fail closed).
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Optional

from .errors import SessionEnded, SessionNotFound
from .results import Resolution

if TYPE_CHECKING:  # pragma: no cover
    from .governed import Session
    from .resolver import Resolver

__all__ = ["bind", "current_session", "SessionRef"]


class SessionRef:
    """What the layers below governed tools (binding, call targets) know of a session: its
    resolver, agent and id, and the latest resolution made through it. :class:`cra.Session`
    is the implementation users get (``resolver.session(...)``); this base lets this module
    and :mod:`cra.calls` recognise one without importing :mod:`cra.governed` (the import graph
    points one way: governed -> calls -> conversation)."""

    __slots__ = ("resolver", "agent", "session_id", "resolution")

    def __init__(self, resolver: "Resolver", agent: str, session_id: str) -> None:
        self.resolver = resolver
        self.agent = agent
        self.session_id = session_id
        #: The latest resolution made through this object (kept current by governed tools
        #: that resolve again after an expiry).
        self.resolution: Optional[Resolution] = None

_CURRENT: "contextvars.ContextVar[Optional[Session]]" = contextvars.ContextVar("cra_session", default=None)


def current_session() -> "Optional[Session]":
    """The session bound here (by :func:`bind` or ``resolver.conversation``), or ``None``."""
    return _CURRENT.get()


class bind:  # noqa: N801 - used like a function: ``with cra.bind(session):``
    """Binds ``session`` as the current session for a ``with`` (or ``async with``) block.

    Args:
        session: the :class:`~cra.Session` (``resolver.session(agent, session_id)``).
        goal: resolve this goal for the session on entry (keywords in ``resolve`` are passed
            on: ``risk_tier=``, ``capabilities=``, ``context=``...). Without it the tools use
            the session's latest resolution made through the resolver.
        end: end the session on exit (``session.ended`` with reason ``ended``, or ``error``
            when the block raised). A conversation that spans several runs leaves it open.

    Bindings nest: leaving a block restores the binding that was current before it. The
    binding is also usable without ``with``: ``b = cra.bind(s); b.enter(); ...; b.exit()``.
    """

    __slots__ = ("session", "_goal", "_resolve", "_end", "_token")

    def __init__(self, session: "Session", *, goal: Optional[str] = None, end: bool = False, **resolve: Any) -> None:
        if not isinstance(session, SessionRef):
            raise TypeError(f"bind() takes a cra.Session (resolver.session(agent, session_id)), not {type(session).__name__}")
        if resolve and goal is None:
            raise TypeError(f"resolve keywords {sorted(resolve)} need goal=")
        self.session = session
        self._goal = goal
        self._resolve = resolve
        self._end = end
        self._token: Optional[contextvars.Token[Optional[Session]]] = None

    def enter(self) -> "Session":
        """Resolves the goal (when given) and binds the session; returns it."""
        if self._token is not None:
            raise RuntimeError("this binding is already entered")
        if self._goal is not None:
            self.session.resolve(self._goal, **self._resolve)
        self._token = _CURRENT.set(self.session)
        return self.session

    def exit(self, error: bool = False) -> None:
        """Restores the previous binding (and ends the session when asked to)."""
        token, self._token = self._token, None
        if token is None:
            return
        _CURRENT.reset(token)
        if self._end and not self.session.resolver.closed:
            try:
                self.session.end("error" if error else "ended")
            except (SessionNotFound, SessionEnded):
                pass  # never resolved, or already ended
            except Exception:  # noqa: BLE001 - never mask the block's exception
                if not error:
                    raise

    def __enter__(self) -> "Session":
        return self.enter()

    def __exit__(self, exc_type: Any, *rest: object) -> None:
        self.exit(exc_type is not None)

    async def __aenter__(self) -> "Session":
        return self.enter()

    async def __aexit__(self, exc_type: Any, *rest: object) -> None:
        self.exit(exc_type is not None)

    def __repr__(self) -> str:
        return f"<cra.bind {self.session!r}{' (entered)' if self._token is not None else ''}>"
