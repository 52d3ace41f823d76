"""The main job: a scripted agent against the example atlases, every tool call governed.

A support agent looks up an order, reads a profile, refunds until the per-session limit stops
it, asks for a large refund that a supervisor approves, and is refused an account deletion; a
tool that fails is reported as failed. A devops agent inspects pods, has a production deploy
rejected by the on-call engineer and is refused a namespace deletion. The trace goes to a JSONL
file, which is then verified and summarized.

Run it with ``cra demo`` (or ``make demo``); ``python -m cra.demo`` works too.
"""

from __future__ import annotations

import collections
import os
import sys
import time
from dataclasses import dataclass
from typing import IO, Any, Callable, Dict, List, Optional, Sequence

from . import _json
from ._term import Style, table
from ._examples import example_atlas, packaged_atlases
from .errors import ActionDenied, ApprovalRequired, CraError, InvalidParameters, RateLimited
from .governed import Session
from .resolver import Resolver
from .trace import verify_trace

__all__ = ["run_demo", "find_atlases", "example_atlas", "packaged_atlases"]


def find_atlases(start: Optional[str] = None) -> Optional[str]:
    """The example atlases: ``$CRA_EXAMPLES``, else ``examples/atlases`` in the current
    directory or one of its parents (a checkout of the repository), else the copy shipped in
    the package."""
    env = os.environ.get("CRA_EXAMPLES")
    if env:
        return env
    d = os.path.abspath(start or os.getcwd())
    while True:
        cand = os.path.join(d, "examples", "atlases")
        if os.path.isdir(cand):
            return cand
        parent = os.path.dirname(d)
        if parent == d:
            break
        d = parent
    packaged = packaged_atlases()
    return packaged if os.path.isdir(packaged) else None


@dataclass
class Row:
    """One line of the summary table."""

    agent: str
    action: str
    outcome: str
    detail: str


class FailingTicketSystem(ConnectionError):
    """The ticket system is down (to show a tool error being reported and re-raised)."""


def _tools(session: Session) -> Dict[str, Callable[..., Any]]:
    """The support agent's tools, each governed by CRA. Stand-ins for real systems."""

    @session.governed("orders.lookup")
    def lookup_order(order_id: str) -> Dict[str, Any]:
        return {"order_id": order_id, "status": "delivered", "total": 499.0}

    @session.governed("customers.get_profile")
    def get_profile(customer_id: str) -> Dict[str, Any]:
        return {"customer_id": customer_id, "name": "Jane D.", "email": "j***@example.com"}

    @session.governed("orders.refund")
    def refund(order_id: str, amount: float, reason: str) -> Dict[str, Any]:
        return {"refund_id": f"RF-{int(amount * 100)}", "status": "queued"}

    @session.governed("orders.refund_large")
    def refund_large(order_id: str, amount: float, reason: str) -> Dict[str, Any]:
        return {"refund_id": f"RF-{int(amount * 100)}", "status": "queued"}

    @session.governed("tickets.reply")
    def reply(ticket_id: str, body: str) -> Dict[str, Any]:
        raise FailingTicketSystem("ticket system unavailable (HTTP 503)")

    @session.governed("customers.delete_account")
    def delete_account(customer_id: str) -> Dict[str, Any]:  # pragma: no cover - never authorized
        return {"deleted": customer_id}

    return {f.action_id: f for f in (lookup_order, get_profile, refund, refund_large, reply, delete_account)}


