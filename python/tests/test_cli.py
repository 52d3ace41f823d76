"""The ``cra`` command: each subcommand in-process and through the installed console script."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

import cra
from cra.cli import main

from conftest import ATLASES, DEVOPS, REPO, SUPPORT

CRA = os.path.join(os.path.dirname(sys.executable), "cra")
_VERIFY_WITH = hasattr(cra._lowlevel.lib, "cra_trace_verify_with") and hasattr(cra._lowlevel.lib, "cra_trace_verify_file_with")
_ANSI_OURS = re.compile(r"\x1b\[(?:0|1|2|31|32|33)m")  # the colours the CLI itself paints
REQUEST = {"requester": {"agent_id": "support-bot-1", "session_id": "s"}, "task": {"goal": "refund ORD-1234"}}


def run(args: List[str], stdin: Optional[bytes] = None, env: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    """The console script in a subprocess (piped: no colour)."""
    e = dict(os.environ, **(env or {}))
    p = subprocess.run([CRA, *args], input=stdin, capture_output=True, cwd=REPO, env=e, timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def inproc(args: List[str]) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "t.jsonl"
    with cra.Resolver(trace_file=path) as r:
        r.load_atlas(DEVOPS)
        r.resolve(agent="oncall-alice", session="ops", goal="roll back checkout", context={"environment": "production"})
    return path


def test_help_and_version() -> None:
    code, out, _ = run(["--help"])
    assert code == 0 and "demo" in out and "verify" in out and "exit codes" in out
    code, out, _ = run(["--version"])
    assert code == 0 and out.strip() == f"cra {cra.__version__}"
    code, _, err = run([])
    assert code == 2 and "usage" in err
    code, _, err = run(["frobnicate"])
    assert code == 2 and "invalid choice" in err
    assert subprocess.run([sys.executable, "-m", "cra", "--version"], capture_output=True, cwd="/").returncode == 0


def test_demo_subprocess(tmp_path: Path) -> None:
    t = tmp_path / "demo.jsonl"
    code, out, err = run(["demo", "--atlases", ATLASES, "--trace", str(t)])
    assert code == 0, out + err
    assert "\x1b[" not in out  # piped: plain text
    for needle in ("rate limited", "needs approval", "approved", "denied", "verify:  OK"):
        assert needle in out
    assert cra.verify_trace(t).ok


def test_demo_finds_atlases_from_the_repo(tmp_path: Path) -> None:
    code, out, _ = inproc(["demo", "--trace", str(tmp_path / "d.jsonl")])
    assert code == 0 and "OK" in out
    code, _, err = run(["demo", "--atlases", str(tmp_path / "nowhere")])
    assert code == 2 and "--atlases" in err


def test_colour_on_a_terminal_only(tmp_path: Path) -> None:
    code, out, _ = run(["atlas", "validate", SUPPORT], env={"FORCE_COLOR": "1"})
    assert code == 0 and "\x1b[32m" in out
    code, out, _ = run(["atlas", "validate", SUPPORT], env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert "\x1b[" not in out


def test_resolve_from_file_and_stdin(tmp_path: Path) -> None:
    f = tmp_path / "req.json"
    f.write_text(json.dumps(REQUEST))
    code, out, _ = run(["resolve", "--atlas", SUPPORT, str(f)])
    assert code == 0 and json.loads(out)["decision"]["type"] == "partial"
    both = dict(REQUEST, context={"environment": "staging"})  # the devops atlas declares its context
    code, out, _ = run(["resolve", "--atlas", SUPPORT, "--atlas", DEVOPS, "--compact", "-"], stdin=json.dumps(both).encode())
    assert code == 0 and len(out.strip().splitlines()) == 1 and json.loads(out)["allowed_actions"]


def test_resolve_errors() -> None:
    code, _, err = run(["resolve", "--atlas", SUPPORT, "-"], stdin=b'{"requester": {"agent_id": "a", "session_id": "s"}, "task": {"goal": "g", "risk_tier": "x"}}')
    assert code == 1 and "INVALID_REQUEST at /task/risk_tier" in err
    code, _, err = run(["resolve", "--atlas", SUPPORT, "/no/such/request.json"])
    assert code == 2 and "cannot read" in err
    code, _, err = run(["resolve", "--atlas", "/no/such/atlas", "-"], stdin=b"{}")
    assert code == 2
    code, _, err = run(["resolve", "-"], stdin=b"{}")
    assert code == 2 and "--atlas" in err


def test_resolve_exit_code_follows_the_help() -> None:
    code, out, _ = run(["resolve", "--help"])
    assert code == 0 and "Exit 1 when the request is refused (decision deny)" in " ".join(out.split())
    denied = {"requester": {"agent_id": "support-bot-1", "session_id": "s"},
              "task": {"goal": "delete the account", "required_capabilities": ["customers.delete"]}}
    code, out, _ = run(["resolve", "--atlas", SUPPORT, "-"], stdin=json.dumps(denied).encode())
    assert json.loads(out)["decision"]["type"] == "deny" and code == 1
    code, out, _ = run(["resolve", "--atlas", SUPPORT, "-"], stdin=json.dumps(REQUEST).encode())
    assert json.loads(out)["decision"]["type"] == "partial" and code == 0


def test_atlas_validate(tmp_path: Path) -> None:
    code, out, _ = inproc(["atlas", "validate", SUPPORT, DEVOPS])
    assert code == 0 and out.count("valid") == 2 and "com.example.devops" in out
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "atlas.json").write_text(json.dumps({
        "atlas_version": "1.0", "atlas_id": "Not Valid", "version": "1", "name": "x", "description": "",
        "actions": [{"action_id": "a.b", "name": "n", "description": "", "risk_tier": "extreme"}],
        "policies": [{"policy_id": "p", "type": "deny", "actions": ["nothing.*"]}], "colour": "blue"}))
    code, out, _ = run(["atlas", "validate", str(bad)])
    assert code == 1
    assert "invalid" in out and "/atlas_id" in out and "/version" in out and "/colour" in out
    assert "/actions/0/risk_tier" in out and "/policies/0/actions/0" in out
    assert "5 problems" in out
    code, _, err = run(["atlas", "validate", str(tmp_path / "missing")])
    assert code == 2 and "error" in err
    code, _, err = run(["atlas"])
    assert code == 2


def test_verify(trace: Path, tmp_path: Path) -> None:
    code, out, _ = run(["verify", str(trace)])
    assert code == 0 and out.startswith("OK") and "1 sessions" in out
    lines = trace.read_bytes().splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(lines[0] + lines[2] + b"".join(lines[3:]))
    code, out, _ = run(["verify", str(broken)])
    assert code == 1 and out.startswith("BROKEN") and "sequence_gap" in out
    code, out, _ = inproc(["verify", "--json", str(broken)])
    assert code == 1 and json.loads(out)["ok"] is False
    code, _, err = run(["verify", str(tmp_path / "missing.jsonl")])
    assert code == 2 and "cannot read" in err
    code, _, err = run(["verify", str(tmp_path)])
    assert code == 2


def test_verify_reads_standard_input(trace: Path) -> None:
    code, out, _ = run(["verify", "-"], stdin=trace.read_bytes())
    assert code == 0 and out.startswith("OK standard input") and "1 sessions" in out
    lines = trace.read_bytes().splitlines(keepends=True)
    code, out, _ = run(["verify", "-"], stdin=lines[0] + b"".join(lines[2:]))
    assert code == 1 and out.startswith("BROKEN standard input") and "sequence_gap" in out
    code, out, _ = run(["verify", "--json", "-"], stdin=b"")
    assert code == 0 and json.loads(out)["events"] == 0


EVIL = "evil\x1b[32mOK\x1b[0m\nfake"


@pytest.fixture(scope="module")
def evil_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A trace whose session id paints a green OK and starts a new line, with its second event
    removed (a broken chain: the session id is printed)."""
    path = tmp_path_factory.mktemp("evil") / "evil.jsonl"
    with cra.Resolver(trace_file=path) as r:
        r.load_atlas(DEVOPS)
        r.resolve(agent="oncall-alice", session=EVIL, goal="roll back checkout", context={"environment": "production"})
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) > 2 and EVIL.encode() not in path.read_bytes()  # JSON escapes it in the file
    broken = path.with_name("broken.jsonl")
    broken.write_bytes(lines[0] + b"".join(lines[2:]))
    return broken


