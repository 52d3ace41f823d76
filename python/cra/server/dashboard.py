"""The audit dashboard (docs/dashboard.md): a small browser app served by ``cra serve`` at ``/``,
and the few read-only endpoints it needs beyond the query API.

The app is plain files under ``static/`` (HTML, CSS, ES modules, no build step, nothing fetched
from elsewhere), served from memory with a strict Content-Security-Policy. It calls the same
bearer-token API as any client; the token is entered once and kept in the tab's sessionStorage.

Endpoints added here (all need a token with the read right, scoped to its tenant like every
query):

* ``GET /v1/dashboard/whoami``: the token's tenant and rights (any valid token).
* ``GET /v1/dashboard/overview``: everything the overview page shows for a time range and an
  optional agent / atlas: decisions per time bucket, top denied actions with their policies,
  rate-limit hits, approvals pending and how long they wait, trace integrity counts.
* ``GET /v1/dashboard/facets``: the agents, atlases and actions stored (for the filters).
* ``GET /v1/dashboard/search?q=``: traces whose trace id, session id, agent or event id is ``q``
  (or whose trace id starts with it).
* ``GET /v1/dashboard/atlases``: atlases the server offers as replay candidates (``--atlases
  DIR``), as self-contained documents.
* ``POST /v1/traces/{id}/verify``: the stored raw lines verified again by libcra
  (:mod:`.reverify`).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
from typing import Any, Dict, List, Optional, Tuple

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response

from .shared import ApiError, _auth, _busy, _json_response
from .db import Database, now_us
from .query import DECISIONS, MAX_US, QueryError, _iso, stats
from .reverify import reverify
from .timeparse import TimeError, parse_time

__all__ = ["install_dashboard", "STATIC_DIR", "overview", "facets", "search", "known_atlases", "pick_bucket"]

STATIC_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")

#: The dashboard's pages may load only their own files and call only this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
       " font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
_SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                     "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
_TYPES = {".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8",
          ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml",
          ".png": "image/png", ".json": "application/json", ".txt": "text/plain; charset=utf-8"}
#: Nice bucket widths for the decisions chart, in seconds.
_BUCKETS = (60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 7 * 86400)
#: Most pending approvals read to work out which still wait (the answer says when it is more).
_MAX_PENDING = 5000
_FACET_LIMIT = 200
#: Atlases offered for replay: at most this many, each at most 16 MiB (the loader's own limits apply too).
_MAX_KNOWN_ATLASES = 100


# -- static files ------------------------------------------------------------------------------
class _Static:
    """The dashboard's files, read once into memory (they are small) and served by exact name:
    nothing outside the list can be asked for."""

    def __init__(self, root: str) -> None:
        self.files: Dict[str, Tuple[bytes, str, str]] = {}
        if not os.path.isdir(root):
            return
        for base, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for n in sorted(names):
                if n.startswith("."):
                    continue
                full = os.path.join(base, n)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                with open(full, "rb") as f:
                    data = f.read()
                ext = os.path.splitext(n)[1].lower()
                kind = _TYPES.get(ext) or mimetypes.guess_type(n)[0] or "application/octet-stream"
                self.files[rel] = (data, kind, '"' + hashlib.sha256(data).hexdigest()[:32] + '"')

    def response(self, rel: str, request: Request) -> Response:
        f = self.files.get(rel)
        if f is None:
            return Response(b"not found\n", status_code=404, media_type="text/plain", headers=_SECURITY_HEADERS)
        data, kind, etag = f
        headers = {**_SECURITY_HEADERS, "ETag": etag, "Cache-Control": "no-cache"}
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(data, media_type=kind, headers=headers)


# -- queries -----------------------------------------------------------------------------------
def pick_bucket(since_us: int, until_us: int, target: int = 72) -> int:
    """A bucket width (seconds) giving about ``target`` bars over the range."""
    span = max(1, (until_us - since_us) // 1_000_000)
    for b in _BUCKETS:
        if span / b <= target:
            return b
    return _BUCKETS[-1]


def _event_where(tenant: str, since_us: int, until_us: int, agent: Optional[str],
                 atlas: Optional[str]) -> Tuple[str, List[Any]]:
    """Events of a tenant in a time range, of an agent and attributable to an atlas (the same rule
    as ``/v1/stats``: the event's own atlas, else one of its trace's atlases)."""
    where = "e.tenant = ? AND e.ts_us >= ? AND e.ts_us < ?"
    args: List[Any] = [tenant, since_us, until_us]
    if agent is not None:
        where += " AND e.agent_id = ?"
        args.append(agent)
    if atlas is not None:
        where += (" AND (e.atlas_id = ? OR (e.atlas_id IS NULL AND e.trace_id IN (SELECT a.trace_id FROM trace_atlases a"
                  " WHERE a.tenant = ? AND a.atlas_id = ?)))")
        args += [atlas, tenant, atlas]
    return where, args


def _approval_id(raw: bytes) -> Optional[str]:
    from .. import _json

    try:
        v = _json.loads(bytes(raw)).get("payload", {}).get("approval_id")
    except Exception:  # stored lines were verified JSON; a tampered one is simply not matched
        return None
    return v if isinstance(v, str) else None


def _approvals(db: Database, where: str, args: List[Any], tenant: str, now: int) -> Dict[str, Any]:
    """Approvals requested in the range: which are decided (and how fast), which still wait
    (their session goes on), which were left undecided by a session that ended."""
    with db.read() as tx:
        pend = tx.q(f"SELECT e.trace_id, e.sequence, e.ts_us, e.action_id, e.policy_id, e.agent_id, e.raw"
                    f" FROM events e WHERE {where} AND e.decision = 'pending' ORDER BY e.ts_us LIMIT ?",
                    (*args, _MAX_PENDING + 1))
        more = len(pend) > _MAX_PENDING
        pend = pend[:_MAX_PENDING]
        traces = sorted({r[0] for r in pend})
        decided: Dict[Tuple[str, str], Tuple[str, int, Optional[str]]] = {}
        ended: Dict[str, bool] = {}
        for cond, part in tx.among("e.trace_id", traces):
            for tid, decision, ts, raw in tx.q(
                    f"SELECT e.trace_id, e.decision, e.ts_us, e.raw FROM events e WHERE e.tenant = ? AND {cond}"
                    " AND e.decision IN ('approved', 'rejected', 'denied') ORDER BY e.trace_id, e.sequence", (tenant, *part)):
                aid = _approval_id(raw)
                if aid is not None and (tid, aid) not in decided:
                    decided[(tid, aid)] = (str(decision), int(ts), None)
            for cond2, part2 in tx.among("trace_id", part):
                for tid, end in tx.q(f"SELECT trace_id, ended FROM traces WHERE tenant = ? AND {cond2}", (tenant, *part2)):
                    ended[tid] = bool(end)
    waiting: List[Dict[str, Any]] = []
    latencies: List[float] = []
    counts = {"requested": 0, "approved": 0, "rejected": 0, "expired": 0, "waiting": 0, "abandoned": 0}
    seen = set()
    for tid, seq, ts, action, policy, agent, raw in pend:
        aid = _approval_id(raw)
        key = (tid, aid or f"#{seq}")
        if key in seen:
            continue
        seen.add(key)
        counts["requested"] += 1
        d = decided.get((tid, aid)) if aid else None
        if d is not None:
            kind = {"approved": "approved", "rejected": "rejected"}.get(d[0], "expired")
            counts[kind] += 1
            latencies.append(max(0, d[1] - int(ts)) / 1e6)
            continue
        if ended.get(tid):
            counts["abandoned"] += 1
            continue
        counts["waiting"] += 1
        waiting.append({"trace_id": tid, "sequence": int(seq), "approval_id": aid, "action_id": action,
                        "policy_id": policy, "agent_id": agent, "requested": _iso(int(ts)),
                        "waiting_seconds": max(0, now - int(ts)) / 1e6})
    waiting.sort(key=lambda w: -float(w["waiting_seconds"]))
    latencies.sort()
    return {**counts, "more": more,
            "oldest_waiting_seconds": waiting[0]["waiting_seconds"] if waiting else None,
            "median_decision_seconds": latencies[len(latencies) // 2] if latencies else None,
            "max_decision_seconds": latencies[-1] if latencies else None,
            "pending": waiting[:8]}


def overview(db: Database, tenant: str, since_us: int, until_us: int, bucket_s: Optional[int] = None,
             agent: Optional[str] = None, atlas: Optional[str] = None, top: int = 10) -> Dict[str, Any]:
    """The overview page's numbers for one tenant, range and filter."""
    if until_us <= since_us:
        raise QueryError("until must be after since")
    if since_us < 0 or until_us > MAX_US:
        raise QueryError("since and until must lie between 1970 and 9999")
    bucket = bucket_s or pick_bucket(since_us, until_us)
    since_us -= since_us % (bucket * 1_000_000)  # bars start at round times (UTC)
    series = stats(db, tenant, since_us, until_us, bucket, agent, atlas)
    where, args = _event_where(tenant, since_us, until_us, agent, atlas)
    from .query import TraceFilter

    tw, targs = TraceFilter(agent=agent, atlas=atlas, since_us=since_us, until_us=until_us).where(tenant)
    with db.read() as tx:
        denied = tx.q(f"SELECT e.action_id, e.policy_id, e.reason_code, COUNT(*), MAX(e.ts_us) FROM events e WHERE {where}"
                      " AND e.decision = 'denied' GROUP BY e.action_id, e.policy_id, e.reason_code"
                      " ORDER BY COUNT(*) DESC, e.action_id, e.policy_id LIMIT ?", (*args, top))
        limited = tx.q(f"SELECT e.action_id, e.policy_id, COUNT(*), MAX(e.ts_us) FROM events e WHERE {where}"
                       " AND e.decision = 'rate_limited' GROUP BY e.action_id, e.policy_id"
                       " ORDER BY COUNT(*) DESC, e.action_id, e.policy_id LIMIT ?", (*args, top))
        integrity = {k: 0 for k in ("intact", "gap", "broken")}
        for k, n in tx.q(f"SELECT t.integrity, COUNT(*) FROM traces t WHERE {tw} GROUP BY t.integrity", targs):
            integrity[str(k)] = int(n)
        alerts = int(tx.q("SELECT COUNT(*) FROM alerts WHERE tenant = ? AND received_us >= ? AND received_us < ?",
                          (tenant, since_us, until_us))[0][0])
        stored = bool(tx.q("SELECT 1 FROM traces WHERE tenant = ? LIMIT 1", (tenant,)))
    return {
        "since": _iso(since_us), "until": _iso(until_us), "bucket_seconds": bucket,
        "agent": agent, "atlas": atlas,
        "decisions": {"buckets": series["buckets"], "totals": series["totals"]},
        "top_denied": [{"action_id": a, "policy_id": p, "reason_code": r, "count": int(n), "last": _iso(int(t))}
                       for a, p, r, n, t in denied],
        "rate_limited": [{"action_id": a, "policy_id": p, "count": int(n), "last": _iso(int(t))}
                         for a, p, n, t in limited],
        "rate_limit_hits": series["rate_limit_hits"],
        "approvals": _approvals(db, where, args, tenant, now_us()),
        "integrity": integrity,
        "traces": sum(integrity.values()),
        "any_traces": stored,  # outside the range too: "no traces yet" versus "none in this range"
        "alerts": alerts,
    }


