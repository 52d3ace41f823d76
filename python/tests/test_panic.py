"""A panic inside libcra becomes CraPanic and poisons only its resolver.

Needs libcra built with the ``testing`` feature (``make test-python`` builds it and sets
``CRA_TESTING_LIBRARY``); the test runs in a subprocess that loads it through ``CRA_LIBRARY``.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPT = r"""
import cra
from cra._lowlevel import lib, call, NOTHING
victim, bystander = cra.Resolver(), cra.Resolver()
bystander.load_atlas("examples/atlases/customer-support")
try:
    call(lib.cra_testing_panic, victim._handle(), output=NOTHING)
except cra.CraPanic as e:
    print("caught", type(e).__name__, e.code, e.status)
try:
    victim.stats()
except cra.ResolverPoisoned as e:
    print("poisoned", e.code, isinstance(e, cra.CraPanic))
print("bystander", bystander.stats()["atlases"])
victim.close()
"""


def _testing_library() -> str:
    path = os.environ.get("CRA_TESTING_LIBRARY") or os.path.join(REPO, "target", "python", "testing", "libcra.so")
    if not os.path.exists(path):
        if os.environ.get("CRA_REQUIRE_PANIC_TEST"):
            pytest.fail(f"the testing build of libcra is missing at {path}")
        pytest.skip("no testing build of libcra (make test-python builds it)")
    return path


def test_panic_is_caught_and_poisons_only_its_handle() -> None:
    env = dict(os.environ, CRA_LIBRARY=_testing_library())
    p = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert lines == ["caught CraPanic PANIC 900", "poisoned POISONED True", "bystander 1"], p.stdout + p.stderr


def test_abi_mismatch_of_an_override_library_is_refused(tmp_path: "os.PathLike[str]") -> None:
    env = dict(os.environ, CRA_LIBRARY=os.path.join(str(tmp_path), "nope.so"))
    p = subprocess.run([sys.executable, "-c", "import cra"], cwd=REPO, env=env, capture_output=True, text=True)
    assert p.returncode != 0 and "nope.so" in p.stderr
