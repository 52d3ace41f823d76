#!/usr/bin/env python3
"""Writes the fuzzers' seed corpora (fuzz/corpus/<target>/) from the conformance corpus.

request: every request, report, approval decision and end_session body of the cases, each
prefixed with the byte that selects its operation in fuzz_targets/request.rs; atlas: every
atlas fixture and inline atlas, and the malformed atlas texts; trace: the traces the cases carry
and any JSONL trace given on the command line (make fuzz passes the Rust demo's trace); config:
the configurations the cases use.
"""

import hashlib
import json
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent
CASES = ROOT.parent / "conformance" / "cases"
OPS = {"resolve": 0, "execute": 1, "report": 2, "approve": 3, "reject": 4, "end_session": 5}
BODY = {"resolve": "request", "execute": "request", "report": "report", "approve": "decision",
        "reject": "decision", "end_session": "body"}


def write(target: str, data: bytes) -> None:
    d = ROOT / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.blake2b(data, digest_size=10).hexdigest()).write_bytes(data)


def as_bytes(v) -> bytes:
    return v.encode() if isinstance(v, str) else json.dumps(v, separators=(",", ":")).encode()


def main() -> None:
    counts = {}
    for f in sorted(CASES.glob("*/*.json")):
        doc = json.loads(f.read_text())
        for atlas in doc.get("atlases", {}).values():
            write("atlas", as_bytes(atlas))
        for case in doc["cases"]:
            if "config" in case:
                write("config", as_bytes(case["config"]))
            for step in case["steps"]:
                op = step["op"]
                if op in OPS:
                    key = BODY[op]
                    for k in (key, key + "_text"):
                        if k in step:
                            write("request", bytes([OPS[op]]) + as_bytes(step[k]))
                elif op == "load_atlas":
                    for k in ("atlas", "atlas_text"):
                        if k in step and not (k == "atlas" and isinstance(step[k], str)):
                            write("atlas", as_bytes(step[k]))
                elif op == "check":
                    write("request", bytes([6]) + (step["session_id"] + step["action_id"]).encode())
                if "trace_text" in step:
                    write("trace", step["trace_text"].encode())
    for extra in sys.argv[1:]:
        write("trace", pathlib.Path(extra).read_bytes())
    write("config", b'{"deterministic":{"seed":1}}')
    for t in ("request", "atlas", "trace", "config"):
        counts[t] = len(list((ROOT / "corpus" / t).iterdir()))
    print("fuzz seeds:", ", ".join(f"{t} {n}" for t, n in counts.items()))


if __name__ == "__main__":
    main()
