#!/usr/bin/env python3
"""Independent TRACE verifier: recomputes every hash of a JSONL trace with its own RFC 8785 (JCS)
encoder and the PyPI `blake3` package, sharing no code with the Rust implementation.

Usage: verify_independent.py FILE.jsonl   (exit 0 when every line and chain verifies)
"""
import json
import math
import sys

import blake3

FIELDS = {"trace_version", "event_id", "trace_id", "span_id", "parent_span_id", "session_id",
          "sequence", "timestamp", "event_type", "payload", "previous_event_hash", "event_hash"}
GENESIS = "0" * 64


def jcs_number(x):
    if isinstance(x, bool):
        raise TypeError("bool is not a number")
    if isinstance(x, int):
        x = float(x) if abs(x) > 2 ** 53 else x
        if isinstance(x, int):
            return str(x)
    if not math.isfinite(x):
        raise ValueError("non-finite number")
    if x == 0:
        return "0"
    if x.is_integer() and abs(x) < 1e21:
        return str(int(x))
    # ECMAScript Number::toString: shortest round-trip digits, then layout rules.
    r = repr(x)
    sign = "-" if x < 0 else ""
    mant, _, exp = r.lstrip("-").partition("e")
    exp = int(exp) if exp else 0
    if "." in mant:
        ip, fp = mant.split(".")
    else:
        ip, fp = mant, ""
    digits = (ip + fp).lstrip("0")
    # decimal point position n: value = 0.digits * 10^n
    lead_zeros = len(ip + fp) - len((ip + fp).lstrip("0"))
    n = len(ip) + exp - lead_zeros
    digits = digits.rstrip("0") or "0"
    k = len(digits)
    if k <= n <= 21:
        s = digits + "0" * (n - k)
    elif 0 < n <= 21:
        s = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        s = "0." + "0" * (-n) + digits
    else:
        e = n - 1
        es = ("+" if e >= 0 else "-") + str(abs(e))
        s = digits[0] + ("." + digits[1:] if k > 1 else "") + "e" + es
    return sign + s


def jcs_string(s):
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\b":
            out.append("\\b")
        elif ch == "\f":
            out.append("\\f")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20:
            out.append("\\u%04x" % o)
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def jcs(v):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (int, float)):
        return jcs_number(v)
    if isinstance(v, str):
        return jcs_string(v)
    if isinstance(v, list):
        return "[" + ",".join(jcs(x) for x in v) + "]"
    if isinstance(v, dict):
        keys = sorted(v.keys(), key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(jcs_string(k) + ":" + jcs(v[k]) for k in keys) + "}"
    raise TypeError(type(v))


def self_test():
    cases = {1e30: "1e+30", 4.50: "4.5", 2e-3: "0.002", 0.000001: "0.000001", 1e-7: "1e-7",
             -0.0: "0", 333333333.33333329: "333333333.3333333", 1e21: "1e+21", 1e20: "100000000000000000000",
             5e-324: "5e-324", 0.1: "0.1", 123: "123", -1.5: "-1.5"}
    for x, want in cases.items():
        got = jcs_number(x)
        assert got == want, (x, got, want)


def main(path):
    self_test()
    heads = {}
    errors = 0
    n = 0
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        print("torn last line")
        return 1
    for idx, raw in enumerate(data.split(b"\n")[:-1] if data else []):
        n += 1
        try:
            ev = json.loads(raw.decode("utf-8"))
        except Exception as e:  # noqa: BLE001
            print(f"line {idx}: unparseable: {e}")
            errors += 1
            continue
        if not isinstance(ev, dict) or set(ev) != FIELDS:
            print(f"line {idx}: wrong fields")
            errors += 1
            continue
        if jcs(ev).encode("utf-8") != raw:
            print(f"line {idx}: not canonical")
            errors += 1
            continue
        body = {k: v for k, v in ev.items() if k != "event_hash"}
        h = blake3.blake3(jcs(body).encode("utf-8")).hexdigest()
        if h != ev["event_hash"]:
            print(f"line {idx}: hash_mismatch")
            errors += 1
            continue
        sid = ev["session_id"]
        if sid not in heads:
            if ev["sequence"] != 0 or ev["previous_event_hash"] != GENESIS:
                print(f"line {idx}: invalid_genesis")
                errors += 1
        else:
            seq, last = heads[sid]
            if ev["sequence"] != seq + 1:
                print(f"line {idx}: sequence_gap")
                errors += 1
            elif ev["previous_event_hash"] != last:
                print(f"line {idx}: chain_broken")
                errors += 1
        heads[sid] = (ev["sequence"], ev["event_hash"])
    print(f"{n} events, {len(heads)} sessions, {errors} errors")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
