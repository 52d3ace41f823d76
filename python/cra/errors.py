"""Exceptions raised by :mod:`cra`.

Every failure of the native library arrives as a :class:`CraError` whose class is chosen by the
stable error ``code`` (the numeric ``status`` of the C ABI). Catch a family to handle a kind of
problem, or :class:`CraError` for all of them::

    try:
        resolver.resolve(agent="bot", session="s1", goal="x", risk_tier="extreme")
    except cra.InvalidRequest as e:
        print(e.code, e.pointer)   # INVALID_REQUEST /task/risk_tier

Families (and the codes they cover):

- :class:`InvalidRequest` (also a :class:`ValueError`): ``INVALID_REQUEST``, ``NULL_ARGUMENT``,
  ``INVALID_UTF8``; subclasses :class:`InvalidConfig` (``INVALID_CONFIG``) and
  :class:`InvalidParameters` (``INVALID_PARAMETERS``).
- :class:`InvalidAtlas` (a :class:`ValueError`): ``INVALID_ATLAS``; ``details`` lists every problem.
- :class:`NotFound` (a :class:`LookupError`): ``ATLAS_NOT_FOUND``, ``RESOLUTION_NOT_FOUND``,
  ``APPROVAL_NOT_FOUND``, ``EXECUTION_NOT_FOUND``, ``SESSION_NOT_FOUND``.
- :class:`StateError`: ``ATLAS_ALREADY_LOADED``, ``RESOLUTION_EXPIRED``, ``APPROVAL_EXPIRED``,
  ``APPROVAL_ALREADY_DECIDED``, ``EXECUTION_ALREADY_REPORTED``, ``SESSION_ENDED``,
  ``RESOLVER_FORKED`` (:class:`ResolverForked`: a resolver inherited through ``os.fork()``).
- :class:`NotAuthorized`: :class:`ActionDenied` (``ACTION_NOT_ALLOWED``), :class:`ApprovalRequired`
  (``APPROVAL_REQUIRED``, carries ``approval_id``), :class:`RateLimited`
  (``RATE_LIMIT_EXCEEDED``). Raised by governed tools and ``Authorization.raise_for_status()``.
- :class:`TraceError`: ``TRACE_CHAIN_INVALID``.
- :class:`CraIOError` (an :class:`OSError`): ``IO_ERROR``; :class:`FlushTimeout` (a
  :class:`TimeoutError`): ``TIMEOUT``.
- :class:`ResolverClosed`: ``CLOSED`` (also raised by Python when a closed resolver is used).
- :class:`InternalError`: ``INTERNAL``; :class:`CraPanic` (``PANIC``: a bug caught at the
  boundary) and :class:`ResolverPoisoned` (``POISONED``: the handle panicked earlier).
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple, Type

__all__ = [
    "ErrorDetail",
    "CraError",
    "InvalidRequest",
    "InvalidConfig",
    "InvalidParameters",
    "InvalidAtlas",
    "NotFound",
    "AtlasNotFound",
    "ResolutionNotFound",
    "ApprovalNotFound",
    "ExecutionNotFound",
    "SessionNotFound",
    "StateError",
    "AtlasAlreadyLoaded",
    "ResolutionExpired",
    "ApprovalExpired",
    "ApprovalAlreadyDecided",
    "ExecutionAlreadyReported",
    "SessionEnded",
    "SessionNotBound",
    "NotAuthorized",
    "ActionDenied",
    "ApprovalRequired",
    "RateLimited",
    "TraceError",
    "CraIOError",
    "FlushTimeout",
    "ResolverClosed",
    "ResolverForked",
    "InternalError",
    "CraPanic",
    "ResolverPoisoned",
    "LimitExceeded",
    "AtlasConflict",
    "ApprovalForbidden",
    "TraceFileLocked",
    "error_class",
]


class ErrorDetail:
    """One problem inside an error (atlas validation reports every problem it found)."""

    __slots__ = ("code", "message", "pointer")

    def __init__(self, code: str, message: str, pointer: Optional[str] = None) -> None:
        self.code = code
        self.message = message
        self.pointer = pointer

    def __repr__(self) -> str:
        return f"ErrorDetail(code={self.code!r}, pointer={self.pointer!r}, message={self.message!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ErrorDetail):
            return NotImplemented
        return (self.code, self.message, self.pointer) == (other.code, other.message, other.pointer)

    def __hash__(self) -> int:
        return hash((self.code, self.message, self.pointer))

    def to_dict(self) -> Dict[str, Any]:
        """The detail as the wire JSON object."""
        d: Dict[str, Any] = {"code": self.code, "message": self.message}
        if self.pointer is not None:
            d["pointer"] = self.pointer
        return d


class CraError(Exception):
    """Base class of every CRA error.

    Attributes:
        code: stable UPPER_SNAKE code, e.g. ``"INVALID_REQUEST"`` (compare codes, never messages).
        status: the numeric status of the C ABI (``100`` for ``INVALID_REQUEST``; ``0`` when the
            error was raised by Python itself).
        message: human message (lowercase, names the offending value).
        pointer: JSON pointer (RFC 6901) of the offending input value, or ``None``.
        details: every problem found, for errors that collect several (atlas validation).
    """

    #: The code used when Python raises the class itself.
    default_code = "INTERNAL"

    def __init__(
        self,
        message: str,
        *,
        code: Optional[str] = None,
        status: int = 0,
        pointer: Optional[str] = None,
        details: Optional[List[ErrorDetail]] = None,
    ) -> None:
        super().__init__(message)
        self.code: str = code or self.default_code
        self.status: int = status
        self.message: str = message
        self.pointer: Optional[str] = pointer
        self.details: List[ErrorDetail] = list(details or [])

    def __str__(self) -> str:
        where = f" at {self.pointer}" if self.pointer else ""
        return f"{self.code}{where}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, pointer={self.pointer!r}, message={self.message!r})"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_rebuild, (type(self), self.to_dict(), self.status))

    def to_dict(self) -> Dict[str, Any]:
        """The error envelope every binding shares: ``{"code", "message", "pointer"?, "details"?}``."""
        d: Dict[str, Any] = {"code": self.code, "message": self.message}
        if self.pointer is not None:
            d["pointer"] = self.pointer
        if self.details:
            d["details"] = [x.to_dict() for x in self.details]
        return d


def _rebuild(cls: Type[CraError], envelope: Mapping[str, Any], status: int) -> CraError:
    return cls(
        str(envelope.get("message", "")),
        code=envelope.get("code"),
        status=status,
        pointer=envelope.get("pointer"),
        details=[ErrorDetail(d["code"], d["message"], d.get("pointer")) for d in envelope.get("details", [])],
    )


class InvalidRequest(CraError, ValueError):
    """The input is malformed: bad JSON, unknown field, wrong type, missing field."""

    default_code = "INVALID_REQUEST"


class InvalidConfig(InvalidRequest):
    """The resolver configuration is malformed."""

    default_code = "INVALID_CONFIG"


class InvalidParameters(InvalidRequest):
    """Tool parameters do not validate against the action's ``parameters_schema``."""

    default_code = "INVALID_PARAMETERS"


