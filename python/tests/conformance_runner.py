"""The conformance corpus through the Python package (``conformance/README.md``).

Interprets the corpus exactly like the Rust runner (``conformance/runner/src/run.rs``): manifest
check, fresh deterministic resolver per case, the same operations through the public ``cra``
API, subset matching, tamper operations, drain summaries, the expected-failure list
``conformance/xfail/python.json`` (an unexpected pass fails the run), and the report ending
with ``N passed, N failed``.

Run it directly: ``python python/tests/conformance_runner.py [CORPUS_DIR]`` (exit 1 on failure).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

import cra

BINDING = "python"


@dataclass
class Outcome:
    """How one case ended: ``pass``, ``fail``, ``xfail`` or ``xpass`` (with a message)."""

    kind: str
    message: str = ""


@dataclass
class CorpusReport:
    """The result of a corpus run."""

    cases: List[Tuple[str, Outcome]] = field(default_factory=list)
    expected_total: int = 0
    errors: List[str] = field(default_factory=list)

    def ok(self) -> bool:
        """Every case ran, none failed unexpectedly, no expected failure passed, no corpus error."""
        return (
            not self.errors
            and len(self.cases) == self.expected_total
            and all(o.kind in ("pass", "xfail") for _, o in self.cases)
        )

    def counts(self) -> Tuple[int, int, int, int]:
        """(passed, failed, xfailed, xpassed)."""
        c = {"pass": 0, "fail": 0, "xfail": 0, "xpass": 0}
        for _, o in self.cases:
            c[o.kind] += 1
        return c["pass"], c["fail"], c["xfail"], c["xpass"]

    def render(self, binding: str = BINDING) -> str:
        """One line per case, then the totals line CI reads."""
        lines = [f"ERROR  {e}" for e in self.errors]
        for cid, o in self.cases:
            if o.kind == "pass":
                lines.append(f"ok     {cid}")
            elif o.kind == "fail":
                lines.append(f"FAIL   {cid}: {o.message}")
            elif o.kind == "xfail":
                lines.append(f"xfail  {cid}: {o.message}")
            else:
                lines.append(f"XPASS  {cid}: listed as expected failure ({o.message}) but passed")
        p, f, xf, xp = self.counts()
        shortfall = max(self.expected_total - len(self.cases), 0)
        lines.append(
            f"conformance[{binding}]: ran {len(self.cases)} of {self.expected_total} cases; "
            f"{xf} expected failures, {xp} unexpected passes"
        )
        lines.append(f"{p} passed, {f + xp + len(self.errors) + shortfall} failed")
        return "\n".join(lines) + "\n"


# -- matching (conformance/runner/src/matching.rs) -------------------------------------------


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _ptr(path: str, key: str) -> str:
    return f"{path}/{key.replace('~', '~0').replace('/', '~1')}"


def mismatch(expected: Any, actual: Any, path: str = "") -> Optional[Tuple[str, Any, Any]]:
    """The first mismatch as (pointer, expected, actual), or None when ``actual`` matches:
    objects by subset, arrays by length and element, numbers by value, other scalars equal."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        for k, ev in expected.items():
            p = _ptr(path, k)
            if k not in actual:
                return (p, ev, "<absent>")
            m = mismatch(ev, actual[k], p)
            if m:
                return m
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return (f"{path} (length)", len(expected), len(actual))
        for i, (ev, av) in enumerate(zip(expected, actual)):
            m = mismatch(ev, av, f"{path}/{i}")
            if m:
                return m
        return None
    if _is_num(expected) and _is_num(actual) and float(expected) == float(actual):
        return None
    if exact_equal(expected, actual):
        return None
    return (path, expected, actual)


