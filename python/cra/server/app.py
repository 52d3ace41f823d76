"""The HTTP API (FastAPI on Starlette): ingest, query, export, replay, admin, health, metrics.

Errors are JSON ``{"error": {"code", "message", ...}}`` with the status the docs give
(docs/ingest.md). Auth is ``Authorization: Bearer <token>``; a token acts for its tenant only,
and naming another tenant (``X-Cra-Tenant``) is 403. Another tenant's trace is indistinguishable
from a missing one (404).
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator, Optional

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.requests import ClientDisconnect

from .. import _json
from .body import BodyError, decompress, read_limited
from .dashboard import install_dashboard
from .db import Busy, Database, open_database
from .events import BadLine
from .ingest import HeldFull, Ingestor
from .maintenance import Sweeper, apply_retention, expire_held
from .query import QueryError, TraceFilter, export_lines, get_trace, list_alerts, list_traces, stats, trace_events
from .replay import ReplayError, replay_traces
from .settings import Settings
from .timeparse import TimeError, parse_time
from .tlog_api import install as _install_log_routes
from .tlog import Checkpointer, LogService
from .checkpoint import KeyRing
from .tokens import TokenStore
from .shared import ApiError, _State, _auth, _busy, _json_response

__all__ = ["create_app", "ApiError"]

log = logging.getLogger("cra.server")
_JSONL = "application/x-ndjson"


def _filter(agent: Optional[str], atlas: Optional[str], action: Optional[str], decision: Optional[str],
            event_type: Optional[str], integrity: Optional[str], session: Optional[str], since: Optional[str],
            until: Optional[str]) -> TraceFilter:
    try:
        f = TraceFilter(agent, atlas, action, decision, event_type, integrity, session,
                        parse_time(since, "since"), parse_time(until, "until"))
        f.check()
        return f
    except (TimeError, QueryError) as e:
        raise ApiError(400, "bad_query", str(e)) from None


def create_app(settings: Settings, tokens: TokenStore, db: Optional[Database] = None,
               ring: Optional[KeyRing] = None) -> FastAPI:
    """The ASGI app. Opens (and migrates) the database at startup unless ``db`` is given, and
    the log's key file unless ``ring`` is given."""
    state = _State(settings, tokens)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.db = db if db is not None else await run_in_threadpool(
            open_database, settings.db, settings.pool_size, settings.lock_timeout_seconds)
        state.ingestor = Ingestor(state.db, settings)
        state.sweeper = Sweeper(state.db, settings.sweep_seconds, settings.hold_seconds, settings.retention_days)
        state.sweeper.start()
        keys = ring if ring is not None else await run_in_threadpool(KeyRing.load, settings.log_key_path())
        state.log = LogService(state.db, keys, settings.log_origin)
        state.checkpointer = Checkpointer(state.log, settings.checkpoint_seconds)
        state.checkpointer.start()
        log.info("cra ingest ready: %s database, %d tokens", state.db.dialect, len(tokens))
        try:
            yield
        finally:
            state.checkpointer.stop()
            state.sweeper.stop()
            if db is None:
                state.db.close()

    app = FastAPI(title="CRA ingest", version="1", lifespan=lifespan,
                  description="Central storage for TRACE audit chains: ingest with verification, query, export, "
                              "replay. See docs/ingest.md.")

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, e: ApiError) -> Response:
        return _json_response({"error": {"code": e.code, "message": e.message, **e.extra}}, e.status, e.headers)

    @app.exception_handler(Exception)
    async def _internal(_: Request, e: Exception) -> Response:
        log.exception("internal error: %s", e)  # nothing of the request was stored (its transaction rolled back)
        return _json_response({"error": {"code": "internal", "message": "internal error; nothing was stored"}}, 500)

    @app.exception_handler(RequestValidationError)
    async def _bad_params(_: Request, e: RequestValidationError) -> Response:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(x) for x in first.get("loc", ()))
        return _json_response({"error": {"code": "bad_query", "message": f"{where}: {first.get('msg', 'invalid')}"}}, 400)

    # -- ingest ----------------------------------------------------------------------------
    @app.post("/v1/traces", status_code=202, tags=["ingest"], summary="Ingest a JSONL batch of TRACE events",
              openapi_extra={"requestBody": {"required": True, "content": {_JSONL: {"schema": {"type": "string"}}}},
                             "responses": {"400": {"description": "a line is not an event (1-based `line`)"},
                                           "401": {"description": "no or unknown token"},
                                           "403": {"description": "no write right, or another tenant"},
                                           "413": {"description": "body or decompressed batch over the limit"},
                                           "429": {"description": "too many held events (Retry-After)"},
                                           "503": {"description": "busy (Retry-After)"}}})
    async def post_traces(request: Request) -> Response:
        """Verifies and stores events; answers ``{accepted, duplicate, rejected, held, released, alerts, errors}``."""
        status = 500
        try:
            p = _auth(state, request, "write")
            if state.in_flight >= settings.max_concurrent_ingests:
                raise ApiError(503, "busy", "too many batches in progress", state.retry())
            state.in_flight += 1
            try:
                body = await read_limited(request.stream(), settings.max_body, request.headers.get("content-length"))
                data = await run_in_threadpool(decompress, body, request.headers.get("content-encoding"),
                                               settings.max_decompressed)
                ing = state.ingestor
                if ing is None:
                    raise ApiError(503, "starting", "the service is starting", state.retry())
                out = await run_in_threadpool(ing.ingest, p.tenant, data)
            finally:
                state.in_flight -= 1
            state.metrics.outcome({"accepted": out.accepted, "duplicate": out.duplicate, "rejected": out.rejected,
                                   "held": out.held, "released": out.released}, out.alerts, out.newest_ts_us)
            status = 202
            return _json_response(out.to_json(), 202)
        except ApiError as e:
            status = e.status
            raise
        except BodyError as e:
            status = e.status
            raise ApiError(e.status, e.code, e.message) from None
        except ClientDisconnect:
            status = 499  # counted as the client going away; nothing was stored
            raise ApiError(400, "client_disconnected", "the client went away before the body was read") from None
        except BadLine as e:
            status = 400
            raise ApiError(400, e.code, f"line {e.line}: {e.message}", line=e.line) from None
        except HeldFull as e:
            status = 429
            raise ApiError(429, "too_many_held", str(e), state.retry()) from None
        except Busy as e:
            status = 503
            raise ApiError(503, "busy", str(e), state.retry()) from None
        finally:
            state.metrics.batch(status)

    # -- query -----------------------------------------------------------------------------
    @app.get("/v1/traces", tags=["query"], summary="List traces")
    def get_traces(request: Request, agent: Optional[str] = None, atlas: Optional[str] = None,
                   action: Optional[str] = None, decision: Optional[str] = None, event_type: Optional[str] = None,
                   integrity: Optional[str] = Query(None, description="intact, gap or broken"),
                   session: Optional[str] = None,
                   since: Optional[str] = Query(None, description="RFC 3339 or a duration before now (24h, 7d)"),
                   until: Optional[str] = None, limit: int = Query(100, ge=1, le=1000),
                   cursor: Optional[str] = None) -> Response:
        """Traces of the token's tenant, newest first; ``next_cursor`` pages on."""
        p = _auth(state, request, "read")
        f = _filter(agent, atlas, action, decision, event_type, integrity, session, since, until)
        try:
            return _json_response(list_traces(state.database(), p.tenant, f, limit, cursor))
        except QueryError as e:
            raise ApiError(400, "bad_query", str(e)) from None
        except Busy as e:
            raise ApiError(503, "busy", str(e), state.retry()) from None

    @app.get("/v1/traces/{trace_id}.jsonl", tags=["query"], summary="Export a trace as received",
             response_class=StreamingResponse, responses={200: {"content": {_JSONL: {}}}})
    def export(request: Request, trace_id: str) -> Response:
        """The stored lines byte for byte, in sequence order (``cra verify`` accepts them)."""
        p = _auth(state, request, "read")
        it = _busy(lambda: export_lines(state.database(), p.tenant, trace_id), state)
        if it is None:
            raise ApiError(404, "not_found", "no such trace")
        return StreamingResponse(iterate_in_threadpool(it), media_type=_JSONL)

    @app.get("/v1/traces/{trace_id}", tags=["query"], summary="One trace")
    def one(request: Request, trace_id: str) -> Response:
        """Summary, head, integrity, gaps and alert count."""
        p = _auth(state, request, "read")
        d = _busy(lambda: get_trace(state.database(), p.tenant, trace_id), state)
        if d is None:
            raise ApiError(404, "not_found", "no such trace")
        return _json_response(d)

    @app.get("/v1/traces/{trace_id}/events", tags=["query"], summary="One trace's events in order")
    def events(request: Request, trace_id: str, after: int = Query(-1, ge=-1),
               limit: int = Query(100, ge=1, le=1000)) -> Response:
        """Events with ``sequence > after``; ``next_after`` pages on."""
        p = _auth(state, request, "read")
        d = _busy(lambda: trace_events(state.database(), p.tenant, trace_id, after, limit), state)
        if d is None:
            raise ApiError(404, "not_found", "no such trace")
        return _json_response(d)

    @app.get("/v1/stats", tags=["query"], summary="Decision counts over time buckets")
    def get_stats(request: Request, since: str = "24h", until: Optional[str] = None,
                  bucket: int = Query(3600, ge=1, description="seconds"), agent: Optional[str] = None,
                  atlas: Optional[str] = None) -> Response:
        """Allowed/denied/pending/rate-limited... per bucket, denials by policy, approvals."""
        p = _auth(state, request, "read")
        try:
            s = parse_time(since, "since")
            u = parse_time(until, "until") if until else parse_time("0s", "until")
            assert s is not None and u is not None
            return _json_response(stats(state.database(), p.tenant, s, u, bucket, agent, atlas))
        except (TimeError, QueryError) as e:
            raise ApiError(400, "bad_query", str(e)) from None
        except Busy as e:
            raise ApiError(503, "busy", str(e), state.retry()) from None

    @app.get("/v1/alerts", tags=["query"], summary="Integrity alerts")
    def alerts(request: Request, trace_id: Optional[str] = None, after: int = Query(0, ge=0),
               limit: int = Query(100, ge=1, le=1000)) -> Response:
        """Rejected events and refused batches, oldest first."""
        p = _auth(state, request, "read")
        return _json_response(_busy(lambda: list_alerts(state.database(), p.tenant, trace_id, after, limit), state))

    @app.post("/v1/replay", tags=["query"], summary="Re-run stored traces against candidate atlases",
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {"schema": {
                  "type": "object", "required": ["atlases"],
                  "properties": {"atlases": {"type": "array", "items": {"type": "object"}},
                                 "trace_ids": {"type": "array", "items": {"type": "string"}},
                                 "filter": {"type": "object"}, "limit": {"type": "integer"}}}}}}})
    async def replay(request: Request) -> Response:
        """Changed decisions per trace: ``{traces, replayed, unchanged, changed: [...]}``."""
        p = _auth(state, request, "read")
        try:
            body = await read_limited(request.stream(), settings.max_body, request.headers.get("content-length"))
            doc = _json.loads(body)
        except BodyError as e:
            raise ApiError(e.status, e.code, e.message) from None
        except ValueError as e:
            raise ApiError(400, "bad_request", f"the body is not JSON: {e}") from None
        try:
            return _json_response(await run_in_threadpool(replay_traces, state.database(), p.tenant, doc, settings))
        except (ReplayError, QueryError, TimeError) as e:
            raise ApiError(400, "bad_request", str(e)) from None
        except Busy as e:
            raise ApiError(503, "busy", str(e), state.retry()) from None

    # -- admin -----------------------------------------------------------------------------
    @app.post("/v1/admin/retention", tags=["admin"], summary="Delete this tenant's traces older than N days")
    def retention(request: Request, days: Optional[float] = Query(None, gt=0)) -> Response:
        """Whole traces whose last batch arrived more than ``days`` (default: the server's
        retention) ago are deleted, with their alerts."""
        p = _auth(state, request, "admin")
        d = days if days is not None else settings.retention_days
        if d <= 0:
            raise ApiError(400, "bad_query", "no retention configured: pass days")
        r = _busy(lambda: apply_retention(state.database(), d, p.tenant), state)
        return _json_response({"days": d, "traces": r.traces, "events": r.events, "alerts": r.alerts})

    @app.post("/v1/admin/expire-held", tags=["admin"], summary="Record gaps for held events now")
    def expire(request: Request, older_than: float = Query(0.0, ge=0, description="seconds")) -> Response:
        """Held events of this tenant waiting longer than ``older_than`` seconds: gap recorded,
        the events that verify from there stored."""
        p = _auth(state, request, "admin")
        res = _busy(lambda: expire_held(state.database(), older_than, p.tenant), state)
        if state.sweeper is not None:
            state.sweeper.gaps += res["gaps"]
        return _json_response(res)

    # -- operations ------------------------------------------------------------------------
    @app.get("/healthz", tags=["operations"], summary="Liveness and database reachability")
    def healthz() -> Response:
        """200 when the database answers, 503 otherwise."""
        try:
            ok = state.database().ping()
        except Exception as e:  # any failure to reach the database is "unhealthy", never a crash
            return _json_response({"ok": False, "error": str(e)[:200]}, 503, state.retry())
        return _json_response({"ok": ok, "database": state.database().dialect})

    @app.get("/metrics", tags=["operations"], summary="Prometheus counters", response_class=Response)
    def metrics() -> Response:
        """Ingested, rejected, duplicate, held events; batches by status; lag."""
        held: Optional[int] = None
        try:
            with state.database().read() as tx:
                held = int(tx.q("SELECT COUNT(*) FROM held_events")[0][0])
        except Exception:  # the gauge is left out when the database cannot answer
            held = None
        gaps = state.sweeper.gaps if state.sweeper else 0
        text = state.metrics.render(held, gaps)
        if state.log is not None:
            text += ("# HELP cra_log_checkpoints_total transparency-log checkpoints signed by this process\n"
                     "# TYPE cra_log_checkpoints_total counter\n"
                     f"cra_log_checkpoints_total {state.log.made}\n"
                     "# HELP cra_log_refused_total self-audits that found the stored tree inconsistent (nothing signed)\n"
                     "# TYPE cra_log_refused_total counter\n"
                     f"cra_log_refused_total {state.log.refused}\n")
        return Response(text, media_type="text/plain; version=0.0.4")

    # -- the audit dashboard (docs/dashboard.md): its pages at / and its read-only endpoints ---
    install_dashboard(app, state)
    _install_log_routes(app, state)
    return app
