"""``cra serve`` and ``cra traces ...``: the ingest service and an HTTP client for it.

``serve`` needs the ``server`` extra; ``traces list`` / ``traces export`` use only the standard
library and talk to a server given by ``--server``/``CRA_SERVER`` with ``--token``/``CRA_TOKEN``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Dict, List, Optional

__all__ = ["add_commands", "run"]

DEFAULT_SERVER = "http://127.0.0.1:8787"
_TIMEOUT = 60.0
EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def add_commands(sub: Any) -> None:
    """Adds ``serve`` and ``traces`` to the ``cra`` parser's subcommands."""
    s = sub.add_parser("serve", help="run the central ingest service (HTTP; needs the server extra)",
                       description="Run the ingest service: POST /v1/traces checks every chain with libcra and "
                                   "stores it (SQLite or PostgreSQL); query, export and replay over HTTP. Every "
                                   "option also reads CRA_INGEST_<NAME> (e.g. CRA_INGEST_DB). See docs/ingest.md.")
    s.add_argument("--db", help="sqlite:///PATH (default ./cra-ingest.sqlite3) or postgresql://...")
    s.add_argument("--tokens", metavar="FILE", help="JSON tokens file: token -> {tenant, rights}")
    s.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, help="port (default 8787)")
    s.add_argument("--max-body", type=int, metavar="BYTES", help="largest request body (default 16 MiB)")
    s.add_argument("--max-decompressed", type=int, metavar="BYTES", help="largest batch once decompressed (default 32 MiB)")
    s.add_argument("--retention-days", type=float, metavar="DAYS", help="delete traces idle this long (default: keep)")
    s.add_argument("--hold-seconds", type=float, metavar="S", help="hold out-of-order events this long before a gap (300)")
    s.add_argument("--max-held-events", type=int, metavar="N", help="held events per tenant before 429 (100000)")
    s.add_argument("--sweep-seconds", type=float, metavar="S", help="timer for held expiry and retention (10; 0 off)")
    s.add_argument("--atlases", metavar="DIR", help="atlases the dashboard offers for replay: an atlas directory or a"
                                                     " directory of them (docs/dashboard.md)")
    s.add_argument("--log-key", metavar="FILE", help="transparency log signing keys, created (0600) when missing "
                                                     "(default: <SQLite file>.log-key; required with PostgreSQL)")
    s.add_argument("--log-origin", metavar="NAME", help="prefix of every tenant's log origin, e.g. audit.example.com/cra "
                                                        "(default localhost/cra-ingest)")
    s.add_argument("--checkpoint-seconds", type=float, metavar="S", help="sign a checkpoint of each grown log this "
                                                                         "often (5; 0: on demand only)")

    t = sub.add_parser("traces", help="list and export traces stored by an ingest server",
                       description="Query an ingest server (--server or CRA_SERVER, --token or CRA_TOKEN).")
    tsub = t.add_subparsers(dest="traces_command", metavar="COMMAND")
    tl = tsub.add_parser("list", help="list traces (newest first)")
    for name in ("agent", "atlas", "action", "decision", "event-type", "integrity", "session"):
        tl.add_argument(f"--{name}")
    tl.add_argument("--since", help="RFC 3339 time or a duration before now (24h, 7d)")
    tl.add_argument("--until")
    tl.add_argument("--limit", type=int, default=100, help="at most this many traces (default %(default)s)")
    tl.add_argument("--json", action="store_true", help="print the JSON answer(s)")
    te = tsub.add_parser("export", help="write a trace's raw JSONL (cra verify accepts it)")
    te.add_argument("trace_id", metavar="TRACE_ID")
    te.add_argument("-o", "--output", metavar="FILE", help="write here instead of standard output")
    for p in (tl, te):
        p.add_argument("--server", default=None, help=f"server URL (default CRA_SERVER or {DEFAULT_SERVER})")
        p.add_argument("--token", default=None, help="bearer token (default CRA_TOKEN)")


def run(args: argparse.Namespace) -> int:
    """Runs ``serve`` or ``traces``; returns the exit code."""
    if args.command == "serve":
        return _serve(args)
    if args.traces_command == "list":
        return _list(args)
    if args.traces_command == "export":
        return _export(args)
    sys.stderr.write("cra traces needs a command: list or export\n")
    return EXIT_USAGE