def _distinct(tx: Any, table: str, column: str, tenant: str, limit: int) -> List[str]:
    """Distinct values of an indexed (tenant, column) pair by successive index seeks (a loose
    index scan): fast however many rows share each value."""
    out: List[str] = []
    last: Optional[str] = None
    while len(out) < limit:
        if last is None:
            rows = tx.q(f"SELECT MIN({column}) FROM {table} WHERE tenant = ? AND {column} IS NOT NULL", (tenant,))
        else:
            rows = tx.q(f"SELECT MIN({column}) FROM {table} WHERE tenant = ? AND {column} > ?", (tenant, last))
        if not rows or rows[0][0] is None:
            break
        last = str(rows[0][0])
        out.append(last)
    return out


def facets(db: Database, tenant: str) -> Dict[str, Any]:
    """The values the filters can take: agents, atlases, actions (at most 200 each), decisions."""
    with db.read() as tx:
        return {"agents": _distinct(tx, "traces", "agent_id", tenant, _FACET_LIMIT),
                "atlases": _distinct(tx, "trace_atlases", "atlas_id", tenant, _FACET_LIMIT),
                "actions": _distinct(tx, "events", "action_id", tenant, _FACET_LIMIT),
                "decisions": list(DECISIONS)}


def search(db: Database, tenant: str, q: str, limit: int = 20) -> Dict[str, Any]:
    """Traces found by an exact trace id, session id, agent or event id, or a trace id prefix."""
    q = q.strip()
    found: Dict[str, str] = {}
    if not q or len(q) > 512:
        return {"q": q, "results": []}
    with db.read() as tx:
        for tid, in tx.q("SELECT trace_id FROM traces WHERE tenant = ? AND trace_id = ?", (tenant, q)):
            found.setdefault(tid, "trace id")
        for tid, in tx.q("SELECT trace_id FROM events WHERE tenant = ? AND event_id = ?", (tenant, q)):
            found.setdefault(tid, "event id")
        for tid, in tx.q("SELECT trace_id FROM traces WHERE tenant = ? AND session_id = ? ORDER BY first_ts_us DESC"
                         " LIMIT ?", (tenant, q, limit)):
            found.setdefault(tid, "session")
        if len(found) < limit and len(q) >= 4:
            pat = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            for tid, in tx.q("SELECT trace_id FROM traces WHERE tenant = ? AND trace_id LIKE ? ESCAPE '\\'"
                             " ORDER BY trace_id LIMIT ?", (tenant, pat, limit)):
                found.setdefault(tid, "trace id prefix")
        agent = tx.q("SELECT 1 FROM traces WHERE tenant = ? AND agent_id = ? LIMIT 1", (tenant, q))
    results = [{"trace_id": t, "match": m} for t, m in list(found.items())[:limit]]
    return {"q": q, "results": results, "agent": q if agent else None}


