"""``cra test`` (policy tests of atlases) and ``cra explain`` (why an action gets its verdict).

Registered in :mod:`cra.cli` by :func:`add_commands`; each subcommand sets ``_run`` to its
function. Exit codes as everywhere in the CLI: 0 success, 1 "no" (a test failed; a request
refused), 2 usage, I/O, an invalid test file, or a libcra without the function.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional

from ._term import Style, safe, table
from .errors import CraError, CraIOError
from ._term import err as _err
from ._term import read_request as _read_request

__all__ = ["add_commands", "run_test_command", "run_explain_command"]

EXIT_OK, EXIT_NO, EXIT_USAGE = 0, 1, 2


def add_commands(sub: Any) -> None:
    """Adds ``test`` and ``explain`` to the ``cra`` parser's subcommands."""
    t = sub.add_parser(
        "test", help="run an atlas's policy tests (ATLAS_DIR/tests/*.json) in deterministic mode",
        description="Run the policy tests kept next to atlases (ATLAS_DIR/tests/*.json; the format is in "
                    "docs/atlas.md and cra/schemas/atlas-tests.schema.json). Each test runs on a fresh deterministic "
                    "resolver. Exit 0 when every test passes, 1 when one fails (or an atlas does not load), "
                    "2 for a usage error or an invalid test file (reported with its JSON pointer).")
    t.add_argument("paths", metavar="ATLAS_DIR", nargs="+", help="atlas directory, its tests/ folder, or a test file")
    t.add_argument("-k", dest="keyword", metavar="TEXT", help="run only the tests whose name contains TEXT")
    t.add_argument("--json", action="store_true", help="print the results as JSON (for CI)")
    t.add_argument("-q", "--quiet", action="store_true", help="print only failures and the summary")
    t.set_defaults(_run=run_test_command)

    e = sub.add_parser(
        "explain", help="explain why an action gets its verdict for a request (every policy, in ladder order)",
        description="Judge one action for a resolve request against the given atlases and show every policy of "
                    "its atlas in ladder order: whether its actions cover the action, each condition with what the "
                    "request had, which policy decided and why the others did not. Records nothing. Exit 0 when "
                    "explained, 1 when the request is refused (or no atlas declares the action), 2 for usage or "
                    "I/O errors or a libcra without cra_resolver_explain.")
    e.add_argument("request", metavar="REQUEST.json", help="the resolve request, or - for standard input")
    e.add_argument("action_id", metavar="ACTION_ID")
    e.add_argument("--atlas", metavar="DIR", action="append", required=True, help="atlas directory or file (repeatable)")
    e.add_argument("--json", action="store_true", help="print the explanation JSON as the core answers it")
    e.set_defaults(_run=run_explain_command)




def _describe(e: CraError) -> str:
    where = f" at {e.pointer}" if e.pointer else ""
    return f"{e.code}{where}: {e.message}"


# -- cra test ----------------------------------------------------------------------------------


def run_test_command(args: argparse.Namespace) -> int:
    from .policytest import TestFileError, discover, load_test_file, render_step_failure, run_file

    try:
        paths = discover(args.paths)
    except TestFileError as e:
        return _invalid([e], args.json)
    files = []
    problems: List[TestFileError] = []
    for p in paths:
        try:
            files.append(load_test_file(p))
        except TestFileError as e:
            problems.append(e)
    if problems:
        return _invalid(problems, args.json)
    keyword: Optional[str] = args.keyword
    select = (lambda name: keyword in name) if keyword else None
    if select is not None and not any(select(t.name) for f in files for t in f.tests):
        _err(f"no test name contains {keyword!r}")
        return EXIT_USAGE
    results = [run_file(f, select) for f in files]
    passed = sum(1 for r in results for t in r.tests if t.ok)
    failed = sum(1 for r in results for t in r.tests if not t.ok)
    ok = all(r.ok for r in results)
    if args.json:
        doc = {"ok": ok, "passed": passed, "failed": failed, "files": [r.to_dict() for r in results]}
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK if ok else EXIT_NO
    st = Style(sys.stdout)
    out = sys.stdout
    for r in results:
        out.write(f"{st.bold(safe(_shown(r.path)))}\n")
        if r.error:
            out.write(f"  {st.bad('ERROR')} {safe(r.error)}\n")
        for t in r.tests:
            if t.ok:
                if not args.quiet:
                    out.write(f"  {st.ok('ok  ')}  {safe(t.name)}\n")
                continue
            if r.error and t.error == r.error:
                continue
            out.write(f"  {st.bad('FAIL')}  {safe(t.name)}\n")
            if t.error:
                out.write(f"        {safe(t.error)}\n")
            for s in t.failures:
                for line in render_step_failure(s):
                    out.write(f"        {_paint_diff(st, safe(line))}\n")
    n_files = len(results)
    summary = f"{n_files} file{'s' if n_files != 1 else ''}, {passed + failed} test{'s' if passed + failed != 1 else ''}: " \
              f"{passed} passed, {failed} failed"
    out.write((st.ok(summary) if ok else st.bad(summary)) + "\n")
    return EXIT_OK if ok else EXIT_NO


