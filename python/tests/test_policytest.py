"""Policy tests (``cra.policytest``, ``cra test``): the format, the runner, the report, the
exit codes, the examples' tests and their coverage of every policy, and the JSON Schema of the
format against the runner's own checks."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest

import cra
from cra.cli import main
from cra.policytest import TestFileError, atlas_test_files, load_test_file, mismatches, run_file
from cra.schemas import policy_tests_schema

from conftest import DEVOPS, REPO, SUPPORT

CRA = os.path.join(os.path.dirname(sys.executable), "cra")
EXAMPLES = [SUPPORT, DEVOPS]


def _same_bytes(a: str, b: str) -> bool:
    """The same schema file: the source tree's copy and the installed package's (the wheel ships
    it) have the same bytes."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def cli(args: List[str]) -> Tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(args)
        except SystemExit as e:
            code = int(e.code or 0)
    return code, out.getvalue(), err.getvalue()


def write_tests(atlas: Path, doc: Any, name: str = "t.json") -> Path:
    (atlas / "tests").mkdir(exist_ok=True)
    p = atlas / "tests" / name
    p.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return p


@pytest.fixture
def atlas(tmp_path: Path) -> Path:
    """A copy of the customer-support atlas without its tests."""
    d = tmp_path / "cs"
    shutil.copytree(SUPPORT, d, ignore=shutil.ignore_patterns("tests"))
    return d


REQ = {"requester": {"agent_id": "support-bot-1", "session_id": "s-1"}, "task": {"goal": "refund"}}


# -- the examples ------------------------------------------------------------------------------


@pytest.mark.parametrize("atlas_dir", EXAMPLES, ids=["customer-support", "devops"])
def test_the_example_atlases_ship_passing_tests(atlas_dir: str) -> None:
    files = atlas_test_files(atlas_dir)
    assert files
    for f in files:
        result = run_file(load_test_file(f))
        assert result.ok, [(t.name, t.error, [s.to_dict() for s in t.failures]) for t in result.tests if not t.ok]
        assert len(result.tests) >= 8


def _expectations(doc: Any) -> Iterator[Tuple[str, Dict[str, Any]]]:
    """(operation, expectation object) of every step of a test file, actions of resolves flattened."""
    for t in doc["tests"]:
        steps = t.get("steps") or [{"resolve": t["request"], **{k: t[k] for k in ("expect", "expect_error") if k in t}}]
        for s in steps:
            op = next(k for k in s if k in ("resolve", "execute", "approve", "reject", "report", "check", "explain",
                                            "approvals", "advance_clock", "end_session"))
            e = s.get("expect")
            if op == "resolve" and isinstance(e, dict):
                for a, want in (e.get("actions") or {}).items():
                    yield "resolve", {"verdict": want} if isinstance(want, str) else want
            elif isinstance(e, dict):
                yield op, e
            elif isinstance(e, str):
                yield op, {"status": e}
            if "expect_error" in s:
                err = s["expect_error"]
                yield op, {"error": err if isinstance(err, dict) else {"code": err}}


def _outcome(policy_type: str, e: Dict[str, Any]) -> bool:
    """Whether an expectation naming the policy states the outcome its type produces."""
    if policy_type == "deny":
        return e.get("reason_code") == "policy_denied"
    if policy_type == "require_approval":
        return e.get("verdict") == "pending_approval" or e.get("status") in ("pending_approval", "authorized")
    if policy_type == "rate_limit":
        return e.get("reason_code") == "rate_limit_exceeded"
    return e.get("verdict") == "allowed" or e.get("status") == "authorized"