def _assert_escaped(out: str) -> None:
    assert "\x1b" not in out and "\r" not in out
    assert "evil\\x1b[32mOK\\x1b[0m\\nfake" in out  # shown, escaped, on one line
    assert not any(line.startswith("fake") for line in out.splitlines())


def test_verify_escapes_text_from_the_trace(evil_trace: Path) -> None:
    code, out, _ = run(["verify", str(evil_trace)])
    assert code == 1 and out.startswith("BROKEN")
    _assert_escaped(out)
    code, out, _ = run(["verify", "-"], stdin=evil_trace.read_bytes(), env={"FORCE_COLOR": "1"})
    assert code == 1
    _assert_escaped(_ANSI_OURS.sub("", out))  # our own colours aside, nothing raw from the trace
    code, out, _ = inproc(["verify", "--json", str(evil_trace)])
    assert code == 1 and "\x1b" not in out  # JSON escapes control characters itself
    assert json.loads(out)["errors"][0]["session_id"] == EVIL


def test_replay_escapes_text_from_the_trace(evil_trace: Path, tmp_path: Path) -> None:
    whole = evil_trace.with_name("evil.jsonl")
    frozen = _frozen_devops(tmp_path)
    code, out, _ = run(["replay", str(whole), "--atlas", str(frozen)])
    assert code == 1 and "k8s.deployments.rollback" in out
    _assert_escaped(out)


