"""Exceptions raised by :mod:`cra`.

Every failure of the native library arrives as a :class:`CraError` whose class is chosen by the
stable error ``code`` (the numeric ``status`` of the C ABI). Catch a family to handle a kind of
problem, or :class:`CraError` for all of them::

    try:
        resolver.resolve(agent="bot", session="s1", goal="x", risk_tier="extreme")
    except cra.InvalidRequest as e:
        print(e.code, e.pointer)   # INVALID_REQUEST /task/risk_tier

Families. Every code belongs to one family, the same in every binding (the table is
``conformance/errors.json``, generated from the core; see ``docs/errors.md``). Each family has a
base class; catch it to handle every code of the family:

- :class:`RequestError` (``request``): :class:`InvalidRequest` (a :class:`ValueError`;
  ``INVALID_REQUEST``, and the C ABI's ``NULL_ARGUMENT``, ``INVALID_UTF8``), its subclasses
  :class:`InvalidConfig` (``INVALID_CONFIG``) and :class:`InvalidParameters`
  (``INVALID_PARAMETERS``), and :class:`LimitExceeded` (``LIMIT_EXCEEDED``).
- :class:`AtlasError` (``atlas``): :class:`InvalidAtlas` (``INVALID_ATLAS``; ``details`` lists
  every problem) and its subclass :class:`AtlasConflict`, :class:`AtlasNotFound`,
  :class:`AtlasAlreadyLoaded`.
- :class:`ResolutionError` (``resolution``): :class:`ResolutionNotFound`, :class:`ResolutionExpired`.
- :class:`ActionError` (``action``; the same class as :class:`NotAuthorized`): :class:`ActionDenied`
  (``ACTION_NOT_ALLOWED``), :class:`ApprovalRequired` (``APPROVAL_REQUIRED``, carries
  ``approval_id``), :class:`RateLimited` (``RATE_LIMIT_EXCEEDED``). Raised by governed tools and
  ``Authorization.raise_for_status()``.
- :class:`ApprovalError` (``approval``): :class:`ApprovalNotFound`, :class:`ApprovalExpired`,
  :class:`ApprovalAlreadyDecided`, :class:`ApprovalForbidden`.
- :class:`ExecutionError` (``execution``): :class:`ExecutionNotFound`, :class:`ExecutionAlreadyReported`.
- :class:`SessionError` (``session``): :class:`SessionNotFound`, :class:`SessionEnded` (and
  :class:`SessionNotBound`, raised by Python).
- :class:`TraceError` (``trace``): ``TRACE_CHAIN_INVALID``.
- :class:`CraRuntimeError` (``runtime``): :class:`CraIOError` (an :class:`OSError`; ``IO_ERROR``),
  :class:`FlushTimeout` (a :class:`TimeoutError`; ``TIMEOUT``), :class:`ResolverClosed`
  (``CLOSED``, also raised by Python when a closed resolver is used), :class:`ResolverForked`
  (``RESOLVER_FORKED``: a resolver inherited through ``os.fork()``), :class:`TraceFileLocked`.
- :class:`InternalError` (``internal``): ``INTERNAL``; :class:`CraPanic` (``PANIC``: a bug caught
  at the boundary) and :class:`ResolverPoisoned` (``POISONED``: the handle panicked earlier).

Two groups across families are kept from earlier versions: :class:`NotFound` (a
:class:`LookupError`: every ``*_NOT_FOUND`` code) and :class:`StateError` (the thing exists but
is in the wrong state: expired, already decided or reported, ended, forked, locked). The class of
each code is a subclass of both its family's class and, where it applies, one of these.
Every error's ``family`` attribute names its family.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Tuple, Type

__all__ = [
    "ErrorDetail",
    "CraError",
    "RequestError",
    "AtlasError",
    "ResolutionError",
    "ActionError",
    "ApprovalError",
    "ExecutionError",
    "SessionError",
    "CraRuntimeError",
    "FAMILY_CLASSES",
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
    #: The family of the error's code (``conformance/errors.json``); ``None`` for this base class.
    family: Optional[str] = None

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


class RequestError(CraError):
    """Family ``request``: the input is malformed or too large (request, configuration, parameters)."""

    default_code = "INVALID_REQUEST"
    family = "request"


class AtlasError(CraError):
    """Family ``atlas``: loading, finding or replacing an atlas."""

    default_code = "INVALID_ATLAS"
    family = "atlas"


class ResolutionError(CraError):
    """Family ``resolution``: the resolution named by ``execute`` is unknown or expired."""

    default_code = "RESOLUTION_NOT_FOUND"
    family = "resolution"


class ApprovalError(CraError):
    """Family ``approval``: finding or deciding an approval."""

    default_code = "APPROVAL_NOT_FOUND"
    family = "approval"


class ExecutionError(CraError):
    """Family ``execution``: finding or reporting an execution."""

    default_code = "EXECUTION_NOT_FOUND"
    family = "execution"


class SessionError(CraError):
    """Family ``session``: the session is unknown or ended."""

    default_code = "SESSION_NOT_FOUND"
    family = "session"


class CraRuntimeError(CraError):
    """Family ``runtime``: the host environment and the resolver's lifecycle (files, time,
    close, fork, locks)."""

    default_code = "IO_ERROR"
    family = "runtime"


class InvalidRequest(RequestError, ValueError):
    """The input is malformed: bad JSON, unknown field, wrong type, missing field."""

    default_code = "INVALID_REQUEST"


class InvalidConfig(InvalidRequest):
    """The resolver configuration is malformed."""

    default_code = "INVALID_CONFIG"


class InvalidParameters(InvalidRequest):
    """Tool parameters do not validate against the action's ``parameters_schema``."""

    default_code = "INVALID_PARAMETERS"


