"""The Python error map against the one error table (conformance/errors.json, generated from
core/src/error.rs): every code has a class, no class maps a code the table lacks, and every
code's class belongs to its family. docs/errors.md."""

from __future__ import annotations

import copy
import json
import pathlib
from typing import Any, Dict, List, Mapping, Type

import pytest

import cra
from cra import errors

TABLE_PATH = pathlib.Path(__file__).resolve().parents[2] / "conformance" / "errors.json"


def load_table() -> Dict[str, Any]:
    return dict(json.loads(TABLE_PATH.read_text(encoding="utf-8")))


def drift(
    table: Mapping[str, Any],
    by_code: Mapping[str, Type[errors.CraError]],
    family_classes: Mapping[str, Type[errors.CraError]],
) -> List[str]:
    """Every disagreement between the table and a binding map, one line each."""
    problems: List[str] = []
    entries = list(table["codes"]) + list(table["abi_statuses"])
    wanted = {e["code"]: e["family"] for e in entries}
    families = {f["family"] for f in table["families"]}
    for fam in sorted(families - set(family_classes)):
        problems.append(f"family {fam} has no class")
    for fam in sorted(set(family_classes) - families):
        problems.append(f"family {fam} is not in the table")
    for code, fam in wanted.items():
        cls = by_code.get(code)
        if cls is None:
            problems.append(f"{code} is missing from the Python map")
        elif fam in family_classes and not issubclass(cls, family_classes[fam]):
            problems.append(f"{code}: {cls.__name__} is not in family {fam}")
        elif cls.family != fam:
            problems.append(f"{code}: {cls.__name__}.family is {cls.family}, the table says {fam}")
    for code in sorted(set(by_code) - set(wanted)):
        problems.append(f"{code} is in the Python map but not in the table")
    return problems


def test_error_map_matches_the_table() -> None:
    assert drift(load_table(), errors._BY_CODE, errors.FAMILY_CLASSES) == []


def test_drift_check_can_fail() -> None:
    table = load_table()
    renamed = copy.deepcopy(table)
    for e in renamed["codes"]:
        if e["code"] == "ATLAS_CONFLICT":
            e["code"] = "ATLAS_CLASH"
    problems = drift(renamed, errors._BY_CODE, errors.FAMILY_CLASSES)
    assert "ATLAS_CLASH is missing from the Python map" in problems
    assert "ATLAS_CONFLICT is in the Python map but not in the table" in problems

    moved = copy.deepcopy(table)
    for e in moved["codes"]:
        if e["code"] == "INVALID_PARAMETERS":
            e["family"] = "action"
    assert drift(moved, errors._BY_CODE, errors.FAMILY_CLASSES) == [
        "INVALID_PARAMETERS: InvalidParameters is not in family action"
    ]

    fewer = {k: v for k, v in errors._BY_CODE.items() if k != "TIMEOUT"}
    assert drift(table, fewer, errors.FAMILY_CLASSES) == ["TIMEOUT is missing from the Python map"]


@pytest.mark.parametrize(
    "alias, family",
    [
        (cra.NotAuthorized, cra.ActionError),
        (cra.InvalidRequest, cra.RequestError),
        (cra.InvalidAtlas, cra.AtlasError),
        (cra.CraIOError, cra.CraRuntimeError),
    ],
)
def test_earlier_classes_still_work(alias: Type[errors.CraError], family: Type[errors.CraError]) -> None:
    assert issubclass(alias, family)


def test_earlier_groups_still_catch() -> None:
    # NotFound and StateError stay as groups across families.
    assert issubclass(cra.AtlasNotFound, cra.NotFound) and issubclass(cra.AtlasNotFound, LookupError)
    assert issubclass(cra.SessionEnded, cra.StateError) and issubclass(cra.ResolverForked, cra.StateError)
    assert issubclass(cra.InvalidParameters, ValueError) and issubclass(cra.FlushTimeout, TimeoutError)
    e = errors.error_class("ATLAS_NOT_FOUND")("no atlas x", code="ATLAS_NOT_FOUND", status=111)
    assert e.family == "atlas" and isinstance(e, cra.NotFound)
