"""The transparency log in the store: one append-only Merkle tree per tenant over every stored
event, signed checkpoints, proofs and entries (docs/transparency.md).

* **Appends** happen in the transaction that stores the events (:class:`Appender`, used by
  :class:`~.chains.Chains`): the first append of a transaction locks the tenant's ``tlog_state``
  row (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's single writer), so concurrent batches of one
  tenant, in any number of processes, append one after the other: one order, never a fork. The
  leaves get consecutive indices (``events.log_index``); at the end of the transaction the changed
  tiles and the new size, root and frontier are written once (a batch costs a few row writes
  beyond its events, whatever its size).
* **Leaf data** is the event's line as stored and exported (without the LF):
  ``leaf hash = SHA-256(0x00 || line)``.
* **Checkpoints** (:class:`LogService`): every ``checkpoint_seconds`` and on demand, for each
  tenant whose tree grew, the server checks the stored tiles against the stored root and the
  last checkpoint (it never signs a tree inconsistent with what it signed before), signs
  ``(origin, size, root)`` with the active key and keeps the note in ``tlog_checkpoints``.
* **Proofs** (inclusion by event or leaf, consistency, a whole trace's events at once) and
  **entries** (the events at a range of leaves, for monitors) are read from the tiles.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from ..tlog import EMPTY_ROOT, HASH_SIZE, leaf_hash
from .checkpoint import KeyRing, add_signature, sign_checkpoint
from .db import Busy, Database, Tx, now_us
from .merkle import TILE_WIDTH, Edge, TileKey, TreeError, TreeReader, edge_tiles_needed

__all__ = ["ENABLED", "Appender", "LogService", "Checkpointer", "StoredCheckpoint", "LogError", "adopt_unlogged",
           "record_deletions", "tile_reader", "MAX_PROOF_EVENTS", "MAX_ENTRIES"]

log = logging.getLogger("cra.server")

#: Every stored event is appended to its tenant's log. Only the benchmark turns this off (to
#: measure what the log costs); a deployment always logs.
ENABLED = True
#: Most events one trace-proof request covers, and most entries one page returns.
MAX_PROOF_EVENTS = 100_000
MAX_ENTRIES = 10_000


class LogError(Exception):
    """A log request that cannot be answered as asked (the message says why; a 4xx)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def tile_reader(tx: Tx, tenant: str) -> Any:
    """A :data:`~.merkle.TileReader` over ``tx`` for ``tenant``'s tiles: one query of point
    lookups (``UNION ALL``, each an index search on both databases) per 100 tiles."""

    def read(keys: Sequence[TileKey]) -> Dict[TileKey, bytes]:
        out: Dict[TileKey, bytes] = {}
        keys = sorted(set(keys))
        one = "SELECT level, idx, hashes FROM tlog_tiles WHERE tenant = ? AND level = ? AND idx = ?"
        for i in range(0, len(keys), 100):
            part = keys[i:i + 100]
            args = [x for level, idx in part for x in (tenant, level, idx)]
            for level, idx, blob in tx.q(" UNION ALL ".join(one for _ in part), args):
                out[(int(level), int(idx))] = bytes(blob)
        return out

    return read


# Right edges of recently appended trees, by (tenant, size, root): a batch that finds its tenant's
# log as this process left it skips reading the partial tiles. The root commits to every leaf, so a
# hit is the same tree whatever database it came from; a transaction that rolled back after its
# flush left an edge whose root the stored state does not have (never hit).
_EDGES: "OrderedDict[Tuple[str, int, bytes], Tuple[bytes, Dict[TileKey, bytes]]]" = OrderedDict()
_EDGES_LOCK = threading.Lock()
_EDGES_MAX = 1024


