"""The ``cra`` command line.

Exit codes follow CLI conventions: 0 success, 1 the answer is "no" (invalid atlas, broken
trace, refused request, decisions that change), 2 usage or I/O errors. Colour on a terminal
only; ``NO_COLOR`` turns it off. Text taken from traces, atlases and errors goes through
:func:`cra._term.safe` before it reaches the terminal (control characters are shown escaped).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

from . import __version__, _json
from ._term import Spinner, Style, human_bytes, safe, table
from ._term import err as _err
from ._term import read_request as _read_request
from .errors import CraError, CraIOError, InvalidAtlas

EXIT_OK = 0
EXIT_NO = 1
EXIT_USAGE = 2

_EPILOG = """examples:
  cra demo
  cra demo --ingest                 (the dual-mode path: agents -> HTTP sink -> cra serve -> queries)
  cra atlas validate examples/atlases/customer-support
  cra resolve --atlas examples/atlases/customer-support request.json
  echo '{"requester": {...}, "task": {...}}' | cra resolve --atlas DIR -
  cra verify target/demo-trace.jsonl
  cra verify --require-session-end - < trace.jsonl
  cra replay target/demo-trace.jsonl --atlas path/to/new-version-of-the-atlas
  cra test examples/atlases/customer-support examples/atlases/devops
  cra explain --atlas examples/atlases/customer-support request.json customers.get_profile

exit codes: 0 success, 1 refused/invalid/broken/changed, 2 usage or I/O error.
Colour only on a terminal; set NO_COLOR=1 to turn it off."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cra",
        description="CRA: governance for AI agents — resolve, validate atlases, verify and replay traces.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"cra {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="run the scripted two-agent demo and verify its trace",
                       description="Run a scripted agent against the example atlases through governed tools: "
                                   "calls allowed, denied, approved and rate limited; the trace is written, "
                                   "verified and summarized.")
    d.add_argument("--atlases", metavar="DIR", help="directory of atlases (default: examples/atlases found from here, else the ones shipped in the package)")
    d.add_argument("--trace", metavar="FILE", default="target/demo-trace.jsonl", help="trace file to write (default: %(default)s)")
    d.add_argument("--ingest", action="store_true",
                   help="the dual-mode demo instead: several agent processes resolve in-process and send their traces "
                        "through the HTTP sink to a local ingest (cra serve, started here), which is then queried "
                        "(needs the server extra; docs/ingest.md)")
    d.add_argument("--server", metavar="URL", help="with --ingest: use this running ingest instead of starting one")
    d.add_argument("--write-token", metavar="TOKEN", help="with --server: the agents' token (default CRA_TRACE_TOKEN)")
    d.add_argument("--read-token", metavar="TOKEN", help="with --server: the queries' token (default CRA_TOKEN)")
    d.add_argument("--keep", action="store_true", help="with --ingest: keep the ingest's database (a temporary directory)")

    r = sub.add_parser("resolve", help="resolve a CARP request against atlases and print the resolution",
                       description="Resolve one CARP request (JSON) against the given atlases and print the "
                                   "resolution JSON on stdout. Exit 1 when the request is refused (decision "
                                   "deny) or invalid.")
    r.add_argument("request", metavar="REQUEST.json", help="the request, or - for standard input")
    r.add_argument("--atlas", metavar="DIR", action="append", required=True, help="atlas directory or file (repeatable)")
    r.add_argument("--compact", action="store_true", help="print the JSON on one line")

    a = sub.add_parser("atlas", help="atlas tools", description="Atlas tools.")
    asub = a.add_subparsers(dest="atlas_command", metavar="COMMAND")
    av = asub.add_parser("validate", help="validate an atlas and list every problem with its JSON pointer",
                         description="Validate an atlas (directory holding atlas.json, or a file). Every problem "
                                     "is listed with its code and JSON pointer. Exit 1 when invalid.")
    av.add_argument("atlas", metavar="DIR", nargs="+", help="atlas directory or atlas.json file")
    av.add_argument("--json", action="store_true", help="print the results as JSON")
    asc = asub.add_parser("schema", help="print the editor JSON Schema of atlas.json (or its installed path)",
                          description="Print the JSON Schema (draft 2020-12) of atlas.json, for editors and CI. "
                                      "Point an atlas at it with a top-level \"$schema\" (docs/atlas.md).")
    asc.add_argument("--path", action="store_true", help="print the installed file's path instead")
    asc.add_argument("--tests", action="store_true", help="the schema of policy test files (tests/*.json) instead")

    v = sub.add_parser("verify", help="verify a TRACE file's hash chains",
                       description="Verify every session's hash chain in a JSONL trace. "
                                   "Exit 0 intact, 1 broken, 2 unreadable.")
    v.add_argument("trace", metavar="TRACE.jsonl", help="the trace, or - for standard input")
    v.add_argument("--json", action="store_true", help="print the report as JSON")
    v.add_argument("--require-session-end", action="store_true",
                   help="also report sessions whose last event is not session.ended (missing_session_end)")

    rp = sub.add_parser("replay", help="replay a trace's requests against atlases and show what would change",
                        description="Re-run the resolve requests recorded in a trace against the given atlases "
                                    "(e.g. a new policy version). Exit 0 nothing changes, 1 some decisions change.")
    rp.add_argument("trace", metavar="TRACE.jsonl")
    rp.add_argument("--atlas", metavar="DIR", action="append", required=True, help="atlas directory or file (repeatable)")
    rp.add_argument("--json", action="store_true", help="print the report as JSON")

    b = sub.add_parser("bench", help="time resolve and the fast path through the Python API (percentiles)",
                       description="Time many individual calls and print p50/p99 per operation.")
    b.add_argument("--iterations", type=_positive_int, default=20000, help="calls per operation (default: %(default)s)")
    b.add_argument("--json", action="store_true", help="print the figures as JSON")

    from .ingest_cli import add_commands as _add_ingest_commands

    _add_ingest_commands(sub)
    from .authoring_cli import add_commands as _add_authoring_commands

    _add_authoring_commands(sub)
    from .integrations.mcp_cli import add_parser as add_mcp_proxy  # its own module; imports argparse only

    add_mcp_proxy(sub)
    from .tlog_cli import add_commands as _add_log_commands

    _add_log_commands(sub)
    return p


