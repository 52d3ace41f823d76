#!/usr/bin/env python3
"""The one version of every artefact (docs/packaging.md): `[workspace.package] version` in Cargo.toml.

    scripts/version.py            print it
    scripts/version.py check      fail when a package manifest or the changelog disagrees
    scripts/version.py bump X.Y.Z set it in Cargo.toml and copy it to every manifest below
                                  (then Cargo.lock; the CHANGELOG's section is yours to write)

Derived from it at build time, never written by hand: the Python distribution's version (maturin
reads the cra-ffi crate, whose version is the workspace's), `cra_version()` and `cra --version`,
`versions()` in JS, and the versions of @cra/client and its platform packages (assemble.mjs).
The npm manifests below are checked in and must carry it too.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
CARGO = os.path.join(ROOT, "Cargo.toml")
NPM_MANIFESTS = [
    "bindings/client/package.json",
    "bindings/node/package.json",
    "bindings/node/package-lock.json",
    "bindings/wasm/npm/package.json",
]
VERSION_RE = re.compile(r'^(\[workspace\.package\]\n(?:[^\[].*\n)*?version = ")([^"]+)(")', re.M)
SEMVER = re.compile(r"^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$")


def read(path: str) -> str:
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def cargo_version() -> str:
    m = VERSION_RE.search(read("Cargo.toml"))
    if not m:
        sys.exit("version.py: no version in [workspace.package] of Cargo.toml")
    return m.group(2)


def npm_versions(path: str) -> list[str]:
    doc = json.loads(read(path))
    found = [doc["version"]]
    if path.endswith("package-lock.json"):
        found.append(doc["packages"][""]["version"])
    return found


def check() -> int:
    want = cargo_version()
    bad = [f"{p}: {v}" for p in NPM_MANIFESTS for v in npm_versions(p) if v != want]
    changelog = read("CHANGELOG.md")
    if not re.search(rf"^## \[{re.escape(want)}\]", changelog, re.M):
        bad.append(f"CHANGELOG.md: no section '## [{want}]'")
    if bad:
        print(f"version.py: Cargo.toml says {want}, but:\n  " + "\n  ".join(bad), file=sys.stderr)
        return 1
    print(f"version.py: {want} in Cargo.toml, {len(NPM_MANIFESTS)} npm manifests and CHANGELOG.md")
    return 0


def bump(new: str) -> int:
    if not SEMVER.match(new):
        sys.exit(f"version.py: {new!r} is not a semantic version X.Y.Z[-pre]")
    text = read("Cargo.toml")
    with open(CARGO, "w", encoding="utf-8") as f:
        f.write(VERSION_RE.sub(lambda m: m.group(1) + new + m.group(3), text, count=1))
    for p in NPM_MANIFESTS:
        doc = json.loads(read(p))
        doc["version"] = new
        if p.endswith("package-lock.json"):
            doc["packages"][""]["version"] = new
        with open(os.path.join(ROOT, p), "w", encoding="utf-8") as f:
            f.write(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    # the workspace members' entries in Cargo.lock (no network: nothing else changes)
    subprocess.run(["cargo", "update", "--workspace", "--offline", "--quiet"], cwd=ROOT, check=True)
    print(f"version.py: {new}; now add '## [{new}]' to CHANGELOG.md and commit")
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        print(cargo_version())
        return 0
    if argv[0] == "check" and len(argv) == 1:
        return check()
    if argv[0] == "bump" and len(argv) == 2:
        return bump(argv[1])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
