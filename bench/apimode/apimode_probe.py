"""What cffi's API mode would give the Python fast path (issue 15), measured beside what ships.

The package's cffi is in ABI mode (maturin's ``bindings = "cffi"`` generates it): each call is
marshalled by libffi at run time. API mode compiles a small CPython extension that calls libcra
directly. maturin's cffi flow cannot build one, so this probe compiles it by hand (a C compiler
and Python's headers are needed) into ``target/apimode`` against ``target/release/libcra.so``,
and times ``cra_resolver_verdict`` and an ``allowed()`` built on it against the shipped
``Resolver.allowed`` on the same handle, in one process.

Run from the repository root after ``make python-install build-ffi``::

    CRA_LIBRARY=$PWD/target/release/libcra.so .venv/bin/python bench/apimode/apimode_probe.py

(``CRA_LIBRARY`` makes the package load the same ``libcra.so`` the extension links, so the
handle is valid in both.)
"""

from __future__ import annotations

import os
import sys
import timeit
from typing import Any, Callable

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "target", "apimode")
LIBDIR = os.path.join(ROOT, "target", "release")


def build() -> Any:
    """Compiles (once) and imports the API-mode module ``_cra_api``."""
    import cffi

    os.makedirs(OUT, exist_ok=True)
    sys.path.insert(0, OUT)
    try:
        import _cra_api  # type: ignore[import-not-found]

        return _cra_api
    except ImportError:
        pass
    ffi = cffi.FFI()
    ffi.cdef("typedef struct CraResolver CraResolver;\n"
             "int32_t cra_resolver_verdict(const CraResolver *r, const uint8_t *s, size_t sl, const uint8_t *a, size_t al);")
    ffi.set_source("_cra_api", '#include "cra.h"', include_dirs=[os.path.join(ROOT, "ffi", "include")],
                   libraries=["cra"], library_dirs=[LIBDIR], extra_link_args=[f"-Wl,-rpath,{LIBDIR}"])
    ffi.compile(tmpdir=OUT, verbose=False)
    import _cra_api

    return _cra_api


def best(f: Callable[[], Any], n: int = 200_000) -> float:
    """Mean ns per call, the best of 7 runs of ``n`` calls."""
    return min(timeit.repeat(f, number=n, repeat=7)) / n * 1e9


def main() -> int:
    if os.path.realpath(os.environ.get("CRA_LIBRARY", "")) != os.path.realpath(os.path.join(LIBDIR, "libcra.so")):
        print("apimode_probe: set CRA_LIBRARY to target/release/libcra.so (see the docstring)", file=sys.stderr)
        return 2
    import cra
    from cra._lowlevel import ffi, lib
    from cra.bench import synthetic_atlas

    api = build()
    r = cra.Resolver({"max_resolutions_per_session": 64, "trace": {"sink": "none", "overflow": "drop"}})
    r.load_atlas(synthetic_atlas(100))
    r.resolve(agent="bench-agent", session="bench-session", goal="help with a refund", capabilities=["cap0"])
    ptr = r._handle()
    aptr = api.ffi.cast("CraResolver *", int(ffi.cast("uintptr_t", ptr)))
    abi, apif = lib.cra_resolver_verdict, api.lib.cra_resolver_verdict
    s, a = b"bench-session", b"svc0.op3"
    assert abi(ptr, s, len(s), a, len(a)) == apif(aptr, s, len(s), a, len(a)) == 0

    def allowed_api(session_id: str, action_id: str) -> bool:
        if r.closed:
            raise cra.ResolverClosed("closed")
        sb, ab = session_id.encode("utf-8"), action_id.encode("utf-8")
        return bool(apif(aptr, sb, len(sb), ab, len(ab)) == 0)

    rows = [
        ("empty Python call (lambda: None)", best(lambda: None)),
        ("cra_abi_version() (ABI mode, no argument)", best(lambda: lib.cra_abi_version())),
        ("cra_resolver_verdict, ABI mode (ships)", best(lambda: abi(ptr, s, 13, a, 8))),
        ("cra_resolver_verdict, API mode", best(lambda: apif(aptr, s, 13, a, 8))),
        ("Resolver.allowed (ABI mode, ships)", best(lambda: r.allowed("bench-session", "svc0.op3"))),
        ("allowed() over API mode", best(lambda: allowed_api("bench-session", "svc0.op3"))),
    ]
    for name, ns in rows:
        print(f"{name:<46} {ns:8.0f} ns")
    r.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