class Appender:
    """Appends leaves to one tenant's log inside one write transaction. The tenant's log row is
    locked at the first :meth:`append` and held until the transaction ends; :meth:`flush` writes
    the tiles and the new state (call it once, before the commit)."""

    def __init__(self, tx: Tx, tenant: str) -> None:
        self.tx = tx
        self.tenant = tenant
        self._edge: Optional[Edge] = None
        self.appended = 0

    def _load(self) -> Edge:
        tx = self.tx
        lock = f"SELECT size, root, frontier FROM tlog_state WHERE tenant = ?{tx.for_update}"
        rows = tx.q(lock, (self.tenant,))
        if not rows:  # the tenant's first event
            tx.x("INSERT INTO tlog_state (tenant, size, root, frontier, updated_us) VALUES (?, 0, ?, ?, ?)"
                 " ON CONFLICT DO NOTHING", (self.tenant, EMPTY_ROOT, b"", now_us()))
            rows = tx.q(lock, (self.tenant,))
        size, root, frontier = int(rows[0][0]), bytes(rows[0][1]), bytes(rows[0][2])
        with _EDGES_LOCK:
            hit = _EDGES.get((self.tenant, size, root))
        if hit is not None and hit[0] == frontier:
            return Edge(size, frontier, hit[1])
        need = edge_tiles_needed(size)
        tiles = tile_reader(tx, self.tenant)(need) if need else {}
        return Edge(size, frontier, tiles)

    def append(self, lines: Sequence[bytes]) -> int:
        """Appends the leaves of these event lines (without LF); returns the first one's index."""
        if self._edge is None:
            self._edge = self._load()
        first = self._edge.size
        self._edge.append([leaf_hash(x) for x in lines])
        self.appended += len(lines)
        return first

    def flush(self) -> None:
        """Writes the changed tiles and the new size, root and frontier (nothing if nothing was
        appended)."""
        e = self._edge
        if e is None or not self.appended:
            return
        tiles = [(self.tenant, level, index, blob) for level, index, blob in e.take_tiles()]
        root, frontier = e.root(), e.frontier_bytes()
        state = (e.size, root, frontier, now_us(), self.tenant)
        upsert = " ON CONFLICT (tenant, level, idx) DO UPDATE SET hashes = excluded.hashes"
        update = "UPDATE tlog_state SET size = ?, root = ?, frontier = ?, updated_us = ? WHERE tenant = ?"
        if self.tx.pg and tiles:  # one round trip: the tiles in a data-modifying WITH, then the state
            values = ", ".join("(?, ?, ?, ?)" for _ in tiles)
            self.tx.x(f"WITH t AS (INSERT INTO tlog_tiles (tenant, level, idx, hashes) VALUES {values}{upsert})"
                      f" {update}", [x for row in tiles for x in row] + list(state))
        else:
            self.tx.many("INSERT INTO tlog_tiles (tenant, level, idx, hashes) VALUES (?, ?, ?, ?)" + upsert, tiles)
            self.tx.x(update, state)
        self.appended = 0
        with _EDGES_LOCK:
            _EDGES[(self.tenant, e.size, root)] = (frontier, e.partial_tiles())
            while len(_EDGES) > _EDGES_MAX:
                _EDGES.popitem(last=False)


