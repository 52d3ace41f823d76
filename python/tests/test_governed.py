"""Governed tools: authorize before, report after, clear exceptions, threads, async, methods."""

from __future__ import annotations

import asyncio
import inspect
import json
import sys
import threading
from typing import Any, Dict, List

import pytest

import cra

from conftest import SUPPORT


def _events(r: cra.Resolver) -> List[str]:
    return [json.loads(x)["event_type"] for x in r.drain_trace().splitlines()]


def test_allowed_call_runs_and_is_reported(resolver: cra.Resolver, support: cra.Resolution) -> None:
    calls: List[str] = []

    @resolver.governed("orders.lookup", session="s-1")
    def lookup(order_id: str) -> Dict[str, Any]:
        calls.append(order_id)
        return {"order_id": order_id, "status": "shipped"}

    assert lookup(order_id="ORD-1234") == {"order_id": "ORD-1234", "status": "shipped"}
    assert lookup("ORD-5678")["order_id"] == "ORD-5678"  # positional arguments are named
    assert calls == ["ORD-1234", "ORD-5678"]
    assert lookup.last_authorization is not None and lookup.last_authorization.authorized
    assert lookup.__name__ == "lookup" and lookup.action_id == "orders.lookup"
    assert _events(resolver).count("action.executed") == 2
    assert resolver.stats()["reports"] == 2


def test_denied_call_never_runs(resolver: cra.Resolver, support: cra.Resolution) -> None:
    ran = []
    delete = resolver.governed("customers.delete_account", lambda customer_id: ran.append(customer_id), session="s-1")
    with pytest.raises(cra.ActionDenied) as e:
        delete(customer_id="C-1")
    assert not ran
    assert e.value.reason_code == "policy_denied" and e.value.policy_id == "deny-account-deletion"
    assert "customers.delete_account is denied" in str(e.value)
    assert "policy.violated" in _events(resolver)


def test_approval_required_then_granted(resolver: cra.Resolver, support: cra.Resolution) -> None:
    @resolver.governed("orders.refund_large", session="s-1")
    def refund_large(order_id: str, amount: float, reason: str) -> str:
        return f"refunded {amount}"

    with pytest.raises(cra.ApprovalRequired) as e:
        refund_large(order_id="ORD-1234", amount=450.0, reason="whole order damaged")
    assert e.value.approval_id is not None and e.value.reason_code == "approval_required"
    resolver.approve(e.value.approval_id, approver="supervisor")
    # the approval covers exactly this call, once
    with pytest.raises(cra.ApprovalRequired):
        refund_large(order_id="ORD-1234", amount=5000.0, reason="whole order damaged")
    assert refund_large(order_id="ORD-1234", amount=450.0, reason="whole order damaged") == "refunded 450.0"
    with pytest.raises(cra.ApprovalRequired) as again:
        refund_large(order_id="ORD-1234", amount=450.0, reason="whole order damaged")
    assert again.value.approval_id != e.value.approval_id


def test_rate_limited(resolver: cra.Resolver, support: cra.Resolution) -> None:
    refund = resolver.governed("orders.refund", lambda order_id, amount, reason: "ok", session="s-1")
    for _ in range(3):
        assert refund(order_id="ORD-1234", amount=1, reason="late") == "ok"
    with pytest.raises(cra.RateLimited) as e:
        refund(order_id="ORD-1234", amount=1, reason="late")
    assert e.value.policy_id == "refunds-per-session" and isinstance(e.value, cra.NotAuthorized)


def test_invalid_parameters_raise_before_running(resolver: cra.Resolver, support: cra.Resolution) -> None:
    ran = []
    lookup = resolver.governed("orders.lookup", lambda order_id: ran.append(1), session="s-1")
    with pytest.raises(cra.InvalidParameters) as e:
        lookup(order_id="not-an-order")
    assert e.value.pointer == "/execution/parameters/order_id" and not ran


def test_tool_exception_is_reported_and_reraised(resolver: cra.Resolver, support: cra.Resolution) -> None:
    class Down(ConnectionError):
        pass

    @resolver.governed("tickets.reply", session="s-1")
    def reply(ticket_id: str, body: str) -> None:
        raise Down("ticket system unavailable")

    with pytest.raises(Down):
        reply(ticket_id="T-1", body="hello")
    events = _events(resolver)
    assert "action.failed" in events and "action.executed" not in events


def test_unserializable_result_is_reported_by_repr(resolver: cra.Resolver, support: cra.Resolution) -> None:
    sentinel = object()
    tool = resolver.governed("tickets.close", lambda: sentinel, session="s-1")
    assert tool() is sentinel