@pytest.mark.parametrize("atlas_dir", EXAMPLES, ids=["customer-support", "devops"])
def test_the_examples_cover_every_policy(atlas_dir: str) -> None:
    """Each policy's own outcome (deny, pending, rate limit, allow) is expected at least once."""
    with open(os.path.join(atlas_dir, "atlas.json"), encoding="utf-8") as f:
        atlas = json.load(f)
    seen: List[Tuple[str, Dict[str, Any]]] = []
    for path in atlas_test_files(atlas_dir):
        with open(path, encoding="utf-8") as f:
            seen.extend(_expectations(json.load(f)))
    for p in atlas["policies"]:
        named = [e for _, e in seen if e.get("policy_id") == p["policy_id"]]
        assert any(_outcome(p["type"], e) for e in named), f"no test expects the outcome of {p['policy_id']} ({p['type']})"
    # the approval flow is per call: an approve step, then the same call authorized
    ops = [op for op, _ in seen]
    assert "approve" in ops and any(op == "execute" and e.get("status") == "authorized" for op, e in seen)
    if "context_schema" in atlas:
        assert any(e.get("error", {}).get("code") == "INVALID_REQUEST" and e["error"].get("pointer", "").startswith("/context")
                   for _, e in seen), "no test shows the context_schema refusal"
    actions_with_limits = [a["action_id"] for a in atlas["actions"] if "rate_limit" in a]
    for a in actions_with_limits:
        assert any(e.get("reason_code") == "rate_limit_exceeded" and e.get("policy_id") is None for _, e in seen), a


