"""The package's TypedDicts (``cra.results``) against the answers the core really gives: the
whole conformance corpus runs through ``conformance_driver.py`` with ``CRA_RECORD_ANSWERS``, and
every answer's parts are checked against their TypedDict: no field the TypedDict does not
declare, every required field present, nested TypedDicts checked the same way. The last test
proves the checker fails on a renamed field, a missing one and a nested drift."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import typing
from typing import Any, Dict, List, Optional, Tuple

from cra import results

from conftest import REPO

HERE = os.path.dirname(os.path.abspath(__file__))
RUNNER = os.environ.get("CRA_CONFORMANCE") or os.path.join(REPO, "target", "debug", "cra-conformance")

#: Where each TypedDict appears: (operation, path to a list of such objects in the answer).
PLACES: List[Tuple[str, Tuple[str, ...], Any]] = [
    ("resolve", ("context_blocks",), results.ContextBlock),
    ("resolve", ("allowed_actions",), results.AllowedAction),
    ("resolve", ("denied_actions",), results.DeniedAction),
    ("resolve", ("pending_actions",), results.PendingAction),
    ("resolve", ("constraints",), results.Constraint),
    ("verify_trace", ("errors",), results.VerifyErrorEntry),
]


def _typeddict(t: Any) -> Optional[Any]:
    """The TypedDict inside ``t`` (itself, Optional[...], NotRequired[...]), if any."""
    if isinstance(t, type) and hasattr(t, "__required_keys__"):
        return t
    for arg in typing.get_args(t):
        found = _typeddict(arg)
        if found is not None:
            return found
    return None


def _required(td: Any, hint: Any) -> bool:
    """Whether a key must be present. Read from the hint itself: with postponed annotations,
    Python < 3.12 computes ``__required_keys__`` without seeing ``NotRequired``."""
    origin = typing.get_origin(hint)
    if origin is not None and getattr(origin, "__name__", "") in ("NotRequired", "Required"):
        return bool(origin.__name__ == "Required")
    if str(origin).endswith(("NotRequired", "Required")):
        return str(origin).endswith(".Required")
    return bool(td.__total__)


def drift(value: Any, td: Any, at: str = "") -> List[str]:
    """Every disagreement between the dict ``value`` and the TypedDict ``td``."""
    if not isinstance(value, dict):
        return [f"{at or '/'}: {type(value).__name__}, not an object ({td.__name__})"]
    hints = typing.get_type_hints(td, include_extras=True)
    out = [f"{at}/{k}: not declared in {td.__name__}" for k in value if k not in hints]
    out += [f"{at}/{k}: missing (required by {td.__name__})" for k in hints if _required(td, hints[k]) and k not in value]
    for k, v in value.items():
        inner = _typeddict(hints.get(k))
        if inner is not None and v is not None:
            out += drift(v, inner, f"{at}/{k}")
    return out


def _recorded(tmp: str) -> List[Dict[str, Any]]:
    path = os.path.join(tmp, "answers.jsonl")
    out = subprocess.run([RUNNER, "--binding", "python", "--", sys.executable, os.path.join(HERE, "conformance_driver.py")],
                         capture_output=True, text=True, timeout=600, cwd=HERE, env={**os.environ, "CRA_RECORD_ANSWERS": path})
    assert out.returncode == 0, out.stdout[-2000:]
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def test_every_answer_of_the_corpus_matches_the_typeddicts(tmp_path: Any) -> None:
    answers = _recorded(str(tmp_path))
    problems: Dict[str, str] = {}
    checked = {td.__name__: 0 for _, _, td in PLACES}
    for a in answers:
        for op, path, td in PLACES:
            if a["op"] != op:
                continue
            items: Any = a["answer"]
            for key in path:
                items = items.get(key) or []
            for i, item in enumerate(items):
                checked[td.__name__] += 1
                for p in drift(item, td, f"{op}/{'/'.join(path)}/{i}"):
                    problems.setdefault(re.sub(r"/\d+/", "/N/", p), p)
    assert not problems, "\n".join(problems.values())
    assert all(n > 0 for n in checked.values()), f"the corpus gave nothing to check for some types: {checked}"


def test_the_checker_can_fail() -> None:
    good = {"action_id": "a", "atlas_id": "x", "reason": "r", "policy_id": None, "approval_id": None}
    assert drift(good, results.PendingAction) == []
    renamed = dict(good, reason_text="r")
    del renamed["reason"]
    assert drift(renamed, results.PendingAction) == [
        "/reason_text: not declared in PendingAction", "/reason: missing (required by PendingAction)"]
    head = {"trace_id": "t", "session_id": "s", "events": 1, "first_line": 1, "ok": True,
            "head": {"sequence": 0, "event_hash": "h", "hash": "h"}}
    assert drift(head, results.VerifyTraceSummary) == ["/head/hash: not declared in VerifyHead"]
