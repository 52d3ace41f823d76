"""Hot reload (``Resolver.watch``, ``cra.watch``): edits reload atomically, bad edits keep the
old atlas serving and are reported, revocation is immediate, the watcher stops on close and
never keeps the process alive. No timing asserts: every wait is on an event or a condition with
a generous bound, and the poll interval is small."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

import pytest

import cra
from cra.watch import AtlasWatcher, WatchEvent, fingerprint

from conftest import REPO, SUPPORT

BOUND = 60.0  # seconds: a bound on waits, never an expectation of speed
POLL = 0.005


def atlas_doc(version: str, *, deny_write: bool = False, extra_action: bool = False, context: str = "v1") -> Dict[str, Any]:
    """A small atlas whose every version differs in what a resolve shows: its actions, a
    policy and the context file it names (each version its own file, written before atlas.json,
    so the directory on disk is consistent at every instant)."""
    actions = [{"action_id": "items.read", "name": "read", "description": ""},
               {"action_id": "items.write", "name": "write", "description": ""}]
    if extra_action:
        actions.append({"action_id": "items.list", "name": "list", "description": ""})
    policies: List[Dict[str, Any]] = [{"policy_id": "allow-all", "type": "allow", "actions": ["items.*"]}]
    if deny_write:
        policies.insert(0, {"policy_id": "no-writes", "type": "deny", "actions": ["items.write"]})
    return {"atlas_version": "1.0", "atlas_id": "com.example.watched", "version": version, "name": "Watched",
            "description": "", "actions": actions, "policies": policies,
            "context_packs": [{"pack_id": "notes", "name": "notes", "files": [f"context/{context}.md"]}]}


def write_version(d: Path, doc: Dict[str, Any], context: str, text: str) -> None:
    """Writes a version at once (before any watcher runs)."""
    (d / "context").mkdir(exist_ok=True)
    (d / "context" / f"{context}.md").write_text(text, encoding="utf-8")
    replace_atlas(d, doc)


def replace_atlas(d: Path, doc: Any) -> None:
    atomic_write(d / "atlas.json", doc if isinstance(doc, str) else json.dumps(doc))


def atomic_write(path: Path, text: str) -> None:
    """A save the watcher sees whole: written under a hidden name (ignored), then renamed."""
    tmp = path.with_name(f".{path.name}.new")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def edit(w: AtlasWatcher, d: Path, doc: Any, context: Optional[str] = None, text: str = "") -> WatchEvent:
    """An edit as a person makes it, in two saves, each awaited: the new context file (the atlas
    does not name it yet, so its reload changes nothing a resolve shows), then atlas.json.
    Returns the second save's event."""
    if context is not None:
        n = w.event_count
        atomic_write(d / "context" / f"{context}.md", text)
        settle(w)
        assert w.event_count == n + 1
    n = w.event_count
    replace_atlas(d, doc)
    settle(w)
    assert w.event_count == n + 1, [str(e) for e in w.events]
    return w.events[-1]


def running(w: AtlasWatcher) -> bool:
    """``w.running`` read anew (mypy would keep an earlier assert's narrowing of the property)."""
    return w.running


def no_error(w: AtlasWatcher) -> bool:
    return w.last_error is None


def settle(w: AtlasWatcher) -> None:
    assert w.wait_idle(BOUND), f"the watcher did not catch up within {BOUND} s"


V1 = (atlas_doc("1.0.0", context="v1"), "v1", "version one")
V2 = (atlas_doc("2.0.0", deny_write=True, extra_action=True, context="v2"), "v2", "version two")
V3 = (atlas_doc("3.0.0", extra_action=True, context="v3"), "v3", "version three")
#: What a resolve shows of each version: (allowed, denied, context), and the index of the version.
SIGNATURES = {
    (("items.read", "items.write"), (), "version one"): 1,
    (("items.list", "items.read"), ("items.write",), "version two"): 2,
    (("items.list", "items.read", "items.write"), (), "version three"): 3,
}


def signature(res: cra.Resolution) -> Tuple[Tuple[str, ...], Tuple[str, ...], str]:
    return tuple(sorted(res.allowed)), tuple(sorted(res.denied)), res.context


@pytest.fixture
def watched(tmp_path: Path) -> Path:
    d = tmp_path / "watched"
    d.mkdir()
    write_version(d, *V1)
    return d


def wait_event(w: AtlasWatcher, after: int) -> WatchEvent:
    ev = w.wait_for_event(after, timeout=BOUND)
    assert ev is not None, f"no watcher event within {BOUND} s"
    return ev


