"""``POST /v1/replay``: stored traces re-run against candidate atlases through libcra's replay.

The body names the traces (``trace_ids``) or a ``filter`` (the list filters); ``atlases`` are
self-contained atlas documents (context inlined: the server never reads paths a client names).
Bounded: at most ``max_replay_traces`` traces and ``max_replay_bytes`` of stored lines.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping

from ..errors import CraError
from ..trace import replay
from .db import Database
from .query import TraceFilter, export_lines, list_traces
from .settings import Settings
from .timeparse import parse_time

__all__ = ["replay_traces", "ReplayError"]

_FILTER_KEYS = {"agent", "atlas", "action", "decision", "event_type", "integrity", "session", "since", "until"}


class ReplayError(ValueError):
    """A replay request that cannot be run (400)."""


def _ids(db: Database, tenant: str, doc: Mapping[str, Any], limit: int) -> List[str]:
    if "trace_ids" in doc:
        ids = doc["trace_ids"]
        if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
            raise ReplayError("trace_ids must be a list of strings")
        if len(ids) > limit:
            raise ReplayError(f"at most {limit} traces per replay")
        return list(dict.fromkeys(ids))
    flt = doc.get("filter", {})
    if not isinstance(flt, dict) or set(flt) - _FILTER_KEYS:
        raise ReplayError(f"filter must be an object with keys among {', '.join(sorted(_FILTER_KEYS))}")
    f = TraceFilter(flt.get("agent"), flt.get("atlas"), flt.get("action"), flt.get("decision"), flt.get("event_type"),
                    flt.get("integrity"), flt.get("session"), parse_time(flt.get("since"), "since"),
                    parse_time(flt.get("until"), "until"))
    page = list_traces(db, tenant, f, limit)
    return [t["trace_id"] for t in page["traces"]]


def replay_traces(db: Database, tenant: str, doc: Any, settings: Settings) -> Dict[str, Any]:
    """Replays each selected trace; returns totals and every changed decision with its trace id."""
    if not isinstance(doc, dict) or set(doc) - {"atlases", "trace_ids", "filter", "limit"}:
        raise ReplayError("the body must be {\"atlases\": [...], \"trace_ids\": [...] | \"filter\": {...}, \"limit\": n}")
    atlases = doc.get("atlases")
    if not isinstance(atlases, list) or not atlases or not all(isinstance(a, dict) for a in atlases):
        raise ReplayError("atlases must be a non-empty list of atlas documents")
    limit = doc.get("limit", settings.max_replay_traces)
    if not isinstance(limit, int) or not 1 <= limit <= settings.max_replay_traces:
        raise ReplayError(f"limit must be 1-{settings.max_replay_traces}")
    ids = _ids(db, tenant, doc, limit)
    out: Dict[str, Any] = {"traces": 0, "replayed": 0, "unchanged": 0, "changed": [], "missing": []}
    budget = settings.max_replay_bytes
    for tid in ids:
        it = export_lines(db, tenant, tid)
        if it is None:
            out["missing"].append(tid)
            continue
        data = bytearray()
        for chunk in it:
            data += chunk
            if len(data) > budget:
                raise ReplayError(f"the selected traces are larger than {settings.max_replay_bytes} bytes; select fewer")
        budget -= len(data)
        try:
            rep = replay(bytes(data), atlases)
        except CraError as e:
            where = f" at {e.pointer}" if e.pointer else ""
            raise ReplayError(f"{e.code}{where}: {e.message}") from None
        out["traces"] += 1
        out["replayed"] += rep.replayed
        out["unchanged"] += rep.unchanged
        for c in rep.changed:
            out["changed"].append({"trace_id": tid, **c})
    return out
