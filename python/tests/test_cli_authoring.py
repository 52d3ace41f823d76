"""CLI for atlas authors: ``cra explain``, ``cra atlas validate --json``, ``cra atlas schema``,
and the fixes a new user asked for: replay shows the change per action, verify's line numbers,
``bench --iterations 0``, and the documented ``cra resolve`` example runs as written."""

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
from cra._term import Style
from cra.cli import _action_changes, main

from conftest import DEVOPS, REPO, SUPPORT

CRA = os.path.join(os.path.dirname(sys.executable), "cra")
HAS_EXPLAIN = hasattr(cra._lowlevel.lib, "cra_resolver_explain")
TRAINEE = {"requester": {"agent_id": "support-trainee-3", "session_id": "s-1"}, "task": {"goal": "find the address"}}


def _same_bytes(a: str, b: str) -> bool:
    """The same schema file: the source tree's copy and the installed package's (the wheel ships
    it) have the same bytes."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def cli(args: List[str], stdin: Optional[bytes] = None) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def run(args: List[str], stdin: Optional[bytes] = None, env: Optional[Dict[str, str]] = None) -> Tuple[int, str, str]:
    p = subprocess.run([CRA, *args], input=stdin, capture_output=True, cwd=REPO, env=dict(os.environ, **(env or {})), timeout=120)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


# -- cra explain -------------------------------------------------------------------------------


@pytest.mark.skipif(not HAS_EXPLAIN, reason="the loaded libcra has no cra_resolver_explain")
def test_explain_text_and_json(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps(TRAINEE))
    code, out, err = run(["explain", "--atlas", SUPPORT, str(req), "customers.get_profile"])
    assert code == 0, err
    first = out.splitlines()[0]
    assert first == "customers.get_profile (com.example.customer-support): denied — policy_denied, decided by deny-pii-for-trainees"
    assert "input: agent support-trainee-3, risk tier low, context null" in out
    rows = [line.split() for line in out.splitlines() if re.match(r"\s+\d+\s", line)]
    assert [r[1] for r in rows] == ["deny-account-deletion", "deny-pii-for-trainees", "approve-large-refunds",
                                    "refunds-per-session", "allow-support-agents"]  # ladder order
    assert rows[1][:5] == ["2", "deny-pii-for-trainees", "deny", "0", "yes"] and "DECIDED" in rows[1]
    assert 'deny-pii-for-trainees: agents held: expected ["support-trainee-*"], saw "support-trainee-3"' in out
    assert "\x1b[" not in out

    code, out, _ = run(["explain", "--json", "--atlas", SUPPORT, "-", "customers.get_profile"], stdin=json.dumps(TRAINEE).encode())
    doc = json.loads(out)
    with cra.Resolver() as r:
        r.load_atlas(SUPPORT)
        assert doc == r.explain(TRAINEE, "customers.get_profile")  # --json passes the core's answer through
    assert code == 0 and doc["verdict"] == "denied" and doc["policy_id"] == "deny-pii-for-trainees"


@pytest.mark.skipif(not HAS_EXPLAIN, reason="the loaded libcra has no cra_resolver_explain")
def test_explain_verdicts_and_errors(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"requester": {"agent_id": "oncall-alice", "session_id": "s"}, "task": {"goal": "deploy"},
                               "context": {"environment": "production"}}))
    code, out, _ = cli(["explain", "--atlas", DEVOPS, str(req), "k8s.deployments.deploy"])
    assert code == 0 and "pending_approval — approval_required, decided by approve-production-deploys" in out
    assert 'approve-production-deploys: context_matches held: expected {"environment": "production"}' in out
    code, out, _ = cli(["explain", "--atlas", DEVOPS, str(req), "k8s.pods.list"])
    assert code == 0 and ": allowed — decided by allow-read-only" in out
    req.write_text(json.dumps({"requester": {"agent_id": "intruder", "session_id": "s"}, "task": {"goal": "deploy"},
                               "context": {"environment": "staging"}}))
    code, out, _ = cli(["explain", "--atlas", DEVOPS, str(req), "k8s.deployments.deploy"])
    assert code == 0 and ": denied — default_deny, no policy decided" in out and "agents did not hold" in out
    code, _, err = cli(["explain", "--atlas", DEVOPS, str(req), "nope.nothing"])
    assert code == 1 and "INVALID_REQUEST at /action_id" in err
    code, _, err = cli(["explain", "--atlas", DEVOPS, str(tmp_path / "missing.json"), "k8s.pods.list"])
    assert code == 2 and "cannot read" in err
    code, _, err = cli(["explain", "--atlas", str(tmp_path / "nowhere"), str(req), "k8s.pods.list"])
    assert code == 2
    code, _, err = cli(["explain", str(req)])
    assert code == 2


@pytest.mark.skipif(not HAS_EXPLAIN, reason="the loaded libcra has no cra_resolver_explain")
def test_explain_refuses_what_resolve_refuses(tmp_path: Path) -> None:
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"requester": {"agent_id": "oncall-a", "session_id": "s"}, "task": {"goal": "deploy"}}))
    code, _, err = cli(["resolve", "--atlas", DEVOPS, str(req)])
    assert code == 1 and "INVALID_REQUEST at /context" in err
    code, _, err = cli(["explain", "--atlas", DEVOPS, str(req), "k8s.deployments.deploy"])
    assert code == 1 and "INVALID_REQUEST at /context" in err


@pytest.mark.skipif(not HAS_EXPLAIN, reason="the loaded libcra has no cra_resolver_explain")
def test_explain_escapes_text_from_the_request(tmp_path: Path) -> None:
    evil = "support-\x1b[32mOK\x1b[0m\nfake"
    req = tmp_path / "req.json"
    req.write_text(json.dumps({"requester": {"agent_id": evil, "session_id": "s"}, "task": {"goal": "g"}}))
    code, out, _ = cli(["explain", "--atlas", SUPPORT, str(req), "orders.lookup"])
    assert code == 0 and "\x1b" not in out and not any(line.startswith("fake") for line in out.splitlines())
    assert "support-\\x1b[32mOK\\x1b[0m\\nfake" in out


def test_explain_on_a_libcra_without_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs with every libcra: the command says clearly what is missing (exit 2)."""
    real = cra._lowlevel.lib

    class Older:
        def __getattr__(self, name: str) -> object:
            if name == "cra_resolver_explain":
                raise AttributeError(name)
            return getattr(real, name)

    monkeypatch.setattr(cra._lowlevel, "lib", Older())
    req = tmp_path / "req.json"
    req.write_text(json.dumps(TRAINEE))
    code, out, err = cli(["explain", "--atlas", SUPPORT, str(req), "customers.get_profile"])
    assert code == 2 and out == ""
    assert "cra explain needs cra_resolver_explain, which the loaded libcra" in err and "install a newer build" in err


