"""The Resolver API: atlases, resolve, execute/report, approvals, sessions, fast path, trace."""

from __future__ import annotations

import gc
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

import cra
from cra import _lowlevel

from conftest import DEVOPS, REPO, SUPPORT


def test_versions_and_abi() -> None:
    assert cra.__version__.count(".") == 2
    assert cra.ABI_VERSION == _lowlevel.lib.cra_abi_version()


def test_abi_mismatch_names_both_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lowlevel, "ABI_VERSION", 99)
    with pytest.raises(ImportError) as e:
        _lowlevel._check_abi()
    assert "ABI version 1" in str(e.value) and "ABI version 99" in str(e.value)


def test_load_atlas_from_dir_file_mapping_and_text(tmp_path: Path) -> None:
    with cra.Resolver() as r:
        info = r.load_atlas(SUPPORT)
        assert (info.atlas_id, info.actions, info.policies, info.replaced) == ("com.example.customer-support", 8, 5, False)
        assert r.load_atlas(Path(SUPPORT) / "atlas.json").replaced is True
        doc = {"atlas_version": "1.0", "atlas_id": "com.example.tiny", "version": "1.0.0", "name": "Tiny",
               "description": "", "actions": [{"action_id": "a.read", "name": "r", "description": ""}],
               "policies": [{"policy_id": "allow", "type": "allow"}]}
        assert r.load_atlas(doc).atlas_id == "com.example.tiny"
        assert r.load_atlas(json.dumps(doc)).replaced is True
        f = tmp_path / "tiny.json"
        f.write_text(json.dumps(doc))
        assert r.load_atlas(str(f)).replaced is True
        assert r.stats()["atlases"] == 2
        assert r.unload_atlas("com.example.tiny") == {"atlas_id": "com.example.tiny", "unloaded": True}
        with pytest.raises(cra.AtlasNotFound) as e:
            r.unload_atlas("com.example.tiny")
        assert e.value.code == "ATLAS_NOT_FOUND" and isinstance(e.value, LookupError)


def test_invalid_atlas_lists_every_problem_and_load_is_atomic() -> None:
    with cra.Resolver() as r:
        r.load_atlas(SUPPORT)
        with pytest.raises(cra.InvalidAtlas) as e:
            r.load_atlas({"atlas_version": "1.0", "atlas_id": "Bad Id", "version": "x", "name": "n",
                          "description": "", "polices": []})
        codes = {(d.code, d.pointer) for d in e.value.details}
        assert ("invalid_id", "/atlas_id") in codes
        assert ("invalid_version", "/version") in codes
        assert ("unknown_field", "/polices") in codes
        assert e.value.status == 110 and isinstance(e.value, ValueError)
        assert r.stats()["atlases"] == 1
        with pytest.raises(cra.InvalidAtlas) as e2:
            r.load_atlas(b"{not json")
        assert e2.value.details[0].code == "malformed_json"
        with pytest.raises(cra.CraIOError):
            r.load_atlas("/nonexistent/atlas-dir")


def test_resolve_keywords_dict_and_text_agree(resolver: cra.Resolver) -> None:
    kw = resolver.resolve(agent="support-bot-1", session="a", goal="refund ORD-1234", risk_tier="medium",
                          atlas_ids=["com.example.customer-support"])
    req = {"requester": {"agent_id": "support-bot-1", "session_id": "b"},
           "task": {"goal": "refund ORD-1234", "risk_tier": "medium"}, "atlas_ids": ["com.example.customer-support"]}
    d = resolver.resolve(req)
    t = resolver.resolve(json.dumps(req).replace('"b"', '"c"'))
    for res in (kw, d, t):
        assert res.decision == "partial"
        assert res.allowed == ["orders.lookup", "orders.list_recent", "orders.refund", "customers.get_profile",
                               "tickets.reply", "tickets.close"]
        assert res.denied == ["customers.delete_account"]
        assert res.pending == ["orders.refund_large"]
        assert res.resolution_id and res.trace_id
        assert res.raw["decision"]["approval_id"] is None, "approvals are per call: a resolution creates none"
        assert "orders.lookup" in res and "customers.delete_account" not in res and res
        assert res.to_dict() is res.raw and res["decision"]["type"] == "partial"
        assert [b["pack_id"] for b in res.context_blocks][:1] == ["pii-handling"]
        assert "PII" in res.context or res.context
        assert res.denied_actions[0]["reason_code"] == "policy_denied"
        assert res.pending_actions[0]["approval_id"] is None
        assert any(c["type"] == "rate_limit" for c in res.constraints)
        assert res.ttl_seconds == 300 and res.expires_at > res.timestamp
    assert (kw.agent_id, kw.session_id) == ("support-bot-1", "a")
    assert (d.agent_id, d.session_id) == ("support-bot-1", "b")
    assert t.session_id is None
    assert "Resolution(decision='partial'" in repr(kw)