def exact_equal(a: Any, b: Any) -> bool:
    """JSON value equality as serde_json's ``Value ==``: types matter (``1`` is not ``1.0``,
    ``true`` is not ``1``), objects compare as maps, arrays in order."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(exact_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(exact_equal(x, y) for x, y in zip(a, b))
    return bool(a == b)


# -- tampering and trace summaries -----------------------------------------------------------


class CaseError(Exception):
    """A failed step (the message names it)."""


def _rust_lines(data: bytes) -> List[str]:
    """``String::from_utf8_lossy(..).lines()``: split on LF, drop one trailing CR per line and
    the empty piece after a final LF."""
    s = data.decode("utf-8", "replace")
    if not s:
        return []
    parts = s.split("\n")
    if parts and parts[-1] == "":
        parts.pop()
    return [p[:-1] if p.endswith("\r") else p for p in parts]


def _index(op: Dict[str, Any], key: str) -> int:
    v = op.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise CaseError(f"tamper op {json.dumps(op)} needs {key}")
    return v


def _u64(v: Any) -> int:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else 0


def tamper(trace: bytes, ops: Any) -> bytes:
    """Applies tamper operations to JSONL bytes (0-based line indices), as the Rust runner."""
    lines = _rust_lines(trace)
    for op in ops if isinstance(ops, list) else []:
        if not isinstance(op, dict):
            raise CaseError(f"unknown tamper op {json.dumps(op)}")
        if "swap" in op:
            pair = op["swap"] if isinstance(op["swap"], list) else []
            a = _u64(pair[0] if len(pair) > 0 else None)
            b = _u64(pair[1] if len(pair) > 1 else None)
            if a >= len(lines) or b >= len(lines):
                raise CaseError(f"swap {a} {b} out of range")
            lines[a], lines[b] = lines[b], lines[a]
        elif "delete" in op:
            i = _index(op, "delete")
            if i >= len(lines):
                raise CaseError(f"delete {i} out of range")
            del lines[i]
        elif "duplicate" in op:
            i = _index(op, "duplicate")
            if i >= len(lines):
                raise CaseError(f"duplicate {i} out of range")
            lines.insert(i + 1, lines[i])
        elif "replace" in op:
            r = op["replace"] if isinstance(op["replace"], dict) else {}
            i = _u64(r.get("line"))
            find, with_ = _str(r, "find"), _str(r, "with")
            if i >= len(lines):
                raise CaseError(f"replace line {i} out of range")
            if find not in lines[i]:
                raise CaseError(f"replace: line {i} does not contain {json.dumps(find)}")
            lines[i] = lines[i].replace(find, with_, 1)
        elif "truncate_last_line" in op:
            n = _index(op, "truncate_last_line")
            out = ("\n".join(lines) + "\n").encode("utf-8")
            return out[: max(len(out) - (n + 1), 0)]
        else:
            raise CaseError(f"unknown tamper op {json.dumps(op)}")
    text = "\n".join(lines)
    if lines:
        text += "\n"
    return text.encode("utf-8")


def trace_summary(jsonl: bytes) -> Dict[str, Any]:
    """``{"count", "event_types", "heads"}`` of drained JSONL, as the Rust runner."""
    types: List[Any] = []
    heads: Dict[str, Any] = {}
    for line in jsonl.split(b"\n"):
        if not line:
            continue
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        types.append(ev.get("event_type") if isinstance(ev, dict) else None)
        if isinstance(ev, dict) and isinstance(ev.get("session_id"), str) and isinstance(ev.get("event_hash"), str):
            heads[ev["session_id"]] = ev["event_hash"]
    return {"count": len(types), "event_types": types, "heads": heads}


# -- running ---------------------------------------------------------------------------------


def _str(d: Dict[str, Any], key: str) -> str:
    v = d.get(key)
    return v if isinstance(v, str) else ""


def _body(step: Dict[str, Any], key: str) -> Any:
    """The raw text (``<key>_text``, passed through byte for byte) or the value as bytes of JSON."""
    t = step.get(f"{key}_text")
    if isinstance(t, str):
        return t.encode("utf-8")
    return json.dumps(step.get(key), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _atlas(v: Any, fixtures: Dict[str, Any]) -> Any:
    if isinstance(v, str):
        if v not in fixtures:
            raise CaseError(f"no atlas fixture {json.dumps(v)}")
        return fixtures[v]
    if isinstance(v, dict):
        return v
    raise CaseError(f"atlas must be a fixture name or an object, not {json.dumps(v)}")


def _call(op: str, step: Dict[str, Any], r: "cra.Resolver", fixtures: Dict[str, Any], root: str, drained: bytes) -> Any:
    """Runs one operation through the public API; returns the answer as JSON-like data
    (``bytes`` for ``drain_trace``)."""
    if op == "load_atlas":
        if isinstance(step.get("atlas_text"), str):
            return r.load_atlas(step["atlas_text"].encode("utf-8")).raw
        return r.load_atlas(_atlas(step.get("atlas"), fixtures)).raw
    if op == "load_atlas_dir":
        return r.load_atlas(os.path.join(root, str(step.get("path") or ""))).raw
    if op == "unload_atlas":
        return r.unload_atlas(_str(step, "atlas_id"))
    if op == "resolve":
        return r.resolve(_body(step, "request")).raw
    if op == "execute":
        return r.execute(_body(step, "request")).raw
    if op == "report":
        return r.report(_body(step, "report"))
    if op == "approve":
        return r.approve(_body(step, "decision"))
    if op == "reject":
        return r.reject(_body(step, "decision"))
    if op == "end_session":
        return r.end_session(_body(step, "body"))
    if op == "load_shadow":
        return r.load_shadow(_atlas(step.get("atlas"), fixtures)).raw
    if op == "unload_shadow":
        return r.unload_shadow(_str(step, "atlas_id"))
    if op == "approvals":
        given = "filter" in step or "filter_text" in step
        return r.approvals(filter=_body(step, "filter") if given else None)
    if op == "explain":
        return r.explain(_body(step, "request"), _str(step, "action_id"))
    if op == "check":
        return r.check(_str(step, "session_id"), _str(step, "action_id")).value
    if op == "advance_clock":
        s = step.get("seconds")
        r.advance_clock(float(s) if isinstance(s, (int, float)) and not isinstance(s, bool) else 0.0)
        return None
    if op == "flush":
        r.flush(10.0)
        return None
    if op == "stats":
        return r.stats()
    if op == "drain_trace":
        return r.drain_trace()
    if op in ("verify_trace", "replay"):
        base = step["trace_text"].encode("utf-8") if isinstance(step.get("trace_text"), str) else drained
        trace = tamper(base, step.get("tamper"))
        if op == "verify_trace":
            return cra.verify_trace(trace).raw
        listed = step.get("atlases")
        atlases = [_atlas(a, fixtures) for a in (listed if isinstance(listed, list) else [])]
        return cra.replay(trace, atlases).raw
    raise CaseError(f"unknown op {json.dumps(op)}")


def run_case(case: Dict[str, Any], fixtures: Dict[str, Any], root: str) -> Optional[str]:
    """Runs one case on a fresh resolver; the first failure (naming the step) or None."""
    config: Dict[str, Any] = {"deterministic": {"seed": 1}}
    if isinstance(case.get("config"), dict):
        config.update(case["config"])
    try:
        r = cra.Resolver(config)
    except cra.CraError as e:
        return f"create: {e.code} {e.message}"
    drained = b""
    try:
        for i, step in enumerate(case.get("steps") or []):
            op = step.get("op") if isinstance(step.get("op"), str) else ""
            at = f"step {i} ({op})"
            want_err = step.get("expect_error")
            try:
                answer = _call(op, step, r, fixtures, root, drained)
            except CaseError as e:
                return f"{at}: {e}"
            except cra.CraError as e:
                if want_err is None:
                    return f"{at}: unexpected error {e.code} at {e.pointer!r}: {e.message}"
                if want_err.get("code") != e.code:
                    return f"{at}: expected error {json.dumps(want_err.get('code'))} but got {e.code} ({e.message})"
                if "pointer" in want_err and want_err["pointer"] != e.pointer:
                    return f"{at}: expected pointer {json.dumps(want_err['pointer'])} but got {e.pointer!r} ({e.message})"
                continue
            except Exception as e:  # noqa: BLE001 - a Python-side failure fails the case, visibly
                return f"{at}: the package raised {type(e).__name__}: {e}"
            if want_err is not None:
                return f"{at}: expected error {json.dumps(want_err.get('code'))} but the call succeeded: {json.dumps(answer) if not isinstance(answer, bytes) else answer[:200]!r}"
            if op == "drain_trace":
                drained += answer
                actual = trace_summary(answer)
            else:
                actual = answer
            if "expect" in step:
                m = mismatch(step["expect"], actual)
                if m:
                    return f"{at}: at {m[0]}: expected {json.dumps(m[1])}, got {json.dumps(m[2])}"
            if "expect_exact" in step and not exact_equal(step["expect_exact"], actual):
                return f"{at}: expected exactly {json.dumps(step['expect_exact'])}, got {json.dumps(actual)}"
    finally:
        r.close()
    return None


def load_xfail(root: str, binding: str = BINDING) -> Dict[str, str]:
    """``xfail/<binding>.json`` (``{"case-id": "reason"}``); an absent file means none."""
    p = os.path.join(root, "xfail", f"{binding}.json")
    if not os.path.exists(p):
        return {}
    with open(p, encoding="utf-8") as f:
        data = json.load(f)
    return {str(k): str(v) for k, v in data.items()}


def _case_files(d: str, out: List[str]) -> None:
    try:
        entries = sorted(os.listdir(d))
    except OSError:
        return
    for name in entries:
        p = os.path.join(d, name)
        if os.path.isdir(p):
            _case_files(p, out)
        elif name.endswith(".json"):
            out.append(p)


def run_corpus(root: str, xfail: Optional[Dict[str, str]] = None, binding: str = BINDING) -> CorpusReport:
    """Runs every case of the corpus at ``root``."""
    xfail = load_xfail(root, binding) if xfail is None else xfail
    report = CorpusReport()
    try:
        with open(os.path.join(root, "manifest.json"), encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        report.errors.append(f"cannot read manifest.json: {e}")
        return report
    total = manifest.get("total")
    report.expected_total = total if isinstance(total, int) else 0
    listed: Dict[str, int] = {k: (v if isinstance(v, int) else 0) for k, v in (manifest.get("files") or {}).items()}
    if sum(listed.values()) != report.expected_total:
        report.errors.append(f"manifest total {report.expected_total} is not the sum of its per-file counts")
    files: List[str] = []
    _case_files(os.path.join(root, "cases"), files)
    rels: List[str] = []
    seen: Set[str] = set()
    for path in files:
        rel = os.path.relpath(path, root).replace("\\", "/")
        rels.append(rel)
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError) as e:
            report.errors.append(f"{rel}: {e}")
            continue
        cases = doc.get("cases") if isinstance(doc.get("cases"), list) else []
        if rel not in listed:
            report.errors.append(f"{rel} is not in manifest.json")
        elif listed[rel] != len(cases):
            report.errors.append(f"{rel} has {len(cases)} cases; manifest.json says {listed[rel]}")
        fixtures = doc.get("atlases") if isinstance(doc.get("atlases"), dict) else {}
        for case in cases:
            cid = case.get("id") if isinstance(case.get("id"), str) else "<no id>"
            if cid in seen:
                report.errors.append(f"duplicate case id {cid}")
            seen.add(cid)
            failure = run_case(case, fixtures, root)
            reason = xfail.get(cid)
            if failure is None:
                outcome = Outcome("pass") if reason is None else Outcome("xpass", reason)
            else:
                outcome = Outcome("fail", failure) if reason is None else Outcome("xfail", reason)
            report.cases.append((cid, outcome))
    for name in listed:
        if name not in rels:
            report.errors.append(f"manifest.json lists {name}, which does not exist")
    for cid in xfail:
        if cid not in seen:
            report.errors.append(f"expected-failure list names unknown case {cid}")
    return report


def default_root() -> str:
    """``conformance/`` of the repository holding this file."""
    return os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "conformance"))


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = args[0] if args else default_root()
    report = run_corpus(root)
    sys.stdout.write(report.render())
    return 0 if report.ok() else 1


if __name__ == "__main__":
    sys.exit(main())
