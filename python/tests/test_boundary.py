"""The lean boundary (issue 15): a Resolution made from the answer's bytes reads its id and
decision from the head and parses the rest on first use, giving the same object as a full
parse; the fast path's lean call (``cra_resolver_verdict``) gives the same verdicts as
``cra_resolver_check`` and still raises on a failure."""

from __future__ import annotations

import threading
from typing import Any, Dict, List

import pytest

import cra
from cra import _json
from cra import resolver as resolver_module
from cra._lowlevel import BYTES, call, lib
from cra.results import Resolution, _head

ATLAS = ["com.example.customer-support"]
REQUEST_IDS = [
    "x", 'a"b', "a\\", 'a\\"', '","timestamp":"', '\\","timestamp":"x', "ü\u2028",
    '"decision":{"type":"allow"}', "\x00\n", '","request_id":"', '","decision":{"type":"allow"',
]


def _request(request_id: str) -> Dict[str, Any]:
    return {"request_id": request_id, "requester": {"agent_id": "support-bot-1", "session_id": "s-1"},
            "task": {"goal": "refund ORD-1234"}, "atlas_ids": ["com.example.customer-support"]}


@pytest.mark.parametrize("request_id", REQUEST_IDS)
def test_the_head_matches_the_parsed_answer(resolver: cra.Resolver, request_id: str) -> None:
    body = _json.dumps(_request(request_id))
    wire: bytes = call(lib.cra_resolver_resolve, resolver._handle(), body, len(body), output=BYTES)
    parsed = _json.loads(wire)
    assert parsed["request_id"] == request_id
    assert _head(wire) == (parsed["resolution_id"], parsed["decision"]["type"])
    lazy = Resolution(wire, "support-bot-1", "s-1")
    assert (lazy.resolution_id, lazy.decision) == (parsed["resolution_id"], parsed["decision"]["type"])
    assert lazy.raw == parsed and lazy.to_dict() == parsed and lazy == Resolution(parsed)
    assert list(lazy.raw) == list(parsed)  # the core's key order is kept
    assert lazy.resolution_id == parsed["resolution_id"] and lazy.allowed == Resolution(parsed).allowed


@pytest.mark.parametrize("wire", [
    b'{"resolution_id":"r","carp_version":"1.0"}',  # another key order
    b'{"carp_version":"1.0","resolution_id":"r\\u0041","request_id":"q","timestamp":"t","decision":{"type":"allow"}}',
    b'{"carp_version":"1.0","resolution_id":"r","request_id":"q","decision":{"type":"allow"}}',  # no timestamp
    b'{"carp_version":"1.0","resolution_id":"r","request_id":"q","timestamp":"t","decision":{"kind":"allow"}}',
    b'{"carp_version":"1.0","resolution_id":"r',  # truncated
    b"",
])
def test_an_answer_of_another_shape_is_parsed_instead(wire: bytes) -> None:
    assert _head(wire) is None
    res = Resolution(wire)
    if wire.endswith(b"}"):
        parsed = _json.loads(wire)
        assert res.resolution_id == parsed["resolution_id"] and res.raw == parsed
    else:
        with pytest.raises(ValueError):
            res.resolution_id


def test_a_resolution_from_bytes_equals_one_from_the_parsed_object(resolver: cra.Resolver) -> None:
    res = resolver.resolve(agent="support-bot-1", session="s-1", goal="refund ORD-1234", atlas_ids=ATLAS)
    assert getattr(res, "_wire") is not None  # made from bytes, not parsed yet
    rid, decision = res.resolution_id, res.decision
    assert getattr(res, "_raw") is None  # reading the id and the decision parsed nothing
    same = Resolution(dict(res.raw), "support-bot-1", "s-1")
    assert same == res and same.resolution_id == rid and same.decision == decision
    assert getattr(res, "_wire") is None  # parsed once, the bytes are dropped
    res.raw = {"resolution_id": "other", "decision": {"type": "deny"}}
    assert res.resolution_id == "other" and res.decision == "deny"


def test_threads_parsing_one_resolution_see_one_object(resolver: cra.Resolver) -> None:
    for _ in range(20):
        res = resolver.resolve(agent="support-bot-1", session="s-1", goal="refund ORD-1234", atlas_ids=ATLAS)
        seen: List[Any] = []
        ts = [threading.Thread(target=lambda: seen.append(res.raw)) for _ in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert len(seen) == 4 and all(s == seen[0] for s in seen)


def test_authorize_names_the_resolution_read_from_the_head(resolver: cra.Resolver) -> None:
    res = resolver.resolve(agent="support-bot-1", session="s-1", goal="refund ORD-1234", atlas_ids=ATLAS)
    auth = resolver.authorize("orders.lookup", {"order_id": "ORD-1234"}, session="s-1")
    assert auth.resolution_id == res.raw["resolution_id"] and auth.authorized


def test_the_lean_fast_path_agrees_with_check(resolver: cra.Resolver) -> None:
    resolver.resolve(agent="support-bot-1", session="s-1", goal="refund ORD-1234", atlas_ids=ATLAS)
    ptr = resolver._handle()
    for action in ("orders.lookup", "customers.delete_account", "orders.refund_large", "nope", "orders.refund"):
        for session in ("s-1", "nobody"):
            s, a = session.encode(), action.encode()
            lean = resolver_module._verdict(ptr, s, len(s), a, len(a))
            assert resolver_module._check_slowly(ptr, s, a) == resolver_module._VERDICTS[lean]
            assert resolver.check(session, action) == resolver_module._VERDICTS[lean]
            assert resolver.allowed(session, action) is (lean == 0)


def test_the_fallback_gives_the_same_verdicts(resolver: cra.Resolver, monkeypatch: pytest.MonkeyPatch) -> None:
    resolver.resolve(agent="support-bot-1", session="s-1", goal="refund ORD-1234", atlas_ids=ATLAS)
    before = [(resolver.check("s-1", a), resolver.allowed("s-1", a)) for a in ("orders.lookup", "customers.delete_account")]
    monkeypatch.setattr(resolver_module, "_verdict", resolver_module._verdict_fallback)
    after = [(resolver.check("s-1", a), resolver.allowed("s-1", a)) for a in ("orders.lookup", "customers.delete_account")]
    assert before == after == [(cra.Verdict.ALLOWED, True), (cra.Verdict.DENIED, False)]


def test_a_failed_lean_call_raises_with_details(resolver: cra.Resolver, monkeypatch: pytest.MonkeyPatch) -> None:
    # a lean call that fails (here: made to) is asked again through cra_resolver_check, which
    # raises with the error's details; nothing is allowed on a failure
    resolver.resolve(agent="support-bot-1", session="s-1", goal="refund ORD-1234", atlas_ids=ATLAS)
    monkeypatch.setattr(resolver_module, "_verdict", lambda *a: -1)
    assert resolver.check("s-1", "orders.lookup") == cra.Verdict.ALLOWED  # check itself succeeds
    monkeypatch.setattr(resolver_module, "_check_slowly", _refuse)
    with pytest.raises(cra.CraError, match="refused"):
        resolver.allowed("s-1", "orders.lookup")
    with pytest.raises(cra.CraError, match="refused"):
        resolver.check("s-1", "orders.lookup")


def _refuse(*_: Any) -> cra.Verdict:
    raise cra.CraError("refused", code="INTERNAL")


def test_the_fast_path_on_a_closed_resolver_raises() -> None:
    r = cra.Resolver()
    r.close()
    with pytest.raises(cra.ResolverClosed):
        r.allowed("s", "a")
    with pytest.raises(cra.ResolverClosed):
        r.check("s", "a")
