"""The overhead benchmark runs (a smoke run: no timing is asserted)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from cra.integrations import bench

from ._support import SUPPORT


def test_the_benchmark_runs_every_installed_case(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench.main(["--iterations", "5", "--json", "--atlas", SUPPORT]) == 0
    results: Any = json.loads(capsys.readouterr().out)
    assert set(results) == set(bench.CASES)
    for name, out in results.items():
        if "skipped" not in out:
            assert out["ungoverned"]["p50_us"] > 0 and out["governed"]["p99_us"] >= out["governed"]["p50_us"], name
