"""The Python distribution as a user gets it (docs/packaging.md):

sdist (maturin) → wheel built from the unpacked sdist through pip's PEP 517 path, with cargo,
linked for manylinux_2_28 (maturin --zig) → `auditwheel show` proves the tag → installed into a
fresh virtualenv outside the repository → `cra demo` and the README's Python example run from an
empty temporary directory. Each check is also shown to refuse a bad input.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shutil
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Iterator

import pytest

from conftest import MANYLINUX_TARGET_DIR, OUT, REPO, TARGET_DIR, report, run, workspace_version

sys.path.insert(0, os.path.join(REPO, "packaging"))
import check_wheel  # noqa: E402

DIST = "cra-governance"
VERSION = workspace_version()
AUDITWHEEL = os.path.join(os.path.dirname(sys.executable), "auditwheel")
MAX_GLIBC = (2, 28)
# Built where a later run finds it again, so cargo's fingerprints (paths, mtimes) stay warm.
SDIST_TREE = os.path.join(OUT, "sdist-tree")
PEP517_ARGS = "--zig --target x86_64-unknown-linux-gnu --compatibility manylinux_2_28"


def sync_tree(src: str, dst: str) -> None:
    """Makes dst a copy of src, rewriting only files whose bytes differ (those get a fresh mtime; the
    others keep theirs, so cargo rebuilds exactly what changed)."""
    for root, dirs, files in os.walk(dst, topdown=False):
        rel = os.path.relpath(root, dst)
        for f in files:
            if not os.path.exists(os.path.join(src, rel, f)):
                os.remove(os.path.join(root, f))
        for d in dirs:
            p = os.path.join(root, d)
            if not os.path.exists(os.path.join(src, rel, d)) and os.path.isdir(p):
                shutil.rmtree(p)
    for root, _, files in os.walk(src):
        rel = os.path.relpath(root, src)
        os.makedirs(os.path.join(dst, rel), exist_ok=True)
        for f in files:
            a, b = os.path.join(root, f), os.path.join(dst, rel, f)
            if not os.path.exists(b) or Path(a).read_bytes() != Path(b).read_bytes():
                # a fresh mtime, not the archive's: the sdist's mtimes can be older than cargo's
                # fingerprints from the last build, which would then keep a stale library
                shutil.copyfile(a, b)
                shutil.copymode(a, b)


@pytest.fixture(scope="module")
def dist_dir() -> str:
    d = os.path.join(OUT, "dist")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


@pytest.fixture(scope="module")
def sdist(dist_dir: str) -> str:
    run([sys.executable, "-m", "maturin", "sdist", "--out", dist_dir], cwd=os.path.join(REPO, "python"))
    (name,) = [n for n in os.listdir(dist_dir) if n.endswith(".tar.gz")]
    assert name == f"cra_governance-{VERSION}.tar.gz", name
    path = os.path.join(dist_dir, name)
    report(f"sdist {name}: {os.path.getsize(path):,} bytes")
    return path


@pytest.fixture(scope="module")
def wheel(sdist: str, dist_dir: str) -> str:
    """Built from the sdist's files (not the checkout), the way pip builds an sdist, with cargo."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(sdist) as t:
            t.extractall(tmp)
        (top,) = os.listdir(tmp)
        sync_tree(os.path.join(tmp, top), SDIST_TREE)
    wheels = os.path.join(OUT, "wheelhouse")
    shutil.rmtree(wheels, ignore_errors=True)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--disable-pip-version-check",
         "-w", wheels, SDIST_TREE], MATURIN_PEP517_ARGS=PEP517_ARGS, CARGO_TARGET_DIR=MANYLINUX_TARGET_DIR)
    (name,) = os.listdir(wheels)
    path = os.path.join(dist_dir, name)
    shutil.move(os.path.join(wheels, name), path)
    report(f"wheel {name}: {os.path.getsize(path):,} bytes")
    return path


def test_sdist_has_what_cargo_and_the_package_need(sdist: str) -> None:
    with tarfile.open(sdist) as t:
        names = {n.split("/", 1)[1] for n in t.getnames() if "/" in n}
    for need in ("pyproject.toml", "Cargo.toml", "Cargo.lock", "core/Cargo.toml", "ffi/Cargo.toml", "ffi/src/lib.rs",
                 "cra/__init__.py", "cra/examples/customer-support/atlas.json", "cra/examples/customer-support/tests/policies.json",
                 "cra/examples/devops/atlas.json", "cra/examples/devops/tests/policies.json", "cra/server/static/index.html"):
        assert need in names, f"{need} missing from the sdist"
    assert not any(n.startswith(("target/", "node_modules/")) or "/node_modules/" in n for n in names)


def test_wheel_is_manylinux_per_auditwheel(wheel: str) -> None:
    tag = check_wheel.check(wheel, MAX_GLIBC, AUDITWHEEL)
    assert tag == "manylinux_2_28_x86_64", tag
    assert os.path.basename(wheel) == f"cra_governance-{VERSION}-py3-none-manylinux_2_28_x86_64.whl"
    report(f"auditwheel show: {os.path.basename(wheel)} is consistent with {tag}")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    for need in ("cra/_native/__init__.py", "cra/examples/customer-support/atlas.json", "cra/examples/devops/tests/policies.json",
                 "cra/py.typed", "cra/schemas/atlas.schema.json"):
        assert need in names, f"{need} missing from the wheel"


