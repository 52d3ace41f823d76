"""Typed views over the answers of the native library.

Each object wraps the wire JSON, parsed once, and exposes it through typed attributes; ``raw`` (or
``to_dict()``) gives the JSON object itself, exactly as every other binding sees it. Attributes
are computed on first use, so a caller who reads only ``decision`` pays for nothing else.
"""

from __future__ import annotations

import enum
import sys
from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

from . import _json
from .errors import ActionDenied, ApprovalRequired, NotAuthorized, RateLimited, error_class

if sys.version_info >= (3, 11):  # pragma: no cover - version dependent
    from typing import NotRequired, TypedDict
else:  # pragma: no cover - version dependent
    from typing_extensions import NotRequired, TypedDict

__all__ = [
    "ContextBlock",
    "AllowedAction",
    "DeniedAction",
    "PendingAction",
    "Constraint",
    "Resolution",
    "Authorization",
    "Verdict",
    "VerifyReport",
    "VerifyErrorEntry",
    "VerifyHead",
    "VerifyTraceSummary",
    "ReplayReport",
    "ReplayChange",
    "AtlasInfo",
]


class ContextBlock(TypedDict):
    """One block of context selected for the agent."""

    block_id: str
    source: str
    pack_id: str
    content_type: str
    content: str
    priority: int
    token_estimate: int


class AllowedAction(TypedDict):
    """An action the agent may run."""

    action_id: str
    atlas_id: str
    name: str
    description: str
    risk_tier: str
    policy_id: Optional[str]
    requires_confirmation: bool
    parameters_schema: NotRequired[Dict[str, Any]]


class DeniedAction(TypedDict):
    """An action the agent may not run, and why."""

    action_id: str
    atlas_id: str
    reason_code: str
    reason: str
    policy_id: Optional[str]


class PendingAction(TypedDict):
    """An action that needs a human approval per call: executing it asks for one."""

    action_id: str
    atlas_id: str
    reason: str
    policy_id: Optional[str]
    #: Always ``None``: approvals are per call (the execute answer names the call's approval).
    approval_id: Optional[str]


class Constraint(TypedDict, total=False):
    """A constraint on an allowed or pending action (rate limit, confirmation, timeout)."""

    type: str
    action_id: str
    policy_id: Optional[str]
    max_calls: int
    window_seconds: int
    per: str
    #: ``timeout`` constraints: the action's time limit in seconds.
    seconds: int


class _View:
    """Shared behaviour: the parsed wire JSON in ``raw``, ``to_dict()``, equality, item access."""

    __slots__ = ("raw",)

    def __init__(self, raw: Dict[str, Any]) -> None:
        self.raw: Dict[str, Any] = raw

    def to_dict(self) -> Dict[str, Any]:
        """The wire JSON object (the same dict as :attr:`raw`; copy it before changing it)."""
        return self.raw

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _View) or type(other) is not type(self):
            return NotImplemented
        return bool(self.raw == other.raw)

    __hash__ = None  # type: ignore[assignment]


_ID_AT = b'{"carp_version":"1.0","resolution_id":"'
_REQUEST_ID = b'","request_id":"'
_TIMESTAMP = b'","timestamp":"'
_DECISION = b'","decision":{"type":"'


def _head(wire: bytes) -> Optional[Tuple[str, str]]:
    """``(resolution_id, decision type)`` read from the head of a resolution as the core writes
    it (fixed key order: ``carp_version``, ``resolution_id``, ``request_id``, ``timestamp``,
    ``decision``), without parsing the rest; ``None`` when the answer does not start that way
    or an id holds an escape, and the caller parses the whole answer instead.

    Inside a JSON string every ``"`` is escaped as ``\\"``, so the separators searched for
    (each a quote, a character other than a backslash, a quote) cannot match inside the
    request id the caller chose: the first match is the key itself.
    """
    if not wire.startswith(_ID_AT):
        return None
    i = len(_ID_AT)
    j = wire.find(b'"', i)
    if j < 0 or not wire.startswith(_REQUEST_ID, j):
        return None
    k = wire.find(_TIMESTAMP, j + len(_REQUEST_ID))
    if k < 0:
        return None
    t = wire.find(b'"', k + len(_TIMESTAMP))
    if t < 0 or not wire.startswith(_DECISION, t):
        return None
    d = t + len(_DECISION)
    e = wire.find(b'"', d)
    rid, decision = wire[i:j], wire[d:e]
    if e < 0 or b"\\" in rid or b"\\" in decision or b"\\" in wire[k:t]:
        return None
    return rid.decode("utf-8"), decision.decode("utf-8")


