"""docs/integrations.md: every ```python block is a complete program, run here from a
directory that looks like the repository root (``examples/`` is there), with no network and no
LLM. A block after ``<!-- save as NAME -->`` is written to NAME first, for the programs to use."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Dict, List, Tuple

import pytest

from ._support import REPO, subprocess_env

DOC = os.path.join(REPO, "docs", "integrations.md")
_BLOCK = re.compile(r"(?:<!-- save as (?P<name>[\w.-]+) -->\n)?```python\n(?P<code>.*?)\n```", re.S)


def _blocks() -> Tuple[Dict[str, str], List[Tuple[str, str]]]:
    with open(DOC, encoding="utf-8") as f:
        text = f.read()
    files: Dict[str, str] = {}
    programs: List[Tuple[str, str]] = []
    for m in _BLOCK.finditer(text):
        if m.group("name"):
            files[m.group("name")] = m.group("code") + "\n"
            continue
        heading = [h for h in re.findall(r"^## (.+)$", text[: m.start()], re.M)][-1]
        programs.append((heading, m.group("code") + "\n"))
    return files, programs


FILES, PROGRAMS = _blocks()


def test_the_document_has_one_program_per_framework() -> None:
    headings = [h for h, _ in PROGRAMS]
    for part in ("conversation lifecycle", "LangChain", "OpenAI Agents SDK", "MCP", "OpenTelemetry"):
        assert any(part in h for h in headings), f"no runnable example under a heading with {part!r}"
    assert "shop_server.py" in FILES


@pytest.mark.parametrize("heading,code", PROGRAMS, ids=[h.split(":")[0] for h, _ in PROGRAMS])
def test_example_runs(tmp_path: "os.PathLike[str]", heading: str, code: str) -> None:
    here = os.fspath(tmp_path)
    os.symlink(os.path.join(REPO, "examples"), os.path.join(here, "examples"))
    for name, content in FILES.items():
        with open(os.path.join(here, name), "w", encoding="utf-8") as f:
            f.write(content)
    with open(os.path.join(here, "example.py"), "w", encoding="utf-8") as f:
        f.write(code)
    p = subprocess.run([sys.executable, "example.py"], cwd=here, capture_output=True, text=True, timeout=300,
                       env=subprocess_env(OPENAI_AGENTS_DISABLE_TRACING="1"))
    missing = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", p.stderr)
    if p.returncode != 0 and missing and missing.group(1).split(".")[0] != "cra" \
            and os.environ.get("CRA_REQUIRE_INTEGRATIONS") != "1":
        pytest.skip(f"{missing.group(1)} is not installed")
    assert p.returncode == 0, f"{heading}:\n{p.stdout}\n{p.stderr}"
    assert p.stdout.strip(), "the example prints what it shows"
