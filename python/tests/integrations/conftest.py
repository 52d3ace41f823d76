"""Shared fixtures: a resolver writing a trace file (see ``_support.need`` for the rule on
missing frameworks: skipped, but failed under ``CRA_REQUIRE_INTEGRATIONS=1``)."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

import cra

from ._support import SUPPORT


@pytest.fixture
def trace_path(tmp_path: "os.PathLike[str]") -> str:
    """Where the resolver fixture writes its trace."""
    return os.path.join(os.fspath(tmp_path), "trace.jsonl")


@pytest.fixture
def resolver(trace_path: str) -> Iterator[cra.Resolver]:
    """A resolver with the customer-support atlas, tracing to ``trace_path``."""
    with cra.Resolver(trace_file=trace_path, atlases=[SUPPORT]) as r:
        yield r