def test_escape_for_the_terminal() -> None:
    from cra._term import safe

    assert safe("plain text, é, 東京") == "plain text, é, 東京"
    assert safe("a\x1b[2Jb\n\r\t\x7f\x9b\u202e\ud800") == "a\\x1b[2Jb\\n\\r\\t\\x7f\\x9b\\u202e\\ud800"
    assert safe("C:\\x1b") == "C:\\\\x1b"  # a literal backslash is escaped too: no look-alikes
    assert safe(12) == "12"


@pytest.mark.skipif(not _VERIFY_WITH, reason="libcra has no cra_trace_verify_with / cra_trace_verify_file_with yet")
def test_verify_require_session_end_option(trace: Path, tmp_path: Path) -> None:
    ended = tmp_path / "ended.jsonl"
    with cra.Resolver(trace_file=ended) as r:
        r.load_atlas(DEVOPS)
        with r.session("oncall-alice", "ops") as s:
            s.resolve("roll back checkout", context={"environment": "production"})
    assert cra.verify_trace(trace, require_session_end=False).ok
    for source in (trace, trace.read_bytes()):  # path and bytes
        report = cra.verify_trace(source, require_session_end=True)
        assert not report.ok and [x["code"] for x in report.errors] == ["missing_session_end"]
        assert report.errors[0]["session_id"] == "ops"
    assert cra.verify_trace(ended, require_session_end=True).ok
    assert cra.verify_trace(ended.read_bytes(), require_session_end=True).ok
    code, out, _ = run(["verify", "--require-session-end", str(trace)])
    assert code == 1 and "missing_session_end" in out
    code, out, _ = run(["verify", "--require-session-end", "-"], stdin=ended.read_bytes())
    assert code == 0 and out.startswith("OK")
    code, out, _ = run(["verify", str(trace)])
    assert code == 0


def test_verify_option_on_a_libcra_without_it(trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = cra._lowlevel.lib

    class Older:
        """libcra as built before cra_trace_verify_with existed."""

        def __getattr__(self, name: str) -> object:
            if name in ("cra_trace_verify_with", "cra_trace_verify_file_with"):
                raise AttributeError(name)
            return getattr(real, name)

    monkeypatch.setattr(cra._lowlevel, "lib", Older())
    assert cra.verify_trace(trace).ok  # without the option nothing changes
    with pytest.raises(cra.CraError) as e:
        cra.verify_trace(trace, require_session_end=True)
    assert e.value.code == "UNSUPPORTED" and "require_session_end needs cra_trace_verify_file_with" in e.value.message
    with pytest.raises(cra.CraError) as e:
        cra.verify_trace(trace.read_bytes(), require_session_end=True)
    assert e.value.code == "UNSUPPORTED" and "cra_trace_verify_with" in e.value.message
    code, _, err = inproc(["verify", "--require-session-end", str(trace)])
    assert code == 2 and "UNSUPPORTED" in err and "cra_trace_verify_file_with" in err


def _frozen_devops(tmp_path: Path) -> Path:
    """The devops atlas with a first policy denying every deployment action."""
    frozen = tmp_path / "frozen"
    shutil.copytree(DEVOPS, frozen)
    doc = json.loads((frozen / "atlas.json").read_text())
    doc["policies"].insert(0, {"policy_id": "freeze", "type": "deny", "actions": ["k8s.deployments.*"]})
    (frozen / "atlas.json").write_text(json.dumps(doc))
    return frozen


def test_replay(trace: Path, tmp_path: Path) -> None:
    code, out, _ = run(["replay", str(trace), "--atlas", DEVOPS])
    assert code == 0 and "no decision would change" in out
    frozen = _frozen_devops(tmp_path)
    code, out, _ = run(["replay", str(trace), "--atlas", str(frozen)])
    assert code == 1 and "changed" in out and "k8s.deployments.rollback" in out and "partial → partial" in out
    code, out, _ = inproc(["replay", "--json", str(trace), "--atlas", str(frozen)])
    assert code == 1 and json.loads(out)["changed"]
    code, _, err = run(["replay", str(tmp_path / "nope.jsonl"), "--atlas", DEVOPS])
    assert code == 2


def test_bench_runs(tmp_path: Path) -> None:
    code, out, _ = inproc(["bench", "--iterations", "200", "--json"])
    assert code == 0
    rows = json.loads(out)["rows"]
    assert {r["name"].split(" ")[0] for r in rows} >= {"resolve(dict)", "allowed(session,"}
    assert all(r["p50_ns"] > 0 for r in rows)
    rust = tmp_path / "rust.txt"
    rust.write_text("resolve, 100 rules, 10 actions in scope       p50      1000 ns   p99      2400 ns   p99.9  3000 ns\n")
    code, out, _ = inproc_bench(["--iterations", "100", "--rust", str(rust)])
    assert code == 0 and "1.00 µs" in out and "target fast path" in out


def inproc_bench(args: List[str]) -> Tuple[int, str, str]:
    from cra.bench import main as bench_main

    out = io.StringIO()
    with redirect_stdout(out):
        code = bench_main(args)
    return code, out.getvalue(), ""