def test_explain_output_for_every_shape() -> None:
    """The renderer on answers the core may give: not in scope, no policies, a rate limit."""
    from cra.authoring_cli import render_explanation

    st = Style(colour=False)
    text = render_explanation({"action_id": "a.b", "atlas_id": "x.y", "verdict": "not_in_scope", "reason_code": None,
                               "policy_id": None, "input": {"agent_id": "a", "risk_tier": "low", "context": None},
                               "policies": []}, st)
    assert text.startswith("a.b (x.y): not_in_scope") and "the atlas has no policies" in text
    text = render_explanation({"action_id": "a.b", "atlas_id": "x.y", "verdict": "rate_limited", "reason_code": "rate_limit_exceeded",
                               "policy_id": None, "input": {}, "policies": []}, st)
    assert "rate_limit_exceeded, the action's own rate limit" in text


# -- atlas validate --json, atlas schema -------------------------------------------------------


def test_atlas_validate_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    shutil.copytree(SUPPORT, bad)
    doc = json.loads((bad / "atlas.json").read_text())
    doc["polices"] = []
    doc["actions"][0]["risk_tier"] = "extreme"
    (bad / "atlas.json").write_text(json.dumps(doc))
    code, out, _ = cli(["atlas", "validate", "--json", SUPPORT, str(bad)])
    report = json.loads(out)
    assert code == 1 and report["ok"] is False
    good, invalid = report["atlases"]
    assert good == {"path": SUPPORT, "valid": True, "atlas_id": "com.example.customer-support", "version": "1.2.0",
                    "actions": 8, "policies": 5, "context_packs": 4, "capabilities": 4, "warnings": []}
    assert invalid["valid"] is False and invalid["error"]["code"] == "INVALID_ATLAS"
    assert {(p["pointer"], p["code"]) for p in invalid["problems"]} == {("/polices", "unknown_field"), ("/actions/0/risk_tier", "invalid_value")}
    code, out, _ = cli(["atlas", "validate", "--json", DEVOPS])
    assert code == 0 and json.loads(out)["ok"] is True
    code, out, _ = cli(["atlas", "validate", "--json", str(tmp_path / "missing")])
    report = json.loads(out)
    assert code == 2 and report["atlases"][0]["error"]["code"] == "IO_ERROR"