def test_resolve_argument_errors(resolver: cra.Resolver) -> None:
    with pytest.raises(TypeError):
        resolver.resolve(agent="a", session="s")
    with pytest.raises(TypeError):
        resolver.resolve({"requester": {}}, goal="x")


def test_bad_json_and_invalid_request_pointers(resolver: cra.Resolver) -> None:
    with pytest.raises(cra.InvalidRequest) as e:
        resolver.resolve("{not json")
    assert e.value.code == "INVALID_REQUEST" and e.value.status == 100
    with pytest.raises(cra.InvalidRequest) as e:
        resolver.resolve(agent="a", session="s", goal="g", risk_tier="extreme")
    assert e.value.pointer == "/task/risk_tier"
    assert str(e.value).startswith("INVALID_REQUEST at /task/risk_tier: ")
    with pytest.raises(cra.InvalidRequest) as e:
        resolver.resolve({"requester": {"agent_id": "a", "session_id": "s"}, "task": {"goal": "g"}, "bogus": 1})
    assert e.value.pointer == "/bogus"
    with pytest.raises(cra.InvalidRequest) as e:
        resolver.resolve({"requester": {"agent_id": "a", "session_id": "s"}, "task": {"goal": object()}})
    assert "cannot be written as JSON" in e.value.message
    with pytest.raises(cra.InvalidRequest):
        resolver.resolve(agent="a", session="s", goal="g", context={"when": object()})


def test_unknown_atlas(resolver: cra.Resolver) -> None:
    with pytest.raises(cra.AtlasNotFound) as e:
        resolver.resolve(agent="a", session="s", goal="g", atlas_ids=["com.example.nope"])
    assert e.value.pointer == "/atlas_ids/0" and isinstance(e.value, cra.NotFound)


def test_authorize_execute_report(resolver: cra.Resolver, support: cra.Resolution) -> None:
    a = resolver.authorize("orders.lookup", {"order_id": "ORD-1234"}, resolution=support)
    assert a and a.authorized and a.status == "authorized" and a.execution_id
    assert a.raise_for_status() is a and a.error() is None
    rep = resolver.report(a, {"status": "shipped"}, duration_ms=1.5)
    assert rep["status"] == "executed"
    with pytest.raises(cra.ExecutionAlreadyReported):
        resolver.report(a, None)
    # by resolution id, and the whole wire request
    b = resolver.authorize("orders.lookup", {"order_id": "ORD-9999"}, resolution=support.resolution_id,
                           agent="support-bot-1", session="s-1")
    assert resolver.report(b, error=RuntimeError("boom"))["status"] == "failed"
    c = resolver.execute({"requester": {"agent_id": "support-bot-1", "session_id": "s-1"},
                          "execution": {"resolution_id": support.resolution_id, "action_id": "tickets.close",
                                        "parameters": {}}})
    assert c.authorized
    assert resolver.report(c)["status"] == "executed"  # no result: reported as null
    with pytest.raises(cra.ExecutionNotFound):
        resolver.report("nope", 1)
    with pytest.raises(TypeError):
        resolver.report(c, 1, error="x")


