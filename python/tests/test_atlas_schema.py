"""The editor schema (``cra/schemas/atlas.schema.json``) against the core's atlas validation.

The schema checks shape (unknown fields, types, required fields, enumerations, formats,
bounds); the core checks that and more (references, duplicate ids, unmatched patterns, parameter
schemas, context files). These tests hold the schema to the core:

- every example atlas validates, and names the schema in ``$schema`` (a path that resolves);
- every atlas document of the conformance corpus (``conformance/cases/**``, the atlas cases in
  ``cases/atlas/atlas.json`` among them) that the core accepts validates, and every one the
  core refuses with a shape problem is refused by the schema, with an error at the problem's
  pointer, an ancestor or a descendant of it;
- the same two rules over mutations of the example atlases: every field removed, every value
  replaced by one of the wrong type, an unknown key added to every object, and a list of
  boundary values (enumerations, formats, bounds).
"""

from __future__ import annotations

import copy
import glob
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional, Set, Tuple

import pytest

import cra
from cra.schemas import atlas_schema, schema_path

from conftest import DEVOPS, REPO, SUPPORT

jsonschema = pytest.importorskip("jsonschema")

#: Detail codes of the core that are about the document's shape: the schema must catch them.
SHAPE_CODES = {
    "unknown_field", "missing_field", "invalid_type", "invalid_value", "unsupported_version",
    "invalid_id", "invalid_version", "invalid_length", "out_of_range", "empty_list",
    "conflicting_fields", "unsupported_policy_type", "invalid_pattern",
}
#: Codes the schema cannot see (they need the whole atlas, a directory or a JSON Schema compiler).
SEMANTIC_CODES = {
    "duplicate_id", "unknown_reference", "unmatched_pattern", "invalid_schema", "files_need_directory",
    "path_escape", "file_not_found", "file_too_large", "invalid_utf8", "io_error", "malformed_json",
    "invalid_json_value",
}


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = atlas_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _same_bytes(a: str, b: str) -> bool:
    """The same schema file: the source tree's copy and the installed package's (the wheel ships
    it) have the same bytes."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def core_codes(r: cra.Resolver, atlas: Any) -> Optional[List[Tuple[str, str]]]:
    """None when the core loads ``atlas`` (a document or a directory; unloaded again at once, so
    the next one may reuse its ids), else its (code, pointer) problems."""
    try:
        info = r.load_atlas(atlas)
    except cra.InvalidAtlas as e:
        return [(d.code, d.pointer or "") for d in e.details] or [(e.code, e.pointer or "")]
    r.unload_atlas(info.atlas_id)
    return None


def schema_errors(v: Any, doc: Any) -> List[str]:
    """The JSON pointers of the schema's errors."""
    out = []
    for e in v.iter_errors(doc):
        out.append("".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in e.absolute_path))
    return out


def agree(v: Any, name: str, doc: Any, problems: Optional[List[Tuple[str, str]]]) -> None:
    errors = schema_errors(v, doc)
    if problems is None:
        assert not errors, f"{name}: the core accepts it, the schema refuses it at {errors}"
        return
    unknown = {c for c, _ in problems} - SHAPE_CODES - SEMANTIC_CODES
    assert not unknown, f"{name}: classify the core's new codes {unknown} in this test"
    shape = [(c, p) for c, p in problems if c in SHAPE_CODES]
    if not shape:
        return
    assert errors, f"{name}: the core refuses it ({shape}), the schema accepts it"
    for code, ptr in shape:
        assert any(_related(ptr, e) for e in errors), (
            f"{name}: the core reports {code} at {ptr!r}; the schema's errors are at {errors}"
        )


def _related(a: str, b: str) -> bool:
    """One pointer is the other or an ancestor of it (a missing_field at an object may come
    with the schema's error at the member of the wrong type that made it missing)."""
    return a == b or a.startswith(b + "/") or b.startswith(a + "/") or "" in (a, b)