def known_atlases(directory: Optional[str]) -> List[Dict[str, Any]]:
    """The atlases under ``directory`` (itself an atlas, or a folder of atlas folders), each as a
    self-contained document, or with the error that kept it out."""
    if not directory:
        return []
    import cra

    paths: List[str] = []
    if os.path.isfile(os.path.join(directory, "atlas.json")):
        paths.append(directory)
    elif os.path.isdir(directory):
        for name in sorted(os.listdir(directory)):
            p = os.path.join(directory, name)
            if os.path.isfile(os.path.join(p, "atlas.json")):
                paths.append(p)
    out: List[Dict[str, Any]] = []
    for p in paths[:_MAX_KNOWN_ATLASES]:
        try:
            doc = cra.trace.atlas_document(p)  # context inlined by libcra's loader
            out.append({"name": os.path.basename(os.path.normpath(p)), "atlas_id": doc.get("atlas_id"),
                        "version": doc.get("version"), "title": doc.get("name"),
                        "policies": len(doc.get("policies") or ()), "actions": len(doc.get("actions") or ()),
                        "document": doc})
        except Exception as e:  # shown beside the others; one bad atlas does not hide the rest
            out.append({"name": os.path.basename(os.path.normpath(p)), "error": str(e)})
    return out


def _first_event_us(db: Database, tenant: str, until_us: int) -> int:
    """The start of an "all time" range: the tenant's earliest event (an hour before ``until`` when none)."""
    with db.read() as tx:
        rows = tx.q("SELECT MIN(first_ts_us) FROM traces WHERE tenant = ?", (tenant,))
    first = rows[0][0] if rows else None
    return min(int(first), until_us - 1) if first is not None else until_us - 3_600_000_000