class Resolution(_View):
    """What an agent may do in a session, and with which context (a CARP resolution).

    >>> res.decision            # "allow" | "deny" | "requires_approval" | "partial"
    >>> res.allowed             # ["orders.lookup", ...]  (action ids)
    >>> "orders.refund" in res  # True when allowed
    >>> res.raw                 # the wire JSON

    Made from the answer's bytes (as :meth:`cra.Resolver.resolve` does), the wire JSON is parsed
    on first use of :attr:`raw` (or of anything read from it); ``resolution_id`` and
    ``decision`` are read from the answer's head without parsing the rest. The parsed object
    is the same either way.
    """

    __slots__ = ("agent_id", "session_id", "_allowed", "_denied", "_pending", "_raw", "_wire", "_head")

    def __init__(
        self, raw: Union[Dict[str, Any], bytes], agent_id: Optional[str] = None, session_id: Optional[str] = None
    ) -> None:
        # not _View.__init__: ``raw`` is a property here, parsed from ``_wire`` when first read
        self._raw: Optional[Dict[str, Any]] = None
        self._wire: Optional[bytes] = None
        self._head: Optional[Tuple[str, str]] = None
        if isinstance(raw, bytes):
            self._wire = raw
            self._head = _head(raw)
        else:
            self._raw = raw
        #: The requester's agent id (known when the request was made from Python).
        self.agent_id = agent_id
        #: The requester's session id (known when the request was made from Python).
        self.session_id = session_id
        self._allowed: Optional[List[str]] = None
        self._denied: Optional[List[str]] = None
        self._pending: Optional[List[str]] = None

    @property
    def raw(self) -> Dict[str, Any]:
        """The wire JSON object (parsed on first use when the resolution was made from bytes)."""
        r = self._raw
        if r is None:
            wire = self._wire
            if wire is None:  # pragma: no cover - another thread parsed it meanwhile (it sets _raw first)
                done = self._raw
                if done is None:
                    raise AttributeError("raw")
                return done
            r = _json.loads(wire)
            if not isinstance(r, dict):
                raise TypeError(f"a resolution is a JSON object, not {type(r).__name__}")
            self._raw = r
            self._wire = None
            self._head = None
        return r

    @raw.setter
    def raw(self, value: Dict[str, Any]) -> None:
        self._raw = value
        self._wire = None
        self._head = None

    @property
    def decision(self) -> str:
        """``allow``, ``deny``, ``requires_approval`` or ``partial``."""
        head = self._head
        if head is not None:
            return head[1]
        return str(self.raw["decision"]["type"])

    @property
    def reason(self) -> str:
        """Human summary of the decision."""
        return str(self.raw["decision"].get("reason") or "")

    @property
    def approval_id(self) -> Optional[str]:
        """The approval covering every pending action, when there are any."""
        v = self.raw["decision"].get("approval_id")
        return None if v is None else str(v)

    @property
    def expires_at(self) -> str:
        """When the resolution stops being usable (RFC 3339)."""
        return str(self.raw["decision"].get("expires_at") or "")

    @property
    def resolution_id(self) -> str:
        """The id to authorize tool calls against."""
        head = self._head
        if head is not None:
            return head[0]
        return str(self.raw["resolution_id"])

    @property
    def request_id(self) -> str:
        """The request's id (filled by CRA when absent)."""
        return str(self.raw["request_id"])

    @property
    def trace_id(self) -> str:
        """The session's trace id."""
        return str(self.raw["trace_id"])

    @property
    def timestamp(self) -> str:
        """When CRA resolved the request (RFC 3339)."""
        return str(self.raw["timestamp"])

    @property
    def ttl_seconds(self) -> int:
        """Lifetime of the resolution."""
        return int(self.raw["ttl_seconds"])

    @property
    def allowed(self) -> List[str]:
        """Ids of the actions the agent may run, in order."""
        if self._allowed is None:
            self._allowed = [a["action_id"] for a in self.raw["allowed_actions"]]
        return self._allowed

    @property
    def denied(self) -> List[str]:
        """Ids of the denied actions."""
        if self._denied is None:
            self._denied = [a["action_id"] for a in self.raw["denied_actions"]]
        return self._denied

    @property
    def pending(self) -> List[str]:
        """Ids of the actions waiting for an approval."""
        if self._pending is None:
            self._pending = [a["action_id"] for a in self.raw.get("pending_actions") or ()]
        return self._pending

    @property
    def allowed_actions(self) -> List[AllowedAction]:
        """The allowed actions with name, description, risk tier and parameters schema."""
        return self.raw["allowed_actions"]  # type: ignore[no-any-return]

    @property
    def denied_actions(self) -> List[DeniedAction]:
        """The denied actions with ``reason_code``, ``reason`` and ``policy_id``."""
        return self.raw["denied_actions"]  # type: ignore[no-any-return]

    @property
    def pending_actions(self) -> List[PendingAction]:
        """The actions waiting for approval."""
        return self.raw.get("pending_actions") or []

    @property
    def context_blocks(self) -> List[ContextBlock]:
        """Context selected for the agent, highest priority first."""
        return self.raw["context_blocks"]  # type: ignore[no-any-return]

    @property
    def constraints(self) -> List[Constraint]:
        """Rate limits, confirmations and timeouts that apply to allowed and pending actions."""
        return self.raw.get("constraints") or []

    @property
    def context(self) -> str:
        """Every context block's content joined by blank lines (ready for a system prompt)."""
        return "\n\n".join(b["content"] for b in self.context_blocks)

    def is_allowed(self, action_id: str) -> bool:
        """True when the resolution allows ``action_id``."""
        return action_id in self.allowed

    def __contains__(self, action_id: object) -> bool:
        return action_id in self.allowed

    def __bool__(self) -> bool:
        """True when at least one action is allowed."""
        return bool(self.raw["allowed_actions"])

    def __repr__(self) -> str:
        return (
            f"Resolution(decision={self.decision!r}, allowed={self.allowed!r}, denied={self.denied!r}, "
            f"pending={self.pending!r}, resolution_id={self.resolution_id!r})"
        )


