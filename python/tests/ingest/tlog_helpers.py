"""Helpers of the transparency-log tests: a log service over a test database, bundles as a
verifier keeps them, and what a malicious operator does to the store (rewrite an event and
recompute its chain, rebuild the tree, roll everything back)."""

from __future__ import annotations

import json
import os
from typing import Any, Callable, Dict, List, Sequence, Tuple

import blake3

from cra.server.checkpoint import KeyRing
from cra.server.db import Database
from cra.server.query import export_lines
from cra.server.tlog import Appender, LogService
from cra.tlog import BUNDLE_FORMAT

ORIGIN = "test.example/cra"
ZERO = "0" * 64


def service(db: Database, tmp: str) -> LogService:
    """A log service signing with a key file in ``tmp`` (created on first use)."""
    return LogService(db, KeyRing.load(os.path.join(tmp, "log.key")), ORIGIN)


def vkey(svc: LogService, tenant: str) -> str:
    """The active vkey of ``tenant``'s log."""
    return str(svc.keys(tenant)["active"])


def export(db: Database, tenant: str, trace_ids: Sequence[str]) -> bytes:
    """What ``GET /v1/traces/{id}.jsonl`` would give for each trace (missing ones skipped)."""
    out = b""
    for t in trace_ids:
        it = export_lines(db, tenant, t)
        if it is not None:
            out += b"".join(it)
    return out


def bundle(svc: LogService, db: Database, tenant: str, trace_ids: Sequence[str]) -> Dict[str, Any]:
    """A bundle as ``cra log fetch`` writes it: export, then a fresh checkpoint, then proofs."""
    data = export(db, tenant, trace_ids)
    cp = svc.checkpoint(tenant)
    proofs = svc.trace_proofs(tenant, list(trace_ids), cp.size)
    return {"format": BUNDLE_FORMAT, "checkpoint": cp.note, "traces": data.decode(), "proofs": proofs}


def entries(svc: LogService, tenant: str, size: int) -> List[Dict[str, Any]]:
    """Every leaf up to ``size`` (what ``cra log audit`` fetches page by page)."""
    out: List[Dict[str, Any]] = []
    while len(out) < size:
        out += svc.entries(tenant, len(out), size)["entries"]
    return out


# -- what a malicious operator does -----------------------------------------------------------------
def canonical(ev: Dict[str, Any]) -> bytes:
    """RFC 8785 for these events (strings, integers, booleans, null, objects, arrays; no floats)."""
    return json.dumps(ev, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def rehashed(ev: Dict[str, Any], previous: str) -> bytes:
    """The event linked to ``previous`` with its event_hash recomputed (BLAKE3 of its JCS)."""
    ev = dict(ev, previous_event_hash=previous)
    ev.pop("event_hash", None)
    ev["event_hash"] = blake3.blake3(canonical(ev)).hexdigest()
    return canonical(ev)


def rewrite_chain(db: Database, tenant: str, trace_id: str, sequence: int,
                  change: Callable[[Dict[str, Any]], None]) -> List[str]:
    """Changes one stored event of a trace and recomputes the hashes of it and every later event
    (the chain verifies again), updating rows and the trace's head. Returns the changed event ids."""
    with db.write() as tx:
        rows = tx.q("SELECT sequence, raw FROM events WHERE tenant = ? AND trace_id = ? ORDER BY sequence",
                    (tenant, trace_id))
        prev = ZERO
        changed: List[str] = []
        for seq, raw in rows:
            ev = json.loads(bytes(raw))
            if int(seq) < sequence:
                prev = ev["event_hash"]
                continue
            if int(seq) == sequence:
                change(ev["payload"])
            line = rehashed(ev, prev)
            prev = json.loads(line)["event_hash"]
            tx.x("UPDATE events SET raw = ?, event_hash = ? WHERE tenant = ? AND trace_id = ? AND sequence = ?",
                 (line, prev, tenant, trace_id, int(seq)))
            changed.append(ev["event_id"])
        tx.x("UPDATE traces SET head_hash = ? WHERE tenant = ? AND trace_id = ?", (prev, tenant, trace_id))
    return changed


def rebuild_log(db: Database, svc: LogService, tenant: str, order: str = "log_index") -> None:
    """Throws the tenant's log away and builds it again from the events now stored (in ``order``
    of the events table), then signs a checkpoint: what an operator holding the key does to hide
    a deletion or a reordering from anyone without an older checkpoint."""
    with db.write() as tx:
        for table in ("tlog_tiles", "tlog_state", "tlog_checkpoints", "tlog_records"):
            tx.x(f"DELETE FROM {table} WHERE tenant = ?", (tenant,))
        rows = tx.q(f"SELECT trace_id, sequence, raw FROM events WHERE tenant = ? ORDER BY {order}", (tenant,))
        tx.x("UPDATE events SET log_index = NULL WHERE tenant = ?", (tenant,))
        ap = Appender(tx, tenant)
        first = ap.append([bytes(r[2]) for r in rows])
        tx.many("UPDATE events SET log_index = ? WHERE tenant = ? AND trace_id = ? AND sequence = ?",
                [(first + i, tenant, r[0], int(r[1])) for i, r in enumerate(rows)])
        ap.flush()
    svc.checkpoint(tenant)


_TABLES = ("events", "traces", "trace_atlases", "trace_actions", "held_events", "gaps", "tlog_state", "tlog_tiles",
           "tlog_checkpoints", "tlog_records")


def snapshot(db: Database) -> Dict[str, Tuple[List[str], List[Tuple[Any, ...]]]]:
    """Every row of the tables that matter (a backup)."""
    out = {}
    with db.read() as tx:
        for t in _TABLES:
            cur = tx.conn.execute(f"SELECT * FROM {t}")
            cols = [d[0] for d in cur.description]
            out[t] = (cols, [tuple(bytes(x) if isinstance(x, memoryview) else x for x in r) for r in cur.fetchall()])
    return out


def restore(db: Database, snap: Dict[str, Tuple[List[str], List[Tuple[Any, ...]]]]) -> None:
    """Puts the backup back (every later row gone)."""
    with db.write() as tx:
        for t, (cols, rows) in snap.items():
            tx.x(f"DELETE FROM {t}")
            if rows:
                marks = ", ".join("?" for _ in cols)
                tx.many(f"INSERT INTO {t} ({', '.join(cols)}) VALUES ({marks})", rows)
