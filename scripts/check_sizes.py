#!/usr/bin/env python3
"""Prints each built artefact's size beside its target (issue 15) and fails over the limit.

Reuses what the build already made (nothing is built here); an artefact that is not built is
reported and skipped. A size within its target prints OK. A target not met yet has a ceiling
just above today's figure: under it prints "NOT MET" with the target and passes, over it fails,
so the size cannot silently grow while the target is being worked on.

    scripts/check_sizes.py              check (exit 1 when an artefact is over its limit)
    scripts/check_sizes.py --self-test  prove the check fails on a deliberately tiny limit
"""
import glob
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MB = 1_000_000

# name, glob under the repository, strip first?, target bytes, ceiling bytes (None: the target
# is met and is the limit). Figures in docs/performance.md ("Sizes").
ARTEFACTS = [
    ("libcra.so, stripped (HTTP sink + TLS)", "target/release/libcra.so", True, 4 * MB, None),
    ("libcra.so, stripped, no network features (make size-nonet)",
     "target/nonet/release/libcra.so", True, 2 * MB, 2_300_000),
    ("Python wheel (manylinux)", "target/packaging/dist/cra_governance-*-manylinux*_x86_64.whl",
     False, int(1.5 * MB), 2_250_000),
    # The native library's target applied to the addon (the same engine plus napi): 4,001,736 B
    # once the one validator and the execute hot path's writers were merged; 3,984,392 B (met)
    # after the public Rust API removed dead compiled-atlas fields and the verify fast path came in.
    ("Node addon, stripped", "bindings/node/cra.linux-x64-gnu.node", True, 4 * MB, 4_200_000),
]


def stripped_size(path):
    """Size of a stripped copy (the file itself is left alone)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stripped")
        shutil.copyfile(path, out)
        subprocess.run(["strip", "--strip-all", out], check=True)
        return os.path.getsize(out)


def check(artefacts):
    """Prints one line per artefact; returns the number over their limit."""
    over = 0
    for name, pattern, strip, target, ceiling in artefacts:
        found = sorted(glob.glob(os.path.join(ROOT, pattern)), key=os.path.getmtime)
        if not found:
            print(f"  {name}: not built ({pattern}), skipped")
            continue
        path = found[-1]
        size = stripped_size(path) if strip else os.path.getsize(path)
        limit = target if ceiling is None else max(target, ceiling)
        if size <= target:
            verdict = f"OK (target {target:,})"
        elif size <= limit:
            verdict = f"NOT MET: target {target:,} B; ceiling {limit:,} B holds"
        else:
            verdict = f"FAIL: over the limit of {limit:,} B (target {target:,} B)"
            over += 1
        print(f"  {name}: {size:,} B  {verdict}  [{os.path.relpath(path, ROOT)}]")
    return over


def main(argv):
    if "--self-test" in argv:
        # The same check with a 1-byte limit on whatever libcra is built must fail.
        tiny = [(n, p, s, 1, None) for (n, p, s, _, _) in ARTEFACTS]
        print("check_sizes self-test (every limit 1 byte, must fail):")
        if check(tiny) == 0:
            print("check_sizes: the self-test did not fail: the check cannot fail", file=sys.stderr)
            return 1
        print("check_sizes self-test: failed as it must")
        return 0
    print("sizes (bytes; docs/performance.md):")
    over = check(ARTEFACTS)
    if over:
        print(f"check_sizes: {over} artefact(s) over their limit", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