def test_denials_are_answers_until_raised(resolver: cra.Resolver, support: cra.Resolution) -> None:
    d = resolver.authorize("customers.delete_account", session="s-1")
    assert not d and d.status == "denied" and d.reason_code == "policy_denied"
    assert d.policy_id == "deny-account-deletion"
    with pytest.raises(cra.ActionDenied) as e:
        d.raise_for_status()
    assert e.value.reason_code == "policy_denied" and e.value.action_id == "customers.delete_account"
    assert e.value.answer["status"] == "denied" and isinstance(e.value, cra.NotAuthorized)
    p = resolver.authorize("orders.refund_large", {"order_id": "ORD-1234", "amount": 300, "reason": "broken"},
                           session="s-1")
    assert p.status == "pending_approval" and p.approval_id is not None
    with pytest.raises(cra.ApprovalRequired) as e2:
        p.raise_for_status()
    assert e2.value.approval_id == p.approval_id


def test_invalid_parameters_carry_the_pointer(resolver: cra.Resolver, support: cra.Resolution) -> None:
    with pytest.raises(cra.InvalidParameters) as e:
        resolver.authorize("orders.refund", {"order_id": "ORD-1234", "amount": 500, "reason": "too much"},
                           resolution=support)
    assert e.value.pointer == "/execution/parameters/amount"
    assert isinstance(e.value, cra.InvalidRequest) and e.value.code == "INVALID_PARAMETERS"


def test_approval_flow(resolver: cra.Resolver, support: cra.Resolution) -> None:
    big = {"order_id": "ORD-1234", "amount": 300, "reason": "broken"}
    asked = resolver.authorize("orders.refund_large", big, resolution=support)
    assert asked.status == "pending_approval" and asked.approval_id is not None
    listed = resolver.approvals()
    assert [a["approval_id"] for a in listed] == [asked.approval_id]
    assert listed[0]["parameters"] == big and listed[0]["agent_id"] == "support-bot-1"
    with pytest.raises(cra.ApprovalForbidden):
        resolver.approve(asked.approval_id)
    with pytest.raises(cra.ApprovalForbidden):
        resolver.approve(asked.approval_id, approver="support-bot-1")
    out = resolver.approve(asked.approval_id, approver="sup@example.com", reason="ok")
    assert out["approval_id"] == asked.approval_id and out["approver"] == "sup@example.com"
    other = dict(big, amount=5000)
    assert resolver.authorize("orders.refund_large", other, resolution=support).status == "pending_approval"
    assert resolver.authorize("orders.refund_large", big, resolution=support).authorized
    assert resolver.authorize("orders.refund_large", big, resolution=support).status == "pending_approval"
    with pytest.raises(cra.ApprovalAlreadyDecided):
        resolver.reject(asked.approval_id, approver="sup")
    with pytest.raises(cra.ApprovalNotFound):
        resolver.approve("nope", approver="sup")


def test_rejection_denies(resolver: cra.Resolver, support: cra.Resolution) -> None:
    big = {"order_id": "ORD-1234", "amount": 300, "reason": "broken"}
    asked = resolver.authorize("orders.refund_large", big, resolution=support)
    assert asked.approval_id
    resolver.reject({"approval_id": asked.approval_id, "approver": "sup"})
    d = resolver.authorize("orders.refund_large", big, resolution=support)
    assert d.reason_code == "approval_rejected"


def test_rate_limit(resolver: cra.Resolver, support: cra.Resolution) -> None:
    params = {"order_id": "ORD-1234", "amount": 5, "reason": "damaged"}
    for _ in range(3):
        resolver.report(resolver.authorize("orders.refund", params, resolution=support).raise_for_status(), {"ok": 1})
    assert resolver.check("s-1", "orders.refund") is cra.Verdict.RATE_LIMITED
    limited = resolver.authorize("orders.refund", params, resolution=support)
    assert limited.reason_code == "rate_limit_exceeded"
    with pytest.raises(cra.RateLimited):
        limited.raise_for_status()