class InvalidAtlas(CraError, ValueError):
    """The atlas failed validation; :attr:`details` lists every problem with its pointer."""

    default_code = "INVALID_ATLAS"


class LimitExceeded(CraError, ValueError):
    """An input or a resource exceeds a documented bound (the message names it)."""

    default_code = "LIMIT_EXCEEDED"


class AtlasConflict(InvalidAtlas):
    """The atlas declares an action id that another loaded atlas already owns."""

    default_code = "ATLAS_CONFLICT"


class NotFound(CraError, LookupError):
    """Something named by id does not exist (atlas, resolution, approval, execution, session)."""

    default_code = "NOT_FOUND"


class AtlasNotFound(NotFound):
    """No loaded atlas has that id."""

    default_code = "ATLAS_NOT_FOUND"


class ResolutionNotFound(NotFound):
    """The resolution was never issued by this resolver (or was forgotten)."""

    default_code = "RESOLUTION_NOT_FOUND"


class ApprovalNotFound(NotFound):
    """No approval has that id."""

    default_code = "APPROVAL_NOT_FOUND"


class ExecutionNotFound(NotFound):
    """No execution has that id."""

    default_code = "EXECUTION_NOT_FOUND"


class SessionNotFound(NotFound):
    """No session has that id."""

    default_code = "SESSION_NOT_FOUND"


