"""Each integration imports its framework only when used; the core imports none."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import List, Set

import pytest

from ._support import need, subprocess_env

HEAVY = ["langchain_core", "langchain", "langgraph", "agents", "openai", "mcp", "mcp_types", "opentelemetry",
         "pydantic", "starlette", "anyio"]


def _imported_after(statement: str) -> List[str]:
    code = (f"import sys, json\n{statement}\n"
            f"print(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r}))))")
    env = subprocess_env()
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    out: List[str] = json.loads(p.stdout.strip().splitlines()[-1])
    return out


def test_the_core_and_the_package_import_no_framework() -> None:
    assert _imported_after("import cra, cra.integrations, cra.calls, cra.conversation, cra.refusal") == []


@pytest.mark.parametrize("module,forbidden", [
    ("cra.integrations.otel", {"langchain_core", "langchain", "langgraph", "agents", "mcp", "pydantic"}),
    ("cra.integrations.langchain", {"agents", "mcp"}),
])
def test_an_integration_imports_no_other_framework(module: str, forbidden: Set[str]) -> None:
    need(module)
    wrong = set(_imported_after(f"import {module}")) & forbidden
    assert not wrong, f"{module} imported {sorted(wrong)}"