def _result_hashes(r: cra.Resolver) -> List[str]:
    events = [json.loads(x) for x in r.drain_trace().splitlines()]
    return [e["payload"]["result_hash"] for e in events if e["event_type"] == "action.executed"]


def _deep(depth: int) -> List[Any]:
    v: List[Any] = []
    for _ in range(depth):
        v = [v]
    return v


class _BadRepr:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


UNENCODABLE = [
    pytest.param(lambda: 2**70, id="int-beyond-64-bits"),
    pytest.param(lambda: 10**5000, id="int-too-long-to-repr"),
    pytest.param(lambda: {(1, 2): "tuple key"}, id="tuple-key"),
    pytest.param(lambda: {"text": "lone \ud800 surrogate"}, id="lone-surrogate"),
    pytest.param(lambda: [_BadRepr()], id="object-whose-repr-raises"),
    pytest.param(lambda: _deep(200), id="nested-deeper-than-the-core-reads"),
]


@pytest.mark.parametrize("backend", ["orjson", "json"])
@pytest.mark.parametrize("make", UNENCODABLE)
def test_unencodable_result_runs_once_is_reported_and_returned(
    resolver: cra.Resolver, support: cra.Resolution, make: Any, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if backend == "json":  # the standard library's encoder, as used without orjson
        enc = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=repr)
        monkeypatch.setattr(cra._json, "dumps_lenient", lambda obj: enc.encode(obj).encode("utf-8"))
    value = make()
    runs: List[int] = []

    @resolver.governed("tickets.close", session="s-1")
    def close(ticket_id: str) -> Any:
        runs.append(1)
        return value

    assert close(ticket_id="T-1") is value  # no exception after the side effect, the value unchanged
    assert runs == [1]
    assert resolver.stats()["reports"] == 1
    assert len(_result_hashes(resolver)) == 1


def test_unencodable_result_is_reported_as_documented(resolver: cra.Resolver, support: cra.Resolution) -> None:
    import hashlib

    value = {(1, 2): "tuple key"}
    tool = resolver.governed("tickets.close", lambda ticket_id: value, session="s-1")
    assert tool(ticket_id="T-1") is value
    stand_in = {"unencodable": "builtins.dict", "repr_sha256": hashlib.sha256(repr(value).encode()).hexdigest()}
    auth = resolver.authorize("tickets.close", {"ticket_id": "T-2"}, session="s-1")
    resolver.report({"execution_id": auth.execution_id, "result": stand_in})  # the wire body, as is
    governed_hash, documented_hash = _result_hashes(resolver)
    assert governed_hash == documented_hash


def test_async_tool_with_unencodable_result(resolver: cra.Resolver, support: cra.Resolution) -> None:
    value = 2**70

    @resolver.governed("tickets.close", session="s-1")
    async def close(ticket_id: str) -> int:
        await asyncio.sleep(0)
        return value

    class Tools:
        @resolver.governed("tickets.close", session="s-1")
        async def close(self, ticket_id: str) -> Dict[Any, str]:
            return {(1, 2): ticket_id}

    async def main() -> None:
        assert await close(ticket_id="T-1") == value
        assert await Tools().close("T-2") == {(1, 2): "T-2"}

    asyncio.run(main())
    assert len(_result_hashes(resolver)) == 2