def _positive_int(text: str) -> int:
    """An argparse type: an integer of at least 1 (a clear usage error otherwise)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``cra`` console script; returns the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        run = getattr(args, "_run", None)
        if run is not None:  # subcommands registered by their own modules (authoring_cli)
            return int(run(args))
        if args.command == "demo":
            if args.ingest:
                from .dual_demo import run_dual_demo

                return run_dual_demo(args.atlases, args.server, args.write_token or os.environ.get("CRA_TRACE_TOKEN"),
                                     args.read_token or os.environ.get("CRA_TOKEN"), keep=args.keep)
            if args.server or args.write_token or args.read_token or args.keep:
                parser.error("--server, --write-token, --read-token and --keep go with --ingest")
            from .demo import run_demo

            return run_demo(args.atlases, args.trace)
        if args.command == "resolve":
            return _resolve(args)
        if args.command == "atlas":
            if args.atlas_command == "schema":
                return _schema(args)
            if args.atlas_command != "validate":
                parser.error("atlas needs a command: cra atlas validate DIR, or cra atlas schema")
            return _validate(args)
        if args.command == "verify":
            return _verify(args)
        if args.command == "replay":
            return _replay(args)
        if args.command == "bench":
            from .bench import main as bench_main

            return bench_main(iterations=args.iterations, as_json=args.json)
        if args.command in ("serve", "traces"):
            from .ingest_cli import run as _run_ingest

            return _run_ingest(args)
        if args.command == "mcp-proxy":
            from .integrations.mcp_cli import run as run_mcp_proxy

            return run_mcp_proxy(args)
        if args.command == "log":
            from .tlog_cli import run as _run_log

            return _run_log(args)
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # pragma: no cover - `cra ... | head`
        return EXIT_OK
    except KeyboardInterrupt:  # pragma: no cover
        return 130


def _describe(e: CraError) -> str:
    where = f" at {e.pointer}" if e.pointer else ""
    return f"{e.code}{where}: {e.message}"


def _details(e: CraError) -> None:
    """Every detail of an error on stderr, escaped."""
    for d in e.details:
        sys.stderr.write(f"  {safe(d.pointer or '(document)')}: {safe(d.code)}: {safe(d.message)}\n")


def _resolve(args: argparse.Namespace) -> int:
    from .resolver import Resolver

    body = _read_request(args.request)
    if body is None:
        return EXIT_USAGE
    try:
        with Resolver() as r:
            for a in args.atlas:
                r.load_atlas(a)
            res = r.resolve(body)
    except (CraIOError, OSError) as e:
        _err(str(e))
        return EXIT_USAGE
    except CraError as e:
        _err(_describe(e))
        _details(e)
        return EXIT_NO
    text = _json.dumps(res.raw).decode() if args.compact else _pretty(res.raw)
    sys.stdout.write(text + "\n")
    st = Style(sys.stderr)
    if sys.stderr.isatty():
        sys.stderr.write(
            f"{st.bold(safe(res.decision))}: {len(res.allowed)} allowed, {len(res.denied)} denied, "
            f"{len(res.pending)} pending, {len(res.context_blocks)} context blocks\n"
        )
    return EXIT_NO if res.decision == "deny" else EXIT_OK


def _pretty(v: Any) -> str:
    import json

    return json.dumps(v, indent=2, ensure_ascii=False)


def _validate(args: argparse.Namespace) -> int:
    from .resolver import Resolver

    st = Style(sys.stdout)
    worst = EXIT_OK
    results: List[Dict[str, Any]] = []
    for path in args.atlas:
        shown = safe(path)
        entry: Dict[str, Any] = {"path": path, "valid": False}
        results.append(entry)
        try:
            with Resolver() as r:
                info = r.load_atlas(path)
        except InvalidAtlas as e:
            entry["error"] = _error_json(e)
            entry["problems"] = [{"code": d.code, "pointer": d.pointer, "message": d.message} for d in e.details]
            worst = max(worst, EXIT_NO)
            if args.json:
                continue
            n = len(e.details) or 1
            sys.stdout.write(f"{st.bad('invalid')} {shown}: {n} problem{'s' if n != 1 else ''}\n")
            width = max((len(safe(d.pointer or "(document)")) for d in e.details), default=0)
            cwidth = max((len(safe(d.code)) for d in e.details), default=0)
            for d in e.details:
                ptr = safe(d.pointer or "(document)").ljust(width)
                sys.stdout.write(f"  {st.bold(ptr)}  {st.dim(safe(d.code).ljust(cwidth))}  {safe(d.message)}\n")
            if not e.details:
                sys.stdout.write(f"  {safe(e.pointer or '(document)')}  {safe(e.message)}\n")
            continue
        except (CraIOError, OSError) as e:
            entry["error"] = _error_json(e) if isinstance(e, CraError) else {"code": "IO_ERROR", "message": str(e), "pointer": None}
            worst = EXIT_USAGE
            if not args.json:
                _err(f"{path}: {e}")
            continue
        except CraError as e:
            entry["error"] = _error_json(e)
            worst = max(worst, EXIT_NO)
            if not args.json:
                sys.stdout.write(f"{st.bad('invalid')} {shown}: {safe(_describe(e))}\n")
            continue
        warnings = list(info.raw.get("warnings") or [])
        entry.update(valid=True, atlas_id=info.atlas_id, version=info.version, actions=info.actions,
                     policies=info.policies, context_packs=info.context_packs, capabilities=info.capabilities,
                     warnings=warnings)
        if args.json:
            continue
        sys.stdout.write(
            f"{st.ok('valid')} {shown}: {safe(info.atlas_id)} {safe(info.version)} — {info.actions} actions, "
            f"{info.policies} policies, {info.context_packs} context packs, {info.capabilities} capabilities\n"
        )
        for w in warnings:
            sys.stdout.write(f"  {st.warn('warning')}  {st.bold(safe(w.get('pointer') or '(document)'))}  "
                             f"{st.dim(safe(w.get('code')))}  {safe(w.get('message'))}\n")
    if args.json:
        sys.stdout.write(_pretty({"ok": worst == EXIT_OK, "atlases": results}) + "\n")
    return worst


def _error_json(e: CraError) -> Dict[str, Any]:
    return {"code": e.code, "message": e.message, "pointer": e.pointer}


def _schema(args: argparse.Namespace) -> int:
    from .schemas import schema_path, policy_tests_schema_path

    path = policy_tests_schema_path() if args.tests else schema_path()
    if args.path:
        sys.stdout.write(path + "\n")
        return EXIT_OK
    try:
        with open(path, encoding="utf-8") as f:
            sys.stdout.write(f.read())
    except OSError as e:
        _err(f"cannot read {path}: {e.strerror}")
        return EXIT_USAGE
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from .trace import verify_trace

    st = Style(sys.stdout)
    trace: Any = args.trace
    shown = "standard input" if args.trace == "-" else safe(args.trace)
    try:
        if args.trace == "-":
            trace = sys.stdin.buffer.read()
            size = len(trace)
        else:
            size = os.path.getsize(args.trace)
            if os.path.isdir(args.trace):
                raise IsADirectoryError(21, "is a directory")
    except OSError as e:
        _err(f"cannot read {args.trace}: {e.strerror}")
        return EXIT_USAGE
    big = size > 8 * 1024 * 1024
    try:
        with Spinner(f"verifying {shown}", size, enabled=big and sys.stderr.isatty() and not args.json):
            report = verify_trace(trace, require_session_end=args.require_session_end)
    except CraIOError as e:
        _err(f"cannot read {args.trace}: {e.message}")
        return EXIT_USAGE
    except CraError as e:
        _err(f"cannot verify {args.trace}: {_describe(e)}")
        return EXIT_USAGE
    if args.json:
        sys.stdout.write(_pretty(_with_line_numbers(report.raw, "errors")) + "\n")
        return EXIT_OK if report.ok else EXIT_NO
    summary = f"{report.events} events, {report.sessions} sessions, {human_bytes(size)}"
    if report.ok:
        sys.stdout.write(f"{st.ok('OK')} {shown}: every chain is intact ({summary})\n")
        return EXIT_OK
    n = len(report.errors)
    sys.stdout.write(f"{st.bad('BROKEN')} {shown}: {n} broken session{'s' if n != 1 else ''} ({summary})\n")
    rows = [
        [
            safe(x.get("session_id") or "-"),
            safe(x["line"] + 1),
            safe(x.get("sequence", "-")),
            st.bad(safe(x["code"])),
            safe(x["message"]),
        ]
        for x in report.errors
    ]
    sys.stdout.write(table(["session", "line", "seq", "code", "what"], rows, st) + "\n")
    if report.malformed_lines:
        sys.stdout.write(f"  {report.malformed_lines} malformed line(s) in all\n")
    return EXIT_NO


def _replay(args: argparse.Namespace) -> int:
    from .trace import replay

    st = Style(sys.stdout)
    try:
        report = replay(args.trace, args.atlas)
    except (CraIOError, OSError) as e:
        _err(str(e))
        return EXIT_USAGE
    except CraError as e:
        _err(_describe(e))
        _details(e)
        return EXIT_USAGE
    if args.json:
        sys.stdout.write(_pretty(_with_line_numbers(report.raw, "changed")) + "\n")
        return EXIT_OK if report else EXIT_NO
    sys.stdout.write(
        f"replayed {report.replayed} request{'s' if report.replayed != 1 else ''}: "
        f"{report.unchanged} unchanged, {len(report.changed)} changed\n"
    )
    if not report.changed:
        sys.stdout.write(st.ok("no decision would change") + "\n")
        return EXIT_OK
    rows: List[List[str]] = []
    for c in report.changed:
        before: Dict[str, Any] = c["before"]
        after = c.get("after")
        what = [st.bad(safe(c["error"]))] if c.get("error") else _action_changes(before, after, st)
        rows.append([
            safe(c.get("session_id") or "-"),
            safe(c["line"] + 1),
            f"{safe(before['decision'])} → {safe(after['decision']) if after else 'error'}",
            "; ".join(what) or "(same actions in another order)",
        ])
    sys.stdout.write(table(["session", "line", "decision", "what changes (per action)"], rows, st) + "\n")
    return EXIT_NO


_STATES = (("allowed", "allowed"), ("pending", "pending"), ("denied", "denied"))


def _action_state(outcome: Optional[Dict[str, Any]], action: str) -> str:
    for key, name in _STATES:
        if outcome and action in (outcome.get(key) or ()):
            return name
    return "absent"


def _action_changes(before: Dict[str, Any], after: Optional[Dict[str, Any]], st: Style) -> List[str]:
    """Each action whose list changes, as ``action: before → after`` (allowed, pending, denied,
    absent), in the order the actions first appear."""
    seen: List[str] = []
    for outcome in (before, after or {}):
        for key, _ in _STATES:
            for a in outcome.get(key) or ():
                if a not in seen:
                    seen.append(a)
    out = []
    for a in seen:
        was, now = _action_state(before, a), _action_state(after, a)
        if was == now:
            continue
        paint = st.warn if now == "allowed" else st.bad if was == "allowed" or now == "denied" else st.dim
        out.append(paint(f"{safe(a)}: {was} → {now}"))
    return out


def _with_line_numbers(raw: Dict[str, Any], key: str) -> Dict[str, Any]:
    """``--json`` output: each entry keeps ``line`` as the core reports it (0-based index of the
    trace line, as in every binding) and gains ``line_number`` (1-based, as the text output and
    editors count)."""
    out = dict(raw)
    entries = []
    for e in raw.get(key) or []:
        e = dict(e)
        if isinstance(e.get("line"), int):
            e["line_number"] = e["line"] + 1
        entries.append(e)
    out[key] = entries
    return out


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