class InvalidAtlas(AtlasError, ValueError):
    """The atlas failed validation; :attr:`details` lists every problem with its pointer."""

    default_code = "INVALID_ATLAS"


class LimitExceeded(RequestError, ValueError):
    """An input or a resource exceeds a documented bound (the message names it)."""

    default_code = "LIMIT_EXCEEDED"


class AtlasConflict(InvalidAtlas):
    """The atlas declares an action id that another loaded atlas already owns."""

    default_code = "ATLAS_CONFLICT"


class NotFound(CraError, LookupError):
    """Something named by id does not exist (atlas, resolution, approval, execution, session)."""

    default_code = "NOT_FOUND"


class AtlasNotFound(AtlasError, NotFound):
    """No loaded atlas has that id."""

    default_code = "ATLAS_NOT_FOUND"


class ResolutionNotFound(ResolutionError, NotFound):
    """The resolution was never issued by this resolver (or was forgotten)."""

    default_code = "RESOLUTION_NOT_FOUND"


class ApprovalNotFound(ApprovalError, NotFound):
    """No approval has that id."""

    default_code = "APPROVAL_NOT_FOUND"


class ExecutionNotFound(ExecutionError, NotFound):
    """No execution has that id."""

    default_code = "EXECUTION_NOT_FOUND"


class SessionNotFound(SessionError, NotFound):
    """No session has that id."""

    default_code = "SESSION_NOT_FOUND"


class StateError(CraError):
    """The thing exists but is in the wrong state (expired, already decided, ended...)."""

    default_code = "STATE_ERROR"


class AtlasAlreadyLoaded(AtlasError, StateError):
    """An atlas with that id is already loaded."""

    default_code = "ATLAS_ALREADY_LOADED"


class ResolutionExpired(ResolutionError, StateError):
    """The resolution's TTL has passed: resolve again."""

    default_code = "RESOLUTION_EXPIRED"


class ApprovalExpired(ApprovalError, StateError):
    """The approval's time to decide has passed."""

    default_code = "APPROVAL_EXPIRED"


class ApprovalAlreadyDecided(ApprovalError, StateError):
    """The approval was already approved or rejected."""

    default_code = "APPROVAL_ALREADY_DECIDED"


class ApprovalForbidden(ApprovalError, StateError):
    """The approval needs an approver, and the agent that asked may not approve its own call."""

    default_code = "APPROVAL_FORBIDDEN"


class ResolverForked(CraRuntimeError, StateError):
    """The resolver was created before ``os.fork()``; create a new one in the child.

    Its trace pipeline's thread stayed in the parent, so the child refuses every call on it
    and leaks it (never flushes or frees it)."""

    default_code = "RESOLVER_FORKED"


class TraceFileLocked(CraRuntimeError, StateError):
    """Another resolver or process is writing the trace file."""

    default_code = "TRACE_FILE_LOCKED"


class ExecutionAlreadyReported(ExecutionError, StateError):
    """The execution's outcome was already reported."""

    default_code = "EXECUTION_ALREADY_REPORTED"


class SessionEnded(SessionError, StateError):
    """The session was ended; start a new one."""

    default_code = "SESSION_ENDED"


class SessionNotBound(SessionError, StateError):
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
    family = "action"

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
    """Family ``trace``: a trace failed verification (or could not be replayed)."""

    default_code = "TRACE_CHAIN_INVALID"
    family = "trace"


class CraIOError(CraRuntimeError, OSError):
    """A file or directory could not be read or written."""

    default_code = "IO_ERROR"


class FlushTimeout(CraRuntimeError, TimeoutError):
    """A flush did not complete in time."""

    default_code = "TIMEOUT"


class ResolverClosed(CraRuntimeError):
    """The resolver was closed."""

    default_code = "CLOSED"


class InternalError(CraError):
    """Family ``internal``: a bug in CRA. Please report it."""

    default_code = "INTERNAL"
    family = "internal"


class CraPanic(InternalError):
    """A panic inside the native library was caught at the boundary; the resolver it happened
    on is poisoned (make a new one). Other resolvers are unaffected."""

    default_code = "PANIC"


class ResolverPoisoned(CraPanic):
    """The resolver is unusable because an earlier call on it panicked."""

    default_code = "POISONED"


#: The action family's class under the name every family follows (``<Family>Error``).
ActionError = NotAuthorized

#: The class of each family of ``conformance/errors.json`` (python/tests/test_errors.py checks
#: that every code's class is a subclass of its family's class, and that no code is missing).
FAMILY_CLASSES: Dict[str, Type[CraError]] = {
    "request": RequestError,
    "atlas": AtlasError,
    "resolution": ResolutionError,
    "action": NotAuthorized,
    "approval": ApprovalError,
    "execution": ExecutionError,
    "session": SessionError,
    "trace": TraceError,
    "runtime": CraRuntimeError,
    "internal": InternalError,
}

#: The class of every code of ``conformance/errors.json`` (engine codes and the C ABI's own
#: statuses); checked against the table by python/tests/test_errors.py.
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