def run_demo(atlases: Optional[str] = None, trace_path: str = "target/demo-trace.jsonl", out: Optional[IO[str]] = None) -> int:
    """Runs the demo; returns the exit code (0 when every step went as scripted and the trace
    verifies)."""
    out = out or sys.stdout
    st = Style(out)

    def say(s: str = "") -> None:
        out.write(s + "\n")

    atlases = atlases or find_atlases()
    if not atlases or not os.path.isdir(atlases):
        sys.stderr.write("cra demo: cannot find the example atlases (not in the package, no examples/atlases here); "
                         "pass --atlases DIR\n")
        return 2
    os.makedirs(os.path.dirname(os.path.abspath(trace_path)), exist_ok=True)
    if os.path.exists(trace_path):
        os.remove(trace_path)

    rows: List[Row] = []
    surprises: List[str] = []

    def expect(agent: str, action: str, call: Callable[[], Any], want: str) -> Optional[CraError]:
        """Runs one governed call and records what happened; ``want`` is the scripted outcome."""
        try:
            result = call()
        except RateLimited as e:
            got, row = "rate_limited", Row(agent, action, st.warn("rate limited"), f"{e.reason_code} ({e.policy_id})")
            err: Optional[CraError] = e
        except ApprovalRequired as e:
            got, row = "approval", Row(agent, action, st.warn("needs approval"), f"approval {e.approval_id}")
            err = e
        except ActionDenied as e:
            got, row = "denied", Row(agent, action, st.bad("denied"), f"{e.reason_code} ({e.policy_id or 'no policy'})")
            err = e
        except InvalidParameters as e:
            got, row = "invalid", Row(agent, action, st.bad("invalid parameters"), f"at {e.pointer}")
            err = e
        except FailingTicketSystem as e:
            got, row = "failed", Row(agent, action, st.bad("ran, failed"), f"{e} (reported)")
            err = None
        else:
            got, row = "ran", Row(agent, action, st.ok("authorized, ran"), _short(result))
            err = None
        rows.append(row)
        if got != want:
            surprises.append(f"{agent} {action}: expected {want}, got {got}")
        return err

    with Resolver(trace_file=trace_path) as resolver:
        say(st.bold("CRA demo: two agents under governance (Python, through libcra)"))
        for name in sorted(os.listdir(atlases)):
            d = os.path.join(atlases, name)
            if os.path.isfile(os.path.join(d, "atlas.json")):
                t = time.perf_counter()
                info = resolver.load_atlas(d)
                say(
                    f"  loaded {info.atlas_id} {info.version} ({info.actions} actions, {info.policies} policies, "
                    f"{info.context_packs} context packs) in {(time.perf_counter() - t) * 1e3:.2f} ms"
                )

        # --- a support agent ------------------------------------------------------------------
        agent = "support-bot-1"
        with resolver.session(agent, "demo-support-1") as s:
            t = time.perf_counter()
            res = s.resolve(
                "Customer Jane says order ORD-1234 arrived damaged and wants a refund",
                atlas_ids=["com.example.customer-support"],
            )
            took = (time.perf_counter() - t) * 1e6
            say(f"\n{st.bold('resolve')} demo-support-1 in {took:.0f} µs: {res.reason}")
            say(f"  allowed: {st.ok(', '.join(res.allowed))}")
            say(f"  denied:  {st.bad(', '.join(res.denied))}")
            say(f"  pending: {st.warn(', '.join(res.pending))}")
            say(f"  context: {', '.join(b['block_id'] for b in res.context_blocks)}")

            tools = _tools(s)
            expect(agent, "orders.lookup", lambda: tools["orders.lookup"](order_id="ORD-1234"), "ran")
            expect(agent, "customers.get_profile", lambda: tools["customers.get_profile"](customer_id="C-77"), "ran")
            for amount, want in ((20.0, "ran"), (15.5, "ran"), (9.99, "ran"), (12.0, "rate_limited")):
                expect(
                    agent,
                    "orders.refund",
                    lambda a=amount: tools["orders.refund"]("ORD-1234", a, "damaged in transit"),  # type: ignore[misc]
                    want,
                )
            big = {"order_id": "ORD-1234", "amount": 450.0, "reason": "whole order damaged"}
            e = expect(agent, "orders.refund_large", lambda: tools["orders.refund_large"](**big), "approval")
            if isinstance(e, ApprovalRequired) and e.approval_id:
                resolver.approve(e.approval_id, approver="supervisor@example.com", reason="photos confirm the damage")
                rows.append(Row("supervisor", "approve", st.ok("approved"), f"approval {e.approval_id}"))
                expect(agent, "orders.refund_large", lambda: tools["orders.refund_large"](**big), "ran")
            expect(
                agent,
                "tickets.reply",
                lambda: tools["tickets.reply"](ticket_id="T-9", body="Your refund is on its way."),
                "failed",
            )
            expect(
                agent, "customers.delete_account", lambda: tools["customers.delete_account"](customer_id="C-77"), "denied"
            )

        # --- a devops agent -------------------------------------------------------------------
        ops = "oncall-alice"
        with resolver.session(ops, "demo-devops-1") as s2:
            res2 = s2.resolve(
                "Investigate crash-looping checkout pods and roll back if needed",
                atlas_ids=["com.example.devops"],
                context={"environment": "production"},
            )
            say(f"\n{st.bold('resolve')} demo-devops-1: {res2.reason}")
            pods = s2.governed("k8s.pods.list", lambda namespace: {"pods": ["checkout-7d9f", "checkout-a1b2"]})
            logs = s2.governed("k8s.pods.logs", lambda namespace, pod, tail: {"lines": tail, "last": "panic: nil map"})
            deploy = s2.governed("k8s.deployments.deploy", lambda namespace, deployment, image: {"rolled_out": image})
            delete_ns = s2.governed("k8s.namespaces.delete", lambda namespace: {"deleted": namespace})
            expect(ops, "k8s.pods.list", lambda: pods(namespace="checkout"), "ran")
            expect(ops, "k8s.pods.logs", lambda: logs(namespace="checkout", pod="checkout-7d9f", tail=200), "ran")
            image = {"namespace": "checkout", "deployment": "checkout", "image": "registry.local/checkout:1.4.2"}
            e = expect(ops, "k8s.deployments.deploy", lambda: deploy(**image), "approval")
            if isinstance(e, ApprovalRequired) and e.approval_id:
                resolver.reject(e.approval_id, approver="oncall-bob", reason="change freeze until Monday")
                rows.append(Row("oncall-bob", "reject", st.bad("rejected"), f"approval {e.approval_id}"))
                expect(ops, "k8s.deployments.deploy", lambda: deploy(**image), "denied")
            expect(ops, "k8s.namespaces.delete", lambda: delete_ns(namespace="checkout"), "denied")

        say(f"\n{st.bold('tool calls')}")
        say(table(["agent", "action", "outcome", "detail"], [[r.agent, r.action, r.outcome, r.detail] for r in rows], st))

        resolver.flush(10.0)
        stats = resolver.stats()

    report = verify_trace(trace_path)
    types: Dict[str, int] = collections.Counter()
    with open(trace_path, "rb") as f:
        for line in f:
            types[_json.loads(line)["event_type"]] += 1
    say(f"\n{st.bold('trace')}")
    say(f"  file:    {trace_path}")
    say(
        f"  events:  {report.events} in {report.sessions} sessions "
        f"({stats['trace'].get('bytes_written', '?')} bytes written, {stats['trace'].get('dropped', 0)} dropped)"
    )
    say(table(["event type", "count"], [[k, str(v)] for k, v in sorted(types.items())], st, indent="    "))
    if report.ok:
        say(f"  verify:  {st.ok('OK')} — every session's chain is intact (BLAKE3 over RFC 8785 JSON)")
    else:
        say(f"  verify:  {st.bad('FAILED')}: {report.errors}")
    if surprises:
        say(st.bad("\nthe demo did not go as scripted:"))
        for x in surprises:
            say(f"  {x}")
    return 0 if report.ok and not surprises else 1


def _short(value: Any, limit: int = 60) -> str:
    s = _json.dumps(value).decode("utf-8")
    return s if len(s) <= limit else s[: limit - 1] + "…"


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python -m cra.demo [ATLASES] [TRACE]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    return run_demo(args[0] if args else None, args[1] if len(args) > 1 else "target/demo-trace.jsonl")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