def _paint_diff(st: Style, line: str) -> str:
    s = line.lstrip()
    if s.startswith("+") and not s.startswith("+++"):
        return st.ok(line)
    if s.startswith("-") and not s.startswith("---"):
        return st.bad(line)
    return line


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith(".." + os.sep) else rel


def _invalid(problems: List[Any], as_json: bool) -> int:
    if as_json:
        doc = {"ok": False, "errors": [{"path": p.path, "pointer": p.pointer, "message": p.message} for p in problems]}
        sys.stdout.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    else:
        for p in problems:
            _err(f"{p.path}: {p.pointer or '(document)'}: {p.message}")
    return EXIT_USAGE


# -- cra explain -------------------------------------------------------------------------------


def run_explain_command(args: argparse.Namespace) -> int:
    from ._lowlevel import native_function
    from .resolver import Resolver

    try:
        native_function("cra_resolver_explain", "cra explain")
    except CraError as e:
        _err(e.message)
        return EXIT_USAGE
    body = _read_request(args.request)
    if body is None:
        return EXIT_USAGE
    try:
        with Resolver() as r:
            for a in args.atlas:
                r.load_atlas(a)
            answer = r.explain(body, args.action_id)
    except (CraIOError, OSError) as e:
        _err(str(e))
        return EXIT_USAGE
    except CraError as e:
        _err(_describe(e))
        for d in e.details:
            sys.stderr.write(f"  {safe(d.pointer or '(document)')}: {safe(d.code)}: {safe(d.message)}\n")
        return EXIT_NO
    if args.json:
        sys.stdout.write(json.dumps(answer, indent=2, ensure_ascii=False) + "\n")
        return EXIT_OK
    sys.stdout.write(render_explanation(answer, Style(sys.stdout)) + "\n")
    return EXIT_OK


def _yes(st: Style, v: Any) -> str:
    return st.ok("yes") if v else st.dim("no")


def _json_short(v: Any, limit: int = 60) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_explanation(answer: Dict[str, Any], st: Style) -> str:
    """The explanation as text: the verdict, the input, a table of the policies in ladder
    order, and each condition with what it expected and what the request had. Every value
    from the atlas or the request is escaped."""
    verdict = str(answer.get("verdict"))
    paint = st.ok if verdict == "allowed" else st.warn if verdict in ("pending_approval", "not_in_scope") else st.bad
    head = f"{st.bold(safe(answer.get('action_id')))} ({safe(answer.get('atlas_id'))}): {paint(safe(verdict))}"
    why = []
    if answer.get("reason_code"):
        why.append(safe(answer["reason_code"]))
    if answer.get("policy_id"):
        why.append(f"decided by {safe(answer['policy_id'])}")
    elif verdict not in ("allowed", "not_in_scope"):
        why.append("no policy decided" if answer.get("reason_code") != "rate_limit_exceeded" else "the action's own rate limit")
    lines = [head + (f" — {', '.join(why)}" if why else "")]
    inp = answer.get("input") or {}
    lines.append(
        f"input: agent {safe(inp.get('agent_id'))}, risk tier {safe(inp.get('risk_tier'))}, "
        f"context {safe(_json_short(inp.get('context'), 200))}"
    )
    rows: List[List[str]] = []
    details: List[str] = []
    for i, p in enumerate(answer.get("policies") or [], 1):
        conds = p.get("conditions") or []
        summary = ", ".join(f"{safe(c.get('kind'))} {'✓' if c.get('held') else '✗'}" for c in conds) or "-"
        pid = safe(p.get("policy_id"))
        rows.append([
            str(i), st.bold(pid) if p.get("decided") else pid, safe(p.get("type")), safe(p.get("priority", 0)),
            _yes(st, p.get("pattern_matched")), summary, _yes(st, p.get("applies")),
            st.bold("DECIDED") if p.get("decided") else "", safe(p.get("note") or ""),
        ])
        for c in conds:
            mark = st.ok("held") if c.get("held") else st.bad("did not hold")
            details.append(
                f"  {pid}: {safe(c.get('kind'))} {mark}: expected {safe(_json_short(c.get('expected')))}, "
                f"saw {safe(_json_short(c.get('saw')))}"
            )
    if rows:
        lines.append("")
        lines.append(table(["#", "policy", "type", "prio", "covers", "conditions", "applies", "", "note"], rows, st))
    else:
        lines.append("the atlas has no policies: every action is denied by default")
    if details:
        lines.append("")
        lines.append("conditions:")
        lines.extend(details)
    return "\n".join(lines)
