"""The one place the ingest service asks libcra whether events are valid.

``verify_batch(data, heads)`` checks JSONL bytes whose chains may continue heads stored earlier
(``{trace_id: Head}``): libcra recomputes every hash from the canonical bytes (BLAKE3 over RFC
8785) and checks genesis, sequence and linkage per ``trace_id``. Nothing here hashes or
canonicalizes by itself.

It uses ``cra.verify_trace(data, heads=...)`` (the C ABI's ``cra_trace_verify_with``). A libcra
built before that function existed has only whole-trace verification; then each chain that
continues a head is verified as the stored events (``stored(trace_id)``, already verified)
followed by the batch's lines, which costs time proportional to the stored trace, and a chain
cannot start from a head whose earlier events are missing (``synthetic`` heads after a gap):
those lines are reported ``unverifiable``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Mapping, Optional, Sequence

from .. import _json
from .._lowlevel import lib
from ..trace import verify_trace

__all__ = ["Head", "Chain", "Failure", "Verdict", "verify_batch", "NATIVE_CONTINUATION"]

#: True when libcra verifies continuations itself (``cra_trace_verify_with``).
NATIVE_CONTINUATION = hasattr(lib, "cra_trace_verify_with")


@dataclass(frozen=True)
class Head:
    """The last stored event of a trace: the next one must have ``sequence + 1`` and link to the hash."""

    sequence: int
    event_hash: str


@dataclass(frozen=True)
class Chain:
    """What libcra found for one trace of the input."""

    trace_id: str
    ok: bool
    head: Optional[Head]
    ended: bool


@dataclass(frozen=True)
class Failure:
    """The first failing line (0-based in the input) of one trace, or of lines naming none."""

    line: int
    code: str
    message: str
    trace_id: Optional[str]


@dataclass
class Verdict:
    """Per trace: its chain summary; and every first failure, in line order."""

    chains: Dict[str, Chain] = field(default_factory=dict)
    failures: List[Failure] = field(default_factory=list)


StoredLines = Callable[[str], List[bytes]]


def verify_batch(data: bytes, heads: Mapping[str, Head], stored: Optional[StoredLines] = None,
                 synthetic: Sequence[str] = ()) -> Verdict:
    """Verifies ``data`` (LF-terminated lines) continuing ``heads``.

    ``stored`` and ``synthetic`` only matter with an old libcra (see the module docstring):
    ``stored(trace_id)`` returns the stored raw lines of a trace, ``synthetic`` names the heads
    that do not correspond to stored events.
    """
    if NATIVE_CONTINUATION:
        return _native(data, heads)
    return _fallback(data, heads, stored, frozenset(synthetic))  # pragma: no cover - old libcra only


def _native(data: bytes, heads: Mapping[str, Head]) -> Verdict:
    report = verify_trace(data, heads={t: {"sequence": h.sequence, "event_hash": h.event_hash} for t, h in heads.items()})
    v = Verdict()
    for t in report.traces:
        h = t.get("head")
        v.chains[t["trace_id"]] = Chain(
            t["trace_id"], bool(t["ok"]), Head(int(h["sequence"]), str(h["event_hash"])) if h else None, bool(t.get("ended"))
        )
    for e in report.errors:
        v.failures.append(Failure(int(e["line"]), str(e["code"]), str(e["message"]), e.get("trace_id")))
    v.failures.sort(key=lambda f: f.line)
    return v


def _fallback(data: bytes, heads: Mapping[str, Head], stored: Optional[StoredLines],
              synthetic: frozenset) -> Verdict:  # type: ignore[type-arg]  # pragma: no cover
    lines = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")
    groups: Dict[str, List[int]] = {}
    v = Verdict()
    for i, raw in enumerate(lines):
        try:
            tid = _json.loads(raw).get("trace_id")
        except Exception:
            tid = None
        if not isinstance(tid, str):
            v.failures.append(Failure(i, "malformed_event", "not an event", None))
            return v
        groups.setdefault(tid, []).append(i)
    for tid, idxs in groups.items():
        if tid in synthetic:
            v.failures.append(Failure(idxs[0], "unverifiable", "this libcra cannot verify a chain after a gap", tid))
            v.chains[tid] = Chain(tid, False, heads.get(tid), False)
            continue
        prefix = stored(tid) if (stored is not None and tid in heads) else []
        body = b"".join(x + b"\n" for x in prefix) + b"".join(lines[i] + b"\n" for i in idxs)
        report = verify_trace(body)
        first_bad: Optional[int] = None
        for e in report.errors:
            k = int(e["line"]) - len(prefix)
            if k < 0:
                k = 0
            if first_bad is None or k < first_bad:
                first_bad = k
                v.failures.append(Failure(idxs[min(k, len(idxs) - 1)], str(e["code"]), str(e["message"]), tid))
        good = idxs if first_bad is None else idxs[:first_bad]
        head = heads.get(tid)
        ended = False
        if good:
            last = _json.loads(lines[good[-1]])
            head = Head(int(last["sequence"]), str(last["event_hash"]))
            ended = last.get("event_type") == "session.ended"
        v.chains[tid] = Chain(tid, first_bad is None, head, ended)
    v.failures.sort(key=lambda f: f.line)
    return v