def test_atlas_validate_shows_lint_warnings(tmp_path: Path) -> None:
    d = tmp_path / "lint"
    shutil.copytree(SUPPORT, d)
    doc = json.loads((d / "atlas.json").read_text())
    doc["policies"] = [p for p in doc["policies"] if p["policy_id"] != "allow-support-agents"] + [
        {"policy_id": "allow-orders", "type": "allow", "actions": ["orders.*"]}]
    (d / "atlas.json").write_text(json.dumps(doc))
    with cra.Resolver() as r:
        warnings = r.load_atlas(d).raw.get("warnings") or []
    assert {w["code"] for w in warnings} >= {"never_allowed"}  # tickets.* lost their allow
    code, out, _ = cli(["atlas", "validate", str(d)])
    assert code == 0 and out.startswith("valid")
    for w in warnings:  # the core's lint (when it has one): each warning on its own line
        assert f"warning  {w['pointer']}  {w['code']}" in out
    code, out, _ = cli(["atlas", "validate", "--json", str(d)])
    assert json.loads(out)["atlases"][0]["warnings"] == warnings


def test_atlas_schema_command() -> None:
    code, out, _ = cli(["atlas", "schema"])
    assert code == 0 and json.loads(out)["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    code, out, _ = cli(["atlas", "schema", "--path"])
    assert code == 0 and _same_bytes(out.strip(), os.path.join(SUPPORT, "..", "..", "..", "python", "cra", "schemas", "atlas.schema.json"))
    code, out, _ = cli(["atlas", "schema", "--tests"])
    assert code == 0 and "policy tests" in json.loads(out)["title"].lower()


# -- replay: the change per action -------------------------------------------------------------


@pytest.fixture(scope="module")
def support_trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "t.jsonl"
    with cra.Resolver(trace_file=path) as r:
        r.load_atlas(SUPPORT)
        r.resolve(agent="support-bot-1", session="s", goal="refund ORD-1234")
    return path


def test_replay_shows_a_pending_action_that_becomes_denied(support_trace: Path, tmp_path: Path) -> None:
    """The issue: pending → denied left allowed untouched and showed "(lists reordered)"."""
    d = tmp_path / "cs"
    shutil.copytree(SUPPORT, d)
    doc = json.loads((d / "atlas.json").read_text())
    doc["policies"].insert(0, {"policy_id": "no-large-refunds", "type": "deny", "actions": ["orders.refund_large"]})
    (d / "atlas.json").write_text(json.dumps(doc))
    code, out, _ = run(["replay", str(support_trace), "--atlas", str(d)])
    assert code == 1 and "reordered" not in out
    assert "partial → partial" in out and "orders.refund_large: pending → denied" in out
    row = next(line for line in out.splitlines() if "orders.refund_large" in line)
    assert row.split()[:2] == ["s", "2"]  # line 2, counted from 1 (the request is the trace's second line)


def test_replay_per_action_changes() -> None:
    st = Style(colour=False)
    before = {"decision": "partial", "allowed": ["a.x", "a.y"], "denied": ["a.z"], "pending": ["a.p"]}
    after = {"decision": "partial", "allowed": ["a.y", "a.p"], "denied": ["a.x"], "pending": [], }
    # in the order the actions first appear (allowed, pending, denied of before, then of after)
    assert _action_changes(before, after, st) == ["a.x: allowed → denied", "a.p: pending → allowed", "a.z: denied → absent"]
    same = {"decision": "partial", "allowed": ["a.y", "a.x"], "denied": ["a.z"], "pending": ["a.p"]}
    assert _action_changes(before, same, st) == []  # the CLI then says: same actions in another order
    assert _action_changes(before, None, st) == ["a.x: allowed → absent", "a.y: allowed → absent", "a.p: pending → absent",
                                                 "a.z: denied → absent"]


# -- verify: line numbers ----------------------------------------------------------------------


def test_verify_counts_lines_from_one_and_json_gives_both(tmp_path: Path) -> None:
    """Text output counts lines from 1 (as editors do); --json keeps the core's 0-based "line"
    (the same in every binding) and adds "line_number", counted from 1."""
    path = tmp_path / "t.jsonl"
    with cra.Resolver(trace_file=path) as r:
        r.load_atlas(DEVOPS)
        r.resolve(agent="oncall-alice", session="ops", goal="g", context={"environment": "staging"})
    lines = path.read_bytes().splitlines(keepends=True)
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(lines[0] + b"".join(lines[2:]))  # the event at line 2 is gone: line 2 now breaks the chain
    code, out, _ = cli(["verify", "--json", str(broken)])
    err = json.loads(out)["errors"][0]
    assert code == 1 and err["line"] == 1 and err["line_number"] == 2
    code, out, _ = cli(["verify", str(broken)])
    row = next(line for line in out.splitlines() if "sequence_gap" in line)
    assert row.split()[:2] == ["ops", "2"]
    code, out, _ = cli(["replay", "--json", str(path), "--atlas", DEVOPS])
    assert code == 0 and json.loads(out)["changed"] == []


def test_replay_json_has_line_numbers(support_trace: Path, tmp_path: Path) -> None:
    d = tmp_path / "cs"
    shutil.copytree(SUPPORT, d)
    doc = json.loads((d / "atlas.json").read_text())
    doc["policies"].insert(0, {"policy_id": "freeze", "type": "deny", "actions": ["orders.*"]})
    (d / "atlas.json").write_text(json.dumps(doc))
    code, out, _ = cli(["replay", "--json", str(support_trace), "--atlas", str(d)])
    change = json.loads(out)["changed"][0]
    assert code == 1 and change["line"] == 1 and change["line_number"] == 2


# -- bench -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value,message", [("0", "must be at least 1, not 0"), ("-5", "must be at least 1, not -5"),
                                           ("many", "'many' is not an integer")])
