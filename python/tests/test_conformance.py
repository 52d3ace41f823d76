"""The shared conformance corpus through the package, run by the one interpreter
(``cra-conformance``, conformance/runner) with ``conformance_driver.py``; its ``--self-test``
first proves that the driver and runner fail on the deliberately wrong corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import REPO

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.environ.get("CRA_CONFORMANCE") or os.path.join(REPO, "target", "debug", "cra-conformance")
DRIVER = [sys.executable, os.path.join(HERE, "conformance_driver.py")]


def _run(*options: str) -> "subprocess.CompletedProcess[str]":
    assert os.path.exists(RUNNER), f"{RUNNER} is missing: build it with `make build-conformance`"
    return subprocess.run([RUNNER, "--binding", "python", *options, "--", *DRIVER],
                          capture_output=True, text=True, timeout=600, cwd=HERE)


def test_whole_corpus_passes_and_the_driver_can_fail() -> None:
    out = _run("--self-test")
    report = out.stdout + out.stderr
    with open(os.path.join(REPO, "conformance", "manifest.json")) as f:
        total = json.load(f)["total"]
    assert "the deliberately wrong corpus fails as designed" in report, report
    assert f"ran {total} of {total} cases" in report, report
    assert out.returncode == 0, "\n".join(line for line in report.splitlines() if not line.startswith("ok "))


def test_a_broken_driver_fails_the_run(tmp_path: object) -> None:
    """A driver that answers nonsense must fail cases, never pass them."""
    bad = os.path.join(str(tmp_path), "bad_driver.py")
    with open(bad, "w") as f:
        f.write("import sys\nfor line in sys.stdin:\n    print('{\"ok\": \"{}\"}', flush=True)\n")
    out = subprocess.run([RUNNER, "--binding", "python", "--", sys.executable, bad],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 1 and " 0 failed" not in out.stdout, out.stdout[-2000:]