def test_cra_test_on_the_examples_subprocess() -> None:
    p = subprocess.run([CRA, "test", SUPPORT, DEVOPS], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "0 failed" in p.stdout and "2 files" in p.stdout and "\x1b[" not in p.stdout
    p = subprocess.run([CRA, "test", "--json", DEVOPS], capture_output=True, text=True, cwd=REPO, timeout=120)
    doc = json.loads(p.stdout)
    assert p.returncode == 0 and doc["ok"] is True and doc["failed"] == 0 and doc["passed"] >= 8


# -- failures: the report and exit 1 -----------------------------------------------------------


def test_a_failing_step_is_shown_as_a_diff(atlas: Path) -> None:
    write_tests(atlas, {"tests": [
        {"name": "passes", "request": REQ, "expect": {"decision": "partial"}},
        {"name": "wrong verdicts", "steps": [
            {"resolve": REQ, "expect": {"decision": "allow", "denied": [], "actions": {
                "customers.delete_account": {"verdict": "allowed", "policy_id": "deny-account-deletion"},
                "orders.lookup": "allowed"}}},
            {"execute": {"action_id": "customers.delete_account"}, "expect": {"status": "authorized", "reason_code": None}},
        ]},
    ]})
    code, out, _ = cli(["test", str(atlas)])
    assert code == 1
    assert "ok    passes" in out and "FAIL  wrong verdicts" in out and "1 passed, 1 failed" in out
    assert "step 1 (resolve for support-bot-1 in s-1: 'refund')" in out
    assert '/decision: expected "allow", got "partial"' in out
    assert '/denied: expected [], got ["customers.delete_account"]' in out
    assert '/actions/customers.delete_account/verdict: expected "allowed", got "denied"' in out
    lines = [line.strip() for line in out.splitlines()]
    assert "--- expected" in lines and "+++ actual" in lines  # the unified diff
    assert any(line.startswith("-") and '"verdict": "allowed"' in line for line in lines)
    assert any(line.startswith("+") and '"verdict": "denied"' in line for line in lines)
    assert "step 2 (execute customers.delete_account {})" in out and '/reason_code: expected null, got "policy_denied"' in out
    code, out, _ = cli(["test", "--json", str(atlas)])
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and doc["passed"] == 1 and doc["failed"] == 1
    failing = doc["files"][0]["tests"][1]
    assert failing["ok"] is False and [f["step"] for f in failing["failures"]] == [0, 1]
    m = failing["failures"][0]["mismatches"]
    assert {"pointer": "/decision", "expected": "allow", "actual": "partial"} in m


def test_errors_unexpected_and_expected(atlas: Path) -> None:
    write_tests(atlas, {"tests": [
        {"name": "unexpected error", "steps": [
            {"resolve": REQ},
            {"execute": {"action_id": "orders.refund", "parameters": {"amount": 1}}, "expect": "authorized"}]},
        {"name": "expected an error that did not come", "request": REQ, "expect_error": "INVALID_REQUEST"},
        {"name": "wrong error pointer", "request": dict(REQ, task={"goal": "g", "risk_tier": "extreme"}),
         "expect_error": {"code": "INVALID_REQUEST", "pointer": "/task/goal"}},
        {"name": "right error", "request": dict(REQ, task={"goal": "g", "risk_tier": "extreme"}),
         "expect_error": {"code": "INVALID_REQUEST", "pointer": "/task/risk_tier"}},
        {"name": "nothing to approve", "steps": [{"resolve": REQ}, {"approve": {"approver": "ann"}}]},
        {"name": "nothing to execute against", "steps": [{"execute": {"action_id": "orders.lookup"}}]},
    ]})
    code, out, _ = cli(["test", str(atlas)])
    assert code == 1 and "1 passed, 5 failed" in out
    assert "unexpected error INVALID_PARAMETERS at /execution/parameters" in out
    assert "expected the error INVALID_REQUEST, but the call succeeded" in out
    assert '/pointer: expected "/task/goal", got "/task/risk_tier"' in out
    assert "no approval to approve: no earlier execute answered pending_approval" in out
    assert "no resolution to execute against" in out


def test_an_atlas_that_does_not_load_fails_its_tests(atlas: Path) -> None:
    write_tests(atlas, {"tests": [{"name": "a", "request": REQ}, {"name": "b", "request": REQ}]})
    doc = json.loads((atlas / "atlas.json").read_text())
    doc["polices"] = []
    (atlas / "atlas.json").write_text(json.dumps(doc))
    code, out, _ = cli(["test", str(atlas)])
    assert code == 1 and "ERROR" in out and "does not load: INVALID_ATLAS at /polices" in out and "(/polices: unknown_field)" in out
    code, out, _ = cli(["test", "--json", str(atlas)])
    assert code == 1 and "does not load" in json.loads(out)["files"][0]["error"]


def test_more_atlases_config_and_selection(atlas: Path, tmp_path: Path) -> None:
    shutil.copytree(DEVOPS, tmp_path / "devops")
    write_tests(atlas, {
        "atlases": [".", "../devops"],
        "config": {"default_risk_tier": "high", "deterministic": {"seed": 9}},
        "tests": [
            {"name": "both atlases", "request": dict(REQ, context={"environment": "staging"}),
             "expect": {"actions": {"k8s.pods.list": "allowed", "orders.lookup": "allowed"},
                        "context_packs": ["pii-handling", "support-guidelines", "refund-policy", "escalation", "runbook"],
                        "resolution": {"resolution_id": "00000009-0000-7000-8000-000000000004"}}},
            {"name": "a test's own config", "config": {"resolution_ttl_seconds": 10}, "steps": [
                {"resolve": dict(REQ, context={"environment": "staging"}), "expect": {"resolution": {"ttl_seconds": 10}}},
                {"advance_clock": 10},
                {"execute": {"action_id": "orders.lookup", "parameters": {"order_id": "ORD-1234"}}, "expect_error": "RESOLUTION_EXPIRED"}]},
            {"name": "scope by atlas_ids and not_in_scope",
             "request": dict(REQ, atlas_ids=["com.example.customer-support"]),
             "expect": {"actions": {"k8s.pods.list": "not_in_scope", "orders.lookup": {"verdict": "allowed", "reason_code": None}}}},
        ]})
    code, out, _ = cli(["test", str(atlas)])
    assert code == 0, out
    code, out, _ = cli(["test", "-k", "config", str(atlas / "tests")])
    assert code == 0 and "1 test: 1 passed" in out and "both atlases" not in out
    code, _, err = cli(["test", "-k", "nothing matches this", str(atlas)])
    assert code == 2 and "no test name contains" in err
    code, out, _ = cli(["test", "-q", str(atlas / "tests" / "t.json")])
    assert code == 0 and "ok  " not in out and "3 passed" in out


def test_steps_by_label_and_session(atlas: Path) -> None:
    big = {"order_id": "ORD-1234", "amount": 250, "reason": "damaged"}
    write_tests(atlas, {"tests": [{"name": "labels", "steps": [
        {"label": "first", "resolve": REQ},
        {"label": "ask", "execute": {"action_id": "orders.refund_large", "parameters": big}, "expect": "pending_approval"},
        {"resolve": {"requester": {"agent_id": "support-bot-2", "session_id": "s-2"}, "task": {"goal": "other"}}},
        {"execute": {"action_id": "orders.lookup", "parameters": {"order_id": "ORD-1"}, "resolution": "first"},
         "expect_error": {"code": "INVALID_PARAMETERS"}},
        {"approve": {"approval": "ask", "approver": "ann"}, "expect": {"session_id": "s-1"}},
        {"execute": {"action_id": "orders.refund_large", "parameters": big, "resolution": "first"}, "expect": "authorized"},
        {"label": "ok", "execute": {"action_id": "orders.lookup", "parameters": {"order_id": "ORD-1234"}, "idempotency_key": "k1"},
         "expect": "authorized"},
        {"execute": {"action_id": "orders.lookup", "parameters": {"order_id": "ORD-1234"}, "idempotency_key": "k1"},
         "expect": {"status": "authorized", "replayed": True}},
        {"report": {"execution": "ok", "result": None}, "expect": {"status": "executed"}},
        {"check": {"action_id": "orders.lookup", "session_id": "s-1"}, "expect": "allowed"},
        {"approvals": {"status": ["consumed"]}, "expect": [{"action_id": "orders.refund_large", "approver": "ann"}]},
        {"end_session": {"session_id": "s-2", "reason": "done"}, "expect": {"session_id": "s-2"}},
        {"check": {"action_id": "orders.lookup"}, "expect": "no_resolution"},
    ]}]})
    code, out, _ = cli(["test", str(atlas)])
    assert code == 0, out


# -- invalid test files: exit 2 with a pointer -------------------------------------------------

BAD: List[Tuple[Any, str, str]] = [
    ("{", "", "not valid JSON"),
    ('{"tests": [], "tests": []}', "", "the key 'tests' appears twice"),
    ([], "", "must be an object"),
    ({}, "", "missing required field 'tests'"),
    ({"tests": []}, "/tests", "non-empty array"),
    ({"test": []}, "/test", "did you mean 'tests'?"),
    ({"tests": [{"request": REQ}]}, "/tests/0", "missing required field 'name'"),
    ({"tests": [{"name": "a", "request": REQ}, {"name": "a", "request": REQ}]}, "/tests/1/name", "a second test named 'a'"),
    ({"tests": [{"name": "a"}]}, "/tests/0", "either request"),
    ({"tests": [{"name": "a", "request": REQ, "steps": [{"resolve": REQ}]}]}, "/tests/0", "either request"),
    ({"tests": [{"name": "a", "request": REQ, "expect": {"decison": "deny"}}]}, "/tests/0/expect/decison", "did you mean 'decision'?"),
    ({"tests": [{"name": "a", "request": REQ, "expect": {"decision": "denied"}}]}, "/tests/0/expect/decision", "allow, deny"),
    ({"tests": [{"name": "a", "request": REQ, "expect": {"actions": {"x.y": "allow"}}}]}, "/tests/0/expect/actions/x.y", "verdict 'allow'"),
    ({"tests": [{"name": "a", "request": REQ, "expect": {}, "expect_error": "X"}]}, "/tests/0/expect_error", "not both"),
    ({"tests": [{"name": "a", "request": {"task": {"goal": "g"}}}]}, "/tests/0/request", "missing required field 'requester'"),
    ({"tests": [{"name": "a", "steps": [{}]}]}, "/tests/0/steps/0", "exactly one operation"),
    ({"tests": [{"name": "a", "steps": [{"resolve": REQ, "check": {"action_id": "a.b"}}]}]}, "/tests/0/steps/0", "exactly one operation"),
    ({"tests": [{"name": "a", "steps": [{"execute": {"action_id": "a.b", "resolution": "r"}}]}]},
     "/tests/0/steps/0/execute/resolution", "no earlier resolve step is labelled 'r'"),
    ({"tests": [{"name": "a", "steps": [{"approve": {"approver": "x", "approval": "p"}}]}]},
     "/tests/0/steps/0/approve/approval", "no earlier execute step"),
    ({"tests": [{"name": "a", "steps": [{"approve": {}}]}]}, "/tests/0/steps/0/approve", "missing required field 'approver'"),
    ({"tests": [{"name": "a", "steps": [{"check": {"action_id": "a.b"}, "expect": "allow"}]}]}, "/tests/0/steps/0/expect", "one of allowed"),
    ({"tests": [{"name": "a", "steps": [{"execute": {"action_id": "a.b"}, "expect": "ok"}]}]}, "/tests/0/steps/0/expect", "authorized"),
    ({"tests": [{"name": "a", "steps": [{"advance_clock": -1}]}]}, "/tests/0/steps/0/advance_clock", "zero or more"),
    ({"tests": [{"name": "a", "steps": [{"advance_clock": 5, "expect": {}}]}]}, "/tests/0/steps/0/expect", "nothing to expect"),
    ({"tests": [{"name": "a", "steps": [{"report": {"result": 1, "error": {"message": "x"}}}]}]}, "/tests/0/steps/0/report/error", "not both"),
    ({"tests": [{"name": "a", "steps": [{"approvals": {"status": ["done"]}}]}]}, "/tests/0/steps/0/approvals/status/0", "pending"),
    ({"tests": [{"name": "a", "steps": [{"resolve": REQ, "label": "x"}, {"resolve": REQ, "label": "x"}]}]},
     "/tests/0/steps/1/label", "a second step labelled 'x'"),
    ({"config": {"trace": {}}, "tests": [{"name": "a", "request": REQ}]}, "/config/trace", "unknown field"),
    ({"config": {"resolution_ttl_seconds": "5"}, "tests": [{"name": "a", "request": REQ}]}, "/config/resolution_ttl_seconds", "integer"),
    ({"atlases": [], "tests": [{"name": "a", "request": REQ}]}, "/atlases", "at least one"),
]


@pytest.mark.parametrize("doc,pointer,message", BAD, ids=[f"bad{i}" for i in range(len(BAD))])
def test_invalid_test_files_exit_2_with_a_pointer(atlas: Path, doc: Any, pointer: str, message: str) -> None:
    path = write_tests(atlas, doc)
    with pytest.raises(TestFileError) as e:
        load_test_file(str(path))
    assert e.value.pointer == pointer and message in e.value.message, (e.value.pointer, e.value.message)
    code, out, err = cli(["test", str(atlas)])
    assert code == 2 and out == "" and f"{path}: {pointer or '(document)'}: " in err
    code, out, _ = cli(["test", "--json", str(atlas)])
    assert code == 2 and json.loads(out)["errors"][0]["pointer"] == pointer


@pytest.mark.parametrize("doc,pointer,message", [b for b in BAD if not isinstance(b[0], str)],
                         ids=[f"bad{i}" for i, b in enumerate(BAD) if not isinstance(b[0], str)])
def test_the_schema_refuses_what_the_runner_refuses(doc: Any, pointer: str, message: str) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    v = jsonschema.Draft202012Validator(policy_tests_schema())
    # unique test names and step labels are checked by the runner only (docs/atlas.md says so)
    semantic = any(m in message for m in ("a second test named", "a second step labelled", "no earlier"))
    assert semantic or list(v.iter_errors(doc)), f"the schema accepts a file the runner refuses at {pointer}: {message}"


def test_the_schema_accepts_the_examples_and_names_itself() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = policy_tests_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    v = jsonschema.Draft202012Validator(schema)
    for d in EXAMPLES:
        for f in atlas_test_files(d):
            with open(f, encoding="utf-8") as fh:
                doc = json.load(fh)
            assert [e.message for e in v.iter_errors(doc)] == []
            assert _same_bytes(os.path.join(os.path.dirname(f), doc["$schema"]), cra.schemas.policy_tests_schema_path())


def test_usage_errors(tmp_path: Path, atlas: Path) -> None:
    code, _, err = cli(["test", str(tmp_path / "nowhere")])
    assert code == 2 and "no such file or directory" in err
    code, _, err = cli(["test", str(atlas)])
    assert code == 2 and "this atlas has no tests" in err
    code, _, err = cli(["test", str(tmp_path)])
    assert code == 2 and "not an atlas directory" in err
    code, _, err = cli(["test"])
    assert code == 2


def test_yaml_test_files(atlas: Path) -> None:
    text = "tests:\n  - name: from yaml\n    request: {requester: {agent_id: support-bot-1, session_id: s}, task: {goal: g}}\n" \
           "    expect: {decision: partial}\n"
    write_tests(atlas, text, "t.yaml")
    try:
        import yaml  # noqa: F401
    except ImportError:
        code, _, err = cli(["test", str(atlas)])
        assert code == 2 and "a YAML test file needs PyYAML" in err
    else:
        code, out, _ = cli(["test", str(atlas)])
        assert code == 0 and "from yaml" in out


def test_mismatches_follow_the_corpus_rules() -> None:
    assert mismatches({"a": 1}, {"a": 1.0, "b": 2}) == []
    assert [m.pointer for m in mismatches({"a": True}, {"a": 1})] == ["/a"]
    assert [m.pointer for m in mismatches({"a": [1, 2]}, {"a": [1]})] == ["/a"]
    assert [(m.pointer, m.actual) for m in mismatches({"a": {"b": 1, "c/d": 2}}, {"a": {}})] == [("/a/b", "<absent>"), ("/a/c~1d", "<absent>")]
    assert [m.pointer for m in mismatches([{"x": 1}, {"x": 2}], [{"x": 1}, {"x": 3}])] == ["/1/x"]
    assert mismatches(None, None) == [] and [m.pointer for m in mismatches(None, 0)] == ["/"]


def test_each_test_runs_on_a_fresh_resolver(atlas: Path) -> None:
    """Rate limits, sessions and approvals never leak from one test into the next."""
    steps: List[Dict[str, Any]] = [{"resolve": REQ}]
    for i in range(3):
        steps.append({"execute": {"action_id": "orders.refund", "parameters": {"order_id": f"ORD-100{i}", "amount": 1, "reason": "late"}},
                      "expect": "authorized"})
    write_tests(atlas, {"tests": [{"name": f"t{i}", "steps": steps} for i in range(3)]})
    code, out, _ = cli(["test", str(atlas)])
    assert code == 0, out


def test_explain_steps_need_the_function(atlas: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_tests(atlas, {"tests": [{"name": "e", "steps": [{"explain": {"action_id": "orders.lookup", "request": REQ},
                                                           "expect": {"verdict": "allowed"}}]}]})
    real = cra._lowlevel.lib

    class Older:
        def __getattr__(self, name: str) -> object:
            if name == "cra_resolver_explain":
                raise AttributeError(name)
            return getattr(real, name)

    monkeypatch.setattr(cra._lowlevel, "lib", Older())
    code, out, _ = cli(["test", str(atlas)])
    assert code == 1 and "UNSUPPORTED" in out and "cra_resolver_explain" in out


def test_the_documented_example_runs(atlas: Path) -> None:
    """docs/atlas.md's policy test example passes against the customer-support atlas."""
    import re

    with open(os.path.join(REPO, "docs", "atlas.md"), encoding="utf-8") as f:
        text = f.read()
    section = text[text.index("## Policy tests"):]
    m = re.search(r"```json\n(.*?)```", section, re.S)
    assert m
    doc = json.loads(m.group(1))
    doc["$schema"] = "../../atlas-tests.schema.json"  # the example names the repository's path
    write_tests(atlas, doc)
    code, out, _ = cli(["test", str(atlas)])
    assert code == 0 and "2 passed, 0 failed" in out, out
