"""TRACE files: verify the hash chains, replay recorded requests against other atlases."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Union

from . import _json
from ._lowlevel import call, encode, lib, native_function, text
from .results import ReplayReport, VerifyReport

__all__ = ["verify_trace", "replay", "atlas_document"]

TraceInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]


def verify_trace(trace: TraceInput, *, require_session_end: bool = False) -> VerifyReport:
    """Verifies a TRACE: a JSONL file path (streamed) or the JSONL bytes themselves.

    Returns a :class:`~cra.VerifyReport`, truthy when every session's chain is intact; a
    broken chain is a report, not an exception. With ``require_session_end=True`` a session
    whose last event is not ``session.ended`` is reported too (code ``missing_session_end``).
    Raises :class:`~cra.CraIOError` when the file cannot be read, and :class:`~cra.CraError`
    with code ``UNSUPPORTED`` when an option is asked of a libcra too old to take options.

    >>> report = cra.verify_trace("trace.jsonl")
    >>> if not report: print(report.errors[0]["code"])   # e.g. "hash_mismatch"
    """
    options = _json.dumps({"require_session_end": True}) if require_session_end else None
    if isinstance(trace, (bytes, bytearray, memoryview)):
        data = bytes(trace)
        if options is None:
            return VerifyReport(call(lib.cra_trace_verify, data, len(data)))
        fn = native_function("cra_trace_verify_with", "require_session_end")
        return VerifyReport(call(fn, data, len(data), options, len(options)))
    p = text(trace)
    if options is None:
        return VerifyReport(call(lib.cra_trace_verify_file, p, len(p)))
    fn = native_function("cra_trace_verify_file_with", "require_session_end")
    return VerifyReport(call(fn, p, len(p), options, len(options)))


def atlas_document(atlas: Union[str, "os.PathLike[str]", Mapping[str, Any]]) -> Dict[str, Any]:
    """An atlas as one self-contained JSON document: a mapping is returned as is; a directory
    (or ``atlas.json`` path) is read and the text of every context ``files`` entry is inlined
    as the pack's ``content`` (what the decisions of a replay need)."""
    if isinstance(atlas, Mapping):
        return dict(atlas)
    path = os.fspath(atlas)
    if os.path.isdir(path):
        base, file = path, os.path.join(path, "atlas.json")
    else:
        base, file = os.path.dirname(os.path.abspath(path)), path
    with open(file, "rb") as f:
        doc: Dict[str, Any] = _json.loads(f.read())
    packs = doc.get("context_packs")
    if isinstance(packs, list):
        for pack in packs:
            if isinstance(pack, dict) and isinstance(pack.get("files"), list):
                parts: List[str] = []
                for rel in pack.pop("files"):
                    with open(os.path.join(base, str(rel)), encoding="utf-8") as f:
                        parts.append(f.read())
                pack["content"] = "\n\n".join(parts)
                pack.setdefault("content_type", "text/markdown")
    return doc


def replay(
    trace: TraceInput,
    atlases: Iterable[Union[str, "os.PathLike[str]", Mapping[str, Any]]],
) -> ReplayReport:
    """Re-runs the resolve requests recorded in a trace against other atlases (for example a
    new version of a policy) and reports every decision that would change.

    ``trace`` is a JSONL file path or JSONL bytes; ``atlases`` are directories, ``atlas.json``
    paths or atlas documents. Raises :class:`~cra.InvalidAtlas` (pointer ``/N/...`` names the
    atlas) or :class:`~cra.TraceError`.
    """
    if isinstance(trace, (bytes, bytearray, memoryview)):
        data = bytes(trace)
    else:
        with open(os.fspath(trace), "rb") as f:
            data = f.read()
    docs = encode([atlas_document(a) for a in atlases], "atlases")
    return ReplayReport(call(lib.cra_trace_replay, data, len(data), docs, len(docs)))