def _serve(args: argparse.Namespace) -> int:
    try:
        from .server import Settings, SettingsError, serve
        from .server.tokens import TokenFileError
    except ImportError as e:
        sys.stderr.write(f"error: cra serve needs the server extra: pip install 'cra-governance[server]' ({e})\n")
        return EXIT_USAGE
    try:
        settings = Settings.from_env(db=args.db, tokens=args.tokens, host=args.host, port=args.port,
                                     max_body=args.max_body, max_decompressed=args.max_decompressed,
                                     retention_days=args.retention_days, hold_seconds=args.hold_seconds,
                                     max_held_events=args.max_held_events, sweep_seconds=args.sweep_seconds,
                                     atlases=args.atlases, log_key=args.log_key, log_origin=args.log_origin,
                                     checkpoint_seconds=args.checkpoint_seconds)
        serve(settings)
    except (SettingsError, TokenFileError) as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_USAGE
    return EXIT_OK


class _HttpError(Exception):
    pass


def _request(args: argparse.Namespace, path: str, params: Optional[Dict[str, Any]] = None) -> Any:
    server = (args.server or os.environ.get("CRA_SERVER") or DEFAULT_SERVER).rstrip("/")
    token = args.token or os.environ.get("CRA_TOKEN")
    if not token:
        raise _HttpError("a token is needed: --token or CRA_TOKEN")
    q = urllib.parse.urlencode({k: v for k, v in (params or {}).items() if v is not None})
    req = urllib.request.Request(server + path + ("?" + q if q else ""), headers={"Authorization": f"Bearer {token}"})
    try:
        return urllib.request.urlopen(req, timeout=_TIMEOUT)
    except urllib.error.HTTPError as e:
        try:
            msg = json.loads(e.read(65536))["error"]["message"]
        except Exception:
            msg = e.reason
        raise _HttpError(f"{server}: HTTP {e.code}: {msg}") from None
    except (urllib.error.URLError, OSError) as e:
        raise _HttpError(f"cannot reach {server}: {getattr(e, 'reason', e)}") from None


def _list(args: argparse.Namespace) -> int:
    params: Dict[str, Any] = {"agent": args.agent, "atlas": args.atlas, "action": args.action, "decision": args.decision,
                              "event_type": args.event_type, "integrity": args.integrity, "session": args.session,
                              "since": args.since, "until": args.until}
    rows: List[Dict[str, Any]] = []
    cursor: Optional[str] = None
    try:
        while len(rows) < args.limit:
            page_size = min(1000, args.limit - len(rows))
            with _request(args, "/v1/traces", dict(params, limit=page_size, cursor=cursor)) as r:
                page = json.loads(r.read())
            rows += page["traces"]
            cursor = page.get("next_cursor")
            if not cursor:
                break
    except _HttpError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_USAGE
    if args.json:
        sys.stdout.write(json.dumps({"traces": rows}, indent=2) + "\n")
        return EXIT_OK
    from ._term import Style, table

    st = Style(sys.stdout)
    body = [[r["trace_id"], r.get("session_id") or "-", r.get("agent_id") or "-", ",".join(r.get("atlases") or []) or "-",
             str(r["events"]), (st.ok if r["integrity"] == "intact" else st.bad)(r["integrity"]),
             r.get("first_timestamp") or "-"] for r in rows]
    sys.stdout.write(table(["trace", "session", "agent", "atlases", "events", "integrity", "started"], body, st) + "\n")
    sys.stdout.write(f"{len(rows)} trace{'s' if len(rows) != 1 else ''}\n")
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    path = "/v1/traces/" + urllib.parse.quote(args.trace_id, safe="") + ".jsonl"
    try:
        r = _request(args, path)
    except _HttpError as e:
        sys.stderr.write(f"error: {e}\n")
        return EXIT_USAGE
    try:
        out = open(args.output, "wb") if args.output else sys.stdout.buffer
    except OSError as e:
        r.close()
        sys.stderr.write(f"error: cannot write {args.output}: {e.strerror}\n")
        return EXIT_USAGE
    try:
        with r:
            while True:
                chunk = r.read(65536)
                if not chunk:
                    break
                out.write(chunk)
    except OSError as e:
        sys.stderr.write(f"error: the export was cut: {e}\n")
        return EXIT_USAGE
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    return EXIT_OK