def corpus_atlases() -> Iterator[Tuple[str, Dict[str, Any]]]:
    """Every atlas document of the conformance corpus: fixtures and inline atlases of steps."""
    for path in sorted(glob.glob(os.path.join(REPO, "conformance", "cases", "**", "*.json"), recursive=True)):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        rel = os.path.relpath(path, REPO)
        for name, atlas in (data.get("atlases") or {}).items():
            yield f"{rel}#{name}", atlas
        for case in data.get("cases", []):
            for i, step in enumerate(case.get("steps", [])):
                if isinstance(step.get("atlas"), dict):
                    yield f"{case['id']} step {i}", step["atlas"]
                for j, a in enumerate(step.get("atlases") or [] if isinstance(step.get("atlases"), list) else []):
                    if isinstance(a, dict):
                        yield f"{case['id']} step {i} atlases/{j}", a


def test_the_schema_is_shipped_and_named_by_the_examples(validator: Any) -> None:
    assert os.path.isfile(schema_path()) and schema_path().endswith(os.path.join("cra", "schemas", "atlas.schema.json"))
    for d in (SUPPORT, DEVOPS):
        with open(os.path.join(d, "atlas.json"), encoding="utf-8") as f:
            doc = json.load(f)
        ref = doc["$schema"]
        assert _same_bytes(os.path.join(d, ref), schema_path()), f"{d}: $schema {ref} does not resolve to the schema"
        assert schema_errors(validator, doc) == []
    with open(os.path.join(REPO, "python", "pyproject.toml"), encoding="utf-8") as f:
        assert 'path = "cra/schemas/*.json"' in f.read(), "the wheel must include the schemas (tool.maturin include)"


def test_the_atlas_cases_of_the_corpus(validator: Any) -> None:
    """conformance/cases/atlas/atlas.json: each refused atlas with a shape problem is refused by the schema."""
    seen: Set[str] = set()
    with cra.Resolver() as r:
        for name, doc in corpus_atlases():
            if not name.startswith("atlas/") and not name.startswith("conformance/cases/atlas/"):
                continue
            problems = core_codes(r, doc)
            seen.update(c for c, _ in problems or [])
            agree(validator, name, doc, problems)
    # not vacuous: the file exercises each kind of shape problem the issue names
    assert {"unknown_field", "invalid_type", "missing_field", "invalid_value"} <= seen


def test_every_atlas_of_the_corpus(validator: Any) -> None:
    accepted = refused = 0
    with cra.Resolver() as r:
        for name, doc in corpus_atlases():
            problems = core_codes(r, doc)
            if problems is None:
                accepted += 1
            else:
                refused += 1
            agree(validator, name, doc, problems)
    assert accepted > 30 and refused > 30


def _wrong(v: Any) -> Any:
    """A value of another JSON type."""
    if isinstance(v, bool):
        return "yes"
    if isinstance(v, (int, float)):
        return "12"
    if isinstance(v, str):
        return 12
    if isinstance(v, list):
        return {"x": 1}
    if isinstance(v, dict):
        return ["x"]
    return "null"


def _mutations(doc: Any) -> Iterator[Tuple[str, Any]]:
    """(description, mutated copy): each key removed, each value of the wrong type, an unknown key per object."""
    paths: List[Tuple[List[Any], str]] = []

    def walk(node: Any, path: List[Any]) -> None:
        if isinstance(node, dict):
            paths.append((path, "+"))
            for k in node:
                paths.append((path + [k], "-"))
                paths.append((path + [k], "~"))
                walk(node[k], path + [k])
        elif isinstance(node, list):
            for i, x in enumerate(node):
                paths.append((path + [i], "~"))
                walk(x, path + [i])

    walk(doc, [])
    for path, kind in paths:
        d = copy.deepcopy(doc)
        parent = d
        for p in path[:-1] if kind != "+" else path:
            parent = parent[p]
        if kind == "+":
            parent["zz_unknown"] = 1
        elif kind == "-":
            del parent[path[-1]]
        else:
            parent[path[-1]] = _wrong(parent[path[-1]])
        yield f"{kind} /{'/'.join(map(str, path))}", d


