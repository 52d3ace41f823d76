"""TRACE files: verify the hash chains, replay recorded requests against other atlases."""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from ._lowlevel import call, encode, lib, native_function, text
from .errors import InvalidRequest
from .results import ReplayReport, VerifyReport

__all__ = ["verify_trace", "replay", "atlas_document"]

TraceInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview]
#: An atlas for :func:`replay`: a directory, an ``atlas.json`` path, or the document itself.
AtlasInput = Union[str, "os.PathLike[str]", Mapping[str, Any]]


def verify_trace(
    trace: TraceInput,
    *,
    heads: Optional[Mapping[str, Mapping[str, Any]]] = None,
    require_session_end: bool = False,
) -> VerifyReport:
    """Verifies a TRACE: a JSONL file path (streamed) or the JSONL bytes themselves.

    Returns a :class:`~cra.VerifyReport`, truthy when every chain is intact; a broken chain is a
    report, not an exception. With ``require_session_end=True`` a chain whose last event is not
    ``session.ended`` is reported too (code ``missing_session_end``).

    ``heads`` (``{trace_id: {"sequence": n, "event_hash": hex}}``) continues chains verified
    earlier, e.g. by an ingest service checking batch after batch: the first event of such a
    trace must follow its head instead of being a genesis event. With ``heads`` (even empty) the
    report lists every chain with its new head in :attr:`~cra.VerifyReport.traces`.

    Raises :class:`~cra.CraIOError` when the file cannot be read, and :class:`~cra.CraError`
    with code ``UNSUPPORTED`` when an option is asked of a libcra too old to take options.

    >>> report = cra.verify_trace("trace.jsonl")
    >>> if not report: print(report.errors[0]["code"])   # e.g. "hash_mismatch"
    """
    if heads is None and not require_session_end:
        if isinstance(trace, (bytes, bytearray, memoryview)):
            data = bytes(trace)
            return VerifyReport(call(lib.cra_trace_verify, data, len(data)))
        p = text(trace)
        return VerifyReport(call(lib.cra_trace_verify_file, p, len(p)))
    options: Dict[str, Any] = {"require_session_end": bool(require_session_end)}
    if heads is not None:
        options["summaries"] = True
        options["heads"] = {
            str(t): {"sequence": int(h["sequence"]), "event_hash": str(h["event_hash"])} for t, h in heads.items()
        }
    opts = encode(options, "verify options")
    feature = "heads" if heads is not None else "require_session_end"
    if isinstance(trace, (bytes, bytearray, memoryview)):
        data = bytes(trace)
        fn = native_function("cra_trace_verify_with", feature)
        return VerifyReport(call(fn, data, len(data), opts, len(opts)))
    p = text(trace)
    fn = native_function("cra_trace_verify_file_with", feature)
    return VerifyReport(call(fn, p, len(p), opts, len(opts)))


def replay(trace: TraceInput, atlases: Iterable[AtlasInput]) -> ReplayReport:
    """Re-runs the resolve requests recorded in a trace against other atlases (for example a
    new version of a policy) and reports every decision that would change.

    ``trace`` is a JSONL file path or JSONL bytes; ``atlases`` are directories, ``atlas.json``
    paths or atlas documents (mappings). Paths are handed to libcra, whose loader reads them as
    ``Resolver.load_atlas`` does (context files must stay inside the atlas directory, must be
    regular files, and are size-limited); Python reads no atlas file itself. Raises
    :class:`~cra.InvalidAtlas` or :class:`~cra.CraIOError` (pointer ``/N/...`` names the atlas)
    or :class:`~cra.TraceError`.
    """
    if isinstance(trace, (bytes, bytearray, memoryview)):
        data = bytes(trace)
    else:
        with open(os.fspath(trace), "rb") as f:
            data = f.read()
    entries: List[Any] = []
    for i, atlas in enumerate(atlases):
        if isinstance(atlas, Mapping):
            entries.append(atlas)
            continue
        try:
            entries.append(os.fspath(atlas))
        except TypeError:
            raise InvalidRequest(
                f"atlas {i} must be a directory, an atlas.json path or a mapping, not {type(atlas).__name__}",
                pointer=f"/{i}",
            ) from None
    body = encode(entries, "atlases")
    return ReplayReport(call(lib.cra_trace_replay, data, len(data), body, len(body)))


def atlas_document(atlas: AtlasInput) -> Dict[str, Any]:
    """An atlas as one self-contained JSON document (a mapping is returned as a copy): the
    directory's ``atlas.json`` (or the ``atlas.json`` path given) with each context pack's
    ``files`` inlined as its ``content``, read by libcra's atlas loader with its rules (each file a
    relative path that stays inside the directory, symlinks included; a regular file; at most
    4 MiB, 64 MiB in all; UTF-8). For a service that takes atlas documents and never reads a
    client's paths (the ingest's ``POST /v1/replay``); :func:`replay` itself takes directories.
    Raises :class:`~cra.InvalidAtlas`, :class:`~cra.CraIOError` or ``LimitExceeded`` as loading
    the directory would."""
    if isinstance(atlas, Mapping):
        return dict(atlas)
    path = text(atlas)
    doc: Dict[str, Any] = call(lib.cra_atlas_document, path, len(path))
    return doc
