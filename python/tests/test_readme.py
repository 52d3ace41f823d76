"""The README opens with a Python example: it must work as pasted, from any directory (the example
atlas comes from the package: ``cra.example_atlas``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from conftest import REPO


def first_python_block(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    m = re.search(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert m, f"{path} has no python block"
    return m.group(1)


def run_as_pasted(code: str, tmp_path: Path) -> "subprocess.CompletedProcess[str]":
    """Runs ``code`` in an empty scratch directory (no ``examples/`` of the repository in sight)."""
    env = {k: v for k, v in os.environ.items() if k != "CRA_EXAMPLES"}
    return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)


def test_readme_opens_with_a_python_example_that_runs(tmp_path: Path) -> None:
    readme = os.path.join(REPO, "README.md")
    with open(readme, encoding="utf-8") as f:
        text = f.read()
    assert text.index("```python") < text.index("\n## "), "the Python example must come before the first section"
    p = run_as_pasted(first_python_block(readme), tmp_path)
    assert p.returncode == 0, p.stderr
    assert "partial" in p.stdout and "denied: policy_denied deny-account-deletion" in p.stdout
    assert "VerifyReport(ok=True" in p.stdout


def test_python_package_readme_example_runs(tmp_path: Path) -> None:
    p = run_as_pasted(first_python_block(os.path.join(REPO, "python", "README.md")), tmp_path)
    assert p.returncode == 0, p.stderr