def _in_dir(tmp: Path, example: str) -> Tuple[Path, Dict[str, Any]]:
    d = tmp / example
    shutil.copytree(os.path.join(REPO, "examples", "atlases", example), d)
    with open(d / "atlas.json", encoding="utf-8") as f:
        return d, json.load(f)


@pytest.mark.parametrize("example", ["customer-support", "devops"])
def test_mutations_of_the_examples(validator: Any, tmp_path: Path, example: str) -> None:
    d, doc = _in_dir(tmp_path, example)
    n = 0
    with cra.Resolver() as r:
        for what, mutated in _mutations(doc):
            (d / "atlas.json").write_text(json.dumps(mutated), encoding="utf-8")
            agree(validator, f"{example} {what}", mutated, core_codes(r, d))
            n += 1
    assert n > 300


#: (pointer of the value to set, value): boundaries of enumerations, formats and bounds.
EDITS: List[Tuple[str, Any]] = [
    ("/atlas_version", "1.1"), ("/atlas_version", 1.0),
    ("/atlas_id", "com.Example"), ("/atlas_id", "com.ex_ample"), ("/atlas_id", "com.ex-ample2"), ("/atlas_id", "com"),
    ("/version", "1.0.0-rc.01"), ("/version", "1.0.0-rc.1+build.5"), ("/version", "1.0.0+"), ("/version", "v1.0.0"),
    ("/version", "1.0.0-alpha-1"), ("/version", "1.0"),
    ("/name", "n" * 100), ("/name", "n" * 101), ("/name", ""), ("/name", "é" * 100),
    ("/description", "d" * 1000), ("/description", "d" * 1001), ("/description", ""),
    ("/$schema", 12), ("/$schema", "https://example.com/atlas.schema.json"),
    ("/authors", [1]), ("/authors", [{"email": "a@b"}]), ("/authors", ["A", {"name": "B", "url": "u"}]),
    ("/dependencies", {"com.x.y": "^1.0"}), ("/dependencies", {"bad": "1"}), ("/dependencies", {"com.x.y": 1}),
    ("/metadata", {"anything": [1, {"goes": True}]}), ("/metadata", []), ("/adapters", "x"),
    ("/domains", []), ("/domains", [1]),
    ("/actions/0/action_id", "orders.get_status"), ("/actions/0/action_id", "orders"), ("/actions/0/action_id", "Orders.get"),
    ("/actions/0/risk_tier", "extreme"), ("/actions/0/risk_tier", "critical"),
    ("/actions/0/timeout_seconds", 0), ("/actions/0/timeout_seconds", 86400), ("/actions/0/timeout_seconds", 86401),
    ("/actions/0/timeout_seconds", 1.5), ("/actions/0/rate_limit", {"max_calls": 1, "window_seconds": 1, "per": "tenant"}),
    ("/actions/0/rate_limit", {"max_calls": 0, "window_seconds": 1}), ("/actions/0/rate_limit", {"max_calls": 4294967295, "window_seconds": 31622400, "per": "global"}),
    ("/actions/0/rate_limit", {"max_calls": 1, "window_seconds": 31622401}), ("/actions/0/rate_limit", {"max_calls": 1}),
    ("/actions/0/examples", [{"anything": 1}]), ("/actions/0/parameters_schema", True),
    ("/context_packs/0/priority", -1), ("/context_packs/0/priority", 0), ("/context_packs/0/priority", 1000), ("/context_packs/0/priority", 1001),
    ("/context_packs/0/max_tokens", 0), ("/context_packs/0/max_tokens", 4294967295), ("/context_packs/0/keywords", []),
    ("/context_packs/0/files", []), ("/context_packs/0/content", "inline and files"), ("/context_packs/0/pack_id", ""),
    ("/context_packs/0/conditions", {"risk_tiers": ["high"], "time_window": {"start": "09:00", "end": "24:00", "days": ["Monday", "TUE", "sun"], "timezone": "+05:30"}}),
    ("/context_packs/0/conditions", {"time_window": {"start": "9:00", "end": "17:00"}}),
    ("/context_packs/0/conditions", {"time_window": {"start": "09:00", "end": "24:01"}}),
    ("/context_packs/0/conditions", {"time_window": {"start": "09:00", "end": "17:00", "timezone": "Europe/Paris"}}),
    ("/context_packs/0/conditions", {"time_window": {"start": "09:00", "end": "17:00", "timezone": "-23:59"}}),
    ("/context_packs/0/conditions", {"time_window": {"start": "09:00", "end": "17:00", "timezone": "Z"}}),
    ("/context_packs/0/conditions", {"time_window": {"start": "09:00", "end": "17:00", "days": ["someday"]}}),
    ("/context_packs/0/conditions", {"time_window": {"start": "09:00", "end": "17:00", "days": []}}),
    ("/context_packs/0/conditions", {"time_window": {"start": "09:00"}}),
    ("/context_packs/0/conditions", {"agents": []}), ("/context_packs/0/conditions", {"agents": [""]}),
    ("/context_packs/0/conditions", {"agents": ["a" * 512]}), ("/context_packs/0/conditions", {"agents": ["a" * 513]}),
    ("/context_packs/0/conditions", {"context_matches": []}), ("/context_packs/0/conditions", {"context_matches": {"k": [1, {"x": None}]}}),
    ("/context_packs/0/conditions", {"risk_tiers": ["low", "severe"]}),
    ("/capabilities/0/capability_id", ""), ("/capabilities/0/actions", []), ("/capabilities/0/context_packs", []),
    ("/policies/0/type", "budget"), ("/policies/0/type", "allowed"), ("/policies/0/priority", 1000000),
    ("/policies/0/priority", 1000001), ("/policies/0/priority", -1000001), ("/policies/0/parameters", {}),
    ("/policies/0/parameters", {"timeout_seconds": 5}), ("/policies/0/actions", []), ("/policies/0/actions", [""]),
    ("/policies/0/policy_id", ""),
]