def test_edit_break_fix_under_concurrent_resolves_and_authorizations(watched: Path) -> None:
    """Four threads resolve and authorize throughout while the atlas is edited, broken (bad
    JSON, then a missing context file) and fixed: no call fails, every resolution is exactly one
    version, each thread sees versions in order, the broken edits keep version 2 serving."""
    reloads: List[WatchEvent] = []
    errors: List[WatchEvent] = []
    r = cra.Resolver()
    w = r.watch(watched, interval=POLL, on_reload=reloads.append, on_error=errors.append)
    stop = threading.Event()
    lock = threading.Condition()
    seen: Dict[int, List[int]] = {}  # thread -> versions seen, in order
    failures: List[str] = []

    def worker(n: int) -> None:
        i = 0
        try:
            while not stop.is_set():
                i += 1
                res = r.resolve(agent=f"agent-{n}", session=f"s-{n}-{i // 50}", goal="work with items")
                sig = signature(res)
                version = SIGNATURES.get(sig)
                if version is None:
                    failures.append(f"thread {n}: a resolution of no single version: {sig}")
                    return
                auth = r.authorize("items.write", {}, resolution=res)
                # judged against the atlases loaded now: version 2 denies writes, the others allow them
                if auth.status not in ("authorized", "denied") or (auth.status == "denied" and auth.reason_code != "policy_denied"):
                    failures.append(f"thread {n}: unexpected execute answer {auth.raw}")
                    return
                if auth.authorized:
                    r.report(auth, None)
                read = r.authorize("items.read", {}, resolution=res)
                if not read.authorized:
                    failures.append(f"thread {n}: items.read refused: {read.raw}")
                    return
                with lock:
                    seen[n].append(version)
                    lock.notify_all()
        except Exception as e:  # noqa: BLE001 - any failure of a call is what this test looks for
            failures.append(f"thread {n}: {type(e).__name__}: {e}")
        finally:
            with lock:
                lock.notify_all()

    def all_saw(version: int, more_than: Optional[Dict[int, int]] = None) -> bool:
        """Every thread's latest resolution is ``version`` (and it made more than ``more_than``
        resolutions), or a thread failed."""
        return bool(failures) or all(
            v and v[-1] == version and (more_than is None or len(v) > more_than[n] + 3) for n, v in seen.items()
        )

    def wait_all(version: int, more_than: Optional[Dict[int, int]] = None) -> None:
        with lock:
            assert lock.wait_for(lambda: all_saw(version, more_than), timeout=BOUND), f"threads did not all see version {version}"
        assert not failures, failures

    threads = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(4)]
    for n in range(4):
        seen[n] = []
    for t in threads:
        t.start()
    try:
        wait_all(1)

        ev = edit(w, watched, *V2)  # edit: deny writes, add an action, new context
        assert ev.kind == "reloaded" and ev.info is not None and ev.info.version == "2.0.0" and ev.changed == ("atlas.json",)
        wait_all(2)

        n = w.event_count
        bad_json = '{"atlas_version": "1.0", "atlas_id": '
        (watched / "atlas.json").write_text(bad_json, encoding="utf-8")  # break: bad JSON, saved in place
        settle(w)  # a save in place may be seen half way first (one more refused reload): wait for the whole
        ev = w.events[-1]
        assert w.event_count > n and ev.kind == "error" and ev.error is not None and ev.error.code == "INVALID_ATLAS"
        assert [d.code for d in ev.error.details] == ["malformed_json"] and w.last_error == ev
        with lock:
            counts = {k: len(v) for k, v in seen.items()}
        wait_all(2, counts)  # every thread resolved more, still against version 2

        ev = edit(w, watched, atlas_doc("9.9.9", context="missing"))  # break: a missing context file
        assert ev.kind == "error" and ev.error is not None and [d.code for d in ev.error.details] == ["file_not_found"]
        with lock:
            counts = {k: len(v) for k, v in seen.items()}
        wait_all(2, counts)

        ev = edit(w, watched, *V3)  # fix (its context file first: one more refused reload)
        assert ev.kind == "reloaded" and ev.info is not None and ev.info.version == "3.0.0"
        assert no_error(w) and len(w.errors) >= 3
        wait_all(3)
    finally:
        stop.set()
        for t in threads:
            t.join(BOUND)
    assert not failures, failures
    assert not any(t.is_alive() for t in threads)
    for n, versions in seen.items():
        assert versions == sorted(versions), f"thread {n} saw an older version after a newer one"
        assert set(versions) == {1, 2, 3}, f"thread {n} saw {set(versions)}"
    # the new context files alone reload version 1 and are refused under the broken atlas.json;
    # the save in place may have been seen half way (one more malformed_json)
    assert [e.info.version for e in reloads if e.info] == ["1.0.0", "2.0.0", "3.0.0"] and w.reloads == 3
    codes = [[d.code for d in e.error.details] for e in errors if e.error]
    assert [c for i, c in enumerate(codes) if i == 0 or c != codes[i - 1]] == [["malformed_json"], ["file_not_found"]]
    assert codes.count(["file_not_found"]) == 2
    assert [e.sequence for e in w.events] == list(range(1, len(reloads) + len(errors) + 1))
    r.close()
    w.stop()
    assert not w.running