class Authorization(_View):
    """The answer to ``authorize``/``execute``: may this one tool call run?

    Truthy when authorized. ``raise_for_status()`` turns a refusal into
    :class:`~cra.ActionDenied`, :class:`~cra.ApprovalRequired` or :class:`~cra.RateLimited`.
    """

    __slots__ = ()

    @property
    def status(self) -> str:
        """``authorized``, ``denied`` or ``pending_approval``."""
        return str(self.raw["status"])

    @property
    def authorized(self) -> bool:
        """True when the tool may run now."""
        return bool(self.raw["status"] == "authorized")

    @property
    def execution_id(self) -> Optional[str]:
        """Report the tool's outcome with this id (present when authorized)."""
        return self.raw.get("execution_id")

    @property
    def approval_id(self) -> Optional[str]:
        """The approval to wait for (pending) or that granted the call."""
        return self.raw.get("approval_id")

    @property
    def reason_code(self) -> Optional[str]:
        """Why not authorized (``policy_denied``, ``rate_limit_exceeded``, ``approval_required``...)."""
        return self.raw.get("reason_code")

    @property
    def error_code(self) -> Optional[str]:
        """The error code :meth:`raise_for_status` raises (``ACTION_NOT_ALLOWED``,
        ``RATE_LIMIT_EXCEEDED``, ``APPROVAL_REQUIRED``); ``None`` when authorized. The core
        derives it from ``status`` and ``reason_code``."""
        return self.raw.get("error_code")

    @property
    def reason(self) -> Optional[str]:
        """Human reason."""
        return self.raw.get("reason")

    @property
    def policy_id(self) -> Optional[str]:
        """The policy that decided, when one did."""
        return self.raw.get("policy_id")

    @property
    def action_id(self) -> str:
        """The action asked for."""
        return str(self.raw["action_id"])

    @property
    def resolution_id(self) -> str:
        """The resolution the call was authorized against."""
        return str(self.raw["resolution_id"])

    def error(self) -> Optional[NotAuthorized]:
        """The exception a refusal corresponds to, or ``None`` when authorized."""
        status = self.raw["status"]
        if status == "authorized":
            return None
        action = self.raw.get("action_id")
        why = self.raw.get("reason") or self.raw.get("reason_code") or status
        kw: Dict[str, Any] = {
            "action_id": action,
            "reason_code": self.raw.get("reason_code"),
            "policy_id": self.raw.get("policy_id"),
            "approval_id": self.raw.get("approval_id"),
            "answer": self.raw,
        }
        # The core names the error code of every refusal (the answer's ``error_code``, one
        # mapping in the core: docs/protocol.md "Execute"); the class is the code's class.
        code = self.raw.get("error_code") or "ACTION_NOT_ALLOWED"
        cls = error_class(code)
        if not (isinstance(cls, type) and issubclass(cls, NotAuthorized)):
            cls = ActionDenied
        if cls is ApprovalRequired:
            message = f"{action} needs an approval ({self.raw.get('approval_id')}): {why}"
        elif cls is RateLimited:
            message = f"{action} is rate limited: {why}"
        else:
            message = f"{action} is denied: {why}"
        return cls(message, code=code, **kw)

    def raise_for_status(self) -> "Authorization":
        """Returns ``self`` when authorized; raises the matching :class:`~cra.NotAuthorized` otherwise."""
        e = self.error()
        if e is not None:
            raise e
        return self

    def __bool__(self) -> bool:
        return self.authorized

    def __repr__(self) -> str:
        extra = f", execution_id={self.execution_id!r}" if self.authorized else f", reason_code={self.reason_code!r}"
        return f"Authorization(status={self.status!r}, action_id={self.raw.get('action_id')!r}{extra})"


