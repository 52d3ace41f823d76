"""Refusals as values: what a framework hands back to the model when CRA does not let a call run.

An agent framework must not crash its loop because a call was refused, and a model that reads
"an error occurred, please try again" retries a forbidden call. A :class:`Refusal` says what
happened and what to do, in one line the model can act on::

    refusal = cra.Refusal.from_error(exc, tool="refund")
    str(refusal)
    # 'refund denied by policy deny-account-deletion: account deletion is handled by the
    #  privacy team, not by agents. Do not retry this call.'

Invalid parameters are refusals too (the model sent arguments the action's schema rejects), with
the opposite advice: correct the arguments and call again.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from .errors import ApprovalRequired, CraError, InvalidParameters, NotAuthorized, RateLimited

__all__ = ["Refusal", "REFUSALS"]

#: The exceptions a governed call turns into a :class:`Refusal` (anything else is a fault of the
#: host program and propagates: a closed resolver, an ended session, an unbound tool...).
REFUSALS = (NotAuthorized, InvalidParameters)

_PARAMETERS = "/execution/parameters"


class Refusal:
    """A call CRA did not let run, as a value.

    Attributes:
        kind: ``denied``, ``rate_limited``, ``pending_approval`` or ``invalid_parameters``.
        action_id: the action asked for.
        tool: the name the model knows the tool by (the action id unless given).
        reason_code: ``policy_denied``, ``default_deny``, ``approval_required``,
            ``approval_rejected``, ``rate_limit_exceeded``, ``INVALID_PARAMETERS``...
        reason: the human reason (the policy's, or the schema error).
        policy_id: the deciding policy, when one did.
        approval_id: the approval of this call (``pending_approval``, ``approval_rejected``).
        pointer: for invalid parameters, the offending value inside the arguments (``/amount``).
        retry: whether calling again can help: only with corrected arguments.
        message: the line for the model (also ``str(refusal)``).
    """

    __slots__ = ("kind", "action_id", "tool", "reason_code", "reason", "policy_id", "approval_id", "pointer", "message")

    def __init__(
        self,
        kind: str,
        action_id: Optional[str],
        *,
        tool: Optional[str] = None,
        reason_code: Optional[str] = None,
        reason: str = "",
        policy_id: Optional[str] = None,
        approval_id: Optional[str] = None,
        pointer: Optional[str] = None,
    ) -> None:
        self.kind = kind
        self.action_id = action_id
        self.tool = tool or action_id or "this tool"
        self.reason_code = reason_code
        self.reason = reason
        self.policy_id = policy_id
        self.approval_id = approval_id
        self.pointer = pointer
        self.message = self._message()

    @property
    def retry(self) -> bool:
        """True only for invalid parameters (call again with corrected arguments)."""
        return self.kind == "invalid_parameters"

    @classmethod
    def from_error(cls, error: CraError, *, tool: Optional[str] = None) -> "Refusal":
        """The refusal an exception of :data:`REFUSALS` stands for. ``TypeError`` for any other
        error: those are faults of the host program, never something to show the model."""
        if isinstance(error, InvalidParameters):
            pointer = error.pointer or ""
            if pointer.startswith(_PARAMETERS):
                pointer = pointer[len(_PARAMETERS):] or "/"
            return cls("invalid_parameters", None, tool=tool, reason_code=error.code, reason=error.message,
                       pointer=pointer or None)
        if isinstance(error, NotAuthorized):
            kind = "pending_approval" if isinstance(error, ApprovalRequired) else (
                "rate_limited" if isinstance(error, RateLimited) else "denied")
            answer = error.answer
            reason = str(answer.get("reason") or error.reason_code or kind)
            return cls(kind, error.action_id, tool=tool, reason_code=error.reason_code, reason=reason,
                       policy_id=error.policy_id, approval_id=error.approval_id)
        raise TypeError(f"{type(error).__name__} is not a refusal: {error}")

    def _message(self) -> str:
        by = f" by policy {self.policy_id}" if self.policy_id else ""
        if self.kind == "invalid_parameters":
            at = f" at {self.pointer}" if self.pointer and self.pointer != "/" else ""
            return f"{self.tool} refused invalid arguments{at}: {self.reason}. Correct the arguments and call again."
        if self.kind == "pending_approval":
            return (f"{self.tool} needs a human approval (approval {self.approval_id}{', policy ' + self.policy_id if self.policy_id else ''}): "
                    f"{self.reason}. A human has been asked; do not retry this call until you are told it was approved.")
        if self.kind == "rate_limited":
            return f"{self.tool} is rate limited{by}: {self.reason}. Do not retry this call now."
        if self.reason_code == "approval_rejected":
            return f"{self.tool} was denied: a human rejected this call (approval {self.approval_id}). Do not retry this call."
        if self.reason_code == "approval_expired":
            return f"{self.tool} was denied: its approval (approval {self.approval_id}) expired undecided. Do not retry this call."
        if not by and self.reason_code:
            by = f" ({self.reason_code})"
        return f"{self.tool} was denied{by}: {self.reason}. Do not retry this call."

    def to_dict(self) -> Dict[str, Any]:
        """The refusal as JSON (for structured tool outputs and MCP ``_meta``)."""
        return {
            "refused": True,
            "kind": self.kind,
            "action_id": self.action_id,
            "reason_code": self.reason_code,
            "reason": self.reason,
            "policy_id": self.policy_id,
            "approval_id": self.approval_id,
            "pointer": self.pointer,
            "message": self.message,
        }

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"Refusal(kind={self.kind!r}, action_id={self.action_id!r}, reason_code={self.reason_code!r}, policy_id={self.policy_id!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Refusal):
            return NotImplemented
        return self.to_dict() == other.to_dict() and self.tool == other.tool

    __hash__ = None  # type: ignore[assignment]