class StateError(CraError):
    """The thing exists but is in the wrong state (expired, already decided, ended...)."""

    default_code = "STATE_ERROR"


class AtlasAlreadyLoaded(StateError):
    """An atlas with that id is already loaded."""

    default_code = "ATLAS_ALREADY_LOADED"


class ResolutionExpired(StateError):
    """The resolution's TTL has passed: resolve again."""

    default_code = "RESOLUTION_EXPIRED"


class ApprovalExpired(StateError):
    """The approval's time to decide has passed."""

    default_code = "APPROVAL_EXPIRED"


class ApprovalAlreadyDecided(StateError):
    """The approval was already approved or rejected."""

    default_code = "APPROVAL_ALREADY_DECIDED"


class ApprovalForbidden(StateError):
    """The approval needs an approver, and the agent that asked may not approve its own call."""

    default_code = "APPROVAL_FORBIDDEN"


class ResolverForked(StateError):
    """The resolver was created before ``os.fork()``; create a new one in the child.

    Its trace pipeline's thread stayed in the parent, so the child refuses every call on it
    and leaks it (never flushes or frees it)."""

    default_code = "RESOLVER_FORKED"


class TraceFileLocked(StateError):
    """Another resolver or process is writing the trace file."""

    default_code = "TRACE_FILE_LOCKED"


class ExecutionAlreadyReported(StateError):
    """The execution's outcome was already reported."""

    default_code = "EXECUTION_ALREADY_REPORTED"


class SessionEnded(StateError):
    """The session was ended; start a new one."""

    default_code = "SESSION_ENDED"


class SessionNotBound(StateError):
    """A governed tool built without a session was called outside a conversation: bind one
    with ``with resolver.conversation(agent, session_id): ...`` or :func:`cra.bind`. Raised by
    Python (code ``SESSION_NOT_BOUND``); the tool never runs."""

    default_code = "SESSION_NOT_BOUND"


class NotAuthorized(CraError):
    """A tool call was not authorized. Raised by governed tools and
    :meth:`cra.Authorization.raise_for_status`.

    Attributes:
        action_id: the action that was refused.
        reason_code: ``policy_denied``, ``default_deny``, ``not_in_resolution``,
            ``rate_limit_exceeded``, ``approval_required``, ``approval_rejected``,
            ``approval_expired`` or ``no_resolution``.
        policy_id: the policy that decided, when one did.
        approval_id: the approval to wait for (:class:`ApprovalRequired`).
        answer: the whole execute answer (wire JSON), when there was one.
    """

    default_code = "ACTION_NOT_ALLOWED"

    def __init__(
        self,
        message: str,
        *,
        action_id: Optional[str] = None,
        reason_code: Optional[str] = None,
        policy_id: Optional[str] = None,
        approval_id: Optional[str] = None,
        answer: Optional[Mapping[str, Any]] = None,
        code: Optional[str] = None,
        status: int = 0,
        pointer: Optional[str] = None,
        details: Optional[List[ErrorDetail]] = None,
    ) -> None:
        super().__init__(message, code=code, status=status, pointer=pointer, details=details)
        self.action_id = action_id
        self.reason_code = reason_code
        self.policy_id = policy_id
        self.approval_id = approval_id
        self.answer: Dict[str, Any] = dict(answer or {})

    def __reduce__(self) -> Tuple[Any, ...]:
        return (
            _rebuild_denial,
            (type(self), self.message, self.action_id, self.reason_code, self.policy_id, self.approval_id, self.answer),
        )


def _rebuild_denial(
    cls: Type[NotAuthorized],
    message: str,
    action_id: Optional[str],
    reason_code: Optional[str],
    policy_id: Optional[str],
    approval_id: Optional[str],
    answer: Mapping[str, Any],
) -> NotAuthorized:
    return cls(
        message, action_id=action_id, reason_code=reason_code, policy_id=policy_id, approval_id=approval_id, answer=answer
    )