def _set(doc: Any, pointer: str, value: Any) -> None:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    node = doc
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    node[parts[-1]] = value


@pytest.mark.parametrize("example", ["customer-support", "devops"])
def test_boundary_values(validator: Any, tmp_path: Path, example: str) -> None:
    d, doc = _in_dir(tmp_path, example)
    approval = next(i for i, p in enumerate(doc["policies"]) if p["type"] == "require_approval")
    edits = EDITS + [
        (f"/policies/{approval}/parameters", {"timeout_seconds": 0}),
        (f"/policies/{approval}/parameters", {"timeout_seconds": 31622400}),
        (f"/policies/{approval}/parameters", {"timeout_seconds": 60, "max_calls": 1}),
    ]
    if example == "customer-support":
        limit = next(i for i, p in enumerate(doc["policies"]) if p["type"] == "rate_limit")
        edits += [(f"/policies/{limit}/parameters", {"max_calls": 1, "window_seconds": 1, "per": "agent"}),
                  (f"/policies/{limit}/parameters", {"max_calls": 1}), (f"/policies/{limit}/parameters", {}),
                  (f"/policies/{limit}/parameters", {"max_calls": 1, "window_seconds": 1, "per": "tenant"})]
    outcomes = {"accepted": 0, "refused": 0}
    with cra.Resolver() as r:
        for pointer, value in edits:
            mutated = copy.deepcopy(doc)
            _set(mutated, pointer, value)
            (d / "atlas.json").write_text(json.dumps(mutated), encoding="utf-8")
            problems = core_codes(r, d)
            outcomes["accepted" if problems is None else "refused"] += 1
            agree(validator, f"{example} {pointer} = {json.dumps(value)[:40]}", mutated, problems)
    assert outcomes["accepted"] > 20 and outcomes["refused"] > 40
