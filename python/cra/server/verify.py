"""The one place the ingest service asks libcra whether events are valid.

``verify_batch(data, heads)`` checks JSONL bytes whose chains may continue heads stored earlier
(``{trace_id: Head}``), through ``cra.verify_trace(data, heads=...)`` (the C ABI's
``cra_trace_verify_with``): libcra recomputes every hash from the canonical bytes (BLAKE3 over
RFC 8785) and checks genesis, sequence and linkage per ``trace_id``; a trace with a head must
continue it, any other must start at genesis. Nothing here hashes or canonicalizes by itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional

from ..trace import verify_trace

__all__ = ["Head", "Chain", "Failure", "Verdict", "verify_batch"]


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


def verify_batch(data: bytes, heads: Mapping[str, Head]) -> Verdict:
    """Verifies ``data`` (LF-terminated lines) continuing ``heads``."""
    report = verify_trace(data, heads={t: {"sequence": h.sequence, "event_hash": h.event_hash} for t, h in heads.items()})
    v = Verdict()
    for t in report.traces:
        h = t.get("head")
        v.chains[t["trace_id"]] = Chain(
            t["trace_id"], bool(t["ok"]), Head(int(h["sequence"]), str(h["event_hash"])) if h else None, bool(t.get("ended"))
        )
    for e in report.errors:
        tid = e.get("trace_id")
        v.failures.append(Failure(int(e["line"]), str(e["code"]), str(e["message"]), None if tid is None else str(tid)))
    v.failures.sort(key=lambda f: f.line)
    return v
