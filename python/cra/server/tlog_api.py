"""HTTP routes of the transparency log (docs/transparency.md): checkpoints, keys, proofs, entries.

Every route acts on the token's tenant and needs the ``read`` right (a checkpoint made on demand
only signs what is stored). Checkpoints are answered as the signed note itself
(``text/plain; charset=utf-8``), everything else as JSON with hashes in base64.
"""

from __future__ import annotations

from typing import Any, Callable, List, Optional

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from .. import _json
from .body import BodyError, read_limited
from .db import Busy
from .merkle import TreeError
from .shared import ApiError, _auth, _json_response
from .tlog import MAX_ENTRIES, LogError, LogService

__all__ = ["install"]

_NOTE = "text/plain; charset=utf-8"


def install(app: FastAPI, state: Any) -> None:
    """Adds the ``/v1/log/...`` routes to ``app``; ``state`` is the app's shared state (its
    ``log`` is the :class:`~.tlog.LogService` once the app has started)."""
    def service() -> LogService:
        s: Optional[LogService] = getattr(state, "log", None)
        if s is None:
            raise ApiError(503, "starting", "the service is starting", {"Retry-After": "1"})
        return s

    def call(fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except LogError as e:
            raise ApiError(e.status, e.code, e.message) from None
        except Busy as e:
            raise ApiError(503, "busy", str(e), state.retry()) from None
        except TreeError as e:
            raise ApiError(500, "log_damaged", f"the stored log does not hold together; nothing was signed: {e}") from None

    def note(text: str, size: int) -> Response:
        return Response(text, media_type=_NOTE, headers={"X-Cra-Log-Size": str(size)})

    @app.get("/v1/log/checkpoint", tags=["log"], summary="The latest signed checkpoint, or the one of a size",
             response_class=Response, responses={200: {"content": {_NOTE: {}}}})
    def get_checkpoint(request: Request, size: Optional[int] = Query(None, ge=0)) -> Response:
        """The C2SP checkpoint note (origin, size, base64 root, blank line, signature lines)."""
        p = _auth(state, request, "read")
        cp = call(lambda: service().get_checkpoint(p.tenant, size))
        if cp is None:
            raise ApiError(404, "not_found", "no checkpoint of that size" if size is not None else
                           "this log has no checkpoint yet (POST /v1/log/checkpoint)")
        return note(cp.note, cp.size)

    @app.post("/v1/log/checkpoint", tags=["log"], summary="Sign a checkpoint of the log as it is now",
              response_class=Response, responses={200: {"content": {_NOTE: {}}}})
    async def post_checkpoint(request: Request) -> Response:
        """Signs (origin, size, root) now unless the latest checkpoint already covers the tree."""
        p = _auth(state, request, "read")
        cp = await run_in_threadpool(call, lambda: service().checkpoint(p.tenant))
        return note(cp.note, cp.size)

    @app.get("/v1/log/checkpoints", tags=["log"], summary="Every checkpoint kept, by size")
    def list_checkpoints(request: Request, after: int = Query(-1, ge=-1), limit: int = Query(100, ge=1, le=1000)) -> Response:
        """``{origin, checkpoints: [{size, root, created_us, note}], next_after}``."""
        p = _auth(state, request, "read")
        return _json_response(call(lambda: service().list_checkpoints(p.tenant, after, limit)))

    @app.get("/v1/log/keys", tags=["log"], summary="The log's public keys (vkeys)")
    def keys(request: Request) -> Response:
        """``{origin, vkeys, active}``: every key's vkey under this tenant's origin, oldest first."""
        p = _auth(state, request, "read")
        return _json_response(service().keys(p.tenant))

    @app.get("/v1/log/state", tags=["log"], summary="The tree's size and root now (unsigned)")
    def tree_state(request: Request) -> Response:
        p = _auth(state, request, "read")
        return _json_response(call(lambda: service().state(p.tenant)))

    @app.get("/v1/log/proof/inclusion", tags=["log"], summary="Inclusion proof of one event or leaf")
    def inclusion(request: Request, event_id: Optional[str] = None, index: Optional[int] = Query(None, ge=0),
                  size: Optional[int] = Query(None, ge=0, description="tree size (default: latest checkpoint)")) -> Response:
        """``{index, size, leaf_hash, hashes, event_id, trace_id, sequence, checkpoint}``."""
        p = _auth(state, request, "read")
        if (event_id is None) == (index is None):
            raise ApiError(400, "bad_query", "give exactly one of event_id and index")
        return _json_response(call(lambda: service().inclusion(p.tenant, size, event_id, index)))

    @app.get("/v1/log/proof/consistency", tags=["log"], summary="Consistency proof between two tree sizes")
    def consistency(request: Request, first: int = Query(..., alias="from", ge=0),
                    second: Optional[int] = Query(None, alias="to", ge=0)) -> Response:
        """``{from, to, hashes, checkpoint}`` (``to`` defaults to the latest checkpoint's size)."""
        p = _auth(state, request, "read")
        return _json_response(call(lambda: service().consistency(p.tenant, first, second)))

    @app.get("/v1/log/proof/trace/{trace_id}", tags=["log"], summary="Inclusion of every event of one trace")
    def trace_proof(request: Request, trace_id: str, size: Optional[int] = Query(None, ge=0)) -> Response:
        """As ``POST /v1/log/proofs`` for one trace."""
        p = _auth(state, request, "read")
        return _json_response(call(lambda: service().trace_proofs(p.tenant, [trace_id], size)))

    @app.post("/v1/log/proofs", tags=["log"], summary="Inclusion of every event of several traces, in one answer",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object",
                  "properties": {"trace_ids": {"type": "array", "items": {"type": "string"}, "maxItems": 1000},
                                 "indices": {"type": "array", "items": {"type": "integer"}, "maxItems": MAX_ENTRIES},
                                 "size": {"type": "integer"}}}}}}})
    async def proofs(request: Request) -> Response:
        """``{size, checkpoint, hashes, traces: [{trace_id, events: [{sequence, event_id, index,
        proof}]}], missing}``: ``proof`` lists positions in ``hashes``, bottom up."""
        p = _auth(state, request, "read")
        try:
            body = await read_limited(request.stream(), state.settings.max_body, request.headers.get("content-length"))
        except BodyError as e:
            raise ApiError(e.status, e.code, e.message) from None
        try:
            doc = _json.loads(body)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
            size = doc.get("size")
            if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
                raise ValueError("size must be a non-negative integer")
            if ("trace_ids" in doc) == ("indices" in doc):
                raise ValueError("give exactly one of trace_ids and indices")
            if "indices" in doc:
                idx = doc["indices"]
                if not isinstance(idx, list) or not 1 <= len(idx) <= MAX_ENTRIES or \
                        not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in idx):
                    raise ValueError(f"indices must be a list of 1 to {MAX_ENTRIES} non-negative integers")
                indices: List[int] = idx
                return _json_response(await run_in_threadpool(
                    call, lambda: service().index_proofs(p.tenant, indices, size)))
            ids = doc["trace_ids"]
            if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids) or not 1 <= len(ids) <= 1000:
                raise ValueError("trace_ids must be a list of 1 to 1000 strings")
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ApiError(400, "bad_request", f"expected {{\"trace_ids\": [...], \"size\": n}} or "
                                               f"{{\"indices\": [...], \"size\": n}}: {e}") from None
        trace_ids: List[str] = ids
        return _json_response(await run_in_threadpool(call, lambda: service().trace_proofs(p.tenant, trace_ids, size)))

    @app.get("/v1/log/entries", tags=["log"], summary="Leaves of the log with their events (for monitors)")
    def entries(request: Request, start: int = Query(0, ge=0), end: Optional[int] = Query(None, ge=0)) -> Response:
        """``{size, start, end, entries: [{index, leaf_hash, line}]}``; at most 10,000 a page;
        ``line`` is null when no event is stored for the leaf."""
        p = _auth(state, request, "read")
        stop = end if end is not None else start + MAX_ENTRIES
        return _json_response(call(lambda: service().entries(p.tenant, start, stop)))
