"""Reading a batch: split JSONL into lines and pull out the columns the store indexes.

Parsing here only finds where each event goes (trace, sequence, id) and what to index; whether an
event is valid is libcra's answer (:mod:`.verify`). Index columns are taken from a line only after
libcra has verified it, so they describe exactly the stored bytes.

Decision vocabulary of the ``decision`` column (documented in docs/ingest.md):
``allowed``/``pending`` (``action.requested`` authorized / pending_approval), ``denied`` and
``rate_limited`` (``action.denied`` by a policy or a rate limit), ``approved``/``rejected`` (an
approver's decision), ``executed``/``failed`` (the reported outcome), and for
``carp.resolution.completed`` the resolution's own decision: ``allow``, ``deny``, ``partial``,
``requires_approval``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

from .. import _json

__all__ = ["Line", "Facts", "BadLine", "split_lines", "parse_line", "parse_lines", "facts", "timestamp_us", "MAX_ID"]

#: Longest id (trace, session, event, agent, atlas, action, policy) the store indexes, in characters.
MAX_ID = 512
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
_MAX_SEQ = 2**53 - 1  # libcra refuses larger integers (not exactly hashable as RFC 8785 numbers)


class BadLine(Exception):
    """A line that is not an event; ``line`` is 1-based."""

    def __init__(self, line: int, message: str, code: str = "malformed_event") -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.code = code
        self.message = message


@dataclass
class Facts:
    """What the store indexes about an event, read from its payload when the line is parsed (the
    payload itself is not kept, so a batch costs little more memory than its bytes)."""

    agent_id: Optional[str]
    decision: Optional[str]
    action_id: Optional[str]
    atlas_id: Optional[str]
    policy_id: Optional[str]
    reason_code: Optional[str]
    #: action -> owning atlas, from ``policy.evaluated`` verdicts
    action_atlases: Dict[str, str]
    #: every atlas the event names
    atlases: List[str]


@dataclass
class Line:
    """One event of a batch: where it is, where it goes, what to index."""

    index: int  # 0-based in the batch
    raw: bytes  # without its LF
    event_id: str
    trace_id: str
    session_id: str
    sequence: int
    event_type: str
    ts_us: int
    previous_hash: str
    event_hash: str
    facts: Facts


def split_lines(body: bytes, max_lines: int, max_line: int) -> List[bytes]:
    """The lines of a JSONL batch (LF-terminated each); raises :class:`BadLine` (1-based)."""
    if not body:
        raise BadLine(1, "the batch is empty", "empty_batch")
    if not body.endswith(b"\n"):
        n = body.count(b"\n") + 1
        raise BadLine(n, "the last line has no LF (a torn or truncated batch)")
    lines = body[:-1].split(b"\n")
    if len(lines) > max_lines:
        raise BadLine(max_lines + 1, f"the batch has more than {max_lines} lines", "too_many_lines")
    for i, raw in enumerate(lines):
        if not raw:
            raise BadLine(i + 1, "empty line")
        if len(raw) > max_line:
            raise BadLine(i + 1, f"the line is longer than {max_line} bytes", "line_too_long")
    return lines


def timestamp_us(ts: str) -> int:
    """Microseconds since the epoch of an RFC 3339 UTC timestamp (``...Z``)."""
    dt = _dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError("no time zone")
    return (dt - _EPOCH) // _dt.timedelta(microseconds=1)


def _str(ev: Dict[str, Any], key: str, n: int) -> str:
    v = ev.get(key)
    if not isinstance(v, str) or not v:
        raise BadLine(n, f"{key} must be a non-empty string")
    if len(v) > MAX_ID:
        raise BadLine(n, f"{key} is longer than {MAX_ID} characters", "id_too_long")
    return v


def parse_line(index: int, raw: bytes) -> Line:
    """Where an event goes; raises :class:`BadLine` when the line cannot be an event at all."""
    n = index + 1
    try:
        ev = _json.loads(raw)
    except Exception as e:  # orjson.JSONDecodeError or ValueError
        raise BadLine(n, f"not JSON: {e}") from None
    if not isinstance(ev, dict):
        raise BadLine(n, "not a JSON object")
    seq = ev.get("sequence")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= _MAX_SEQ:
        raise BadLine(n, "sequence must be an integer from 0 to 2^53-1")
    payload = ev.get("payload")
    if not isinstance(payload, dict):
        raise BadLine(n, "payload must be an object")
    ts = _str(ev, "timestamp", n)
    try:
        us = timestamp_us(ts)
    except (ValueError, OverflowError):
        raise BadLine(n, f"timestamp {ts[:40]!r} is not RFC 3339") from None
    event_type = _str(ev, "event_type", n)
    return Line(
        index=index,
        raw=raw,
        event_id=_str(ev, "event_id", n),
        trace_id=_str(ev, "trace_id", n),
        session_id=_str(ev, "session_id", n),
        sequence=seq,
        event_type=event_type,
        ts_us=us,
        previous_hash=_str(ev, "previous_event_hash", n),
        event_hash=_str(ev, "event_hash", n),
        facts=facts(event_type, payload),
    )


def parse_lines(body: bytes, raws: List[bytes]) -> List[Line]:
    """:func:`parse_line` of every line of a batch (``raws``: :func:`split_lines` of ``body``),
    read by libcra in one call (``cra_trace_scan``: JSON parsing, ids, time and the index
    columns of :func:`facts`, in Rust). A line libcra does not read that way (``null``) is read
    by :func:`parse_line`, which raises the same :class:`BadLine` or reads it as before; so the
    result is exactly that of :func:`parse_line` line by line (``test_units.py`` compares them
    over real traces and odd payloads)."""
    scanned = _scan(body)
    if scanned is None or len(scanned) != len(raws):
        return [parse_line(i, raw) for i, raw in enumerate(raws)]
    out: List[Line] = []
    append = out.append
    for i, (raw, s) in enumerate(zip(raws, scanned)):
        if s is None:
            append(parse_line(i, raw))
            continue
        (event_id, trace_id, session_id, seq, event_type, ts_us, previous_hash, event_hash,
         agent, decision, action, atlas, policy, reason, pairs, atlases) = s
        append(Line(i, raw, event_id, trace_id, session_id, seq, event_type, ts_us, previous_hash, event_hash,
                    Facts(agent, decision, action, atlas, policy, reason, dict(pairs), atlases)))
    return out


def _scan(body: bytes) -> Optional[List[Any]]:
    """libcra's reading of a batch, or None when the loaded libcra has no ``cra_trace_scan``."""
    from .._lowlevel import call, lib

    try:
        fn = lib.cra_trace_scan
    except Exception:  # noqa: BLE001 - an older libcra (cffi: undeclared or missing symbol)  # pragma: no cover
        return None
    out = call(fn, body, len(body))
    return out if isinstance(out, list) else None


