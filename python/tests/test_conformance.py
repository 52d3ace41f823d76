"""The shared conformance corpus through the package, and proof that the runner can fail."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import conformance_runner as runner

from conftest import REPO

CORPUS = os.path.join(REPO, "conformance")
WRONG = os.path.join(REPO, "conformance", "runner", "tests", "fixtures", "wrong")


def test_whole_corpus_passes_and_every_case_ran() -> None:
    report = runner.run_corpus(CORPUS)
    with open(os.path.join(CORPUS, "manifest.json")) as f:
        total = json.load(f)["total"]
    text = report.render()
    assert report.expected_total == total and len(report.cases) == total, text
    assert report.ok(), "\n".join(line for line in text.splitlines() if not line.startswith("ok "))
    assert text.endswith(f"{report.counts()[0]} passed, 0 failed\n")


def test_a_deliberately_wrong_corpus_fails(tmp_path: Path) -> None:
    root = tmp_path / "wrong"
    shutil.copytree(WRONG, root)
    # the fixture's expected-failure list is written for the core binding; this binding uses the same
    shutil.copy(root / "xfail" / "core.json", root / "xfail" / "python.json")
    report = runner.run_corpus(str(root))
    outcomes = [(cid, o.kind, o.message) for cid, o in report.cases]
    assert outcomes[0][:2] == ("selftest/right", "pass")
    assert outcomes[1][:2] == ("selftest/wrong-decision", "fail") and "/decision/type" in outcomes[1][2]
    assert outcomes[2][:2] == ("selftest/wrong-error-code", "fail") and "INVALID_REQUEST" in outcomes[2][2]
    assert outcomes[3][:2] == ("selftest/xpass", "xpass")
    assert not report.ok()
    assert report.render().endswith("1 passed, 3 failed\n")
    assert runner.main([str(root)]) == 1


def test_manifest_drift_and_unknown_xfail_fail(tmp_path: Path) -> None:
    (tmp_path / "cases").mkdir()
    shutil.copy(os.path.join(WRONG, "cases", "deliberately-wrong.json"), tmp_path / "cases" / "a.json")
    (tmp_path / "manifest.json").write_text('{"total": 5, "files": {"cases/a.json": 5}}')
    report = runner.run_corpus(str(tmp_path), xfail={"no/such-case": "x"})
    assert not report.ok()
    assert any("has 4 cases; manifest.json says 5" in e for e in report.errors)
    assert any("unknown case no/such-case" in e for e in report.errors)
    assert len(report.cases) == 4


def test_matching_rules() -> None:
    assert runner.mismatch({"a": 1}, {"a": 1.0, "b": 2}) is None
    assert runner.mismatch({"a": 1}, {"a": 2}) == ("/a", 1, 2)
    assert runner.mismatch([1, 2], [1, 2, 3]) is not None
    assert runner.mismatch({"m": 1}, {}) == ("/m", 1, "<absent>")
    assert runner.mismatch(True, 1) is not None and runner.mismatch(1, True) is not None
    assert runner.mismatch({"a/b": [{"x": 1}]}, {"a/b": [{"x": 2}]}) == ("/a~1b/0/x", 1, 2)
    assert not runner.exact_equal(1, 1.0) and runner.exact_equal({"a": [1]}, {"a": [1]})


def test_tamper_operations() -> None:
    t = b"a\nb\nc\n"
    assert runner.tamper(t, [{"swap": [0, 2]}]) == b"c\nb\na\n"
    assert runner.tamper(t, [{"delete": 1}]) == b"a\nc\n"
    assert runner.tamper(t, [{"duplicate": 0}]) == b"a\na\nb\nc\n"
    assert runner.tamper(t, [{"replace": {"line": 1, "find": "b", "with": "B"}}]) == b"a\nB\nc\n"
    assert runner.tamper(b"a\nbcd\n", [{"truncate_last_line": 2}]) == b"a\nb"
    assert runner.tamper(b"", None) == b""
    for bad in ({"replace": {"line": 0, "find": "zzz", "with": ""}}, {"delete": 9}, {"explode": 1}):
        try:
            runner.tamper(t, [bad])
        except runner.CaseError:
            continue
        raise AssertionError(f"{bad} should fail")