class Verdict(str, enum.Enum):
    """The fast path's answer (:meth:`cra.Resolver.check`)."""

    ALLOWED = "allowed"
    DENIED = "denied"
    PENDING_APPROVAL = "pending_approval"
    RATE_LIMITED = "rate_limited"
    NO_RESOLUTION = "no_resolution"

    def __str__(self) -> str:
        return str(self.value)


class VerifyErrorEntry(TypedDict):
    """The first failure of one chain in a trace."""

    session_id: Optional[str]
    trace_id: NotRequired[Optional[str]]
    line: int
    sequence: Optional[int]
    code: str
    message: str


class VerifyHead(TypedDict):
    """The last verified event of a chain: where the next event must link."""

    sequence: int
    event_hash: str


class VerifyTraceSummary(TypedDict):
    """One chain of a verified input (listed when ``heads`` is given)."""

    trace_id: str
    session_id: str
    events: int
    first_line: int
    ok: bool
    head: Optional[VerifyHead]
    ended: NotRequired[bool]


class VerifyReport(_View):
    """The result of verifying a TRACE file: truthy when every chain is intact."""

    __slots__ = ()

    @property
    def ok(self) -> bool:
        """True when every line is a valid event and every session's chain is intact."""
        return bool(self.raw["ok"])

    @property
    def events(self) -> int:
        """Lines read."""
        return int(self.raw["events"])

    @property
    def sessions(self) -> int:
        """Distinct sessions seen."""
        return int(self.raw["sessions"])

    @property
    def malformed_lines(self) -> int:
        """Lines that are not valid events."""
        return int(self.raw.get("malformed_lines", 0))

    @property
    def errors(self) -> List[VerifyErrorEntry]:
        """One entry per broken session (its first failure), in line order."""
        return self.raw["errors"]  # type: ignore[no-any-return]

    @property
    def traces(self) -> List[VerifyTraceSummary]:
        """Every chain with its events, first line (0-based), status and new head; listed when
        ``heads`` was given, empty otherwise."""
        return self.raw.get("traces") or []

    def __bool__(self) -> bool:
        return self.ok

    def __iter__(self) -> Iterator[VerifyErrorEntry]:
        return iter(self.errors)

    def __repr__(self) -> str:
        return f"VerifyReport(ok={self.ok}, events={self.events}, sessions={self.sessions}, errors={len(self.errors)})"


class ReplayChange(TypedDict):
    """A recorded request whose outcome would change."""

    request_id: str
    session_id: str
    line: int
    before: Dict[str, Any]
    after: Optional[Dict[str, Any]]
    newly_allowed: List[str]
    no_longer_allowed: List[str]
    error: Optional[str]


class ReplayReport(_View):
    """What replaying a trace against other atlases would change. Truthy when nothing changes."""

    __slots__ = ()

    @property
    def replayed(self) -> int:
        """Resolve requests found and replayed."""
        return int(self.raw["replayed"])

    @property
    def unchanged(self) -> int:
        """Requests whose outcome stays the same."""
        return int(self.raw["unchanged"])

    @property
    def changed(self) -> List[ReplayChange]:
        """Requests whose outcome changes."""
        return self.raw["changed"]  # type: ignore[no-any-return]

    @property
    def skipped_lines(self) -> int:
        """Lines that could not be read as events."""
        return int(self.raw.get("skipped_lines", 0))

    def __bool__(self) -> bool:
        return not self.raw["changed"]

    def __repr__(self) -> str:
        return f"ReplayReport(replayed={self.replayed}, unchanged={self.unchanged}, changed={len(self.changed)})"


class AtlasInfo(_View):
    """What loading an atlas did."""

    __slots__ = ()

    @property
    def atlas_id(self) -> str:
        """The atlas id."""
        return str(self.raw["atlas_id"])

    @property
    def version(self) -> str:
        """The atlas version."""
        return str(self.raw["version"])

    @property
    def actions(self) -> int:
        """Number of actions."""
        return int(self.raw["actions"])

    @property
    def policies(self) -> int:
        """Number of policies."""
        return int(self.raw["policies"])

    @property
    def context_packs(self) -> int:
        """Number of context packs."""
        return int(self.raw["context_packs"])

    @property
    def capabilities(self) -> int:
        """Number of capabilities."""
        return int(self.raw["capabilities"])

    @property
    def replaced(self) -> bool:
        """True when an atlas with the same id was replaced."""
        return bool(self.raw["replaced"])

    def __repr__(self) -> str:
        return (
            f"AtlasInfo(atlas_id={self.atlas_id!r}, version={self.version!r}, actions={self.actions}, "
            f"policies={self.policies}, context_packs={self.context_packs})"
        )