def _opt(v: Any) -> Optional[str]:
    return v[:MAX_ID] if isinstance(v, str) and v else None


def facts(event_type: str, p: Dict[str, Any]) -> Facts:
    """The index columns of an event (see the module docstring for the decision vocabulary)."""
    action = p.get("action_id")
    if not isinstance(action, str):
        acts = p.get("actions")
        action = acts[0] if isinstance(acts, list) and len(acts) == 1 and isinstance(acts[0], str) else None
    verdicts = _action_atlases(p)
    atlases = [str(a["atlas_id"])[:MAX_ID] for a in p.get("atlases") or () if isinstance(a, dict) and _opt(a.get("atlas_id"))] \
        if isinstance(p.get("atlases"), list) else []
    atlases += [x for x in verdicts.values() if x not in atlases]
    own = _opt(p.get("atlas_id"))
    if own and own not in atlases:
        atlases.append(own)
    return Facts(agent_id=_agent(p), decision=_decision(event_type, p), action_id=_opt(action), atlas_id=own,
                 policy_id=_opt(p.get("policy_id")), reason_code=_opt(p.get("reason_code")),
                 action_atlases=verdicts, atlases=atlases)


def _agent(p: Dict[str, Any]) -> Optional[str]:
    """The agent an event names itself (``session.started``, a resolve request, any ``agent_id``)."""
    if isinstance(p.get("agent_id"), str):
        return _opt(p["agent_id"])
    req = p.get("request")
    if isinstance(req, dict) and isinstance(req.get("requester"), dict):
        return _opt(req["requester"].get("agent_id"))
    return None


def _decision(t: str, p: Dict[str, Any]) -> Optional[str]:
    if t == "action.requested":
        return {"authorized": "allowed", "pending_approval": "pending"}.get(str(p.get("status")), _opt(p.get("status")))
    if t == "action.denied":
        if p.get("decision") == "rejected":
            return "rejected"
        return "rate_limited" if p.get("reason_code") == "rate_limit_exceeded" else "denied"
    if t == "action.approved":
        return "approved"
    if t == "action.executed":
        return "executed"
    if t == "action.failed":
        return "failed"
    if t == "carp.resolution.completed":
        return _opt(p.get("decision"))
    return None


def _action_atlases(p: Dict[str, Any]) -> Dict[str, str]:
    out: Dict[str, str] = {}
    verdicts = p.get("verdicts")
    if isinstance(verdicts, list):
        for v in verdicts:
            if isinstance(v, dict):
                a, at = _opt(v.get("action_id")), _opt(v.get("atlas_id"))
                if a and at:
                    out[a] = at
    return out
