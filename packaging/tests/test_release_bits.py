"""The rest of a release, checked here (docs/packaging.md): the one version, the workflows
(actionlint, since GitHub Actions cannot run on this machine) and the C library tarball. Each
check is also shown to refuse a bad input."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from conftest import OUT, REPO, TARGET_DIR, report, run, workspace_version

ACTIONLINT = os.environ.get("ACTIONLINT") or os.path.expanduser("~/go/bin/actionlint")
WORKFLOWS = os.path.join(REPO, ".github", "workflows")
VERSIONED = ["Cargo.toml", "CHANGELOG.md", "scripts/version.py", "bindings/client/package.json", "bindings/node/package.json",
             "bindings/node/package-lock.json", "bindings/wasm/npm/package.json"]


def test_one_version_check_passes_and_can_fail(tmp_path: Path) -> None:
    run([sys.executable, os.path.join(REPO, "scripts/version.py"), "check"])
    for f in VERSIONED:
        (tmp_path / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(os.path.join(REPO, f), tmp_path / f)
    script = str(tmp_path / "scripts/version.py")
    run([sys.executable, script, "check"])
    wasm = tmp_path / "bindings/wasm/npm/package.json"
    wasm.write_text(wasm.read_text().replace(f'"version": "{workspace_version()}"', '"version": "9.9.9"'))
    p = run([sys.executable, script, "check"], check=False)
    assert p.returncode == 1 and "bindings/wasm/npm/package.json: 9.9.9" in p.stderr, p.stderr


def test_every_workflow_passes_actionlint_which_can_fail(tmp_path: Path) -> None:
    assert os.access(ACTIONLINT, os.X_OK), f"{ACTIONLINT} missing (make actionlint)"
    files = sorted(str(p) for p in Path(WORKFLOWS).glob("*.yml"))
    assert {os.path.basename(f) for f in files} >= {"ci.yml", "release.yml"}, files
    p = subprocess.run([ACTIONLINT, "-color=false", *files], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    version = subprocess.run([ACTIONLINT, "-version"], capture_output=True, text=True).stdout.split()[0]
    shellcheck = shutil.which("shellcheck")
    report(f"actionlint {version} ({'with shellcheck' if shellcheck else 'without shellcheck'}): {', '.join(os.path.basename(f) for f in files)} pass")
    # the check can fail: a job that needs a job that does not exist, and a bad expression
    wf = tmp_path / ".github/workflows"
    wf.mkdir(parents=True)
    broken = Path(files[0]).read_text() + "\n  broken:\n    needs: [no-such-job]\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.no_such_thing }}\n"
    (wf / "broken.yml").write_text(broken)
    bad = subprocess.run([ACTIONLINT, "-color=false", str(wf / "broken.yml")], capture_output=True, text=True)
    assert bad.returncode == 1 and "no-such-job" in bad.stdout, bad.stdout + bad.stderr


def test_c_library_tarball_builds_and_links(tmp_path: Path) -> None:
    lib = os.path.join(TARGET_DIR, "release", "libcra.so")
    assert os.path.exists(lib), f"{lib} missing (make build-ffi)"
    dist = os.path.join(OUT, "dist")
    os.makedirs(dist, exist_ok=True)
    tarball = run(["bash", os.path.join(REPO, "scripts/package-c.sh"), dist]).stdout.strip().splitlines()[-1]
    name = os.path.basename(tarball)[: -len(".tar.gz")]
    assert name == f"cra-{workspace_version()}-x86_64-unknown-linux-gnu", name
    with tarfile.open(tarball) as t:
        members = set(t.getnames())
        t.extractall(tmp_path)
    for need in ("include/cra.h", "lib/libcra.so", "lib/libcra.a", "share/cra/examples/demo.c", "README.md", "CHANGELOG.md",
                 "share/cra/examples/atlases/customer-support/atlas.json"):
        assert f"{name}/{need}" in members, need
    report(f"C library {os.path.basename(tarball)}: {os.path.getsize(tarball):,} bytes")
    root = tmp_path / name
    atlas = str(root / "share/cra/examples/atlases/customer-support")
    run(["cc", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{root}/include", f"{root}/share/cra/examples/demo.c",
         f"-L{root}/lib", "-lcra", f"-Wl,-rpath,{root}/lib", "-o", str(tmp_path / "demo")])
    run([str(tmp_path / "demo"), atlas])
    run(["cc", "-std=c11", f"-I{root}/include", f"{root}/share/cra/examples/demo.c", f"{root}/lib/libcra.a", "-lpthread", "-ldl", "-lm",
         "-o", str(tmp_path / "demo-static")])
    run([str(tmp_path / "demo-static"), atlas])
    # the check can fail: without the libraries the script refuses to make a tarball
    empty = tmp_path / "empty-target"
    (empty / "release").mkdir(parents=True)
    p = run(["bash", os.path.join(REPO, "scripts/package-c.sh"), str(tmp_path / "out")], check=False, CARGO_TARGET_DIR=str(empty))
    assert p.returncode == 1 and "expected a shared and a static libcra" in p.stderr, p.stderr