def adopt_unlogged(db: Database, tenant: Optional[str] = None, limit: int = 5000) -> int:
    """Appends events stored without a leaf (before the log existed, schema version 1) to their
    tenant's log, oldest receipt first, ``limit`` per transaction, under the same locks as
    ingest (trace rows, then the log row). Returns how many were adopted."""
    total = 0
    while True:
        with db.read() as tx:
            sql = "SELECT DISTINCT tenant FROM events WHERE log_index IS NULL"
            tenants = [r[0] for r in tx.q(sql + (" AND tenant = ?" if tenant else ""), (tenant,) if tenant else ())]
        if not tenants:
            return total
        for t in sorted(tenants):
            with db.write() as tx:
                rows = tx.q("SELECT trace_id, sequence, raw FROM events WHERE tenant = ? AND log_index IS NULL"
                            " ORDER BY received_us, trace_id, sequence LIMIT ?", (t, limit))
                traces = sorted({r[0] for r in rows})
                for cond, part in tx.among("trace_id", traces):
                    tx.q(f"SELECT trace_id FROM traces WHERE tenant = ? AND {cond} ORDER BY trace_id{tx.for_update}",
                         (t, *part))
                # again under the locks: retention may have deleted some meanwhile
                rows = tx.q("SELECT trace_id, sequence, raw FROM events WHERE tenant = ? AND log_index IS NULL"
                            " ORDER BY received_us, trace_id, sequence LIMIT ?", (t, limit))
                if not rows:
                    continue
                ap = Appender(tx, t)
                first = ap.append([bytes(r[2]) for r in rows])
                tx.many("UPDATE events SET log_index = ? WHERE tenant = ? AND trace_id = ? AND sequence = ?",
                        [(first + i, t, r[0], int(r[1])) for i, r in enumerate(rows)])
                ap.flush()
                total += len(rows)
                log.info("transparency log: %d events of tenant %s stored before the log were appended", len(rows), t)