def test_revocation_is_immediate_for_resolutions_made_before(watched: Path) -> None:
    with cra.Resolver(deterministic=1) as r:
        w = r.watch(watched, interval=POLL)
        res = r.resolve(agent="a", session="s", goal="g")
        assert "items.write" in res.allowed
        assert edit(w, watched, *V2).kind == "reloaded"
        auth = r.authorize("items.write", {}, resolution=res)  # the resolution was made under version 1
        assert auth.status == "denied" and auth.reason_code == "policy_denied" and auth.policy_id == "no-writes"
        assert r.check("s", "items.write") == cra.Verdict.DENIED


def test_the_constructor_option_and_callbacks_that_raise(watched: Path, caplog: pytest.LogCaptureFixture) -> None:
    def boom(ev: WatchEvent) -> None:
        raise RuntimeError("a callback that fails")

    with caplog.at_level(logging.INFO, logger="cra.watch"):
        r = cra.Resolver(atlases=[watched], watch=POLL)
        try:
            (w,) = r.watchers
            assert w.interval == POLL and w.atlas_id == "com.example.watched" and w.running
            w.on_reload = boom
            assert edit(w, watched, *V2).kind == "reloaded"
            assert edit(w, watched, *V3).kind == "reloaded" and w.running  # the raising callback did not stop it
        finally:
            r.close()
    assert not running(w) and r.watchers == []
    messages = [rec.getMessage() for rec in caplog.records if rec.name == "cra.watch"]
    assert any("reloaded" in m and "3.0.0" in m for m in messages)
    assert any("callback" in m for m in messages)


def test_errors_are_logged_with_every_problem(watched: Path, caplog: pytest.LogCaptureFixture) -> None:
    with cra.Resolver() as r:
        w = r.watch(watched / "atlas.json", interval=POLL)  # an atlas.json path watches its directory
        assert w.path == str(watched)
        doc = atlas_doc("1.0.1", context="v1")
        doc["polices"] = []
        doc["actions"][0]["nme"] = "x"
        with caplog.at_level(logging.WARNING, logger="cra.watch"):
            ev = edit(w, watched, doc)
        assert ev.kind == "error" and "kept the loaded atlas com.example.watched" in str(ev)
        text = "\n".join(rec.getMessage() for rec in caplog.records)
        assert "/polices: unknown_field" in text and "/actions/0/nme: unknown_field" in text
        assert r.resolve(agent="a", session="s", goal="g").context == "version one"


def test_tests_folder_hidden_files_and_backups_do_not_reload(watched: Path) -> None:
    before = fingerprint(str(watched))
    (watched / "tests").mkdir()
    (watched / "tests" / "policies.json").write_text("{}")
    (watched / ".atlas.json.swp").write_text("x")
    (watched / "atlas.json~").write_text("x")
    assert fingerprint(str(watched)) == before
    (watched / "context" / "sub").mkdir()
    (watched / "context" / "sub" / "tests").mkdir()
    (watched / "context" / "sub" / "tests" / "x.md").write_text("only the top-level tests/ is excluded")
    assert "context/sub/tests/x.md" in fingerprint(str(watched))


def test_a_renamed_atlas_id_replaces_the_old_one(watched: Path) -> None:
    with cra.Resolver() as r:
        w = r.watch(watched, interval=POLL)
        doc = atlas_doc("1.0.0", context="v1")
        doc["atlas_id"] = "com.example.renamed"
        doc["actions"] = [{"action_id": "other.read", "name": "read", "description": ""}]
        doc["policies"] = [{"policy_id": "allow-all", "type": "allow", "actions": ["other.*"]}]
        ev = edit(w, watched, doc)
        assert ev.kind == "reloaded" and w.atlas_id == "com.example.renamed"
        assert r.stats()["atlases"] == 1 and r.resolve(agent="a", session="s", goal="g").allowed == ["other.read"]


