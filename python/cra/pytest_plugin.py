"""pytest plugin: an atlas's policy tests (``ATLAS_DIR/tests/*.json``) as pytest items.

Registered through the ``pytest11`` entry point of the ``cra`` package, so installing ``cra``
is enough. Each test of a test file becomes one item (``ATLAS_DIR/tests/FILE.json::NAME``),
run on a fresh deterministic resolver like ``cra test``; a failure shows the diff of each
failing step; a test file that is not in the format is a collection error naming the JSON
pointer of the problem.

What is collected:

- while pytest walks its paths: every ``tests/*.json`` (and ``*.yaml``/``*.yml``, which need
  PyYAML) whose parent directory holds an ``atlas.json``. ``cra_discover = false`` in the ini
  file turns this off.
- ``--cra-atlas DIR`` (repeatable): these atlas directories, always.
- otherwise, when pytest runs without path arguments (like ``testpaths``): the directories of
  the ini option ``cra_atlases`` (one per line, relative to the ini file), or, without it,
  every directory under the rootdir that holds an ``atlas.json`` and a ``tests/`` folder
  (skipping hidden directories, ``norecursedirs`` and ``node_modules``/``target``/venvs), also
  outside ``testpaths``.

The plugin imports nothing of ``cra`` (and so loads no native library) until it collects a
policy test file.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, List, Optional, Set

import pytest

if TYPE_CHECKING:  # pragma: no cover
    from .policytest import PolicyTest, TestFile, TestResult

__all__ = ["AtlasTestFile", "AtlasTestItem", "PolicyTestFailed"]

_EXTENSIONS = (".json", ".yaml", ".yml")
_SKIP_DIRS = {"node_modules", "__pycache__", "target", "venv", "site-packages"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cra", "CRA atlas policy tests")
    group.addoption("--cra-atlas", action="append", default=[], metavar="DIR",
                    help="collect the policy tests (tests/*.json) of this atlas directory (repeatable)")
    parser.addini("cra_atlases", type="linelist", default=[],
                  help="atlas directories whose tests/*.json to collect when pytest runs without path arguments "
                       "(relative to the ini file)")
    parser.addini("cra_discover", type="bool", default=True,
                  help="collect tests/*.json of every atlas directory pytest walks (default true)")


def _is_atlas_dir(d: Path) -> bool:
    return (d / "atlas.json").is_file() and (d / "tests").is_dir()


def _explicit_args(config: pytest.Config) -> bool:
    """Whether pytest was given path arguments (then only --cra-atlas adds atlas directories)."""
    source = getattr(config, "args_source", None)
    return source is None or getattr(source, "name", "") == "ARGS"


def _covered(path: Path, args: List[str], root: Path) -> bool:
    p = path.resolve()
    for a in args:
        base = (root / a.split("::")[0]).resolve() if not os.path.isabs(a) else Path(a.split("::")[0]).resolve()
        if p == base or base in p.parents:
            return True
    return False


def _scan(root: Path, norecurse: List[str]) -> Iterator[Path]:
    for dirpath, dirnames, _ in os.walk(root):
        d = Path(dirpath)
        dirnames[:] = sorted(
            n for n in dirnames
            if not n.startswith(".") and n not in _SKIP_DIRS and not any(fnmatch.fnmatch(n, pat) for pat in norecurse)
        )
        if _is_atlas_dir(d):
            yield d
            dirnames[:] = [n for n in dirnames if n != "tests"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "cra_policy: a policy test of an atlas (ATLAS_DIR/tests/*.json)")
    root = Path(str(config.rootpath))
    extra: List[Path] = [Path(d).resolve() for d in config.getoption("cra_atlas") or []]
    if not extra and not _explicit_args(config):
        ini_dir = Path(str(config.inipath)).parent if config.inipath else root
        configured = [(ini_dir / d).resolve() for d in config.getini("cra_atlases")]
        if configured:
            extra.extend(configured)
        elif config.getini("cra_discover"):
            extra.extend(_scan(root, list(config.getini("norecursedirs"))))
    seen: Set[Path] = set()
    for d in extra:
        if d in seen:
            continue
        seen.add(d)
        if not (d / "atlas.json").is_file():
            raise pytest.UsageError(f"--cra-atlas/cra_atlases: {d} is not an atlas directory (no atlas.json)")
        tests = d / "tests"
        if not _covered(tests, list(config.args), Path(str(config.invocation_params.dir))):
            config.args.append(str(tests))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional["AtlasTestFile"]:
    if file_path.suffix not in _EXTENSIONS or file_path.parent.name != "tests":
        return None
    atlas_dir = file_path.parent.parent
    if not (atlas_dir / "atlas.json").is_file():
        return None
    config = parent.config
    explicit = [Path(d).resolve() for d in config.getoption("cra_atlas") or []]
    if not config.getini("cra_discover") and atlas_dir.resolve() not in explicit and not _configured(config, atlas_dir):
        return None
    item: AtlasTestFile = AtlasTestFile.from_parent(parent, path=file_path)
    return item


def _configured(config: pytest.Config, atlas_dir: Path) -> bool:
    ini_dir = Path(str(config.inipath)).parent if config.inipath else Path(str(config.rootpath))
    return atlas_dir.resolve() in [(ini_dir / d).resolve() for d in config.getini("cra_atlases")]


class AtlasTestFile(pytest.File):
    """A policy test file: one item per test."""

    def collect(self) -> Iterator[pytest.Item]:
        from .policytest import TestFileError, load_test_file

        try:
            tf = load_test_file(str(self.path))
        except TestFileError as e:
            raise self.CollectError(f"invalid policy test file {e.path}: {e.pointer or '(document)'}: {e.message}") from None
        for t in tf.tests:
            yield AtlasTestItem.from_parent(self, name=t.name, test_file=tf, test=t)


class PolicyTestFailed(Exception):
    """A policy test whose steps did not meet their expectations."""

    def __init__(self, result: "TestResult") -> None:
        super().__init__(result.name)
        self.result = result


class AtlasTestItem(pytest.Item):
    """One test of a policy test file."""

    def __init__(self, *, test_file: "TestFile", test: "PolicyTest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test_file = test_file
        self.test = test
        self.add_marker("cra_policy")

    def runtest(self) -> None:
        from .policytest import run_test

        result = run_test(self.test_file, self.test)
        if not result.ok:
            raise PolicyTestFailed(result)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, PolicyTestFailed):
            from .policytest import render_step_failure

            r = excinfo.value.result
            lines = [f"policy test {r.name!r} failed ({os.path.relpath(self.test_file.path)}{self.test.pointer})"]
            if r.error:
                lines.append(f"  {r.error}")
            for s in r.failures:
                lines.extend(render_step_failure(s, "  "))
            return "\n".join(lines)
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> "tuple[Path, Optional[int], str]":
        return self.path, None, f"cra policy test: {self.name}"
