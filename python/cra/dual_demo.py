"""The dual-mode demo: resolution embedded in every agent, traces flowing to a central ingest.

``cra demo --ingest`` (or ``make demo-dual``):

1. starts a local ingest service (``cra serve``, SQLite in a temporary directory, a generated
   write token and read token) on 127.0.0.1, unless ``--server`` names a running one;
2. runs several agents, each in its **own process** with its own in-process resolver whose
   trace goes to the ingest through the core's HTTP sink, configured in the resolver config
   JSON (``{"trace": {"sink": "http", "http": {"url": ..., "token_env": ...}}}``); every tool
   call is governed (allowed, denied, rate limited, approved, rejected);
3. when the agents are done (closing a resolver flushes its sink: every event acknowledged),
   queries the ingest the way an auditor would: ``cra traces list --agent ...``, the decision
   counts of ``/v1/stats``, ``cra traces export`` and ``cra verify`` of the export.

It checks as it goes and exits 1 when anything does not add up: an agent failed, a sink dropped
or failed to deliver an event, the ingest stored a different number of events than the agents
sent, a trace is not intact, a query misses a trace, or the export does not verify.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import IO, Any, Dict, List, Optional, Sequence, Tuple

from ._term import Style, table

__all__ = ["run_dual_demo", "AGENTS"]

#: The fleet: (agent id, kind, sessions). Each runs in its own process.
AGENTS: Tuple[Tuple[str, str, int], ...] = (
    ("support-bot-1", "support", 2),
    ("support-bot-2", "support", 1),
    ("oncall-bot-1", "devops", 1),
)
_TOKEN_ENV = "CRA_TRACE_TOKEN"
_HTTP_TIMEOUT = 30.0


# --- one agent (a child process: python -m cra.dual_demo agent ...) ---------------------------

def _sink_config(url: str) -> Dict[str, Any]:
    """The resolver config of every agent: the trace goes to the ingest (docs/trace.md, HTTP sink)."""
    return {"trace": {"sink": "http", "http": {"url": url, "token_env": _TOKEN_ENV, "batch_max_delay_ms": 200,
                                                "timeout_ms": 5000}}}


def _support(resolver: Any, agent: str, session_id: str, tally: Dict[str, int]) -> None:
    from .demo import _tools
    from .errors import ActionDenied, ApprovalRequired, RateLimited

    def run(fn: Any, *a: Any, **kw: Any) -> Optional[BaseException]:
        try:
            fn(*a, **kw)
            tally["ran"] += 1
        except RateLimited as e:
            tally["rate_limited"] += 1
            return e
        except ApprovalRequired as e:
            tally["approval_required"] += 1
            return e
        except ActionDenied as e:
            tally["denied"] += 1
            return e
        except ConnectionError:  # the demo's ticket system is down: reported as failed
            tally["failed"] += 1
        return None

    with resolver.session(agent, session_id) as s:
        s.resolve("Customer says order ORD-1234 arrived damaged and wants a refund",
                  atlas_ids=["com.example.customer-support"])
        tools = _tools(s)
        run(tools["orders.lookup"], order_id="ORD-1234")
        run(tools["customers.get_profile"], customer_id="C-77")
        for amount in (20.0, 15.5, 9.99, 12.0):  # the fourth refund hits the session's rate limit
            run(tools["orders.refund"], "ORD-1234", amount, "damaged in transit")
        big = {"order_id": "ORD-1234", "amount": 450.0, "reason": "whole order damaged"}
        e = run(tools["orders.refund_large"], **big)
        if isinstance(e, ApprovalRequired) and e.approval_id:
            resolver.approve(e.approval_id, approver="supervisor@example.com", reason="photos confirm the damage")
            tally["approved"] += 1
            run(tools["orders.refund_large"], **big)
        run(tools["tickets.reply"], ticket_id="T-9", body="Your refund is on its way.")
        run(tools["customers.delete_account"], customer_id="C-77")


def _devops(resolver: Any, agent: str, session_id: str, tally: Dict[str, int]) -> None:
    from .errors import ActionDenied, ApprovalRequired

    with resolver.session(agent, session_id) as s:
        s.resolve("Investigate crash-looping checkout pods and roll back if needed", atlas_ids=["com.example.devops"],
                  context={"environment": "production"})
        pods = s.governed("k8s.pods.list", lambda namespace: {"pods": ["checkout-7d9f"]})
        logs = s.governed("k8s.pods.logs", lambda namespace, pod, tail: {"last": "panic: nil map"})
        deploy = s.governed("k8s.deployments.deploy", lambda namespace, deployment, image: {"rolled_out": image})
        delete_ns = s.governed("k8s.namespaces.delete", lambda namespace: {"deleted": namespace})
        pods(namespace="checkout")
        logs(namespace="checkout", pod="checkout-7d9f", tail=200)
        tally["ran"] += 2
        image = {"namespace": "checkout", "deployment": "checkout", "image": "registry.local/checkout:1.4.2"}
        try:
            deploy(**image)
            tally["ran"] += 1
        except ApprovalRequired as e:
            tally["approval_required"] += 1
            resolver.reject(e.approval_id, approver="oncall-bob", reason="change freeze until Monday")
            tally["rejected"] += 1
            try:
                deploy(**image)
            except ActionDenied:
                tally["denied"] += 1
        try:
            delete_ns(namespace="checkout")
        except ActionDenied:
            tally["denied"] += 1


def _agent_main(argv: Sequence[str]) -> int:
    """A child process: one agent, its own resolver, trace to the ingest. Prints one JSON line."""
    from .resolver import Resolver

    ap = argparse.ArgumentParser(prog="python -m cra.dual_demo agent")
    ap.add_argument("--name", required=True)
    ap.add_argument("--kind", choices=("support", "devops"), required=True)
    ap.add_argument("--sessions", type=int, default=1)
    ap.add_argument("--url", required=True)
    ap.add_argument("--atlases", required=True)
    a = ap.parse_args(argv)
    tally = {k: 0 for k in ("ran", "denied", "rate_limited", "approval_required", "approved", "rejected", "failed")}
    config = _sink_config(a.url)
    resolver = Resolver(config)
    sessions: List[str] = []
    try:
        for name in sorted(os.listdir(a.atlases)):
            d = os.path.join(a.atlases, name)
            if os.path.isfile(os.path.join(d, "atlas.json")):
                resolver.load_atlas(d)
        for i in range(a.sessions):
            sid = f"{a.name}-session-{i + 1}-{secrets.token_hex(3)}"
            sessions.append(sid)
            (_support if a.kind == "support" else _devops)(resolver, a.name, sid, tally)
        resolver.flush(30.0)  # every event acknowledged by the ingest (or this raises TIMEOUT)
        stats = resolver.stats()["trace"]
    finally:
        resolver.close()
    print(json.dumps({"agent": a.name, "kind": a.kind, "pid": os.getpid(), "sessions": sessions, "calls": tally,
                      "config": config, "written": stats.get("written"), "dropped": stats.get("dropped"),
                      "last_sink_error": stats.get("last_sink_error"),
                      "http": stats.get("http")}), flush=True)
    return 0


# --- the demo (the parent) ----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(server: str, path: str, token: str) -> Any:
    req = urllib.request.Request(server + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=_HTTP_TIMEOUT) as r:
        return json.loads(r.read())


class _Ingest:
    """A ``cra serve`` child on a temporary SQLite database."""

    def __init__(self, work: str) -> None:
        self.work = work
        self.write_token = "demo-w-" + secrets.token_urlsafe(16)
        self.read_token = "demo-r-" + secrets.token_urlsafe(16)
        self.port = _free_port()
        self.server = f"http://127.0.0.1:{self.port}"
        self.db = os.path.join(work, "ingest.sqlite3")
        self.proc: Optional["subprocess.Popen[bytes]"] = None
        self.log = os.path.join(work, "serve.log")

    def start(self) -> None:
        tokens = os.path.join(self.work, "tokens.json")
        with open(os.open(tokens, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            json.dump({self.write_token: {"tenant": "demo", "rights": ["write"]},
                       self.read_token: {"tenant": "demo", "rights": ["read"]}}, f)
        cmd = [sys.executable, "-m", "cra", "serve", "--db", f"sqlite:///{self.db}", "--tokens", tokens,
               "--host", "127.0.0.1", "--port", str(self.port), "--log-key", os.path.join(self.work, "log.key")]
        env = dict(os.environ)
        env.pop("CRA_INGEST_DB", None)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cra serve exited with {self.proc.returncode}: {self.tail()}")
            try:
                with urllib.request.urlopen(self.server + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"cra serve did not answer /healthz within 60 s: {self.tail()}")

    def tail(self) -> str:
        try:
            with open(self.log, "rb") as f:
                return f.read().decode("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _cli(args: List[str], server: str, token: str) -> Tuple[int, str]:
    """Runs ``cra ARGS`` (this Python) against the ingest; returns (exit code, output)."""
    env = dict(os.environ, CRA_SERVER=server, CRA_TOKEN=token, NO_COLOR="1")
    r = subprocess.run([sys.executable, "-m", "cra", *args], capture_output=True, text=True, env=env, timeout=120)
    return r.returncode, (r.stdout + r.stderr).rstrip("\n")


def run_dual_demo(atlases: Optional[str] = None, server: Optional[str] = None, write_token: Optional[str] = None,
                  read_token: Optional[str] = None, keep: bool = False, out: Optional[IO[str]] = None) -> int:
    """Runs the dual-mode demo; returns the exit code (0: every check passed)."""
    from .demo import find_atlases

    out = out or sys.stdout
    st = Style(out)
    problems: List[str] = []

    def say(s: str = "") -> None:
        out.write(s + "\n")
        out.flush()

    def check(ok: bool, what: str) -> bool:
        if not ok:
            problems.append(what)
            say(f"  {st.bad('CHECK FAILED')}: {what}")
        return ok

    atlases = atlases or find_atlases()
    if not atlases or not os.path.isdir(atlases):
        sys.stderr.write("cra demo --ingest: cannot find the example atlases; pass --atlases DIR\n")
        return 2
    if server and not (write_token and read_token):
        sys.stderr.write("cra demo --ingest --server needs --write-token and --read-token (or CRA_TRACE_TOKEN and CRA_TOKEN)\n")
        return 2
    work = tempfile.mkdtemp(prefix="cra-dual-demo-")
    ingest: Optional[_Ingest] = None
    try:
        say(st.bold("CRA dual-mode demo: resolution embedded in each agent, traces to a central ingest"))
        if server:
            server = server.rstrip("/")
            say(f"\n{st.bold('1. ingest')}: {server} (given)")
        else:
            try:
                import cra.server  # noqa: F401  (the server extra)
            except ImportError as e:
                sys.stderr.write(f"cra demo --ingest needs the server extra: pip install 'cra[server]' ({e})\n")
                return 2
            ingest = _Ingest(work)
            t0 = time.perf_counter()
            ingest.start()
            server, write_token, read_token = ingest.server, ingest.write_token, ingest.read_token
            say(f"\n{st.bold('1. ingest')}: started `cra serve` on {server} in {time.perf_counter() - t0:.1f} s "
                f"(SQLite {ingest.db}; tenant 'demo', a write token for the agents, a read token for queries)")
        assert write_token and read_token and server
        url = server + "/v1/traces"

        say(f"\n{st.bold('2. agents')}: {len(AGENTS)} processes, each with its own in-process resolver; "
            f"the resolver config JSON sends the trace to the ingest:")
        say("  " + json.dumps(_sink_config(url)) + f"   ({_TOKEN_ENV}=<write token>)")
        env = dict(os.environ, **{_TOKEN_ENV: write_token})
        procs = []
        t0 = time.perf_counter()
        for name, kind, sessions in AGENTS:
            cmd = [sys.executable, "-m", "cra.dual_demo", "agent", "--name", name, "--kind", kind,
                   "--sessions", str(sessions), "--url", url, "--atlases", atlases]
            procs.append((name, subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)))
        results: Dict[str, Dict[str, Any]] = {}
        for name, p in procs:
            try:
                stdout, stderr = p.communicate(timeout=180)
            except subprocess.TimeoutExpired:
                p.kill()
                stdout, stderr = p.communicate()
            if check(p.returncode == 0, f"agent {name} exited with {p.returncode}: {stderr.strip()[-1500:]}"):
                results[name] = json.loads(stdout.strip().splitlines()[-1])
        took = time.perf_counter() - t0
        rows = []
        sent_total = 0
        for name, r in results.items():
            h = r.get("http") or {}
            c = r["calls"]
            sent_total += int(h.get("sent_events", 0))
            rows.append([name, str(r["pid"]), str(len(r["sessions"])),
                         f"{c['ran']} ran, {c['denied']} denied, {c['rate_limited']} rate-limited, "
                         f"{c['approval_required']} approvals ({c['approved']} yes, {c['rejected']} no), {c['failed']} failed",
                         f"{h.get('sent_events', 0)} events / {h.get('sent_batches', 0)} POSTs, "
                         f"{h.get('retried', 0)} retried, {h.get('dropped', 0)} dropped"])
            check(r.get("dropped") == 0 and h.get("dropped") == 0,
                  f"{name}: the trace lost events ({r.get('dropped')}, http {h.get('dropped')}; last sink error: {r.get('last_sink_error')})")
            check(h.get("sent_events") == r.get("written"), f"{name}: {h.get('sent_events')} events acknowledged of {r.get('written')} written")
            check(h.get("queued_events", 0) == 0 and h.get("spool_events", 0) == 0, f"{name}: events still waiting in the sink")
        say(table(["agent", "pid", "sessions", "governed tool calls", "HTTP sink"], rows, st, indent="  "))
        acked = all((r.get("http") or {}).get("sent_events") == r.get("written") for r in results.values())
        say(f"  all agents done in {took:.1f} s; each flushed its sink before exiting"
            + (" (every event acknowledged by the ingest)" if acked and len(results) == len(AGENTS) else ""))

        say(f"\n{st.bold('3. queries')} (an auditor, read token):")
        listing = _get(server, "/v1/traces?limit=1000", read_token)["traces"]
        by_id = {t["trace_id"]: t for t in listing}
        stored_events = sum(int(t["events"]) for t in listing)
        mine = {name: [t for t in listing if t.get("session_id") in set(r["sessions"])] for name, r in results.items()}
        for name, r in results.items():
            check(len(mine[name]) == len(r["sessions"]), f"{name}: {len(mine[name])} traces stored for {len(r['sessions'])} sessions")
        if ingest is not None:  # a fresh ingest holds exactly what the agents sent
            check(stored_events == sent_total, f"the ingest stores {stored_events} events; the agents' sinks delivered {sent_total}")
        check(all(t["integrity"] == "intact" for ts in mine.values() for t in ts),
              "a trace is not intact: " + ", ".join(f"{t['trace_id']}={t['integrity']}" for ts in mine.values() for t in ts if t["integrity"] != "intact"))

        first = AGENTS[0][0]
        code, text = _cli(["traces", "list", "--agent", first, "--since", "1h"], server, read_token)
        say(f"  $ cra traces list --agent {first} --since 1h")
        say("\n".join("    " + line for line in text.splitlines()))
        check(code == 0, f"cra traces list exited with {code}")
        for t in mine.get(first, []):
            check(t["trace_id"] in text, f"cra traces list --agent {first} misses trace {t['trace_id']}")

        stats = _get(server, "/v1/stats?since=1h&bucket=3600", read_token)
        tot = stats.get("totals") or {}
        say("  GET /v1/stats?since=1h (dashboard counts): " + ", ".join(
            f"{k} {tot.get(k, 0)}" for k in ("allowed", "denied", "rate_limited", "pending", "approved", "rejected", "executed", "failed")))
        dp = stats.get("denials_by_policy") or {}
        if dp:
            say("    denials by policy: " + ", ".join(f"{k if k not in (None, 'None') else '(no allow policy)'} {v}"
                                                  for k, v in sorted(dp.items(), key=lambda kv: -kv[1])))
        want_denied = sum(r["calls"]["denied"] for r in results.values())
        if ingest is not None:
            check(int(tot.get("denied", 0)) == want_denied, f"the ingest counts {tot.get('denied')} denials; the agents saw {want_denied}")
            check(int(tot.get("rate_limited", 0)) == sum(r["calls"]["rate_limited"] for r in results.values()),
                  "rate-limit hits differ between the agents and the ingest")

        ops = AGENTS[-1][0]
        if mine.get(ops):
            tid = mine[ops][0]["trace_id"]
            path = os.path.join(work, "export.jsonl")
            code, text = _cli(["traces", "export", tid, "-o", path], server, read_token)
            check(code == 0, f"cra traces export exited with {code}: {text}")
            code, text = _cli(["verify", "--require-session-end", path], server, read_token)
            say(f"  $ cra traces export {tid} -o export.jsonl && cra verify --require-session-end export.jsonl")
            say("\n".join("    " + line for line in text.splitlines()))
            check(code == 0, f"cra verify of the exported trace exited with {code}")
            check(tid in by_id and by_id[tid].get("agent_id") == ops, f"trace {tid} is not attributed to {ops}")

        if problems:
            say(f"\n{st.bad('the dual-mode demo found problems:')}")
            for problem in problems:
                say(f"  {problem}")
            return 1
        say(f"\n{st.ok('OK')}: {sent_total} events from {len(results)} agent processes reached the ingest, "
            f"were verified there (libcra, chain by chain) and answer queries; the export verifies on its own.")
        return 0
    except (RuntimeError, OSError, urllib.error.URLError, ValueError, KeyError) as e:
        sys.stderr.write(f"cra demo --ingest: {e}\n")
        return 1
    finally:
        if ingest is not None:
            ingest.stop()
        if keep:
            say(f"\n(kept {work}: `cra serve --db sqlite:///{os.path.join(work, 'ingest.sqlite3')} --tokens "
                f"{os.path.join(work, 'tokens.json')}` serves it again)")
        else:
            shutil.rmtree(work, ignore_errors=True)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["agent"]:
        return _agent_main(args[1:])
    return run_dual_demo(args[0] if args else None)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
