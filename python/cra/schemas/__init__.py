"""JSON Schemas shipped with the package (draft 2020-12), for editors and CI.

- ``atlas.schema.json``: the shape of an ``atlas.json`` (docs/atlas.md). Point an atlas at it
  with a top-level ``"$schema"`` (a path relative to the atlas, or the installed file that
  ``cra atlas schema --path`` prints).
- ``atlas-tests.schema.json``: the policy test files kept in an atlas's ``tests/`` folder
  (docs/atlas.md, "Policy tests").
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict

__all__ = ["schema_path", "policy_tests_schema_path", "atlas_schema", "policy_tests_schema"]

_HERE = os.path.dirname(os.path.abspath(__file__))


def schema_path() -> str:
    """The installed ``atlas.schema.json``."""
    return os.path.join(_HERE, "atlas.schema.json")


def policy_tests_schema_path() -> str:
    """The installed ``atlas-tests.schema.json``."""
    return os.path.join(_HERE, "atlas-tests.schema.json")


def atlas_schema() -> Dict[str, Any]:
    """The atlas schema as a dict."""
    with open(schema_path(), encoding="utf-8") as f:
        out: Dict[str, Any] = json.load(f)
    return out


def policy_tests_schema() -> Dict[str, Any]:
    """The policy test file schema as a dict."""
    with open(policy_tests_schema_path(), encoding="utf-8") as f:
        out: Dict[str, Any] = json.load(f)
    return out