def test_bench_iterations_must_be_positive(value: str, message: str) -> None:
    code, out, err = run(["bench", "--iterations", value])
    assert code == 2 and "Traceback" not in err and f"argument --iterations: {message}" in err
    p = subprocess.run([sys.executable, "-m", "cra.bench", "--iterations", value], capture_output=True, text=True, timeout=60,
                       env=dict(os.environ, PYTHONPATH=os.pathsep.join([os.path.dirname(os.path.dirname(os.path.abspath(cra.__file__))),
                                                                        os.environ.get("PYTHONPATH", "")])))
    assert p.returncode == 2 and "Traceback" not in p.stderr and "--iterations" in p.stderr


def test_bench_main_refuses_zero_iterations() -> None:
    from cra.bench import main as bench_main

    with pytest.raises(ValueError, match="at least 1"):
        bench_main(iterations=0)


# -- docs: the cra resolve example -------------------------------------------------------------


def _docs_example() -> Tuple[str, str, str]:
    """The request, the command and the expected output of docs/python.md's cra resolve example."""
    with open(os.path.join(REPO, "docs", "python.md"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"<!-- cra-resolve-example -->\n(.*?)<!-- /cra-resolve-example -->", text, re.S)
    assert m, "docs/python.md lost its cra resolve example"
    blocks = re.findall(r"```(\w+)\n(.*?)```", m.group(1), re.S)
    request = next(b for lang, b in blocks if lang == "json")
    command = next(b for lang, b in blocks if lang == "sh")
    output = next(b for lang, b in blocks if lang == "text")
    return request, command, output


def _matches(shown: object, actual: object, path: str = "") -> List[str]:
    """Where the documented output differs from the real one: "…" stands for an elided value;
    objects must have the same keys, arrays the same length."""
    if shown == "…":
        return []
    if isinstance(shown, dict) and isinstance(actual, dict):
        if shown.keys() != actual.keys():
            return [f"{path}: keys {sorted(shown)} != {sorted(actual)}"]
        return [m for k in shown for m in _matches(shown[k], actual[k], f"{path}/{k}")]
    if isinstance(shown, list) and isinstance(actual, list):
        if len(shown) != len(actual):
            return [f"{path}: {len(shown)} entries != {len(actual)}"]
        return [m for i, (a, b) in enumerate(zip(shown, actual)) for m in _matches(a, b, f"{path}/{i}")]
    return [] if shown == actual else [f"{path}: {shown!r} != {actual!r}"]


def test_the_documented_resolve_example_runs(tmp_path: Path) -> None:
    """docs/python.md shows a complete request, the commands and their output: run as written."""
    request, command, output = _docs_example()
    assert set(json.loads(request)) == {"carp_version", "request_id", "requester", "task", "context", "atlas_ids"}
    (tmp_path / "request.json").write_text(request)
    (tmp_path / "examples").symlink_to(os.path.join(REPO, "examples"))
    env = dict(os.environ, PATH=os.path.dirname(CRA) + os.pathsep + os.environ.get("PATH", ""))
    lines = [line for line in command.splitlines() if line.startswith("cra ")]
    assert len(lines) == 2
    shown = json.loads(output)
    for line in lines:
        p = subprocess.run(["bash", "-c", line], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
        assert p.returncode == 0, p.stderr
        assert _matches(shown, json.loads(p.stdout)) == []
    assert len(p.stdout.strip().splitlines()) == 1  # the second command prints one line (--compact)