def test_the_watcher_stops_with_the_resolver_and_on_request(watched: Path) -> None:
    r = cra.Resolver()
    w = r.watch(watched, interval=POLL)
    assert w.running and w._thread.daemon
    w.stop()
    assert not running(w) and w.wait_for_event(w.event_count, timeout=BOUND) is None
    w2 = r.watch(watched, interval=POLL)
    r.close()
    assert not w2.running
    with pytest.raises(cra.ResolverClosed):
        r.watch(watched)
    with pytest.raises(ValueError):
        AtlasWatcher(cra.Resolver(), str(watched), "x", interval=0)
    with cra.Resolver() as r2:
        with pytest.raises(ValueError):
            r2.watch(watched, interval=-1)
        assert r2.stats()["atlases"] == 0  # refused before loading anything


def test_a_first_load_that_fails_raises_and_starts_nothing(tmp_path: Path) -> None:
    with cra.Resolver() as r:
        with pytest.raises(cra.CraIOError):
            r.watch(tmp_path / "nowhere")
        assert r.watchers == []


def test_a_watcher_never_keeps_the_process_alive(watched: Path) -> None:
    code = (
        "import cra, sys\n"
        f"r = cra.Resolver(atlases=[{str(watched)!r}], watch=0.01)\n"
        "assert r.watchers[0].running\n"
        "print('done')\n"  # exits without close(): the daemon thread must not hold the process
    )
    env = dict(os.environ)
    parent = os.path.dirname(os.path.dirname(os.path.abspath(cra.__file__)))  # the cra this process runs
    env["PYTHONPATH"] = os.pathsep.join(p for p in (parent, env.get("PYTHONPATH", "")) if p)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=BOUND * 2, env=env)
    assert p.returncode == 0 and p.stdout.strip() == "done", p.stderr


def test_a_watcher_holds_its_resolver_weakly(watched: Path) -> None:
    import gc

    r = cra.Resolver()
    w = r.watch(watched, interval=POLL)
    del r
    gc.collect()
    w._thread.join(BOUND)  # the next poll finds the resolver gone and ends the thread
    assert not w.running


def test_example_atlas_directory_is_watchable(tmp_path: Path) -> None:
    d = tmp_path / "cs"
    shutil.copytree(SUPPORT, d)
    with cra.Resolver() as r:
        w = r.watch(d, interval=POLL)
        assert "tests/policies.json" not in fingerprint(str(d)) and "context/guidelines.md" in fingerprint(str(d))
        n = w.event_count
        with open(d / "context" / "guidelines.md", "a", encoding="utf-8") as f:
            f.write("\nAlways greet the customer by name.\n")
        settle(w)
        ev = w.events[-1]
        assert w.event_count > n and ev.kind == "reloaded" and ev.changed == ("context/guidelines.md",)
        res = r.resolve(agent="support-bot-1", session="s", goal="hello")
        assert "greet the customer by name" in res.context


def test_every_reload_is_recorded_in_the_resolvers_chain(watched: Path) -> None:
    """docs/trace.md §1: a reload is an ``atlas.loaded`` event in the resolver's own chain (session
    ``cra:resolver``) naming the versions and digests; a bad edit records nothing; the trace verifies."""
    with cra.Resolver(deterministic=1) as r:
        w = r.watch(watched, interval=POLL)
        r.resolve(agent="a", session="s", goal="g")
        assert edit(w, watched, *V2).kind == "reloaded"
        assert edit(w, watched, "{ not json").kind == "error"
        trace = r.drain_trace()
        assert cra.verify_trace(trace).ok
        events = [json.loads(line) for line in trace.splitlines()]
        changes = [e for e in events if e["session_id"] == "cra:resolver"]
        assert [e["event_type"] for e in changes] == ["atlas.loaded", "atlas.loaded"]  # context file, then atlas.json
        last = changes[-1]["payload"]
        assert (last["atlas_id"], last["version"], last["previous_version"], last["shadow"]) == \
            ("com.example.watched", "2.0.0", "1.0.0", False)
        assert last["digest"] != last["previous_digest"]
        # the first save (a context file atlas.json does not name yet) reloaded an identical atlas
        first = changes[0]["payload"]
        assert first["digest"] == first["previous_digest"] == last["previous_digest"]