def record_deletions(tx: Tx, tenant: str, trace_ids: Sequence[str], reason: str) -> int:
    """Appends one ``deleted`` record per trace about to be deleted (call it under the traces'
    row locks, before deleting): a leaf whose data is the canonical JSON
    ``{"cra_log":"deleted","events":N,"indices":[...],"reason":...,"time_us":...,"trace_id":...}``
    naming the leaves of the trace's events, so a monitor tells a deletion by retention from a
    silent one. Returns the records appended."""
    import json

    if not trace_ids:
        return 0
    idx: Dict[str, List[int]] = {t: [] for t in trace_ids}
    for cond, part in tx.among("trace_id", list(trace_ids)):
        for tid, li in tx.q(f"SELECT trace_id, log_index FROM events WHERE tenant = ? AND {cond}"
                            " AND log_index IS NOT NULL", (tenant, *part)):
            idx[tid].append(int(li))
    when = now_us()
    lines = [json.dumps({"cra_log": "deleted", "events": len(idx[t]), "indices": sorted(idx[t]), "reason": reason,
                         "time_us": when, "trace_id": t}, sort_keys=True, separators=(",", ":"),
                        ensure_ascii=False).encode("utf-8") for t in trace_ids]
    ap = Appender(tx, tenant)
    first = ap.append(lines)
    tx.many("INSERT INTO tlog_records (tenant, log_index, kind, trace_id, line) VALUES (?, ?, 'deleted', ?, ?)",
            [(tenant, first + i, t, ln) for i, (t, ln) in enumerate(zip(trace_ids, lines))])
    ap.flush()
    return len(lines)


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as kept: size, root, the note, when it was made."""

    size: int
    root: bytes
    note: str
    created_us: int

    def to_json(self) -> Dict[str, Any]:
        return {"size": self.size, "root": base64.b64encode(self.root).decode(), "created_us": self.created_us,
                "note": self.note}


def _b64(h: bytes) -> str:
    return base64.b64encode(h).decode()


class LogService:
    """Checkpoints, proofs and entries of every tenant's log, signed with ``ring``'s active key.
    A tenant's origin (and key name) is ``<origin_base>/<tenant>``."""

    def __init__(self, db: Database, ring: KeyRing, origin_base: str) -> None:
        self.db = db
        self.ring = ring
        self.origin_base = origin_base
        self.made = 0  # checkpoints signed by this process (for /metrics)
        self.refused = 0  # self-audits that failed

    def origin(self, tenant: str) -> str:
        """The origin line (and key name) of ``tenant``'s log."""
        return f"{self.origin_base}/{tenant}"

    def keys(self, tenant: str) -> Dict[str, Any]:
        """The tenant's vkeys (every key of the ring, oldest first) and the active one."""
        o = self.origin(tenant)
        return {"origin": o, "vkeys": self.ring.vkeys(o), "active": self.ring.active.vkey(o),
                "leaf": "SHA-256(0x00 || event line without LF)", "hash": "RFC 9162 (SHA-256)"}

    # -- state and checkpoints ----------------------------------------------------------------
    @staticmethod
    def _state(tx: Tx, tenant: str) -> Tuple[int, bytes]:
        rows = tx.q("SELECT size, root FROM tlog_state WHERE tenant = ?", (tenant,))
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else (0, EMPTY_ROOT)

    @staticmethod
    def _cp(row: Sequence[Any]) -> StoredCheckpoint:
        return StoredCheckpoint(int(row[0]), bytes(row[1]), str(row[2]), int(row[3]))

    def get_checkpoint(self, tenant: str, size: Optional[int] = None) -> Optional[StoredCheckpoint]:
        """The checkpoint of ``size`` leaves, or the latest; None when there is none."""
        with self.db.read() as tx:
            if size is None:
                rows = tx.q("SELECT size, root, note, created_us FROM tlog_checkpoints WHERE tenant = ?"
                            " ORDER BY size DESC LIMIT 1", (tenant,))
            else:
                rows = tx.q("SELECT size, root, note, created_us FROM tlog_checkpoints WHERE tenant = ? AND size = ?",
                            (tenant, size))
        return self._cp(rows[0]) if rows else None

    def list_checkpoints(self, tenant: str, after: int = -1, limit: int = 100) -> Dict[str, Any]:
        """Checkpoints by size, ascending, from ``after`` on (exclusive)."""
        with self.db.read() as tx:
            rows = tx.q("SELECT size, root, note, created_us FROM tlog_checkpoints WHERE tenant = ? AND size > ?"
                        " ORDER BY size LIMIT ?", (tenant, after, limit + 1))
        more = len(rows) > limit
        cps = [self._cp(r).to_json() for r in rows[:limit]]
        return {"origin": self.origin(tenant), "checkpoints": cps, "next_after": cps[-1]["size"] if more else None}

    def checkpoint(self, tenant: str) -> StoredCheckpoint:
        """A checkpoint of the tenant's tree as it is now, signed with the active key (the
        stored one when the tree has not grown and the active key signed it). Before signing, the
        stored tiles must give the stored root and the latest checkpoint's root at its size:
        otherwise :class:`~.merkle.TreeError`, and nothing is signed."""
        with self.db.read() as tx:
            size, root = self._state(tx, tenant)
            last = tx.q("SELECT size, root, note, created_us FROM tlog_checkpoints WHERE tenant = ? AND size <= ?"
                        " ORDER BY size DESC LIMIT 1", (tenant, size))
            prev = self._cp(last[0]) if last else None
            origin = self.origin(tenant)
            key = self.ring.active
            if prev is not None and prev.size == size and prev.root == root and \
                    add_signature(prev.note, key, origin) == prev.note:
                return prev
            reader = TreeReader(tile_reader(tx, tenant))
            try:
                if reader.root(size) != root:
                    raise TreeError(f"the stored tiles of tenant {tenant} do not give the stored root at size {size}")
                if prev is not None and reader.root(prev.size) != prev.root:
                    raise TreeError(f"the stored tree of tenant {tenant} no longer gives the root signed at size "
                                    f"{prev.size}: the log was rewritten or rolled back")
            except TreeError as e:
                self.refused += 1
                log.error("transparency log: refusing to sign: %s", e)
                raise
        if prev is not None and prev.size == size:
            note = add_signature(prev.note, key, origin)  # a new active key cosigns the same tree
        else:
            note = sign_checkpoint(key, origin, size, root)
        created = now_us()
        with self.db.write() as tx:
            tx.x("INSERT INTO tlog_checkpoints (tenant, size, root, note, created_us) VALUES (?, ?, ?, ?, ?)"
                 " ON CONFLICT DO NOTHING", (tenant, size, root, note, created))
            row = tx.q("SELECT size, root, note, created_us FROM tlog_checkpoints WHERE tenant = ? AND size = ?",
                       (tenant, size))[0]
            stored = self._cp(row)
            if stored.root != root:
                raise TreeError(f"a checkpoint of size {size} with another root is stored for tenant {tenant}")
            merged = add_signature(stored.note, key, origin)
            if merged != stored.note:
                tx.x("UPDATE tlog_checkpoints SET note = ? WHERE tenant = ? AND size = ?", (merged, tenant, size))
                stored = StoredCheckpoint(size, root, merged, stored.created_us)
        self.made += 1
        return stored

    def run_once(self) -> int:
        """One timer round: adopt events stored without a leaf, then checkpoint every tenant whose
        tree grew since its latest checkpoint. Returns checkpoints made."""
        adopt_unlogged(self.db)
        with self.db.read() as tx:
            rows = tx.q("SELECT s.tenant FROM tlog_state s WHERE s.size > COALESCE((SELECT c.size FROM tlog_checkpoints c"
                        " WHERE c.tenant = s.tenant ORDER BY c.size DESC LIMIT 1), -1) ORDER BY s.tenant")
        n = 0
        for (tenant,) in rows:
            try:
                self.checkpoint(tenant)
                n += 1
            except TreeError:
                continue  # logged; the other tenants are still checkpointed
        return n

    # -- proofs ------------------------------------------------------------------------------
    def _size(self, tx: Tx, tenant: str, size: Optional[int]) -> Tuple[int, Optional[StoredCheckpoint]]:
        tree, _ = self._state(tx, tenant)
        if size is None:
            rows = tx.q("SELECT size, root, note, created_us FROM tlog_checkpoints WHERE tenant = ?"
                        " ORDER BY size DESC LIMIT 1", (tenant,))
            if not rows:
                raise LogError(404, "no_checkpoint", "this log has no checkpoint yet (POST /v1/log/checkpoint)")
            cp = self._cp(rows[0])
            return cp.size, cp
        if not 0 <= size <= tree:
            raise LogError(400, "bad_size", f"the log has {tree} leaves; size {size} is beyond it")
        rows = tx.q("SELECT size, root, note, created_us FROM tlog_checkpoints WHERE tenant = ? AND size = ?",
                    (tenant, size))
        return size, (self._cp(rows[0]) if rows else None)

    def inclusion(self, tenant: str, size: Optional[int] = None, event_id: Optional[str] = None,
                  index: Optional[int] = None) -> Dict[str, Any]:
        """The inclusion proof of one leaf (by event id or index) in the tree of ``size`` leaves
        (default: the latest checkpoint's)."""
        with self.db.read() as tx:
            n, cp = self._size(tx, tenant, size)
            where: Dict[str, Any] = {}
            if event_id is not None:
                rows = tx.q("SELECT log_index, trace_id, sequence FROM events WHERE tenant = ? AND event_id = ?",
                            (tenant, event_id))
                if not rows:
                    raise LogError(404, "not_found", "no such event")
                if rows[0][0] is None:
                    raise LogError(409, "not_logged", "this event has no leaf yet (it is being adopted); retry")
                index = int(rows[0][0])
                where = {"event_id": event_id, "trace_id": rows[0][1], "sequence": int(rows[0][2])}
            if index is None:
                raise LogError(400, "bad_query", "give event_id or index")
            if not 0 <= index < n:
                raise LogError(409, "not_in_tree", f"leaf {index} is not in the tree of {n} leaves: ask for a newer "
                                                   "checkpoint")
            reader = TreeReader(tile_reader(tx, tenant))
            path = reader.inclusion(index, n)
            leaf = reader.leaf(index)
        return {"index": index, "size": n, "leaf_hash": _b64(leaf), "hashes": [_b64(h) for h in path], **where,
                "checkpoint": cp.note if cp else None}

    def consistency(self, tenant: str, first: int, second: Optional[int] = None) -> Dict[str, Any]:
        """The consistency proof from ``first`` leaves to ``second`` (default: the latest checkpoint's)."""
        with self.db.read() as tx:
            n, cp = self._size(tx, tenant, second)
            if not 0 <= first <= n:
                raise LogError(400, "bad_size", f"no consistency proof from {first} to {n} leaves")
            path = TreeReader(tile_reader(tx, tenant)).consistency(first, n)
        return {"from": first, "to": n, "hashes": [_b64(h) for h in path], "checkpoint": cp.note if cp else None}

    def trace_proofs(self, tenant: str, trace_ids: Sequence[str], size: Optional[int] = None) -> Dict[str, Any]:
        """Every event of these traces with its leaf index and inclusion proof in the tree of
        ``size`` leaves (default: the latest checkpoint's), in one answer: the proofs share a
        list of distinct hashes and name them by position. Traces this tenant lacks are listed
        in ``missing``; events logged after ``size`` have their index and no proof."""
        ids = sorted(set(trace_ids))
        with self.db.read() as tx:
            n, cp = self._size(tx, tenant, size)
            known: List[str] = []
            rows: List[Tuple[Any, ...]] = []
            for cond, part in tx.among("trace_id", ids):
                known += [r[0] for r in tx.q(f"SELECT trace_id FROM traces WHERE tenant = ? AND {cond}", (tenant, *part))]
                rows += tx.q(f"SELECT trace_id, sequence, event_id, log_index FROM events WHERE tenant = ? AND {cond}",
                             (tenant, *part))
                if len(rows) > MAX_PROOF_EVENTS:
                    raise LogError(400, "too_many_events", f"these traces have more than {MAX_PROOF_EVENTS} events; "
                                                           "ask for fewer at a time")
            rows.sort(key=lambda r: (r[0], int(r[1])))
            gone = [t for t in ids if t not in set(known)]
            records: List[Tuple[Any, ...]] = []
            for cond, part in tx.among("trace_id", gone):
                records += tx.q(f"SELECT trace_id, log_index, line FROM tlog_records WHERE tenant = ? AND {cond}"
                                " ORDER BY log_index", (tenant, *part))
            provable = sorted({int(r[3]) for r in rows if r[3] is not None and int(r[3]) < n}
                              | {int(r[1]) for r in records if int(r[1]) < n})
            paths = dict(zip(provable, TreeReader(tile_reader(tx, tenant)).inclusions(provable, n)))
        table: Dict[bytes, int] = {}
        hashes: List[str] = []

        def proof_of(idx: Any) -> Optional[List[int]]:
            if idx is None or int(idx) not in paths:
                return None
            out = []
            for h in paths[int(idx)]:
                k = table.get(h)
                if k is None:
                    k = table[h] = len(hashes)
                    hashes.append(_b64(h))
                out.append(k)
            return out

        traces: Dict[str, List[Dict[str, Any]]] = {t: [] for t in sorted(known)}
        for tid, seq, eid, idx in rows:
            traces.setdefault(tid, []).append({"sequence": int(seq), "event_id": eid,
                                               "index": None if idx is None else int(idx), "proof": proof_of(idx)})
        deleted = [{"trace_id": tid, "index": int(li), "record": bytes(line).decode("utf-8"), "proof": proof_of(li)}
                   for tid, li, line in records]
        return {"size": n, "checkpoint": cp.note if cp else None, "hashes": hashes,
                "traces": [{"trace_id": t, "events": evs} for t, evs in traces.items()],
                "missing": gone, "deleted": deleted}

    def index_proofs(self, tenant: str, indices: Sequence[int], size: Optional[int] = None) -> Dict[str, Any]:
        """Inclusion proofs of these leaves (at most :data:`MAX_ENTRIES`) in the tree of ``size``
        leaves (default: the latest checkpoint's), sharing one list of distinct hashes as
        :meth:`trace_proofs` does: ``{size, checkpoint, hashes, leaves: [{index, leaf_hash,
        proof}]}`` (the HTTP sink's receipts ask for the leaves of a batch it delivered)."""
        want = sorted(set(int(i) for i in indices))
        if len(want) > MAX_ENTRIES:
            raise LogError(400, "too_many_indices", f"at most {MAX_ENTRIES} leaves at a time")
        with self.db.read() as tx:
            n, cp = self._size(tx, tenant, size)
            beyond = [i for i in want if not 0 <= i < n]
            if beyond:
                raise LogError(409, "not_in_tree", f"leaf {beyond[0]} is not in the tree of {n} leaves: ask for a "
                                                   "newer checkpoint")
            reader = TreeReader(tile_reader(tx, tenant))
            paths = reader.inclusions(want, n) if want else []
            leaves = [reader.leaf(i) for i in want]
        table: Dict[bytes, int] = {}
        hashes: List[str] = []
        out = []
        for i, path, leaf in zip(want, paths, leaves):
            pos = []
            for h in path:
                k = table.get(h)
                if k is None:
                    k = table[h] = len(hashes)
                    hashes.append(_b64(h))
                pos.append(k)
            out.append({"index": i, "leaf_hash": _b64(leaf), "proof": pos})
        return {"size": n, "checkpoint": cp.note if cp else None, "hashes": hashes, "leaves": out}

    def entries(self, tenant: str, start: int, end: int) -> Dict[str, Any]:
        """The leaves [start, end) of the log (at most :data:`MAX_ENTRIES`): each leaf's stored
        hash and the event stored for it (``line``: its raw line, or None when no event is stored
        for that leaf)."""
        with self.db.read() as tx:
            size, _ = self._state(tx, tenant)
            end = min(end, size, start + MAX_ENTRIES)
            if not 0 <= start <= end:
                raise LogError(400, "bad_range", f"start must be 0-{size} and end above it")
            lines = {int(i): bytes(raw) for i, raw in tx.q(
                "SELECT log_index, raw FROM events WHERE tenant = ? AND log_index >= ? AND log_index < ?",
                (tenant, start, end))}
            lines.update({int(i): bytes(raw) for i, raw in tx.q(
                "SELECT log_index, line FROM tlog_records WHERE tenant = ? AND log_index >= ? AND log_index < ?",
                (tenant, start, end))})
            tiles = tile_reader(tx, tenant)(sorted({(0, i // TILE_WIDTH) for i in range(start, end)}))
        out = []
        for i in range(start, end):
            blob = tiles.get((0, i // TILE_WIDTH), b"")
            off = (i % TILE_WIDTH) * HASH_SIZE
            lh = blob[off:off + HASH_SIZE]
            raw = lines.get(i)
            out.append({"index": i, "leaf_hash": _b64(lh) if len(lh) == HASH_SIZE else None,
                        "line": None if raw is None else raw.decode("utf-8", "replace")})
        return {"size": size, "start": start, "end": end, "entries": out}

    def state(self, tenant: str) -> Dict[str, Any]:
        """The tree's current size and root (unsigned; the checkpoints are what to keep)."""
        with self.db.read() as tx:
            size, root = self._state(tx, tenant)
        return {"origin": self.origin(tenant), "size": size, "root": _b64(root)}


class Checkpointer:
    """A daemon thread running :meth:`LogService.run_once` every ``interval`` seconds."""

    def __init__(self, service: LogService, interval: float) -> None:
        self.service = service
        self.interval = interval
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        """Starts the thread (no-op when ``interval`` is 0: checkpoints on demand only)."""
        if self.interval <= 0 or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="cra-log-checkpointer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stops the thread and waits (bounded) for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.service.run_once()
            except Busy as e:
                log.warning("checkpoint postponed: %s", e)
            except Exception:  # keep the timer alive; the error is logged with its traceback
                log.exception("checkpoint failed")

