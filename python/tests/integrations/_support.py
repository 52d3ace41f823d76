"""Helpers for the integration suites: paths, importing a framework, reading the trace."""

from __future__ import annotations

import importlib
import json
import os
from collections import Counter
from types import ModuleType
from typing import Any, Dict, List

import pytest

import cra

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.dirname(os.path.dirname(HERE))
REPO = os.path.dirname(PYTHON_DIR)
SUPPORT = os.path.join(REPO, "examples", "atlases", "customer-support")
#: The directory the ``cra`` under test is imported from (the source tree with its native module,
#: or site-packages after ``pip install``): put it on a subprocess's PYTHONPATH.
CRA_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(cra.__file__)))


def subprocess_env(**extra: str) -> Dict[str, str]:
    """The environment for a subprocess that must import the same ``cra``."""
    path = os.pathsep.join(p for p in (CRA_ROOT, os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


def need(module: str) -> ModuleType:
    """Imports a framework module; skips without it, or fails under CRA_REQUIRE_INTEGRATIONS=1."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if os.environ.get("CRA_REQUIRE_INTEGRATIONS") == "1":
            pytest.fail(f"{module} is required (CRA_REQUIRE_INTEGRATIONS=1) but cannot be imported: {e}")
        pytest.skip(f"{module} is not installed")
        raise  # pragma: no cover - skip raises


def trace_events(resolver: cra.Resolver, path: str) -> List[Dict[str, Any]]:
    """Every event of the trace file, after a flush; the trace must verify."""
    resolver.flush()
    report = cra.verify_trace(path)
    assert report.ok, report.errors
    with open(path, "rb") as f:
        return [json.loads(line) for line in f if line.strip()]


def outcomes(events: List[Dict[str, Any]]) -> "Counter[str]":
    """``action_id:event_type`` counts for the action events (requested, denied, executed...)."""
    return Counter(
        f"{e['payload'].get('action_id')}:{e['event_type']}"
        for e in events
        if e["event_type"].startswith("action.")
    )
