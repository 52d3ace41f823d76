"""Policy tests: test files kept next to an atlas (``ATLAS_DIR/tests/*.json``), run in
deterministic mode by ``cra test`` and by the pytest plugin (:mod:`cra.pytest_plugin`).

A test file holds tests; a test is one resolve request with its expectation, or a sequence of
steps (resolve, execute with parameters, approve or reject with an approver, report, the fast
path check, explain, list approvals, advance the clock, end the session), each with what it
must answer. Expectations match like the conformance corpus (a subset: every key given must
match, other keys are ignored; arrays by length and element; numbers by value), plus a few
conveniences for resolutions (decision by name, sets of action ids, a verdict per action).
The format is in ``docs/atlas.md`` ("Policy tests") and in the JSON Schema
``cra/schemas/atlas-tests.schema.json``.

Every test runs on a fresh resolver in deterministic mode (seeded ids, a clock starting at
2026-01-01T00:00:00Z that advances only by ``advance_clock`` and one microsecond-scale step per
call) with the file's atlases loaded, so a test's answers are the same on every run.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

from .errors import CraError

__all__ = [
    "TestFileError",
    "TestFile",
    "PolicyTest",
    "Mismatch",
    "StepResult",
    "TestResult",
    "FileResult",
    "load_test_file",
    "discover",
    "atlas_test_files",
    "run_file",
    "run_test",
    "mismatches",
    "render_step_failure",
]

#: Extensions read as test files (YAML only when PyYAML is installed; asking for it otherwise is an error).
JSON_EXTENSIONS = (".json",)
YAML_EXTENSIONS = (".yaml", ".yml")

DEFAULT_CONFIG: Dict[str, Any] = {"deterministic": {"seed": 1, "start": "2026-01-01T00:00:00Z", "step_us": 1000}}

_OPS = ("resolve", "execute", "approve", "reject", "report", "check", "explain", "approvals", "advance_clock", "end_session")
_RESOLVE_EXPECT_KEYS = ("decision", "allowed", "denied", "pending", "actions", "context_packs", "resolution")
_SET_KEYS = ("allowed", "denied", "pending", "context_packs")
_VERDICTS = ("allowed", "denied", "pending_approval", "not_in_scope")
_CHECK_VERDICTS = ("allowed", "denied", "pending_approval", "rate_limited", "no_resolution")
_APPROVAL_STATUSES = ("pending", "approved", "rejected", "consumed", "expired")
_ABSENT = "<absent>"


# -- errors in test files ----------------------------------------------------------------------


class TestFileError(Exception):
    """A test file that cannot be run: not JSON (or YAML), or not in the format. ``pointer`` is
    the JSON pointer of the offending value inside the file ("" for the whole document)."""

    __test__ = False  # not a pytest test class

    def __init__(self, path: str, pointer: str, message: str) -> None:
        super().__init__(f"{path}: {pointer or '(document)'}: {message}")
        self.path = path
        self.pointer = pointer
        self.message = message


# -- the format ----------------------------------------------------------------------------------


@dataclass
class PolicyTest:
    """One test of a file: a name and its steps (a single request is one ``resolve`` step)."""

    __test__ = False

    name: str
    steps: List[Dict[str, Any]]
    pointer: str
    description: str = ""
    config: Dict[str, Any] = field(default_factory=dict)


@dataclass
class TestFile:
    """A parsed and checked test file."""

    __test__ = False

    path: str
    atlas_dir: str
    atlases: List[str]
    config: Dict[str, Any]
    tests: List[PolicyTest]
    description: str = ""


def _ptr(path: str, key: Union[str, int]) -> str:
    return f"{path}/{str(key).replace('~', '~0').replace('/', '~1')}"


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _Duplicate(k)
        out[k] = v
    return out


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _read_document(path: str) -> Any:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TestFileError(path, "", f"cannot read it: {e.strerror or e}") from None
    if path.endswith(YAML_EXTENSIONS):
        try:
            import yaml  # optional: PyYAML
        except ImportError:
            raise TestFileError(path, "", "a YAML test file needs PyYAML (pip install pyyaml), or write it as JSON") from None
        try:
            return yaml.safe_load(data)
        except yaml.YAMLError as e:
            raise TestFileError(path, "", f"not valid YAML: {e}") from None
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except _Duplicate as e:
        raise TestFileError(path, "", f"the key {e.key!r} appears twice in one object") from None
    except UnicodeDecodeError as e:
        raise TestFileError(path, "", f"not UTF-8: {e}") from None
    except ValueError as e:
        raise TestFileError(path, "", f"not valid JSON: {e}") from None


class _Checker:
    """Checks a test document, raising :class:`TestFileError` with the pointer of the first problem."""

    def __init__(self, path: str) -> None:
        self.path = path

    def fail(self, pointer: str, message: str) -> "TestFileError":
        return TestFileError(self.path, pointer, message)

    def obj(self, v: Any, p: str, allowed: Sequence[str], required: Sequence[str] = ()) -> Dict[str, Any]:
        if not isinstance(v, dict):
            raise self.fail(p, f"must be an object, not {_kind(v)}")
        for k in v:
            if k not in allowed:
                hint = difflib.get_close_matches(k, allowed, n=1)
                raise self.fail(_ptr(p, k), f"unknown field {k!r}" + (f"; did you mean {hint[0]!r}?" if hint else
                                                                      f" (expected one of {', '.join(allowed)})"))
        for k in required:
            if k not in v:
                raise self.fail(p, f"missing required field {k!r}")
        return v

    def string(self, v: Any, p: str, non_empty: bool = True) -> str:
        if not isinstance(v, str) or (non_empty and not v):
            raise self.fail(p, "must be a non-empty string" if non_empty else "must be a string")
        return v

    def strings(self, v: Any, p: str) -> List[str]:
        if not isinstance(v, list):
            raise self.fail(p, f"must be an array of strings, not {_kind(v)}")
        for i, x in enumerate(v):
            self.string(x, _ptr(p, i))
        return v

    def number(self, v: Any, p: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0:
            raise self.fail(p, "must be a number of seconds, zero or more")
        return float(v)

    def error_expectation(self, v: Any, p: str) -> None:
        if isinstance(v, str):
            self.string(v, p)
            return
        e = self.obj(v, p, ("code", "pointer"), ("code",))
        self.string(e["code"], _ptr(p, "code"))
        if "pointer" in e:
            self.string(e["pointer"], _ptr(p, "pointer"), non_empty=False)


def _kind(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    if isinstance(v, str):
        return "a string"
    if isinstance(v, list):
        return "an array"
    if isinstance(v, dict):
        return "an object"
    return type(v).__name__


def load_test_file(path: str, atlas_dir: Optional[str] = None) -> TestFile:
    """Reads and checks a test file. ``atlas_dir`` defaults to the parent of the file's folder
    (``ATLAS_DIR/tests/FILE``). Raises :class:`TestFileError` (with a pointer) when the file
    is not in the format."""
    doc = _read_document(path)
    c = _Checker(path)
    top = c.obj(doc, "", ("$schema", "description", "atlases", "config", "tests"), ("tests",))
    if "$schema" in top:
        c.string(top["$schema"], "/$schema")
    description = c.string(top.get("description", ""), "/description", non_empty=False)
    if atlas_dir is None:
        atlas_dir = os.path.dirname(os.path.dirname(os.path.abspath(path)))
    atlases = c.strings(top.get("atlases", ["."]), "/atlases")
    if not atlases:
        raise c.fail("/atlases", "must name at least one atlas directory")
    config = _check_config(c, top.get("config", {}), "/config")
    tests_v = top["tests"]
    if not isinstance(tests_v, list) or not tests_v:
        raise c.fail("/tests", "must be a non-empty array of tests")
    tests: List[PolicyTest] = []
    names: Set[str] = set()
    for i, t in enumerate(tests_v):
        tests.append(_check_test(c, t, _ptr("/tests", i), names))
    return TestFile(path=path, atlas_dir=atlas_dir, atlases=atlases, config=config, tests=tests, description=description)


#: Resolver configuration keys a test file may set (docs/protocol.md); ``deterministic`` is merged.
_CONFIG_KEYS = (
    "deterministic", "resolution_ttl_seconds", "approval_timeout_seconds", "default_risk_tier",
    "max_resolutions_per_session", "max_approvals_per_session", "max_idempotency_keys_per_session",
    "session_idle_timeout_seconds", "ended_session_retention_seconds", "max_ended_sessions",
    "approval_retention_seconds",
)


def _check_config(c: _Checker, v: Any, p: str) -> Dict[str, Any]:
    cfg = c.obj(v, p, _CONFIG_KEYS)
    for k, x in cfg.items():
        kp = _ptr(p, k)
        if k == "deterministic":
            det = c.obj(x, kp, ("seed", "start", "step_us"))
            for dk in ("seed", "step_us"):
                if dk in det and (isinstance(det[dk], bool) or not isinstance(det[dk], int)):
                    raise c.fail(_ptr(kp, dk), "must be an integer")
            if "start" in det:
                c.string(det["start"], _ptr(kp, "start"))
        elif k == "default_risk_tier":
            if x not in ("low", "medium", "high", "critical"):
                raise c.fail(kp, "must be one of low, medium, high, critical")
        elif isinstance(x, bool) or not isinstance(x, int) or x < 0:
            raise c.fail(kp, "must be an integer, zero or more")
    return cfg


def _check_test(c: _Checker, t: Any, p: str, names: Set[str]) -> PolicyTest:
    allowed = ("name", "description", "config", "request", "expect", "expect_error", "steps")
    d = c.obj(t, p, allowed, ("name",))
    name = c.string(d["name"], _ptr(p, "name"))
    if name in names:
        raise c.fail(_ptr(p, "name"), f"a second test named {name!r} (names are unique in a file)")
    names.add(name)
    description = c.string(d.get("description", ""), _ptr(p, "description"), non_empty=False)
    config = _check_config(c, d.get("config", {}), _ptr(p, "config"))
    if ("steps" in d) == ("request" in d):
        raise c.fail(p, "a test has either request (with expect or expect_error) or steps")
    if "steps" in d:
        for k in ("expect", "expect_error"):
            if k in d:
                raise c.fail(_ptr(p, k), f"{k} belongs to a step (or to a test with request)")
        steps_v = d["steps"]
        if not isinstance(steps_v, list) or not steps_v:
            raise c.fail(_ptr(p, "steps"), "must be a non-empty array of steps")
        steps = [s for s in steps_v]
        base = _ptr(p, "steps")
    else:
        step: Dict[str, Any] = {"resolve": d["request"]}
        for k in ("expect", "expect_error"):
            if k in d:
                step[k] = d[k]
        steps = [step]
        base = ""
    labels: Dict[str, str] = {}
    for i, s in enumerate(steps):
        sp = _ptr(base, i) if base else p
        _check_step(c, s, sp, labels, single=not base)
    return PolicyTest(name=name, steps=steps, pointer=p, description=description, config=config)


def _check_step(c: _Checker, s: Any, p: str, labels: Dict[str, str], single: bool) -> None:
    if single:
        # the test itself is the step: its request/expect keys were checked above
        _check_resolve(c, s["resolve"], _ptr(p, "request"))
        _check_expect(c, "resolve", s, p)
        return
    d = c.obj(s, p, _OPS + ("expect", "expect_error", "label", "description"))
    ops = [k for k in d if k in _OPS]
    if len(ops) != 1:
        raise c.fail(p, f"a step has exactly one operation ({', '.join(_OPS)}), not {len(ops)}")
    op = ops[0]
    v = d[op]
    op_p = _ptr(p, op)
    if op == "resolve":
        _check_resolve(c, v, op_p)
    elif op == "execute":
        e = c.obj(v, op_p, ("action_id", "parameters", "idempotency_key", "resolution", "agent_id", "session_id"), ("action_id",))
        c.string(e["action_id"], _ptr(op_p, "action_id"))
        if "parameters" in e and not isinstance(e["parameters"], dict):
            raise c.fail(_ptr(op_p, "parameters"), "must be an object")
        for k in ("idempotency_key", "agent_id", "session_id"):
            if k in e:
                c.string(e[k], _ptr(op_p, k))
        _check_label_ref(c, e, "resolution", op_p, labels, ("resolve",))
    elif op in ("approve", "reject"):
        e = c.obj(v, op_p, ("approver", "reason", "approval", "approval_id"), ("approver",))
        c.string(e["approver"], _ptr(op_p, "approver"), non_empty=False)
        if "reason" in e:
            c.string(e["reason"], _ptr(op_p, "reason"), non_empty=False)
        if "approval_id" in e:
            c.string(e["approval_id"], _ptr(op_p, "approval_id"))
            if "approval" in e:
                raise c.fail(_ptr(op_p, "approval_id"), "give approval (a step label) or approval_id, not both")
        _check_label_ref(c, e, "approval", op_p, labels, ("execute",))
    elif op == "report":
        e = c.obj(v, op_p, ("result", "error", "execution", "duration_ms"))
        if "result" in e and "error" in e:
            raise c.fail(_ptr(op_p, "error"), "a report has a result or an error, not both")
        if "error" in e:
            err = c.obj(e["error"], _ptr(op_p, "error"), ("message", "code"), ("message",))
            c.string(err["message"], _ptr(_ptr(op_p, "error"), "message"), non_empty=False)
        _check_label_ref(c, e, "execution", op_p, labels, ("execute",))
    elif op == "check":
        e = c.obj(v, op_p, ("action_id", "session_id"), ("action_id",))
        c.string(e["action_id"], _ptr(op_p, "action_id"))
        if "session_id" in e:
            c.string(e["session_id"], _ptr(op_p, "session_id"))
    elif op == "explain":
        e = c.obj(v, op_p, ("action_id", "request"), ("action_id",))
        c.string(e["action_id"], _ptr(op_p, "action_id"))
        if "request" in e:
            _check_resolve(c, e["request"], _ptr(op_p, "request"))
    elif op == "approvals":
        e = c.obj(v, op_p, ("session_id", "status"))
        if "session_id" in e:
            c.string(e["session_id"], _ptr(op_p, "session_id"))
        if "status" in e:
            for i, x in enumerate(c.strings(e["status"], _ptr(op_p, "status"))):
                if x not in _APPROVAL_STATUSES:
                    raise c.fail(_ptr(_ptr(op_p, "status"), i), f"must be one of {', '.join(_APPROVAL_STATUSES)}")
    elif op == "advance_clock":
        c.number(v, op_p)
    elif op == "end_session":
        e = c.obj(v, op_p, ("session_id", "reason"))
        for k in ("session_id", "reason"):
            if k in e:
                c.string(e[k], _ptr(op_p, k), non_empty=(k == "session_id"))
    _check_expect(c, op, d, p)
    if "description" in d:
        c.string(d["description"], _ptr(p, "description"), non_empty=False)
    if "label" in d:
        label = c.string(d["label"], _ptr(p, "label"))
        if label in labels:
            raise c.fail(_ptr(p, "label"), f"a second step labelled {label!r}")
        labels[label] = op


def _check_label_ref(c: _Checker, e: Dict[str, Any], key: str, p: str, labels: Dict[str, str], ops: Tuple[str, ...]) -> None:
    if key not in e:
        return
    label = c.string(e[key], _ptr(p, key))
    if labels.get(label) not in ops:
        what = " or ".join(ops)
        raise c.fail(_ptr(p, key), f"no earlier {what} step is labelled {label!r}")


def _check_resolve(c: _Checker, v: Any, p: str) -> None:
    """The request itself is checked by the core when it runs; here only what the runner reads."""
    r = c.obj(v, p, _REQUEST_KEYS, ("requester",))
    q = c.obj(r["requester"], _ptr(p, "requester"), ("agent_id", "session_id", "parent_session_id"), ("agent_id", "session_id"))
    c.string(q["agent_id"], _ptr(_ptr(p, "requester"), "agent_id"))
    c.string(q["session_id"], _ptr(_ptr(p, "requester"), "session_id"))


_REQUEST_KEYS = ("carp_version", "request_id", "operation", "timestamp", "requester", "task", "context", "atlas_ids")


def _check_expect(c: _Checker, op: str, d: Dict[str, Any], p: str) -> None:
    if "expect" in d and "expect_error" in d:
        raise c.fail(_ptr(p, "expect_error"), "a step expects an answer or an error, not both")
    if "expect_error" in d:
        if op == "advance_clock":
            raise c.fail(_ptr(p, "expect_error"), "advance_clock cannot fail")
        c.error_expectation(d["expect_error"], _ptr(p, "expect_error"))
    if "expect" not in d:
        return
    ep = _ptr(p, "expect")
    e = d["expect"]
    if op == "resolve":
        x = c.obj(e, ep, _RESOLVE_EXPECT_KEYS)
        if "decision" in x and x["decision"] not in ("allow", "deny", "requires_approval", "partial"):
            raise c.fail(_ptr(ep, "decision"), "must be one of allow, deny, requires_approval, partial")
        for k in _SET_KEYS:
            if k in x:
                c.strings(x[k], _ptr(ep, k))
        if "actions" in x:
            acts = c.obj(x["actions"], _ptr(ep, "actions"), list(x["actions"]) if isinstance(x["actions"], dict) else ())
            for a, want in acts.items():
                ap = _ptr(_ptr(ep, "actions"), a)
                verdict = want if isinstance(want, str) else want.get("verdict") if isinstance(want, dict) else None
                if not isinstance(want, (str, dict)):
                    raise c.fail(ap, "must be a verdict (allowed, denied, pending_approval, not_in_scope) or an object")
                if verdict is not None and verdict not in _VERDICTS:
                    raise c.fail(ap if isinstance(want, str) else _ptr(ap, "verdict"),
                                 f"verdict {verdict!r} is not one of {', '.join(_VERDICTS)}")
        if "resolution" in x and not isinstance(x["resolution"], dict):
            raise c.fail(_ptr(ep, "resolution"), "must be an object (matched as a subset of the resolution)")
    elif op == "execute":
        if isinstance(e, str):
            if e not in ("authorized", "denied", "pending_approval"):
                raise c.fail(ep, "must be authorized, denied, pending_approval or an object")
        elif not isinstance(e, dict):
            raise c.fail(ep, "must be a status (authorized, denied, pending_approval) or an object")
    elif op == "check":
        if e not in _CHECK_VERDICTS:
            raise c.fail(ep, f"must be one of {', '.join(_CHECK_VERDICTS)}")
    elif op == "advance_clock":
        raise c.fail(ep, "advance_clock answers nothing to expect")
    elif op == "approvals":
        if not isinstance(e, list):
            raise c.fail(ep, "must be an array (matched element by element)")
    elif op == "explain":
        x = c.obj(e, ep, tuple(e) if isinstance(e, dict) else ())
        if "policies" in x and not isinstance(x["policies"], (list, dict)):
            raise c.fail(_ptr(ep, "policies"), "must be an array (in ladder order) or an object keyed by policy_id")
    elif not isinstance(e, dict):
        raise c.fail(ep, "must be an object (matched as a subset of the answer)")


# -- discovery ---------------------------------------------------------------------------------


def atlas_test_files(atlas_dir: str) -> List[str]:
    """The test files of an atlas directory: ``tests/*.json`` (and ``*.yaml``/``*.yml``), sorted."""
    d = os.path.join(atlas_dir, "tests")
    if not os.path.isdir(d):
        return []
    return sorted(
        os.path.join(d, n)
        for n in os.listdir(d)
        if n.endswith(JSON_EXTENSIONS + YAML_EXTENSIONS) and not n.startswith(".") and os.path.isfile(os.path.join(d, n))
    )


def discover(paths: Iterable[str]) -> List[str]:
    """Test files for ``cra test`` arguments: an atlas directory (its ``tests/`` files), a
    ``tests`` directory, or a test file. Raises :class:`TestFileError` for a path that names
    none (pointer "")."""
    out: List[str] = []
    for p in paths:
        if os.path.isfile(p):
            out.append(p)
        elif os.path.isdir(p) and os.path.isfile(os.path.join(p, "atlas.json")):
            files = atlas_test_files(p)
            if not files:
                raise TestFileError(p, "", "this atlas has no tests (tests/*.json)")
            out.extend(files)
        elif os.path.isdir(p) and os.path.isfile(os.path.join(os.path.dirname(os.path.abspath(p)), "atlas.json")):
            files = atlas_test_files(os.path.dirname(os.path.abspath(p)))
            if not files:
                raise TestFileError(p, "", "no test files (*.json) here")
            out.extend(files)
        elif os.path.isdir(p):
            raise TestFileError(p, "", "not an atlas directory (no atlas.json) nor its tests/ folder")
        else:
            raise TestFileError(p, "", "no such file or directory")
    return out


# -- matching ----------------------------------------------------------------------------------


@dataclass
class Mismatch:
    """One difference: where (a JSON pointer into the expectation), what was expected, what came."""

    pointer: str
    expected: Any
    actual: Any

    def to_dict(self) -> Dict[str, Any]:
        return {"pointer": self.pointer, "expected": self.expected, "actual": self.actual}


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _exact(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_exact(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_exact(x, y) for x, y in zip(a, b))
    return bool(a == b)


def mismatches(expected: Any, actual: Any, path: str = "") -> List[Mismatch]:
    """Every difference between ``expected`` and ``actual`` by the corpus's rules: objects as
    subsets (keys not expected are ignored), arrays by length and element, numbers by value,
    other values equal (``1`` is not ``true``)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out: List[Mismatch] = []
        for k, ev in expected.items():
            p = _ptr(path, k)
            if k not in actual:
                out.append(Mismatch(p, ev, _ABSENT))
            else:
                out.extend(mismatches(ev, actual[k], p))
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return [Mismatch(path or "/", expected, actual)]
        out = []
        for i, (ev, av) in enumerate(zip(expected, actual)):
            out.extend(mismatches(ev, av, _ptr(path, i)))
        return out
    if _is_num(expected) and _is_num(actual) and float(expected) == float(actual):
        return []
    if _exact(expected, actual):
        return []
    return [Mismatch(path or "/", expected, actual)]


def _project(expected: Any, actual: Any) -> Any:
    """``actual`` cut to the shape of ``expected`` (for a readable diff)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        return {k: _project(v, actual[k]) if k in actual else _ABSENT for k, v in expected.items()}
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        return [_project(e, a) for e, a in zip(expected, actual)]
    return actual


def _pretty(v: Any) -> List[str]:
    return json.dumps(v, indent=2, ensure_ascii=False, sort_keys=False).splitlines()


# -- running -----------------------------------------------------------------------------------


@dataclass
class StepResult:
    """What one step did: its answer (or error) and how it differed from the expectation."""

    index: int
    op: str
    summary: str
    ok: bool
    expected: Any = None
    actual: Any = None
    mismatches: List[Mismatch] = field(default_factory=list)
    error: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        return {
            "step": self.index, "op": self.op, "summary": self.summary, "ok": self.ok,
            "expected": self.expected, "actual": self.actual,
            "mismatches": [m.to_dict() for m in self.mismatches], "error": self.error,
        }


@dataclass
class TestResult:
    """One test: passed when every step met its expectation."""

    __test__ = False

    name: str
    ok: bool
    steps: List[StepResult] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def failures(self) -> List[StepResult]:
        return [s for s in self.steps if not s.ok]

    def to_dict(self) -> Dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "steps": len(self.steps), "error": self.error,
                "failures": [s.to_dict() for s in self.failures]}


@dataclass
class FileResult:
    """A test file's results (``error`` when its atlases do not load)."""

    path: str
    atlas_dir: str
    tests: List[TestResult] = field(default_factory=list)
    error: Optional[str] = None

    @property
    def ok(self) -> bool:
        return self.error is None and all(t.ok for t in self.tests)

    def to_dict(self) -> Dict[str, Any]:
        return {"path": self.path, "atlas_dir": self.atlas_dir, "ok": self.ok, "error": self.error,
                "tests": [t.to_dict() for t in self.tests]}


def _merge_config(*configs: Mapping[str, Any]) -> Dict[str, Any]:
    out = copy.deepcopy(DEFAULT_CONFIG)
    for c in configs:
        for k, v in c.items():
            if k == "deterministic" and isinstance(v, dict):
                out["deterministic"].update(v)
            else:
                out[k] = v
    out.setdefault("trace", {"sink": "none"})
    return out


class _Run:
    """The state of one test while its steps run."""

    def __init__(self, resolver: Any) -> None:
        self.r = resolver
        self.latest_request: Optional[Dict[str, Any]] = None
        self.latest_resolution: Optional[Dict[str, Any]] = None  # {"resolution_id", "agent_id", "session_id"}
        self.latest_session: Optional[Tuple[str, str]] = None
        self.latest_pending: Optional[str] = None
        self.latest_execution: Optional[str] = None
        self.labels: Dict[str, Dict[str, Any]] = {}


def _error_text(e: CraError) -> str:
    where = f" at {e.pointer}" if e.pointer else ""
    return f"{e.code}{where}: {e.message}"


def _resolution_view(res: Dict[str, Any], expected: Mapping[str, Any]) -> Dict[str, Any]:
    """The resolution as the ``expect`` of a resolve step reads it."""
    view: Dict[str, Any] = {}
    decision = res.get("decision") or {}
    view["decision"] = decision.get("type")
    allowed = [a["action_id"] for a in res.get("allowed_actions", [])]
    denied = [a["action_id"] for a in res.get("denied_actions", [])]
    pending = [a["action_id"] for a in res.get("pending_actions", [])]
    view["allowed"], view["denied"], view["pending"] = allowed, denied, pending
    packs: List[str] = []
    for b in res.get("context_blocks", []):
        if b.get("pack_id") not in packs:
            packs.append(b.get("pack_id"))
    view["context_packs"] = packs
    actions: Dict[str, Any] = {}
    for verdict, key in (("allowed", "allowed_actions"), ("denied", "denied_actions"), ("pending_approval", "pending_actions")):
        for a in res.get(key, []):
            entry = dict(a)
            entry["verdict"] = verdict
            entry.setdefault("reason_code", "approval_required" if verdict == "pending_approval" else None)
            actions[a["action_id"]] = entry
    for a in (expected.get("actions") or {}) if isinstance(expected.get("actions"), dict) else {}:
        actions.setdefault(a, {"verdict": "not_in_scope", "policy_id": None, "reason_code": None})
    view["actions"] = actions
    view["resolution"] = res
    return view


def _normalize_resolve_expect(expected: Mapping[str, Any]) -> Dict[str, Any]:
    out: Dict[str, Any] = {}
    for k, v in expected.items():
        if k in _SET_KEYS:
            out[k] = sorted(v)
        elif k == "actions":
            out[k] = {a: ({"verdict": w} if isinstance(w, str) else w) for a, w in v.items()}
        else:
            out[k] = v
    return out


def _compare_resolution(expected: Mapping[str, Any], res: Dict[str, Any]) -> Tuple[Any, Any, List[Mismatch]]:
    want = _normalize_resolve_expect(expected)
    view = _resolution_view(res, expected)
    got: Dict[str, Any] = {}
    for k in want:
        got[k] = sorted(view[k], key=str) if k in _SET_KEYS else view[k]
    found: List[Mismatch] = []
    for k, ev in want.items():
        if k in _SET_KEYS:
            missing = [x for x in ev if x not in got[k]]
            extra = [x for x in got[k] if x not in ev]
            if missing or extra:
                found.append(Mismatch(_ptr("", k), ev, got[k]))
        else:
            found.extend(mismatches(ev, got[k], _ptr("", k)))
    return want, _project(want, got), found


def _explain_view(expected: Mapping[str, Any], answer: Dict[str, Any]) -> Tuple[Any, Any]:
    """An ``expect`` whose ``policies`` is an object keyed by policy id compares against the
    answer's policies keyed the same way."""
    want = dict(expected)
    got = dict(answer)
    if isinstance(want.get("policies"), dict):
        got["policies"] = {p.get("policy_id"): p for p in answer.get("policies", [])}
    return want, got


def _expect_error(expected: Any) -> Dict[str, Any]:
    return {"code": expected} if isinstance(expected, str) else dict(expected)


def run_test(tf: TestFile, test: PolicyTest, resolver_factory: Optional[Callable[[Dict[str, Any]], Any]] = None) -> TestResult:
    """Runs one test on a fresh deterministic resolver with the file's atlases loaded."""
    from .resolver import Resolver

    cfg = _merge_config(tf.config, test.config)
    factory = resolver_factory or (lambda c: Resolver(c))
    try:
        r = factory(cfg)
    except CraError as e:
        return TestResult(test.name, False, error=f"cannot create the resolver: {_error_text(e)}")
    try:
        for a in tf.atlases:
            path = os.path.normpath(os.path.join(tf.atlas_dir, a))
            try:
                r.load_atlas(path)
            except CraError as e:
                detail = "; ".join(f"{d.pointer or '(document)'}: {d.code}" for d in e.details[:5])
                return TestResult(test.name, False, error=f"atlas {path} does not load: {_error_text(e)}" + (f" ({detail})" if detail else ""))
        state = _Run(r)
        steps: List[StepResult] = []
        for i, step in enumerate(test.steps):
            steps.append(_run_step(state, i, step))
        return TestResult(test.name, all(s.ok for s in steps), steps)
    finally:
        try:
            r.close()
        except CraError:
            pass


def run_file(tf: TestFile, select: Optional[Callable[[str], bool]] = None) -> FileResult:
    """Runs the tests of a file (those whose name ``select`` accepts)."""
    out = FileResult(tf.path, tf.atlas_dir)
    for t in tf.tests:
        if select is not None and not select(t.name):
            continue
        res = run_test(tf, t)
        out.tests.append(res)
        if res.error and res.error.startswith("atlas ") and " does not load" in res.error:
            out.error = res.error  # the same for every test: report it once, skip the rest
            break
    return out


def _summary(op: str, v: Any) -> str:
    if op == "resolve":
        q = v.get("requester", {})
        goal = (v.get("task") or {}).get("goal")
        return f"resolve for {q.get('agent_id')} in {q.get('session_id')}" + (f": {goal!r}" if goal else "")
    if op == "execute":
        return f"execute {v.get('action_id')} {json.dumps(v.get('parameters', {}), ensure_ascii=False)}"
    if op in ("approve", "reject"):
        return f"{op} by {v.get('approver')!r}"
    if op in ("check", "explain"):
        return f"{op} {v.get('action_id')}"
    if op == "advance_clock":
        return f"advance the clock {v} s"
    return op


def _run_step(st: _Run, index: int, step: Dict[str, Any]) -> StepResult:
    op = next(k for k in step if k in _OPS)
    arg = step[op]
    res = StepResult(index=index, op=op, summary=_summary(op, arg), ok=True)
    try:
        answer = _call(st, op, arg)
    except _StepProblem as e:
        res.ok, res.error = False, str(e)
        return res
    except CraError as e:
        got = {"code": e.code, "pointer": e.pointer}
        if "expect_error" in step:
            want = _expect_error(step["expect_error"])
            res.expected, res.actual = want, _project(want, got)
            res.mismatches = mismatches(want, got)
            res.ok = not res.mismatches
            return res
        res.ok, res.error = False, f"unexpected error {_error_text(e)}"
        res.actual = {"error": got}
        return res
    if op == "resolve":
        st.latest_request = arg
        q = arg["requester"]
        st.latest_resolution = {"resolution_id": answer["resolution_id"], "agent_id": q["agent_id"], "session_id": q["session_id"]}
        st.latest_session = (q["agent_id"], q["session_id"])
        if "label" in step:
            st.labels[step["label"]] = dict(st.latest_resolution)
    elif op == "execute":
        if answer.get("status") == "pending_approval":
            st.latest_pending = answer.get("approval_id")
        if answer.get("status") == "authorized":
            st.latest_execution = answer.get("execution_id")
        if "label" in step:
            st.labels[step["label"]] = answer
    if "expect_error" in step:
        want = _expect_error(step["expect_error"])
        res.ok, res.expected, res.actual = False, want, answer
        res.error = f"expected the error {want.get('code')}, but the call succeeded"
        return res
    if "expect" not in step:
        return res
    expected = step["expect"]
    if op == "resolve":
        res.expected, res.actual, res.mismatches = _compare_resolution(expected, answer)
    elif op == "execute" and isinstance(expected, str):
        want = {"status": expected}
        res.expected, res.actual, res.mismatches = want, _project(want, answer), mismatches(want, answer)
    elif op == "explain":
        want, got = _explain_view(expected, answer)
        res.expected, res.actual, res.mismatches = want, _project(want, got), mismatches(want, got)
    else:
        res.expected, res.actual, res.mismatches = expected, _project(expected, answer), mismatches(expected, answer)
    res.ok = not res.mismatches
    return res


class _StepProblem(Exception):
    """A step that cannot run (nothing to execute against, no approval to decide...)."""


def _call(st: _Run, op: str, arg: Any) -> Any:
    r = st.r
    if op == "resolve":
        return r.resolve(arg).raw
    if op == "execute":
        target = st.labels.get(arg["resolution"]) if "resolution" in arg else st.latest_resolution
        if target is None:
            raise _StepProblem("no resolution to execute against: resolve first (a resolve that failed made none)")
        execution: Dict[str, Any] = {"resolution_id": target["resolution_id"], "action_id": arg["action_id"],
                                     "parameters": arg.get("parameters", {})}
        if "idempotency_key" in arg:
            execution["idempotency_key"] = arg["idempotency_key"]
        requester = {"agent_id": arg.get("agent_id", target["agent_id"]), "session_id": arg.get("session_id", target["session_id"])}
        return r.execute({"requester": requester, "execution": execution}).raw
    if op in ("approve", "reject"):
        if "approval_id" in arg:
            approval = arg["approval_id"]
        elif "approval" in arg:
            approval = st.labels[arg["approval"]].get("approval_id")
        else:
            approval = st.latest_pending
        if not approval:
            raise _StepProblem(f"no approval to {op}: no earlier execute answered pending_approval")
        body: Dict[str, Any] = {"approval_id": approval, "approver": arg["approver"]}
        if "reason" in arg:
            body["reason"] = arg["reason"]
        fn = r.approve if op == "approve" else r.reject
        return fn(body)
    if op == "report":
        execution_id = st.labels[arg["execution"]].get("execution_id") if "execution" in arg else st.latest_execution
        if not execution_id:
            raise _StepProblem("no execution to report: no earlier execute was authorized")
        rep: Dict[str, Any] = {"execution_id": execution_id}
        if "error" in arg:
            rep["error"] = arg["error"]
        else:
            rep["result"] = arg.get("result")
        if "duration_ms" in arg:
            rep["duration_ms"] = arg["duration_ms"]
        return r.report(rep)
    if op == "check":
        session = arg.get("session_id") or (st.latest_session[1] if st.latest_session else None)
        if session is None:
            raise _StepProblem("check needs session_id (no earlier resolve named one)")
        return str(r.check(session, arg["action_id"]).value)
    if op == "explain":
        request = arg.get("request", st.latest_request)
        if request is None:
            raise _StepProblem("explain needs request (no earlier resolve to take it from)")
        from ._lowlevel import native_function

        native_function("cra_resolver_explain", "explain")  # UNSUPPORTED with a clear message on an older libcra
        return r.explain(request, arg["action_id"])
    if op == "approvals":
        return r.approvals(session_id=arg.get("session_id"), status=arg.get("status"))
    if op == "advance_clock":
        r.advance_clock(float(arg))
        return None
    if op == "end_session":
        session = arg.get("session_id") or (st.latest_session[1] if st.latest_session else None)
        if session is None:
            raise _StepProblem("end_session needs session_id (no earlier resolve named one)")
        body = {"session_id": session}
        if "reason" in arg:
            body["reason"] = arg["reason"]
        return r.end_session(body)
    raise _StepProblem(f"unknown operation {op}")  # pragma: no cover - the checker refuses it


# -- reporting ---------------------------------------------------------------------------------


def render_step_failure(s: StepResult, indent: str = "") -> List[str]:
    """Lines describing a failed step: what it did, the error or the mismatches, and a diff of
    the expectation against the answer cut to the expectation's shape."""
    lines = [f"{indent}step {s.index + 1} ({s.summary}):"]
    if s.error:
        lines.append(f"{indent}  {s.error}")
    if s.mismatches:
        n = len(s.mismatches)
        lines.append(f"{indent}  {n} mismatch{'es' if n != 1 else ''}:")
        for m in s.mismatches[:20]:
            lines.append(f"{indent}    {m.pointer}: expected {_short(m.expected)}, got {_short(m.actual)}")
        if n > 20:
            lines.append(f"{indent}    ... {n - 20} more")
    if s.expected is not None and (s.mismatches or s.error):
        diff = list(difflib.unified_diff(_pretty(s.expected), _pretty(s.actual), "expected", "actual", lineterm="", n=2))
        lines.extend(f"{indent}  {d}" for d in diff)
    return lines


def _short(v: Any) -> str:
    if v == _ABSENT:
        return "nothing (absent)"
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."