def test_fast_path(resolver: cra.Resolver, support: cra.Resolution) -> None:
    assert resolver.allowed("s-1", "orders.lookup") is True
    assert resolver.allowed("s-1", "customers.delete_account") is False
    assert resolver.check("s-1", "orders.lookup") == "allowed"
    assert resolver.check("s-1", "customers.delete_account") is cra.Verdict.DENIED
    assert resolver.check("s-1", "orders.refund_large") is cra.Verdict.PENDING_APPROVAL
    assert resolver.check("nobody", "orders.lookup") is cra.Verdict.NO_RESOLUTION
    assert str(cra.Verdict.ALLOWED) == "allowed"


def test_sessions_end(resolver: cra.Resolver, support: cra.Resolution) -> None:
    out = resolver.end_session("s-1", "done")
    assert out["reason"] == "done" and out["session_id"] == "s-1"
    with pytest.raises(cra.SessionEnded):
        resolver.resolve(agent="support-bot-1", session="s-1", goal="again")
    with pytest.raises(cra.SessionEnded):
        resolver.end_session("s-1")
    with pytest.raises(cra.SessionNotFound):
        resolver.end_session("never")
    with pytest.raises(cra.SessionEnded):  # the core's answer: the session, not a stale resolution
        resolver.authorize("orders.lookup", session="s-1")
    with pytest.raises(cra.ResolutionNotFound):  # no session at all: nothing to authorize against
        resolver.authorize("orders.lookup", session="never")


def test_expiry_with_the_deterministic_clock(resolver: cra.Resolver, support: cra.Resolution) -> None:
    resolver.advance_clock(301)
    with pytest.raises(cra.ResolutionExpired):
        resolver.authorize("orders.lookup", {"order_id": "ORD-1234"}, resolution=support)
    with pytest.raises(cra.InvalidRequest):
        resolver.advance_clock(-1)
    with cra.Resolver() as live, pytest.raises(cra.InvalidRequest):
        live.advance_clock(1)


def test_trace_drain_verify_and_tamper(resolver: cra.Resolver, support: cra.Resolution) -> None:
    resolver.end_session("s-1")
    data = resolver.drain_trace()
    lines = data.splitlines()
    assert [json.loads(x)["event_type"] for x in lines][:2] == ["session.started", "carp.request.received"]
    report = cra.verify_trace(data)
    assert report and report.ok and report.events == len(lines) and report.sessions == 1 and not report.errors
    broken = cra.verify_trace(data.replace(b'"sequence":1', b'"sequence":7', 1))
    assert not broken and broken.errors[0]["code"] == "hash_mismatch" and broken.errors[0]["line"] == 1
    assert list(broken) == broken.errors and "ok=False" in repr(broken)
    assert resolver.drain_trace() == b""


