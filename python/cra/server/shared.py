"""What the service's route modules share (app, dashboard, transparency-log routes): the error
answer, the JSON response, the shared state, bearer-token auth and the busy-database mapping.
Kept apart from :mod:`cra.server.app` so the route modules that ``create_app`` installs do not
import the module that installs them."""

from __future__ import annotations

from typing import Any, Dict, Optional

from fastapi import Request
from fastapi.responses import Response

from .. import _json
from .db import Busy, Database
from .ingest import Ingestor
from .maintenance import Sweeper
from .metrics import Metrics
from .query import QueryError
from .settings import Settings
from .tlog import Checkpointer, LogService
from .tokens import Principal, TokenStore

__all__ = ["ApiError", "_State", "_auth", "_busy", "_json_response"]


class ApiError(Exception):
    """An answer other than success: status, stable code, message, extra fields and headers."""

    def __init__(self, status: int, code: str, message: str, headers: Optional[Dict[str, str]] = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}
        self.extra = extra


def _json_response(body: Any, status: int = 200, headers: Optional[Dict[str, str]] = None) -> Response:
    return Response(_json.dumps(body), status_code=status, media_type="application/json", headers=headers)


class _State:
    """What the routes share: settings, database, ingestor, tokens, metrics, the sweeper."""

    def __init__(self, settings: Settings, tokens: TokenStore) -> None:
        self.settings = settings
        self.tokens = tokens
        self.metrics = Metrics()
        self.db: Optional[Database] = None
        self.ingestor: Optional[Ingestor] = None
        self.sweeper: Optional[Sweeper] = None
        self.log: Optional[LogService] = None  # the transparency log (docs/transparency.md)
        self.checkpointer: Optional[Checkpointer] = None
        self.in_flight = 0

    def database(self) -> Database:
        if self.db is None:
            raise ApiError(503, "starting", "the service is starting", {"Retry-After": "1"})
        return self.db

    def retry(self) -> Dict[str, str]:
        return {"Retry-After": str(self.settings.retry_after_seconds)}


def _auth(state: _State, request: Request, right: str) -> Principal:
    h = request.headers.get("authorization", "")
    scheme, _, token = h.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "a bearer token is required (Authorization: Bearer <token>)",
                       {"WWW-Authenticate": "Bearer"})
    p = state.tokens.lookup(token.strip())
    if p is None:
        raise ApiError(401, "unauthorized", "unknown token", {"WWW-Authenticate": 'Bearer error="invalid_token"'})
    if not p.can(right):
        raise ApiError(403, "forbidden", f"this token lacks the {right} right")
    named = request.headers.get("x-cra-tenant")
    if named is not None and named != p.tenant:
        raise ApiError(403, "forbidden", "this token belongs to another tenant")
    return p


def _busy(fn: Any, state: _State) -> Any:
    try:
        return fn()
    except Busy as e:
        raise ApiError(503, "busy", str(e), state.retry()) from None
    except QueryError as e:
        raise ApiError(400, "bad_query", str(e)) from None

