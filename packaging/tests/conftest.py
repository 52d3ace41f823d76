"""Shared helpers of the packaging tests (make test-packaging, docs/packaging.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Dict, Optional

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(REPO, "target", "packaging")
TARGET_DIR = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
# The zig-linked manylinux build gets its own target directory inside target/: it sets the linker
# and CC for the host triple, which would otherwise make it and the host builds (build-ffi,
# build-node, pip install ./python) rebuild each other's build scripts and dependencies.
MANYLINUX_TARGET_DIR = os.environ.get("CRA_MANYLINUX_TARGET_DIR") or os.path.join(TARGET_DIR, "manylinux")
BIN = os.path.dirname(sys.executable)


def env(**extra: str) -> Dict[str, str]:
    """The environment for tools: the virtualenv's bin first (maturin finds zig through it)."""
    e = dict(os.environ)
    e["PATH"] = BIN + os.pathsep + e.get("PATH", "")
    e["CARGO_TARGET_DIR"] = TARGET_DIR
    e.pop("CRA_EXAMPLES", None)
    e.update(extra)
    return e


def run(args: "list[str]", cwd: Optional[str] = None, check: bool = True, timeout: int = 900, **extra: str) -> "subprocess.CompletedProcess[str]":
    p = subprocess.run(args, cwd=cwd, env=env(**extra), capture_output=True, text=True, timeout=timeout)
    if check and p.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {p.returncode}\n--- stdout\n{p.stdout[-4000:]}\n--- stderr\n{p.stderr[-4000:]}")
    return p


def workspace_version() -> str:
    with open(os.path.join(REPO, "Cargo.toml"), encoding="utf-8") as f:
        m = re.search(r'^\[workspace\.package\]\n(?:[^\[].*\n)*?version = "([^"]+)"', f.read(), re.M)
    assert m
    return m.group(1)


def report(line: str) -> None:
    """A line for the make output (sizes and facts), past pytest's capture."""
    with open(os.path.join(OUT, "report.txt"), "a", encoding="utf-8") as f:
        f.write(line + "\n")
    sys.__stdout__.write(f"\n  packaging: {line}")
    sys.__stdout__.flush()
