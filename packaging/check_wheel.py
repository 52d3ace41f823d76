#!/usr/bin/env python3
"""Refuses a Linux wheel that PyPI or a user's pip would not accept as manylinux.

    python packaging/check_wheel.py WHEEL [--max-glibc 2.28]

Passes (exit 0, prints the tag) only when
- every platform tag of the wheel (file name and the WHEEL file) is ``manylinux_X_Y_<arch>``;
- ``auditwheel show`` finds it consistent with a manylinux tag (its policy checks the versioned
  glibc symbols and the libraries the binaries link) no newer than the one the wheel claims;
- that tag needs at most glibc ``--max-glibc`` (default 2.28: the release targets
  manylinux_2_28, so Debian 10+, Ubuntu 18.10+, RHEL 8+).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import zipfile
from typing import List, Tuple

TAG = re.compile(r"^manylinux_(\d+)_(\d+)_(x86_64|aarch64)$")


def glibc_of(tag: str) -> Tuple[int, int]:
    m = TAG.match(tag)
    if not m:
        raise ValueError(f"{tag} is not a manylinux_X_Y tag")
    return int(m.group(1)), int(m.group(2))


def platform_tags(wheel: str) -> List[str]:
    name = os.path.basename(wheel)
    if not name.endswith(".whl") or name.count("-") < 4:
        raise ValueError(f"{name} is not a wheel file name")
    tags = name[:-4].split("-")[-1].split(".")
    with zipfile.ZipFile(wheel) as z:
        meta = [n for n in z.namelist() if n.endswith(".dist-info/WHEEL")]
        if len(meta) != 1:
            raise ValueError(f"{name}: {len(meta)} .dist-info/WHEEL files")
        declared = [line.split(":", 1)[1].strip().split("-")[-1] for line in z.read(meta[0]).decode().splitlines() if line.startswith("Tag:")]
    if sorted(set(declared)) != sorted(set(tags)):
        raise ValueError(f"{name}: the file name says {tags}, its WHEEL file {declared}")
    return tags


def check(wheel: str, max_glibc: Tuple[int, int], auditwheel: str = "auditwheel") -> str:
    """The manylinux tag auditwheel proves; raises ValueError with the reason otherwise."""
    tags = platform_tags(wheel)
    for t in tags:
        if not TAG.match(t):
            raise ValueError(f"{os.path.basename(wheel)}: platform tag {t} is not manylinux (PyPI refuses linux_* wheels)")
    p = subprocess.run([auditwheel, "show", wheel], capture_output=True, text=True)
    text = " ".join((p.stdout + p.stderr).split())
    if p.returncode != 0:
        raise ValueError(f"auditwheel show failed ({p.returncode}): {text}")
    m = re.search(r'consistent with the following platform tag: "([^"]+)"', text)
    if not m:
        raise ValueError(f"auditwheel show named no platform tag: {text}")
    proven = m.group(1)
    if not TAG.match(proven):
        raise ValueError(f"auditwheel: the binaries are only consistent with {proven}, not a manylinux tag: {text}")
    claimed = min(glibc_of(t) for t in tags)
    if glibc_of(proven) > claimed:
        raise ValueError(f"the wheel claims manylinux_{claimed[0]}_{claimed[1]} but its binaries need {proven}")
    if glibc_of(proven) > max_glibc:
        raise ValueError(f"{proven} needs glibc newer than {max_glibc[0]}.{max_glibc[1]}")
    return proven


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wheel")
    ap.add_argument("--max-glibc", default="2.28")
    a = ap.parse_args()
    major, minor = (int(x) for x in a.max_glibc.split("."))
    try:
        tag = check(a.wheel, (major, minor), auditwheel=os.path.join(os.path.dirname(sys.executable), "auditwheel"))
    except ValueError as e:
        print(f"check_wheel: REFUSED {os.path.basename(a.wheel)}: {e}", file=sys.stderr)
        return 1
    print(f"check_wheel: {os.path.basename(a.wheel)}: {tag} (auditwheel show)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
