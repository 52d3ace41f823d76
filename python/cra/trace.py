"""TRACE files: verify the hash chains, replay recorded requests against other atlases."""

from __future__ import annotations

import os
import stat
import warnings
from typing import Any, Dict, Iterable, List, Mapping, Optional, Union

from . import _json
from ._lowlevel import call, encode, lib, native_function, text
from .errors import InvalidAtlas, InvalidRequest
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
    """Deprecated: pass atlas directories to :func:`replay` as they are.

    An atlas as one self-contained JSON document (a mapping is returned as a copy): the
    directory's ``atlas.json`` with each context pack's ``files`` inlined as its ``content``.
    Reads nothing outside the directory, with the loader's rules: each file a relative path
    that stays inside it (symlinks included), a regular file (never a FIFO or a device), at most
    4 MiB (64 MiB in all), UTF-8. :class:`~cra.InvalidAtlas` otherwise.
    """
    warnings.warn(
        "cra.trace.atlas_document is deprecated: cra.replay takes atlas directories as they are",
        DeprecationWarning,
        stacklevel=2,
    )
    if isinstance(atlas, Mapping):
        return dict(atlas)
    path = os.fspath(atlas)
    base, name = (path, "atlas.json") if os.path.isdir(path) else os.path.split(os.path.abspath(path))
    doc = _json.loads(_read_inside(base, name, _MAX_ATLAS_BYTES, ""))
    if not isinstance(doc, dict):
        raise InvalidAtlas(f"{path}: the atlas must be a JSON object", pointer="")
    budget = _MAX_PACK_FILES_TOTAL_BYTES
    for i, pack in enumerate(doc.get("context_packs") or ()):
        if isinstance(pack, dict) and isinstance(pack.get("files"), list):
            parts: List[str] = []
            for j, rel in enumerate(pack.pop("files")):
                raw = _read_inside(base, str(rel), min(_MAX_PACK_FILE_BYTES, budget), f"/context_packs/{i}/files/{j}")
                budget -= len(raw)
                try:
                    parts.append(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise InvalidAtlas(f"context file {rel!r} is not UTF-8 text", pointer=f"/context_packs/{i}/files/{j}") from None
            pack["content"] = "\n\n".join(parts)
            pack.setdefault("content_type", "text/markdown")
    return doc


# The loader's limits (core/src/atlas/load.rs).
_MAX_ATLAS_BYTES = 16 * 1024 * 1024
_MAX_PACK_FILE_BYTES = 4 * 1024 * 1024
_MAX_PACK_FILES_TOTAL_BYTES = 64 * 1024 * 1024


def _read_inside(base: str, rel: str, limit: int, pointer: str) -> bytes:
    """The bytes of ``base/rel``, refused (:class:`~cra.InvalidAtlas` at ``pointer``) unless it
    is a relative path whose real path stays inside ``base``, a regular file, and at most
    ``limit`` bytes. Opened non-blocking, so a FIFO swapped in after the check cannot hang."""
    parts = rel.replace("\\", "/").split("/")
    if not rel or os.path.isabs(rel) or any(part == ".." for part in parts):
        raise InvalidAtlas(f"{rel!r} must be a relative path inside the atlas directory", pointer=pointer)
    real_base = os.path.realpath(base)
    real = os.path.realpath(os.path.join(base, rel))
    if os.path.commonpath([real_base, real]) != real_base:
        raise InvalidAtlas(f"{rel!r} resolves outside the atlas directory", pointer=pointer)
    try:
        fd = os.open(real, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as e:
        raise InvalidAtlas(f"cannot read {rel!r} in the atlas directory: {e.strerror}", pointer=pointer) from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise InvalidAtlas(f"{rel!r} is not a regular file", pointer=pointer)
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InvalidAtlas(f"{rel!r} is larger than {limit} bytes", pointer=pointer)
    return data
