"""The pytest plugin (``cra.pytest_plugin``, entry point ``pytest11``): policy test files as
pytest items, in a pytest run of its own (a subprocess, the plugin named with ``-p`` and
entry-point autoloading off, so it runs the same whether or not ``cra`` is installed)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

import cra

from conftest import DEVOPS, REPO, SUPPORT

PYTHON_DIR = os.path.join(REPO, "python")
#: Where this process imported cra from (the installed package, or the source tree with its
#: native module): the child processes import the same.
CRA_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(cra.__file__)))
REQ = {"requester": {"agent_id": "support-bot-1", "session_id": "s-1"}, "task": {"goal": "refund"}}


def pytest_run(cwd: Path, *args: str) -> Tuple[int, str]:
    env = dict(os.environ, PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", NO_COLOR="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (CRA_PARENT, env.get("PYTHONPATH", "")) if p)
    p = subprocess.run([sys.executable, "-m", "pytest", "-p", "cra.pytest_plugin", "-p", "no:cacheprovider", "-rA", *args],
                       cwd=cwd, capture_output=True, text=True, env=env, timeout=300)
    return p.returncode, p.stdout + p.stderr


def atlas_with_tests(root: Path, name: str, tests: object, source: str = SUPPORT) -> Path:
    d = root / name
    shutil.copytree(source, d, ignore=shutil.ignore_patterns("tests"))
    (d / "tests").mkdir()
    (d / "tests" / "policies.json").write_text(json.dumps(tests), encoding="utf-8")
    return d


def test_the_entry_point_is_declared() -> None:
    with open(os.path.join(PYTHON_DIR, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    assert re.search(r'^\[project\.entry-points\.pytest11\]\ncra = "cra\.pytest_plugin"$', text, re.M)


def test_collects_and_runs_the_example_atlases(tmp_path: Path) -> None:
    code, out = pytest_run(tmp_path, "--cra-atlas", SUPPORT, "--cra-atlas", DEVOPS, "-q")
    assert code == 0, out
    assert re.search(r"\b23 passed\b", out), out
    assert "policies.json::trainees never read customer PII" in out


def test_a_failure_shows_the_diff_and_an_invalid_file_is_a_collection_error(tmp_path: Path) -> None:
    atlas_with_tests(tmp_path, "good", {"tests": [
        {"name": "passes", "request": REQ, "expect": {"decision": "partial"}},
        {"name": "fails", "request": REQ, "expect": {"decision": "deny", "actions": {"orders.lookup": "denied"}}},
    ]})
    code, out = pytest_run(tmp_path, "good")
    assert code == 1, out
    assert "1 failed, 1 passed" in out
    assert "policy test 'fails' failed" in out and '/decision: expected "deny", got "partial"' in out
    assert '/actions/orders.lookup/verdict: expected "denied", got "allowed"' in out
    assert "--- expected" in out and "+++ actual" in out and "Traceback" not in out

    bad = atlas_with_tests(tmp_path, "bad", {"tests": [{"name": "x", "request": REQ, "expect": {"decison": "deny"}}]})
    code, out = pytest_run(tmp_path, str(bad))
    assert code == 2, out  # collection errors interrupt the run
    assert "invalid policy test file" in out and "/tests/0/expect/decison: unknown field 'decison'; did you mean 'decision'?" in out


def test_select_by_keyword_and_markers(tmp_path: Path) -> None:
    atlas_with_tests(tmp_path, "a", {"tests": [
        {"name": "alpha", "request": REQ}, {"name": "beta", "request": REQ}]})
    code, out = pytest_run(tmp_path, "a", "-k", "beta", "-q")
    assert code == 0 and "1 passed, 1 deselected" in out, out
    code, out = pytest_run(tmp_path, "a", "-m", "cra_policy", "--strict-markers", "-q")
    assert code == 0 and "2 passed" in out, out


def test_discovery_under_the_rootdir_outside_testpaths(tmp_path: Path) -> None:
    """Without path arguments, every atlas directory with tests/ under the rootdir is collected,
    also outside testpaths; the ini option cra_atlases names them instead; cra_discover off
    stops collecting those pytest walks into."""
    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["unit"]\n')
    (tmp_path / "unit").mkdir()
    (tmp_path / "unit" / "test_x.py").write_text("def test_x():\n    pass\n")
    atlas_with_tests(tmp_path / "policy", "support", {"tests": [{"name": "support test", "request": REQ}]})
    atlas_with_tests(tmp_path / "policy", "ops", {"tests": [{"name": "ops test", "request": dict(REQ, context={"environment": "staging"})}]},
                     source=DEVOPS)
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    shutil.copytree(tmp_path / "policy" / "support", tmp_path / "node_modules" / "x" / "support")  # never scanned
    code, out = pytest_run(tmp_path, "-q")
    assert code == 0 and "3 passed" in out, out

    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ntestpaths = ["unit"]\ncra_atlases = ["policy/ops"]\n')
    code, out = pytest_run(tmp_path, "-v")
    assert code == 0 and "2 passed" in out and "ops test" in out and "support test" not in out, out

    code, out = pytest_run(tmp_path, "unit", "-q")  # path arguments: only what they name
    assert code == 0 and "1 passed" in out, out

    (tmp_path / "pyproject.toml").write_text('[tool.pytest.ini_options]\ncra_discover = false\n')
    code, out = pytest_run(tmp_path, "policy", "-q")
    assert code == 5, out  # nothing collected: the walk found the files but discovery is off
    code, out = pytest_run(tmp_path, "policy", "--cra-atlas", str(tmp_path / "policy" / "support"), "-v")
    assert code == 0 and "support test" in out and "ops test" not in out, out


def test_a_cra_atlas_that_is_not_an_atlas_is_a_usage_error(tmp_path: Path) -> None:
    code, out = pytest_run(tmp_path, "--cra-atlas", str(tmp_path))
    assert code == 4 and "is not an atlas directory" in out, out


@pytest.mark.parametrize("names", [["a", "b"]])
def test_items_are_named_after_the_tests(tmp_path: Path, names: List[str]) -> None:
    atlas_with_tests(tmp_path, "n", {"tests": [{"name": n, "request": REQ} for n in names]})
    code, out = pytest_run(tmp_path, "n", "--collect-only", "-q")
    assert code == 0
    assert "n/tests/policies.json::a" in out and "n/tests/policies.json::b" in out, out
