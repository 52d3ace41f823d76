"""Packaging facts the installed package must show (docs/packaging.md): one version everywhere,
the example atlases inside the package, `cra demo` outside a checkout."""

from __future__ import annotations

import filecmp
import importlib.metadata
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import cra
from cra._examples import packaged_atlases
from cra._lowlevel import library_version

from conftest import ATLASES, REPO

DIST = "cra-governance"


def workspace_version() -> str:
    with open(os.path.join(REPO, "Cargo.toml"), encoding="utf-8") as f:
        text = f.read()
    m = re.search(r'^\[workspace\.package\]\n(?:[^\[].*\n)*?version = "([^"]+)"', text, re.M)
    assert m, "no version in [workspace.package] of Cargo.toml"
    return m.group(1)


def test_one_version_everywhere() -> None:
    """Cargo.toml's workspace version = the distribution's = cra_version() = `cra --version`."""
    want = workspace_version()
    assert importlib.metadata.version(DIST) == want
    assert library_version() == want and cra.__version__ == want
    out = subprocess.run([sys.executable, "-m", "cra", "--version"], capture_output=True, text=True, cwd="/", check=True)
    assert out.stdout.strip() == f"cra {want}"


def test_the_distribution_is_not_named_cra() -> None:
    """`cra` on PyPI is someone else's project; ours installs as cra-governance, imports as cra."""
    dist = importlib.metadata.distribution(DIST)
    assert dist.metadata["Name"] == DIST
    top = {str(f).split("/")[0] for f in dist.files or []}
    assert "cra" in top
    with pytest.raises(importlib.metadata.PackageNotFoundError):
        importlib.metadata.distribution("cra")


def test_example_atlases_are_inside_the_package() -> None:
    base = packaged_atlases()
    assert os.path.realpath(base).startswith(os.path.realpath(os.path.dirname(cra.__file__)))
    for name in ("customer-support", "devops"):
        path = cra.example_atlas(name)
        assert os.path.isfile(os.path.join(path, "atlas.json"))
        assert os.listdir(os.path.join(path, "tests")), f"{name}: the policy tests are packaged too"
        # the same files as examples/atlases of the checkout (the package was built from it)
        cmp = filecmp.dircmp(path, os.path.join(ATLASES, name))
        assert not (cmp.left_only or cmp.right_only or cmp.diff_files), \
            f"{name}: only packaged {cmp.left_only}, only in the checkout {cmp.right_only}, differing {cmp.diff_files}"
    with pytest.raises(ValueError, match="customer-support, devops"):
        cra.example_atlas("nope")


def test_demo_runs_outside_a_checkout(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CRA_EXAMPLES"}
    p = subprocess.run([sys.executable, "-m", "cra", "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "target" / "demo-trace.jsonl").stat().st_size > 0
    with cra.Resolver() as r:
        assert r.load_atlas(cra.example_atlas("devops")).atlas_id == "com.example.devops"
