"""Replay reads atlases through libcra's loader: context files that leave the atlas directory,
are not regular files or are too large are refused, never read, never waited for."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest

import cra

from conftest import DEVOPS, REPO

CRA = os.path.join(os.path.dirname(sys.executable), "cra")
SECRET = "the secret outside the atlas"


def _atlas(tmp_path: Path, name: str, files: List[str], setup: Optional[Callable[[Path], None]] = None) -> Path:
    """A copy of the devops atlas whose first context pack reads ``files``."""
    (tmp_path / "secret.txt").write_text(SECRET)
    d = tmp_path / name
    shutil.copytree(DEVOPS, d)
    doc = json.loads((d / "atlas.json").read_text())
    doc["context_packs"][0]["files"] = files
    (d / "atlas.json").write_text(json.dumps(doc))
    if setup is not None:
        setup(d)
    return d


def _bad_atlases(tmp_path: Path) -> Dict[str, Path]:
    secret = tmp_path / "secret.txt"
    cases = {
        "dotdot": _atlas(tmp_path, "dotdot", ["../secret.txt"]),
        "absolute": _atlas(tmp_path, "absolute", [str(secret)]),
        "symlink-outside": _atlas(tmp_path, "symlink", ["context/link.md"],
                                  lambda d: os.symlink(secret, d / "context" / "link.md")),
        "dev-zero": _atlas(tmp_path, "devzero", ["context/zero.md"],
                           lambda d: os.symlink("/dev/zero", d / "context" / "zero.md")),
    }
    if hasattr(os, "mkfifo"):
        cases["fifo"] = _atlas(tmp_path, "fifo", ["context/fifo.md"], lambda d: os.mkfifo(d / "context" / "fifo.md"))
    return cases


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "t.jsonl"
    with cra.Resolver(trace_file=path) as r:
        r.load_atlas(DEVOPS)
        r.resolve(agent="oncall-alice", session="ops", goal="roll back checkout", context={"environment": "production"})
    return path


# Each case runs in a subprocess with a timeout: a FIFO read by mistake would block forever.
_API = """
import json, sys
import cra
trace, atlas, how = sys.argv[1:]
try:
    if how == "replay":
        cra.replay(trace, [atlas])
    else:
        cra.trace.atlas_document(atlas)
    print(json.dumps({"accepted": True}))
except cra.CraError as e:
    print(json.dumps({"class": type(e).__name__, "code": e.code, "pointer": e.pointer, "message": e.message}))
"""


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink-outside", "dev-zero", "fifo"])
def test_replay_refuses_context_files_outside_or_special(case: str, trace: Path, tmp_path: Path) -> None:
    atlases = _bad_atlases(tmp_path)
    if case not in atlases:
        pytest.skip("no FIFOs on this platform")
    atlas = str(atlases[case])
    p = subprocess.run([sys.executable, "-c", _API, str(trace), atlas, "replay"],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out.get("code") == "INVALID_ATLAS", out
    assert out["pointer"] == "/0/context_packs/0/files/0" and SECRET not in out["message"]
    code = subprocess.run([CRA, "replay", str(trace), "--atlas", atlas], capture_output=True, text=True, timeout=60)
    assert code.returncode == 2 and "INVALID_ATLAS" in code.stderr, code.stdout + code.stderr
    assert SECRET not in code.stdout + code.stderr


@pytest.mark.parametrize("case", ["dotdot", "absolute", "symlink-outside", "dev-zero", "fifo"])
def test_atlas_document_reads_nothing_outside(case: str, tmp_path: Path) -> None:
    atlases = _bad_atlases(tmp_path)
    if case not in atlases:
        pytest.skip("no FIFOs on this platform")
    p = subprocess.run([sys.executable, "-c", _API, "-", str(atlases[case]), "document"],
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out.get("code") == "INVALID_ATLAS" and out["pointer"] == "/context_packs/0/files/0", out


def test_replay_passes_paths_and_documents(trace: Path, tmp_path: Path) -> None:
    assert cra.replay(trace, [DEVOPS]).unchanged == 1
    assert cra.replay(trace, [Path(DEVOPS) / "atlas.json"]).unchanged == 1
    inside = _atlas(tmp_path, "inside", ["context/link.md"],
                    lambda d: os.symlink(d / "context" / "runbook.md", d / "context" / "link.md"))
    assert cra.replay(trace, [inside]).unchanged == 1  # a symlink that stays inside is fine
    doc = cra.trace.atlas_document(inside)
    assert "files" not in doc["context_packs"][0] and doc["context_packs"][0]["content"]
    doc["policies"].insert(0, {"policy_id": "freeze", "type": "deny", "actions": ["k8s.deployments.*"]})
    assert cra.replay(trace, [doc]).changed[0]["no_longer_allowed"]
    with pytest.raises(cra.InvalidRequest) as e:
        cra.replay(trace, [DEVOPS, 42])  # type: ignore[list-item]
    assert e.value.pointer == "/1"
    with pytest.raises(cra.CraIOError) as io:
        cra.replay(trace, [tmp_path / "missing"])
    assert io.value.pointer == "/0"