class ActionDenied(NotAuthorized):
    """The action may not run (policy, default deny, rejected or expired approval...)."""

    default_code = "ACTION_NOT_ALLOWED"


class ApprovalRequired(NotAuthorized):
    """The action waits for a human: approve :attr:`approval_id`, then call it again.

    ``approval_id`` is always a ``str`` here (the core names the approval of every call it
    holds for a human), so ``resolver.approve(e.approval_id, approver=...)`` type-checks."""

    default_code = "APPROVAL_REQUIRED"
    #: The approval of this call (action + parameters, in this session).
    approval_id: str

    def __init__(self, message: str, *, approval_id: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(message, approval_id=approval_id, **kwargs)
        self.approval_id = approval_id or ""


class RateLimited(NotAuthorized):
    """A rate limit is exhausted for now."""

    default_code = "RATE_LIMIT_EXCEEDED"


class TraceError(CraError):
    """A trace failed verification (or could not be replayed)."""

    default_code = "TRACE_CHAIN_INVALID"


class CraIOError(CraError, OSError):
    """A file or directory could not be read or written."""

    default_code = "IO_ERROR"


class FlushTimeout(CraError, TimeoutError):
    """A flush did not complete in time."""

    default_code = "TIMEOUT"


class ResolverClosed(CraError):
    """The resolver was closed."""

    default_code = "CLOSED"


class InternalError(CraError):
    """A bug in CRA. Please report it."""

    default_code = "INTERNAL"


class CraPanic(InternalError):
    """A panic inside the native library was caught at the boundary; the resolver it happened
    on is poisoned (make a new one). Other resolvers are unaffected."""

    default_code = "PANIC"


class ResolverPoisoned(CraPanic):
    """The resolver is unusable because an earlier call on it panicked."""

    default_code = "POISONED"


_BY_CODE: Dict[str, Type[CraError]] = {
    "NULL_ARGUMENT": InvalidRequest,
    "INVALID_UTF8": InvalidRequest,
    "POISONED": ResolverPoisoned,
    "INVALID_REQUEST": InvalidRequest,
    "INVALID_CONFIG": InvalidConfig,
    "INVALID_ATLAS": InvalidAtlas,
    "ATLAS_NOT_FOUND": AtlasNotFound,
    "ATLAS_ALREADY_LOADED": AtlasAlreadyLoaded,
    "RESOLUTION_NOT_FOUND": ResolutionNotFound,
    "RESOLUTION_EXPIRED": ResolutionExpired,
    "ACTION_NOT_ALLOWED": ActionDenied,
    "INVALID_PARAMETERS": InvalidParameters,
    "RATE_LIMIT_EXCEEDED": RateLimited,
    "APPROVAL_REQUIRED": ApprovalRequired,
    "APPROVAL_NOT_FOUND": ApprovalNotFound,
    "APPROVAL_EXPIRED": ApprovalExpired,
    "APPROVAL_ALREADY_DECIDED": ApprovalAlreadyDecided,
    "EXECUTION_NOT_FOUND": ExecutionNotFound,
    "EXECUTION_ALREADY_REPORTED": ExecutionAlreadyReported,
    "SESSION_NOT_FOUND": SessionNotFound,
    "SESSION_ENDED": SessionEnded,
    "TRACE_CHAIN_INVALID": TraceError,
    "IO_ERROR": CraIOError,
    "TIMEOUT": FlushTimeout,
    "CLOSED": ResolverClosed,
    "INTERNAL": InternalError,
    "PANIC": CraPanic,
    "LIMIT_EXCEEDED": LimitExceeded,
    "ATLAS_CONFLICT": AtlasConflict,
    "APPROVAL_FORBIDDEN": ApprovalForbidden,
    "RESOLVER_FORKED": ResolverForked,
    "TRACE_FILE_LOCKED": TraceFileLocked,
}


def error_class(code: str) -> Type[CraError]:
    """The exception class for a stable error code (:class:`CraError` for a code this version
    does not know, so new codes from a newer library still raise something catchable)."""
    return _BY_CODE.get(code, CraError)