def test_trace_file_verify_and_replay(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    with cra.Resolver(trace_file=path) as r:
        r.load_atlas(DEVOPS)
        r.resolve(agent="oncall-alice", session="ops", goal="deploy", context={"environment": "production"})
        r.resolve(agent="release-bot", session="rel", goal="deploy", context={"environment": "staging"})
        assert r.drain_trace() == b""
    report = cra.verify_trace(path)
    assert report.ok and report.sessions == 2
    assert cra.verify_trace(str(path)).events == report.events
    same = cra.replay(path, [DEVOPS])
    assert same and same.replayed == 2 and same.unchanged == 2 and not same.changed
    stricter = cra.trace.atlas_document(DEVOPS)  # context files inlined by libcra's loader
    assert "files" not in stricter["context_packs"][0]
    stricter["policies"].insert(0, {"policy_id": "freeze", "type": "deny", "actions": ["k8s.deployments.*"]})
    changed = cra.replay(path.read_bytes(), [stricter])
    assert not changed and changed.changed[0]["no_longer_allowed"]
    with pytest.raises(cra.CraIOError):
        cra.verify_trace(tmp_path / "missing.jsonl")
    with pytest.raises(cra.InvalidAtlas) as e:
        cra.replay(path, [{"atlas_version": "1.0"}])
    assert (e.value.pointer or "").startswith("/0")


def test_config_options(tmp_path: Path) -> None:
    with cra.Resolver({"resolution_ttl_seconds": 60}, deterministic={"seed": 9}, approval_timeout=10) as r:
        assert r.config["deterministic"] == {"seed": 9} and r.config["approval_timeout_seconds"] == 10
        r.load_atlas(SUPPORT)
        res = r.resolve(agent="support-bot-1", session="s", goal="x")
        assert res.ttl_seconds == 60 and res.resolution_id.startswith("00000009-")
    with cra.Resolver('{"deterministic": {}}', resolution_ttl=120) as r2:
        assert r2.config["resolution_ttl_seconds"] == 120
    with pytest.raises(cra.InvalidConfig) as e:
        cra.Resolver({"bogus": True})
    assert e.value.code == "INVALID_CONFIG"
    with pytest.raises(cra.InvalidConfig):
        cra.Resolver(trace={"sink": "carrier-pigeon"})
    r3 = cra.Resolver(atlases=[SUPPORT, DEVOPS])
    assert r3.stats()["atlases"] == 2
    r3.close()


@pytest.mark.parametrize(
    "config, pointer, needle",
    [
        ("{not json", "", "is not valid JSON"),
        (b"{\xff}", "", "is not valid JSON"),
        (123, "", "not int 123"),
        ("[1, 2]", "", "not list"),
        ({"trace": {"capacity": object()}}, "/trace/capacity", "object at /trace/capacity"),
        ({"trace": {"path": "t\ud800"}}, "/trace/path", "str at /trace/path"),
        ({"deterministic": {(1, 2): 3}}, "/deterministic/(1, 2)", "tuple at"),
        ({"trace": "memory"}, "/trace", "not str 'memory'"),
    ],
)
def test_bad_config_raises_invalid_config(config: object, pointer: str, needle: str, tmp_path: Path) -> None:
    with pytest.raises(cra.InvalidConfig) as e:
        cra.Resolver(config=config, trace_file=tmp_path / "t.jsonl" if pointer == "/trace" else None)  # type: ignore[arg-type]
    assert e.value.code == "INVALID_CONFIG" and e.value.pointer == pointer
    assert needle in e.value.message, e.value.message
    assert isinstance(e.value, cra.InvalidRequest) and isinstance(e.value, ValueError)


def test_bad_keyword_options_raise_invalid_config() -> None:
    cases = [
        ({"deterministic": "yes"}, "/deterministic"),
        ({"trace": 5}, "/trace"),
        ({"trace_file": 5}, "/trace/path"),
    ]
    for kwargs, pointer in cases:
        with pytest.raises(cra.InvalidConfig) as e:
            cra.Resolver(**kwargs)  # type: ignore[arg-type]
        assert e.value.pointer == pointer, kwargs


def test_values_that_are_not_json_are_named_by_pointer(resolver: cra.Resolver, support: cra.Resolution) -> None:
    with pytest.raises(cra.InvalidRequest) as e:
        resolver.authorize("orders.lookup", {"order_id": {1, 2}}, resolution=support)
    assert e.value.pointer == "/execution/parameters/order_id" and "set at /execution/parameters/order_id" in e.value.message


def test_verify_bytes_reports_bad_utf8_like_the_file(resolver: cra.Resolver, support: cra.Resolution, tmp_path: Path) -> None:
    lines = resolver.drain_trace().splitlines(keepends=True)
    bad = lines[0] + b'{"x": "\xff\xfe"}\n' + b"\xc3(\n" + b"".join(lines[1:])
    path = tmp_path / "bad.jsonl"
    path.write_bytes(bad)
    from_file = cra.verify_trace(path)
    assert from_file.malformed_lines == 2 and from_file.errors[0]["code"] == "malformed_event"
    assert cra.verify_trace(bad).raw == from_file.raw


def test_closed_resolver_refuses_every_call() -> None:
    r = cra.Resolver()
    r.load_atlas(SUPPORT)
    r.close()
    r.close()  # idempotent
    assert r.closed and "closed" in repr(r)
    for call in (lambda: r.resolve(agent="a", session="s", goal="g"), lambda: r.allowed("s", "a.b"),
                 lambda: r.check("s", "a.b"), lambda: r.stats(), lambda: r.load_atlas(SUPPORT),
                 lambda: r.flush(), lambda: r.drain_trace()):
        with pytest.raises(cra.ResolverClosed) as e:
            call()
        assert e.value.code == "CLOSED"


def test_finalizer_flushes_an_unclosed_resolver(tmp_path: Path) -> None:
    path = tmp_path / "gc.jsonl"
    r = cra.Resolver(trace_file=path)
    r.load_atlas(SUPPORT)
    r.resolve(agent="support-bot-1", session="gc", goal="refund")
    del r
    gc.collect()
    report = cra.verify_trace(path)
    assert report.ok and report.events >= 4


def test_flush_at_interpreter_exit(tmp_path: Path) -> None:
    path = tmp_path / "exit.jsonl"
    code = (f"import cra; r = cra.Resolver(trace_file={str(path)!r}); r.load_atlas({SUPPORT!r}); "
            "r.resolve(agent='support-bot-1', session='x', goal='refund')")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
    assert cra.verify_trace(path).events >= 4


def test_errors_pickle_and_envelope() -> None:
    with cra.Resolver() as r, pytest.raises(cra.InvalidAtlas) as e:
        r.load_atlas({"atlas_version": "1.0"})
    again = pickle.loads(pickle.dumps(e.value))
    assert type(again) is cra.InvalidAtlas and again.to_dict() == e.value.to_dict()
    assert e.value.to_dict()["details"][0]["code"] == "missing_field"
    denied = cra.ActionDenied("x is denied", action_id="x", reason_code="policy_denied")
    assert pickle.loads(pickle.dumps(denied)).reason_code == "policy_denied"
    assert cra.errors.error_class("SOMETHING_NEW") is cra.CraError


def test_stats(resolver: cra.Resolver, support: cra.Resolution) -> None:
    s = resolver.stats()
    assert s["atlases"] == 2 and s["resolves"] == 1 and "trace" in s
    resolver.flush(5)
    assert os.fspath(REPO)


def test_stdlib_json_fallback_without_orjson() -> None:
    code = (
        "import sys; sys.modules['orjson'] = None\n"
        "import cra\n"
        "assert cra._json.BACKEND == 'json'\n"
        f"r = cra.Resolver(deterministic=1); r.load_atlas({SUPPORT!r})\n"
        "res = r.resolve(agent='support-bot-1', session='s', goal='refund ORD-1234')\n"
        "a = r.authorize('orders.lookup', {'order_id': 'ORD-1234'}, resolution=res)\n"
        "r.report(a, {'note': 'caf\\u00e9', 'obj': object()})\n"
        "print(res.decision, a.status, cra.verify_trace(r.drain_trace()).ok)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["partial", "authorized", "True"]


def test_exit_with_daemon_threads_inside_calls(tmp_path: Path) -> None:
    path = tmp_path / "daemon.jsonl"
    code = (
        "import threading, time, cra\n"
        f"r = cra.Resolver(trace_file={str(path)!r}); r.load_atlas({SUPPORT!r})\n"
        "def spin(i):\n"
        "    while True:\n"
        "        r.resolve(agent='support-bot-1', session=f'd{i}', goal='refund')\n"
        "        r.allowed(f'd{i}', 'orders.lookup')\n"
        "for i in range(4): threading.Thread(target=spin, args=(i,), daemon=True).start()\n"
        "time.sleep(0.3)\n"
    )
    for _ in range(3):
        p = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
    assert cra.verify_trace(path).ok


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_error_and_answer_memory_is_freed() -> None:
    with cra.Resolver(trace={"sink": "none"}) as r:
        r.load_atlas(SUPPORT)
        bad = b'{"requester": {"agent_id": "a", "session_id": "s"}, "task": {"goal": "g", "risk_tier": "x"}}'

        def burst(n: int) -> None:
            for _ in range(n):
                with pytest.raises(cra.InvalidRequest):
                    r.resolve(bad)
                with pytest.raises(cra.InvalidAtlas):
                    r.load_atlas(b"{}")
                cra.verify_trace(b"{}\n")

        burst(2000)  # warm up allocators
        before = _rss()
        burst(20000)
        grown = _rss() - before
    assert grown < 8 * 1024 * 1024, f"RSS grew by {grown} bytes over 60,000 failing or answered calls"