def rewrite_wheel(src: str, dst: str, tag: str, replace: "dict[str, bytes]" = {}, drop: str = "") -> str:
    """A copy of a wheel with another platform tag, some members replaced or dropped (RECORD updated)."""
    name = re.sub(r"-[^-]+\.whl$", f"-{tag}.whl", os.path.basename(src))
    out = os.path.join(dst, name)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        record_name = next(n for n in zin.namelist() if n.endswith(".dist-info/RECORD"))
        rows = []
        for info in zin.infolist():
            if info.filename == record_name or (drop and info.filename.startswith(drop)):
                continue
            data = replace.get(info.filename, zin.read(info.filename))
            if info.filename.endswith(".dist-info/WHEEL"):
                data = re.sub(rb"(?m)^(Tag: py3-none-).*$", b"\\g<1>" + tag.encode(), data)
            zout.writestr(info, data)
            digest = hashlib.sha256(data).digest()
            rows.append(f"{info.filename},sha256={base64.urlsafe_b64encode(digest).rstrip(b'=').decode()},{len(data)}")
        rows.append(f"{record_name},,")
        zout.writestr(record_name, "\n".join(rows) + "\n")
    return out


def test_check_refuses_a_linux_tagged_wheel(wheel: str, tmp_path: Path) -> None:
    """What the wheel used to be: tagged linux_x86_64, which PyPI refuses."""
    bad = rewrite_wheel(wheel, str(tmp_path), "linux_x86_64")
    with pytest.raises(ValueError, match="not manylinux"):
        check_wheel.check(bad, MAX_GLIBC, AUDITWHEEL)


def test_check_refuses_binaries_that_need_a_newer_glibc(wheel: str, tmp_path: Path) -> None:
    """The wheel claims manylinux_2_28 but carries libcra linked on this machine (glibc 2.36)."""
    host_lib = os.path.join(TARGET_DIR, "release", "libcra.so")
    assert os.path.exists(host_lib), f"{host_lib} is missing (make build-ffi)"
    bad = rewrite_wheel(wheel, str(tmp_path), "manylinux_2_28_x86_64", replace={"cra/_native/lib_native.so": Path(host_lib).read_bytes()})
    with pytest.raises(ValueError, match="claims manylinux_2_28 but its binaries need manylinux_2_3"):
        check_wheel.check(bad, MAX_GLIBC, AUDITWHEEL)


@pytest.fixture(scope="module")
def fresh_venv(wheel: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A new virtualenv outside the repository with only the wheel (and its dependency cffi)."""
    base = tmp_path_factory.mktemp("venv")
    assert not str(base).startswith(REPO)
    run([sys.executable, "-m", "venv", str(base / "venv")])
    run([str(base / "venv/bin/python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", wheel], timeout=300)
    yield base / "venv"


def first_python_block(path: str) -> str:
    text = Path(path).read_text(encoding="utf-8")
    m = re.search(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert m
    return m.group(1)


def test_fresh_venv_version_demo_and_readme_from_a_temp_dir(fresh_venv: Path, tmp_path: Path) -> None:
    py, cra_cmd = str(fresh_venv / "bin/python"), str(fresh_venv / "bin/cra")
    where = run([py, "-c", "import cra, os; print(os.path.dirname(cra.__file__)); print(cra.example_atlas('devops'))"], cwd=str(tmp_path)).stdout.split()
    assert where[0].startswith(str(fresh_venv)) and where[1].startswith(str(fresh_venv)), where
    assert run([cra_cmd, "--version"], cwd=str(tmp_path)).stdout.strip() == f"cra {VERSION}"
    assert run([py, "-c", "import cra._lowlevel as l, importlib.metadata as m; print(l.library_version(), m.version('cra-governance'))"]).stdout.split() == [VERSION, VERSION]

    demo = run([cra_cmd, "demo"], cwd=str(tmp_path), timeout=120)
    assert "chain is intact" in demo.stdout and "did not go as scripted" not in demo.stdout, demo.stdout
    assert (tmp_path / "target/demo-trace.jsonl").stat().st_size > 0

    readme = run([py, "-c", first_python_block(os.path.join(REPO, "README.md"))], cwd=str(tmp_path))
    assert "partial" in readme.stdout and "denied: policy_denied deny-account-deletion" in readme.stdout, readme.stdout
    assert "VerifyReport(ok=True" in readme.stdout
    # the packaged policy tests pass against the packaged atlases
    atlases = [run([py, "-c", f"import cra; print(cra.example_atlas('{n}'))"]).stdout.strip() for n in ("customer-support", "devops")]
    run([cra_cmd, "test", *atlases], cwd=str(tmp_path))
    report(f"fresh virtualenv: cra {VERSION}, cra demo, the README example and cra test of the packaged atlases ran in {tmp_path}")


def test_demo_check_fails_without_packaged_atlases(wheel: str, tmp_path: Path) -> None:
    """The same demo check against a wheel that lacks cra/examples (what the wheel used to be) fails."""
    bad = rewrite_wheel(wheel, str(tmp_path), "manylinux_2_28_x86_64", drop="cra/examples/")
    run([sys.executable, "-m", "venv", str(tmp_path / "venv")])
    py = str(tmp_path / "venv/bin/python")
    run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", bad], timeout=300)
    work = tmp_path / "work"
    work.mkdir()
    p = run([str(tmp_path / "venv/bin/cra"), "demo"], cwd=str(work), check=False)
    assert p.returncode == 2 and "cannot find the example atlases" in p.stderr, (p.returncode, p.stderr)