# -- routes ------------------------------------------------------------------------------------
def install_dashboard(app: FastAPI, state: Any) -> None:
    """Adds the dashboard's pages and endpoints to the service's app (``create_app`` calls it)."""
    static = _Static(STATIC_DIR)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Response:
        if "index.html" not in static.files:
            return Response(b"the dashboard's files are missing from this installation\n", status_code=404,
                            media_type="text/plain")
        return static.response("index.html", request)

    @app.get("/ui/{path:path}", include_in_schema=False)
    def ui(request: Request, path: str) -> Response:
        return static.response(path, request)

    def principal(request: Request) -> Any:
        return _auth(state, request, "read")

    @app.get("/v1/dashboard/whoami", tags=["dashboard"], summary="The token's tenant and rights")
    def whoami(request: Request) -> Response:
        """Any valid token: its tenant and rights (so the dashboard can say what a token lacks)."""
        h = request.headers.get("authorization", "")
        scheme, _, token = h.partition(" ")
        p = state.tokens.lookup(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
        if p is None:
            raise ApiError(401, "unauthorized", "a valid bearer token is required", {"WWW-Authenticate": "Bearer"})
        return _json_response({"tenant": p.tenant, "rights": sorted(p.rights)})

    @app.get("/v1/dashboard/overview", tags=["dashboard"], summary="The overview page's numbers")
    def get_overview(request: Request, since: str = Query("7d", description="RFC 3339, a duration (24h, 7d) or all"),
                     until: Optional[str] = None,
                     bucket: Optional[int] = Query(None, ge=60, description="seconds (default: about 72 bars)"),
                     agent: Optional[str] = None, atlas: Optional[str] = None) -> Response:
        """Decisions per bucket, top denied actions, rate-limit hits, approvals, integrity counts."""
        p = principal(request)
        try:
            u = parse_time(until, "until") if until else now_us()
            assert u is not None
            end = u
            s = _busy(lambda: _first_event_us(state.database(), p.tenant, end), state) if since == "all" \
                else parse_time(since, "since")
            assert s is not None
        except TimeError as e:
            raise ApiError(400, "bad_query", str(e)) from None
        return _json_response(_busy(lambda: overview(state.database(), p.tenant, s, u, bucket, agent or None,
                                                     atlas or None), state))

    @app.get("/v1/dashboard/facets", tags=["dashboard"], summary="Values for the filters")
    def get_facets(request: Request) -> Response:
        """Agents, atlases and actions stored for this tenant (at most 200 each), and the decisions."""
        p = principal(request)
        return _json_response(_busy(lambda: facets(state.database(), p.tenant), state))

    @app.get("/v1/dashboard/search", tags=["dashboard"], summary="Find traces by id, session, agent or event")
    def get_search(request: Request, q: str = Query(..., max_length=512)) -> Response:
        """Exact trace id, event id, session id or agent; trace id prefix (4 characters or more)."""
        p = principal(request)
        return _json_response(_busy(lambda: search(state.database(), p.tenant, q), state))

    @app.get("/v1/dashboard/atlases", tags=["dashboard"], summary="Atlases offered as replay candidates")
    def get_atlases(request: Request) -> Response:
        """The server's ``--atlases`` directory, each atlas a self-contained document."""
        principal(request)
        return _json_response({"directory_configured": bool(state.settings.atlases),
                               "atlases": known_atlases(state.settings.atlases)})

    @app.post("/v1/traces/{trace_id}/verify", tags=["query"], summary="Verify a stored trace again")
    def post_verify(request: Request, trace_id: str) -> Response:
        """The stored raw lines re-verified by libcra: ``{ok, status, findings: [{line, sequence,
        event_id, code, message, severity}], ...}`` (``line`` is 1-based in the export)."""
        p = principal(request)
        d = _busy(lambda: reverify(state.database(), p.tenant, trace_id), state)
        if d is None:
            raise ApiError(404, "not_found", "no such trace")
        return _json_response(d)