def test_exception_with_unencodable_message_is_reraised(resolver: cra.Resolver, support: cra.Resolution) -> None:
    class Odd(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no str")

    @resolver.governed("tickets.reply", session="s-1")
    def reply(ticket_id: str, body: str) -> None:
        raise ValueError("lone \udc80 surrogate")

    @resolver.governed("tickets.reply", session="s-1")
    def reply_odd(ticket_id: str, body: str) -> None:
        raise Odd()

    with pytest.raises(ValueError, match="surrogate"):
        reply(ticket_id="T-1", body="hello")
    with pytest.raises(Odd):
        reply_odd(ticket_id="T-1", body="hello")
    assert _events(resolver).count("action.failed") == 2


def test_parameters_callable_and_session_object(resolver: cra.Resolver) -> None:
    with resolver.session("support-bot-1", "s-2") as s:
        s.resolve("look up an order", atlas_ids=["com.example.customer-support"])
        assert s.resolution is not None and s.allowed("orders.lookup") and s.check("orders.lookup") == "allowed"

        @s.governed("orders.lookup", parameters=lambda order, **_: {"order_id": order["id"]})
        def lookup(order: Dict[str, str], verbose: bool = False) -> str:
            return order["id"]

        assert lookup({"id": "ORD-4321"}, verbose=True) == "ORD-4321"
        assert s.authorize("tickets.close").authorized
    with pytest.raises(cra.SessionEnded):
        resolver.resolve(agent="support-bot-1", session="s-2", goal="again")


def test_session_without_resolution_and_errors(resolver: cra.Resolver) -> None:
    lookup = resolver.governed("orders.lookup", lambda order_id: 1, session="no-such-session")
    with pytest.raises(cra.ResolutionNotFound):
        lookup(order_id="ORD-1234")
    with resolver.session("support-bot-1", "never-resolved"):
        pass  # ending a session that never started is not an error on exit
    resolver.resolve(agent="support-bot-1", session="owned", goal="x", atlas_ids=["com.example.customer-support"])
    with pytest.raises(cra.InvalidRequest):
        resolver.authorize("orders.lookup", session="owned", agent="someone-else")


def test_governed_methods_do_not_send_self(resolver: cra.Resolver, support: cra.Resolution) -> None:
    class Tools:
        prefix = "found"

        @resolver.governed("orders.lookup", session="s-1")
        def lookup(self, order_id: str) -> str:
            return f"{self.prefix} {order_id}"

    assert Tools().lookup("ORD-1234") == "found ORD-1234"
    assert Tools().lookup(order_id="ORD-1234") == "found ORD-1234"
    with pytest.raises(cra.InvalidParameters):
        Tools().lookup("bad")


def test_async_tools(resolver: cra.Resolver, support: cra.Resolution) -> None:
    @resolver.governed("orders.lookup", session="s-1")
    async def lookup(order_id: str) -> str:
        await asyncio.sleep(0)
        return order_id

    @resolver.governed("customers.delete_account", session="s-1")
    async def delete(customer_id: str) -> None:  # pragma: no cover - never authorized
        return None

    if sys.version_info >= (3, 12):
        assert inspect.iscoroutinefunction(lookup)
    assert not inspect.iscoroutinefunction(resolver.governed("orders.lookup", lambda order_id: 1, session="s-1"))

    async def main() -> None:
        assert await lookup(order_id="ORD-1234") == "ORD-1234"
        with pytest.raises(cra.ActionDenied):
            await delete(customer_id="C-1")

    asyncio.run(main())


def test_many_threads_share_one_resolver(tmp_path: Any) -> None:
    path = tmp_path / "threads.jsonl"
    errors: List[BaseException] = []
    results: Dict[int, List[str]] = {}
    with cra.Resolver(trace_file=path) as r:
        r.load_atlas(SUPPORT)

        def agent(i: int) -> None:
            try:
                s = r.session("support-bot-1", f"t-{i}")
                res = s.resolve("refund ORD-1234")
                lookup = s.governed("orders.lookup", lambda order_id: order_id)
                refund = s.governed("orders.refund", lambda order_id, amount, reason: amount)
                out = []
                for _ in range(20):
                    out.append(lookup(order_id="ORD-1234"))
                    assert r.allowed(f"t-{i}", "orders.lookup")
                for k in range(4):
                    try:
                        refund(order_id="ORD-1234", amount=k + 1, reason="damaged")
                        out.append("refund")
                    except cra.RateLimited:
                        out.append("limited")
                results[i] = out + res.allowed
                s.end()
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=agent, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        first = results[0]
        assert all(v == first for v in results.values())
        assert first.count("refund") == 3 and first.count("limited") == 1
        r.flush(10)
    report = cra.verify_trace(path)
    assert report.ok and report.sessions == 8


def test_closed_resolver_and_unserializable_parameters(tmp_path: Any) -> None:
    r = cra.Resolver()
    r.load_atlas(SUPPORT)
    r.resolve(agent="support-bot-1", session="s", goal="look up an order")
    lookup = r.governed("orders.lookup", lambda order_id: order_id, session="s")
    with pytest.raises(cra.InvalidRequest) as e:
        lookup(order_id=object())  # parameters must be JSON
    assert "cannot be written as JSON" in e.value.message
    r.close()
    with pytest.raises(cra.ResolverClosed):
        lookup(order_id="ORD-1234")


def test_bad_json_request_through_the_session(resolver: cra.Resolver) -> None:
    with pytest.raises(cra.InvalidRequest) as e:
        resolver.resolve('{"requester": ')
    assert e.value.code == "INVALID_REQUEST"
    s = resolver.session("support-bot-1", "bad")
    with pytest.raises(cra.AtlasNotFound) as e2:
        s.resolve("x", atlas_ids=["com.example.unknown"])
    assert e2.value.pointer == "/atlas_ids/0"
