"""Data for the dashboard suite and benchmark.

Two sources, both valid TRACE chains that libcra verifies:

* **Real traces** (``real``): recorded by ``cra.Resolver(trace_file=...)`` against the example
  atlases: the scripted demo (support and devops agents: allowed, denied, rate-limited, approved,
  rejected, executed and failed calls) plus sessions left with an approval still pending. The
  suite POSTs them to the running server like any agent would.
* **A generated set** (``generate``): N traces shaped like the engine's (``session.started``,
  the resolve request, ``policy.evaluated``, ``carp.resolution.completed``, tool calls with
  their outcome, mostly ``session.ended``), spread over the last 14 days, over ten agents and
  the two example atlases, with a few gap and broken traces. Each event is written in RFC 8785
  form and hashed with BLAKE3 here (the ``blake3`` package), much faster than recording 100,000
  sessions; resolutions are copied from real resolves (so they replay unchanged). The events go
  through the ingest path's own storage code (``Chains.verify_and_store``: **libcra** verifies
  every line, then rows, heads, attribution), one transaction per 5,000 traces, straight into
  the database file before the server starts, with the secondary indexes built after the load.
  100,000 traces (422,000 events) take about 22 s of CPU (45 to 80 s of wall time on this 2-core
  machine while other work ran beside it).

    cd python/tests && python -m dashboard.seed generate --db /tmp/x.sqlite3 --traces 100000
    cd python/tests && python -m dashboard.seed real --out /tmp/real
    cd python/tests && python -m dashboard.seed tamper --db /tmp/x.sqlite3 --trace T --sequence 3
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import sqlite3
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import cra
from cra.demo import run_demo
from cra.server.chains import Chains
from cra.server.db import open_database
from cra.server.events import Line, facts

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
ATLASES = os.path.join(REPO, "examples", "atlases")
SUPPORT = os.path.join(ATLASES, "customer-support")
DEVOPS = os.path.join(ATLASES, "devops")
SUPPORT_ID = "com.example.customer-support"
DEVOPS_ID = "com.example.devops"
TENANT = "acme"
ZERO = "0" * 64
#: Bumped whenever the generated data changes (the cache key includes it).
GENERATOR_VERSION = 4

Verdict = Tuple[str, str, str, Optional[str]]  # (action, policy, verdict, reason)


def _engine_decisions() -> Dict[str, Tuple[List[Verdict], Dict[str, Any]]]:
    """What the engine decides for these agents on each example atlas, taken from one real resolve
    each (so the generated resolutions replay unchanged against the same atlases): per atlas, the
    verdicts of ``policy.evaluated`` and the lists of ``carp.resolution.completed``."""
    import tempfile

    out: Dict[str, Tuple[List[Verdict], Dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "one.jsonl")
        with cra.Resolver(trace_file=path) as r:
            r.load_atlas(SUPPORT)
            r.load_atlas(DEVOPS)
            r.resolve(agent="support-bot-1", session="a", goal="x", atlas_ids=[SUPPORT_ID])
            r.resolve(agent="oncall-alice", session="b", goal="x", atlas_ids=[DEVOPS_ID], context={"environment": "production"})
        verdicts: Dict[str, List[Verdict]] = {}
        with open(path, "rb") as f:
            for line in f:
                ev = json.loads(line)
                p = ev["payload"]
                if ev["event_type"] == "policy.evaluated":
                    vs = [(v["action_id"], v["policy_id"], v["verdict"], v["reason_code"]) for v in p["verdicts"]]
                    verdicts[p["verdicts"][0]["atlas_id"]] = vs
                elif ev["event_type"] == "carp.resolution.completed":
                    atlas = p["atlases"][0]["atlas_id"]
                    out[atlas] = (verdicts[atlas], {k: p[k] for k in ("allowed_actions", "denied_actions", "pending_actions",
                                                                       "decision", "atlases", "context_blocks")})
    return out


_AGENTS = [("support-bot-1", SUPPORT_ID), ("support-bot-2", SUPPORT_ID), ("support-bot-3", SUPPORT_ID),
           ("support-bot-4", SUPPORT_ID), ("support-bot-5", SUPPORT_ID), ("support-bot-6", SUPPORT_ID),
           ("oncall-alice", DEVOPS_ID), ("oncall-bob", DEVOPS_ID), ("oncall-carol", DEVOPS_ID),
           ("oncall-dave", DEVOPS_ID)]
_GOALS = {SUPPORT_ID: ["Where is my order?", "Refund a damaged item", "Update the shipping address",
                       "Close a resolved ticket"],
          DEVOPS_ID: ["Investigate crash-looping pods", "Roll out the new release", "Check database latency",
                      "Clean up a test namespace"]}


def _canon(obj: Any) -> bytes:
    """RFC 8785 for what this generator writes: ASCII strings, integers, and floats of at most 3
    decimals from 0.5 up, which orjson writes as ECMAScript does (shortest round trip)."""
    import orjson

    return bytes(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS))


class _Chain:
    """One trace being written: sequence, previous hash, clock."""

    def __init__(self, gen: "Generator", trace_id: str, session_id: str, start_us: int) -> None:
        self.gen, self.trace_id, self.session_id = gen, trace_id, session_id
        self.seq, self.prev, self.ts = 0, ZERO, start_us
        self.root = gen.uid()
        self.parsed: List[Line] = []

    def add(self, event_type: str, payload: Dict[str, Any], step_us: int = 1000, span: Optional[str] = None) -> None:
        import blake3

        self.ts += step_us
        event_id = self.gen.uid()
        ev: Dict[str, Any] = {"event_id": event_id, "event_type": event_type, "parent_span_id": None if span is None else self.root,
              "payload": payload, "previous_event_hash": self.prev, "sequence": self.seq, "session_id": self.session_id,
              "span_id": span or self.root, "timestamp": _ts(self.ts), "trace_id": self.trace_id, "trace_version": "1.0"}
        body = _canon(ev)
        h = blake3.blake3(body).hexdigest()
        raw = b'{"event_hash":"' + h.encode() + b'",' + body[1:]
        # what the ingest path reads from the line (events.parse_line), taken from the event as
        # built; the index columns come from the server's own events.facts
        self.parsed.append(Line(0, raw, event_id, self.trace_id, self.session_id, self.seq, event_type, self.ts,
                                self.prev, h, facts(event_type, payload)))
        self.prev = h
        self.seq += 1


def _ts(us: int) -> str:
    t = time.gmtime(us // 1_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{us % 1_000_000:06d}Z"


class Generator:
    """Deterministic (seeded) generator of engine-shaped traces."""

    def __init__(self, seed: int = 7, full_share: float = 0.1) -> None:
        self.rnd = random.Random(seed)
        self.n = 0
        self.clock = 0  # microseconds of the trace being written (for ids)
        self.decisions = _engine_decisions()
        #: share of traces with the whole resolve (request, policy.evaluated, resolution): replayable
        self.full_share = full_share

    def uid(self, at_us: int = 0) -> str:
        """A UUIDv7-shaped id: milliseconds of ``at_us`` first (like the engine's), then a counter
        and random bits, so ids differ from their first characters on."""
        self.n += 1
        ms_ = (at_us or self.clock) // 1000
        r = self.rnd.getrandbits(62)
        return (f"{(ms_ >> 16) & 0xffffffff:08x}-{ms_ & 0xffff:04x}-7{self.n & 0xfff:03x}-"
                f"{0x8000 | (r & 0x3fff):04x}-{(r >> 14) & 0xffffffffffff:012x}")

    def digest(self) -> str:
        return hashlib.sha256(self.rnd.getrandbits(64).to_bytes(8, "little")).hexdigest()

    def trace(self, index: int, start_us: int) -> Tuple[List[Line], Dict[str, Any]]:
        """One trace; returns its lines and what it holds (for the manifest)."""
        rnd = self.rnd
        agent, atlas = _AGENTS[index % len(_AGENTS)] if rnd.random() < 0.7 else rnd.choice(_AGENTS)
        verdicts, resolution = self.decisions[atlas]
        self.clock = start_us
        tid, sid = self.uid(), f"gen-{index}"
        c = _Chain(self, tid, sid, start_us)
        if rnd.random() >= self.full_share:
            return self._short(c, agent, atlas, verdicts, start_us)
        c.add("session.started", {"agent_id": agent, "parent_session_id": None})
        span = self.uid()
        req, res = self.uid(), self.uid()
        request = {"atlas_ids": [atlas], "operation": "resolve", "request_id": req,
                   "requester": {"agent_id": agent, "session_id": sid}, "task": {"goal": rnd.choice(_GOALS[atlas])}}
        if atlas == DEVOPS_ID:
            request["context"] = {"environment": "production"}
        c.add("carp.request.received", {"operation": "resolve", "request": request, "request_id": req}, span=span)
        counts = {"allowed": 0, "denied": 0, "pending": 0}
        for v in verdicts:
            counts[v[2]] += 1
        c.add("policy.evaluated", {**counts, "resolution_id": res, "verdicts": [
            {"action_id": a, "atlas_id": atlas, "policy_id": p, "reason_code": r, "verdict": v} for a, p, v, r in verdicts]},
            step_us=300, span=span)
        c.add("carp.resolution.completed", {**resolution, "approval_id": None, "expires_at": _ts(c.ts + 300_000_000),
                                            "request_id": req, "resolution_id": res}, step_us=200, span=span)
        kinds: List[str] = []
        for _ in range(1 if rnd.random() < 0.75 else 2):
            kind = self._kind()
            kinds.append(kind)
            self._call(c, verdicts, kind, res)
        ended = rnd.random() < 0.85 and "pending" not in kinds[-1:]
        if "pending" in kinds and rnd.random() < 0.6:
            ended = True
        if ended:
            c.add("session.ended", {"duration_us": c.ts - start_us, "reason": "ended"}, step_us=rnd.randint(1000, 90_000_000))
        return c.parsed, {"trace_id": tid, "session_id": sid, "agent": agent, "atlas": atlas, "kinds": kinds,
                         "ended": ended, "resolve": True}

    def _kind(self) -> str:
        x = self.rnd.random()
        return ("allowed" if x < 0.72 else "failed" if x < 0.78 else "denied" if x < 0.87 else
                "rate_limited" if x < 0.93 else "pending")

    def _short(self, c: _Chain, agent: str, atlas: str, verdicts: List[Verdict],
               start_us: int) -> Tuple[List[Line], Dict[str, Any]]:
        """A session of one or two calls whose ``session.started`` names its atlas (as in
        docs/trace.md's example) and no resolve events: most of the generated set, small."""
        rnd = self.rnd
        c.add("session.started", {"agent_id": agent, "atlas_id": atlas, "parent_session_id": None})
        res = self.uid()
        kinds = [self._kind() for _ in range(1 if rnd.random() < 0.85 else 2)]
        for k in kinds:
            self._call(c, verdicts, k, res)
        ended = rnd.random() < 0.8
        if ended:
            c.add("session.ended", {"duration_us": c.ts - start_us, "reason": "ended"}, step_us=rnd.randint(1000, 90_000_000))
        return c.parsed, {"trace_id": c.trace_id, "session_id": c.session_id, "agent": agent, "atlas": atlas,
                         "kinds": kinds, "ended": ended, "resolve": False}

    def _call(self, c: _Chain, verdicts: List[Verdict], kind: str, res: str) -> None:
        rnd = self.rnd
        span = self.uid()
        allowed = [v for v in verdicts if v[2] == "allowed"]
        if kind == "rate_limited":
            a, p = ("orders.refund", "refunds-per-session") if allowed[0][0].startswith("orders.") else \
                ("k8s.pods.logs", "logs-per-minute")
        elif kind in ("allowed", "failed"):
            a, p, _, _ = rnd.choice(allowed)
        elif kind == "denied":
            a, p, _, _ = next(v for v in verdicts if v[2] == "denied")
        else:
            a, p, _, _ = next(v for v in verdicts if v[2] == "pending")
        ph = self.digest()
        step = rnd.randint(2_000_000, 240_000_000)
        if kind == "denied":
            c.add("action.denied", {"action_id": a, "approval_id": None, "policy_id": p, "reason_code": "policy_denied",
                                    "resolution_id": res}, step_us=step, span=span)
            return
        if kind == "rate_limited":
            c.add("action.denied", {"action_id": a, "approval_id": None, "policy_id": p,
                                    "reason_code": "rate_limit_exceeded", "resolution_id": res}, step_us=step, span=span)
            return
        if kind == "pending":
            approval = self.uid()
            c.add("action.requested", {"action_id": a, "approval_id": approval, "parameters_hash": ph, "policy_id": p,
                                       "resolution_id": res, "status": "pending_approval"}, step_us=step, span=span)
            y = rnd.random()
            if y < 0.5:
                c.add("action.approved", {"action_id": a, "approval_id": approval, "approver": "supervisor@example.com",
                                          "decision": "approved", "parameters_hash": ph, "reason": "checked"},
                      step_us=rnd.randint(30_000_000, 1_800_000_000), span=span)
            elif y < 0.7:
                c.add("action.denied", {"action_id": a, "approval_id": approval, "approver": "oncall-bob",
                                        "decision": "rejected", "parameters_hash": ph, "reason": "change freeze"},
                      step_us=rnd.randint(30_000_000, 900_000_000), span=span)
            return
        ex = self.uid()
        c.add("action.requested", {"action_id": a, "approval_id": None, "execution_id": ex, "parameters_hash": ph,
                                   "policy_id": p, "resolution_id": res, "status": "authorized"}, step_us=step, span=span)
        ms: Any = round(rnd.uniform(0.5, 900.0), 3)
        if ms == int(ms):  # RFC 8785 writes 5.0 as 5
            ms = int(ms)
        if kind == "failed":
            c.add("action.failed", {"action_id": a, "duration_ms": ms, "error": {"code": "UpstreamError",
                                    "message": "the upstream system answered HTTP 503"}, "execution_id": ex,
                                    "resolution_id": res}, step_us=int(ms * 1000) + 1, span=span)
        else:
            c.add("action.executed", {"action_id": a, "duration_ms": ms, "execution_id": ex, "resolution_id": res,
                                      "result_hash": self.digest()}, step_us=int(ms * 1000) + 1, span=span)


def generate(db_url: str, traces: int, days: float = 14.0, seed: int = 7, slice_traces: int = 5000,
             end_us: Optional[int] = None) -> Dict[str, Any]:
    """Writes ``traces`` generated traces for tenant ``acme`` into ``db_url`` (migrated first);
    returns a manifest: counts, timing, and a few trace ids by kind."""
    t0 = time.perf_counter()
    gen = Generator(seed)
    end = end_us if end_us is not None else (time.time_ns() // 1000 - 3_600_000_000)
    span_us = int(days * 86400 * 1_000_000)
    db = open_database(db_url, pool_size=1)
    deferred: List[Tuple[str, str]] = []
    if db.dialect == "sqlite":
        conn = db._acquire()  # bulk load on the pool's one connection: the file is thrown away if this fails
        conn.execute("PRAGMA synchronous=OFF")
        # secondary indexes are built once after the load (sorted: several times faster than
        # maintaining them row by row), from the schema's own statements
        deferred = [(str(n), str(q)) for n, q in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
                                " AND tbl_name IN ('events', 'traces', 'trace_actions', 'trace_atlases')")]
        for name, _ in deferred:
            conn.execute(f"DROP INDEX {name}")
        db._release(conn, False)
    manifest: Dict[str, Any] = {"traces": traces, "events": 0, "by_kind": {}, "agents": sorted({a for a, _ in _AGENTS}),
                                "gap": [], "broken": []}
    try:
        for start in range(0, traces, slice_traces):
            n = min(slice_traces, traces - start)
            parsed: List[Line] = []
            first: Dict[str, Tuple[str, int]] = {}
            metas = []
            for i in range(start, start + n):
                # traces spread evenly over the range, newest last, with some jitter
                t_us = end - span_us + int(span_us * (i + gen.rnd.random()) / traces)
                ls, meta = gen.trace(i, t_us)
                parsed += ls
                first[meta["trace_id"]] = (meta["session_id"], t_us)
                metas.append(meta)
                for k in meta["kinds"]:
                    manifest["by_kind"].setdefault(k, meta["trace_id"])
                if meta["resolve"]:
                    manifest.setdefault("replayable", meta["trace_id"])
            for i, ln in enumerate(parsed):
                ln.index = i
            with db.write() as tx:
                chains = Chains(tx, TENANT, end)
                chains.lock(first)
                stored = chains.verify_and_store(parsed, {}, batch_lines=True)
                if stored != len(parsed) or chains.rejected:
                    raise RuntimeError(f"the store refused generated events: {chains.rejections[:3]}")
                chains.save()
            manifest["events"] += len(parsed)
        manifest["sample"] = metas[-1]["trace_id"]
        if db.dialect == "sqlite":
            with db.write() as tx:
                for _, sql in deferred:
                    tx.x(sql)
        _integrity_examples(db, manifest, gen)
    finally:
        db.close()
    manifest["seconds"] = round(time.perf_counter() - t0, 1)
    return manifest


def _integrity_examples(db: Any, manifest: Dict[str, Any], gen: Generator) -> None:
    """Leaves a few traces as ingest leaves them after a gap (events given up after the hold,
    the gap recorded) or after a rejected event (alert recorded, trace broken)."""
    with db.write() as tx:
        rows = tx.q("SELECT trace_id, events FROM traces WHERE tenant = ? AND events >= 6 ORDER BY first_ts_us DESC LIMIT 40",
                    (TENANT,))
        for tid, n in rows[:12]:  # gap: event 2 never arrived
            tx.x("DELETE FROM events WHERE tenant = ? AND trace_id = ? AND sequence = 2", (TENANT, tid))
            tx.x("INSERT INTO gaps (tenant, trace_id, from_sequence, to_sequence, recorded_us) VALUES (?, ?, 2, 2, ?)",
                 (TENANT, tid, time.time_ns() // 1000))
            tx.x("UPDATE traces SET integrity = 'gap', events = ? WHERE tenant = ? AND trace_id = ?", (int(n) - 1, TENANT, tid))
            manifest["gap"].append(tid)
        for tid, n in rows[12:20]:  # broken: a tampered copy of the last event was rejected with an alert
            last = tx.q("SELECT sequence, event_id, session_id, raw FROM events WHERE tenant = ? AND trace_id = ?"
                        " ORDER BY sequence DESC LIMIT 1", (TENANT, tid))[0]
            raw = bytes(last[3]).replace(b'"sequence":', b'"sequence": ', 1)
            tx.x("INSERT INTO alerts (tenant, trace_id, session_id, event_id, sequence, line, code, message, raw_prefix,"
                 " received_us) VALUES (?, ?, ?, ?, ?, 1, 'duplicate_conflict', ?, ?, ?)",
                 (TENANT, tid, last[2], last[1], last[0],
                  f"event_id is already stored for trace {tid} sequence {last[0]} with another hash", raw[:4096],
                  time.time_ns() // 1000))
            tx.x("UPDATE traces SET integrity = 'broken' WHERE tenant = ? AND trace_id = ?", (TENANT, tid))
            manifest["broken"].append(tid)


def cached_generate(db_path: str, traces: int, cache_dir: Optional[str]) -> Dict[str, Any]:
    """:func:`generate` into ``db_path``, reusing a copy made today by the same code when
    ``cache_dir`` is given (the key covers the generator and the storage code)."""
    key_src = hashlib.sha256()
    here = os.path.dirname(os.path.abspath(__file__))
    import cra.server as srv

    sdir = os.path.dirname(os.path.abspath(srv.__file__))
    for p in (os.path.join(here, "seed.py"), *(os.path.join(sdir, f) for f in ("schema.py", "chains.py", "events.py"))):
        with open(p, "rb") as src:
            key_src.update(src.read())
    key = f"{traces}-{time.strftime('%Y%m%d', time.gmtime())}-{key_src.hexdigest()[:16]}"
    if cache_dir:
        cached = os.path.join(cache_dir, f"seed-{key}.sqlite3")
        meta = cached + ".json"
        if os.path.exists(cached) and os.path.exists(meta):
            shutil.copyfile(cached, db_path)
            with open(meta) as mf:
                m: Dict[str, Any] = json.load(mf)
            m["cached"] = True
            return m
    # a fixed end per day (today 00:00 UTC), so a cached copy and a fresh one hold the same traces
    m = generate(f"sqlite:///{db_path}", traces, end_us=(int(time.time()) // 86400) * 86400 * 1_000_000)
    m["cached"] = False
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        for old in os.listdir(cache_dir):
            if old.startswith("seed-"):
                os.remove(os.path.join(cache_dir, old))
        with sqlite3.connect(db_path) as c:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        shutil.copyfile(db_path, cached)
        with open(meta, "w") as out:
            json.dump(m, out)
    return m


# -- real traces -------------------------------------------------------------------------------
def real(out_dir: str) -> Dict[str, Any]:
    """Real traces recorded by ``cra.Resolver`` against the example atlases, as JSONL files to POST:
    ``demo.jsonl`` (the scripted demo) and ``waiting.jsonl`` (two support sessions whose large
    refund waits for an approver, one with a rate-limited refund)."""
    os.makedirs(out_dir, exist_ok=True)
    demo = os.path.join(out_dir, "demo.jsonl")
    if os.path.exists(demo):
        os.remove(demo)
    assert run_demo(ATLASES, demo, out=io.StringIO()) == 0
    waiting = os.path.join(out_dir, "waiting.jsonl")
    if os.path.exists(waiting):
        os.remove(waiting)
    with cra.Resolver(trace_file=waiting) as r:
        r.load_atlas(SUPPORT)
        for n, agent in enumerate(("support-bot-1", "support-bot-2")):
            sid = f"waiting-{n}"
            res = r.resolve(agent=agent, session=sid, goal="Refund a broken TV", atlas_ids=[SUPPORT_ID])
            r.authorize("orders.lookup", {"order_id": "ORD-2001"}, resolution=res)
            r.authorize("orders.refund_large", {"order_id": "ORD-2001", "amount": 899.0, "reason": "arrived broken"},
                        resolution=res)
            if n == 1:
                for k in range(4):
                    r.authorize("orders.refund", {"order_id": "ORD-2001", "amount": 10.0 + k, "reason": "goodwill"},
                                resolution=res)
    out: Dict[str, Any] = {"files": [demo, waiting], "traces": {}}
    for path in (demo, waiting):
        with open(path, "rb") as f:
            for line in f:
                ev = json.loads(line)
                p = ev["payload"]
                if ev["event_type"] == "session.started":
                    out["traces"][ev["trace_id"]] = {"agent": p.get("agent_id"), "session": ev["session_id"]}
    return out


def tamper(db_path: str, trace_id: str, sequence: int) -> Dict[str, Any]:
    """Changes one stored raw line in place (a digit of its timestamp), as someone editing the
    database would; the trace row and every column stay as they were."""
    with sqlite3.connect(db_path, timeout=30) as c:
        row = c.execute("SELECT raw FROM events WHERE tenant = ? AND trace_id = ? AND sequence = ?",
                        (TENANT, trace_id, sequence)).fetchone()
        if row is None:
            raise SystemExit(f"no event {sequence} in trace {trace_id}")
        raw = bytes(row[0])
        i = raw.index(b'"timestamp":"') + len(b'"timestamp":"') + 25  # the last microsecond digit
        new = raw[:i] + str((int(raw[i:i + 1]) + 1) % 10).encode() + raw[i + 1:]
        c.execute("UPDATE events SET raw = ? WHERE tenant = ? AND trace_id = ? AND sequence = ?",
                  (new, TENANT, trace_id, sequence))
    return {"trace_id": trace_id, "sequence": sequence, "line": sequence + 1}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--db", required=True, help="SQLite file to create")
    g.add_argument("--traces", type=int, default=100_000)
    g.add_argument("--cache", help="directory keeping a copy for reuse the same day")
    r = sub.add_parser("real")
    r.add_argument("--out", required=True)
    t = sub.add_parser("tamper")
    t.add_argument("--db", required=True)
    t.add_argument("--trace", required=True)
    t.add_argument("--sequence", type=int, required=True)
    args = ap.parse_args(argv)
    if args.cmd == "generate":
        if os.path.exists(args.db):
            os.remove(args.db)
        res = cached_generate(args.db, args.traces, args.cache)
    elif args.cmd == "real":
        res = real(args.out)
    else:
        res = tamper(args.db, args.trace, args.sequence)
    json.dump(res, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
