"""The transparency log on SQLite and PostgreSQL: every stored event is a leaf, checkpoints are
C2SP signed notes, proofs hold, keys rotate, retention is recorded. Everything the server makes
is checked by the independent implementation in :mod:`.tlog_independent` (hashlib, PyNaCl,
RFC 9162's recursive definitions), and ``cra.tlog`` is checked against it."""

from __future__ import annotations

import base64
import json
import os
import random
import re
import stat
import struct
from typing import Any, Dict, List

import nacl.signing
import pytest

from cra.server import tlog as server_tlog
from cra.server.checkpoint import KeyFileError, KeyRing
from cra.server.db import Database, now_us
from cra.server.ingest import Ingestor
from cra.server.maintenance import apply_retention
from cra.server.merkle import Edge, TreeReader, edge_tiles_needed
from cra.server.tlog import LogService, adopt_unlogged
from cra import tlog

from . import tlog_independent as ind
from .helpers import by_trace, field, lines
from .tlog_helpers import ORIGIN, bundle, entries, export, service, vkey


def leaves_by_index(db: Database, tenant: str) -> List[bytes]:
    """The leaf hashes of the stored events (and records) in log order, recomputed here."""
    with db.read() as tx:
        rows = tx.q("SELECT log_index, raw FROM events WHERE tenant = ? UNION ALL"
                    " SELECT log_index, line FROM tlog_records WHERE tenant = ? ORDER BY 1", (tenant, tenant))
    assert [int(r[0]) for r in rows] == list(range(len(rows)))  # every leaf once, no hole, no fork
    return [ind.h_leaf(bytes(r[1])) for r in rows]


# -- the tree itself (no database) ------------------------------------------------------------------
def test_tiles_proofs_and_roots_agree_with_the_independent_definitions() -> None:
    rng = random.Random(7)
    tiles: Dict[Any, bytes] = {}
    size, frontier = 0, b""
    leaves: List[bytes] = []
    for step in range(40):  # appends of every shape, the edge reloaded from the tiles each time
        k = rng.choice([1, 2, 3, 255, 256, 257, 1000, 3000, 20000])
        new = [ind.h_leaf(b"leaf %d" % (len(leaves) + i)) for i in range(k)]
        e = Edge(size, frontier, {t: tiles[t] for t in edge_tiles_needed(size)})
        e.append(new)
        leaves += new
        for level, index, blob in e.take_tiles():
            tiles[(level, index)] = blob
        size, frontier = e.size, e.frontier_bytes()
        if step % 8 == 0:
            assert e.root() == ind.mth(leaves)
    reader = TreeReader(lambda ks: {k: tiles[k] for k in ks if k in tiles})
    for n in sorted(x for x in {1, 2, 3, 5, 8, 255, 256, 257, 4097, 65536, 65537, size - 1, size} if x <= size):
        root = ind.mth(leaves[:n])
        assert reader.root(n) == root
        for i in {0, n - 1, n // 2, rng.randrange(n)}:
            path = reader.inclusion(i, n)
            assert ind.check_inclusion(i, n, leaves[i], path, root)
            assert tlog.verify_inclusion(leaves[i], i, n, path, root)
            if path:  # any flipped bit fails both
                bad = list(path)
                bad[rng.randrange(len(bad))] = bytes(32)
                assert not ind.check_inclusion(i, n, leaves[i], bad, root)
                assert not tlog.verify_inclusion(leaves[i], i, n, bad, root)
        for m in {x for x in (0, 1, 2, 3, n // 3, n - 1, n) if x <= n}:
            path = reader.consistency(m, n)
            old = ind.mth(leaves[:m])
            assert ind.check_consistency(m, n, old, root, path), (m, n)
            assert tlog.verify_consistency(m, n, old, root, path)
            if 0 < m < n:
                assert not ind.check_consistency(m, n, ind.h_leaf(b"x"), root, path)
                assert not tlog.verify_consistency(m, n, ind.h_leaf(b"x"), root, path)
                assert not tlog.verify_consistency(m, n, old, root, path[:-1])
    assert len(reader.inclusion(0, size)) <= size.bit_length()


# -- the store -------------------------------------------------------------------------------------
def test_every_stored_event_is_one_leaf_in_arrival_order(ingestor: Ingestor, db: Database, several: bytes,
                                                         tmp_path: Any) -> None:
    traces = list(by_trace(several).values())
    ls = lines(several)
    ingestor.ingest("acme", b"".join(ls[:20]))
    ingestor.ingest("acme", b"".join(ls[:20]))  # duplicates: no new leaf
    held = traces[-1]
    ingestor.ingest("acme", b"".join(held[3:]))  # held: no leaf until stored
    with db.read() as tx:
        assert tx.q("SELECT size FROM tlog_state WHERE tenant = 'acme'")[0][0] == 20
    ingestor.ingest("acme", b"".join(ls[20:]))  # the rest, releasing the held ones
    ingestor.ingest("globex", b"".join(ls[:5]))  # another tenant: another log
    leaves = leaves_by_index(db, "acme")
    assert len(leaves) == len(ls)
    assert leaves[:20] == [ind.h_leaf(x[:-1]) for x in ls[:20]]  # leaf data: the line without its LF
    svc = service(db, str(tmp_path))
    cp = svc.checkpoint("acme")
    got = ind.open_note(cp.note, vkey(svc, "acme"))
    assert got == {"origin": f"{ORIGIN}/acme", "size": len(ls), "root": ind.mth(leaves), "cosigned": []}
    assert leaves_by_index(db, "globex") == [ind.h_leaf(x[:-1]) for x in ls[:5]]
    other = svc.checkpoint("globex")
    assert ind.open_note(other.note, vkey(svc, "globex"))["size"] == 5
    assert ind.bad_signature(other.note, vkey(svc, "acme"))  # a tenant's key name is its origin


def test_checkpoint_format_keys_and_files(db: Database, ingestor: Ingestor, demo: bytes, tmp_path: Any) -> None:
    ingestor.ingest("acme", demo)
    svc = service(db, str(tmp_path))
    key_file = os.path.join(str(tmp_path), "log.key")
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    cp = svc.checkpoint("acme")
    assert svc.checkpoint("acme") == cp  # nothing new: the same checkpoint
    m = re.fullmatch(r"(test\.example/cra/acme)\n(\d+)\n([A-Za-z0-9+/=]{44})\n\n\u2014 \1 ([A-Za-z0-9+/=]+)\n", cp.note)
    assert m is not None, cp.note
    sig = base64.b64decode(m.group(4))
    name, pub, typ = ind.read_vkey(vkey(svc, "acme"))
    assert (name, typ, len(sig)) == (f"{ORIGIN}/acme", 1, 68) and sig[:4] == ind.key_id(name, 1, pub)
    nacl.signing.VerifyKey(pub).verify(cp.note.split("\n\n")[0].encode() + b"\n", sig[4:])
    assert tlog.open_checkpoint(cp.note, [vkey(svc, "acme")]).size == len(lines(demo))
    # a changed byte anywhere is refused; a key file others can read is refused; so is junk
    forged = cp.note.replace(f"\n{cp.size}\n", f"\n{cp.size + 1}\n")
    assert ind.bad_signature(forged, vkey(svc, "acme"))
    with pytest.raises(tlog.NoteError) as e:
        tlog.open_checkpoint(forged, [vkey(svc, "acme")])
    assert e.value.code == "bad_signature"
    os.chmod(key_file, 0o640)
    with pytest.raises(KeyFileError, match="chmod 600"):
        KeyRing.load(key_file)
    os.chmod(key_file, 0o600)
    junk = os.path.join(str(tmp_path), "junk.key")
    fd = os.open(junk, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"ed25519-private notbase64!\n")
    os.close(fd)
    with pytest.raises(KeyFileError, match="base64"):
        KeyRing.load(junk)


def test_keys_rotate_and_old_checkpoints_still_verify(db: Database, ingestor: Ingestor, several: bytes,
                                                      tmp_path: Any) -> None:
    ls = lines(several)
    ingestor.ingest("acme", b"".join(ls[:10]))
    key_file = os.path.join(str(tmp_path), "log.key")
    old_svc = service(db, str(tmp_path))
    first = old_svc.checkpoint("acme")
    old_vkey = vkey(old_svc, "acme")
    KeyRing.add(key_file)  # rotation: a new active key
    svc = service(db, str(tmp_path))
    new_vkey = vkey(svc, "acme")
    assert new_vkey != old_vkey and svc.keys("acme")["vkeys"] == [old_vkey, new_vkey]
    same = svc.checkpoint("acme")  # the same tree, now signed by both keys
    assert same.size == first.size and same.note.startswith(first.note)
    ind.open_note(same.note, old_vkey)
    ind.open_note(same.note, new_vkey)
    ingestor.ingest("acme", b"".join(ls[10:]))
    later = svc.checkpoint("acme")
    ind.open_note(later.note, new_vkey)
    assert ind.bad_signature(later.note, old_vkey)  # the old key no longer signs
    assert KeyRing.retire(key_file) == 1
    ring = KeyRing.load(key_file)
    assert [k.seed is None for k in ring.keys] == [True, False] and ring.vkeys(f"{ORIGIN}/acme") == [old_vkey, new_vkey]
    # the verifier with both keys accepts either checkpoint; consistency between them holds
    cons = svc.consistency("acme", first.size, later.size)
    v = tlog.verify(keys=[old_vkey, new_vkey], checkpoint=later.note, old_checkpoint=first.note, consistency=cons)
    assert v.ok, v.to_json()
    v = tlog.verify(keys=[old_vkey], checkpoint=later.note)
    assert v.codes() == {"unknown_key"}


def test_proofs_hold_for_every_event_and_every_pair_of_checkpoints(db: Database, ingestor: Ingestor, several: bytes,
                                                                   tmp_path: Any) -> None:
    ls = lines(several)
    svc = service(db, str(tmp_path))
    cps = []
    for a, b in ((0, 7), (7, 8), (8, 40), (40, len(ls))):
        ingestor.ingest("acme", b"".join(ls[a:b]))
        cps.append(svc.checkpoint("acme"))
    key = vkey(svc, "acme")
    leaves = leaves_by_index(db, "acme")
    for i, old in enumerate(cps):
        o = ind.open_note(old.note, key)
        assert o["root"] == ind.mth(leaves[:old.size])
        for new in cps[i:]:
            p = svc.consistency("acme", old.size, new.size)
            assert ind.check_consistency(old.size, new.size, old.root, new.root, ind.b64s(p["hashes"]))
    last = cps[-1]
    listed = svc.list_checkpoints("acme")["checkpoints"]
    assert [c["size"] for c in listed] == [c.size for c in cps]
    assert svc.get_checkpoint("acme", 7) == cps[0] and svc.get_checkpoint("acme") == last
    for ln in ls[::5]:
        p = svc.inclusion("acme", event_id=str(field(ln, "event_id")))
        assert p["size"] == last.size and p["checkpoint"] == last.note
        assert ind.check_inclusion(p["index"], p["size"], ind.h_leaf(ln[:-1]), ind.b64s(p["hashes"]), last.root)
    # one call for whole traces: every event's index and a proof built from shared hashes
    tids = list(by_trace(several))[:4]
    ans = svc.trace_proofs("acme", tids + ["no-such-trace"], size=cps[2].size)
    assert ans["missing"] == ["no-such-trace"] and ans["size"] == cps[2].size
    table = ind.b64s(ans["hashes"])
    checked = 0
    for t in ans["traces"]:
        tl = by_trace(several)[t["trace_id"]]
        assert [e["sequence"] for e in t["events"]] == list(range(len(tl)))
        for e, ln in zip(t["events"], tl):
            if e["index"] >= cps[2].size:
                assert e["proof"] is None  # logged after that checkpoint
                continue
            assert ind.check_inclusion(e["index"], cps[2].size, ind.h_leaf(ln[:-1]), [table[k] for k in e["proof"]],
                                       cps[2].root)
            checked += 1
    assert checked > 10 and len(table) < checked * 6  # hashes shared between the proofs
    # cra.tlog agrees on a bundle; a made-up proof is refused by both
    bnd = bundle(svc, db, "acme", tids)
    assert tlog.verify(keys=[key], checkpoint=bnd["checkpoint"], traces=bnd["traces"], proofs=bnd["proofs"]).ok
    bnd["proofs"]["hashes"][0] = base64.b64encode(bytes(32)).decode()
    v = tlog.verify(keys=[key], checkpoint=bnd["checkpoint"], traces=bnd["traces"], proofs=bnd["proofs"])
    assert "not_included" in v.codes()


def test_cosignatures_are_checked_when_a_witness_is_known(db: Database, ingestor: Ingestor, demo: bytes,
                                                          tmp_path: Any) -> None:
    ingestor.ingest("acme", demo)
    svc = service(db, str(tmp_path))
    cp = svc.checkpoint("acme")
    witness = nacl.signing.SigningKey.generate()
    pub = bytes(witness.verify_key)
    name = "witness.example/w1"
    cos_vkey = f"{name}+{ind.key_id(name, 4, pub).hex()}+{base64.b64encode(bytes([4]) + pub).decode()}"
    text = cp.note.split("\n\n")[0].encode() + b"\n"
    ts = 1_700_000_000
    sig = witness.sign(b"cosignature/v1\ntime %d\n" % ts + text).signature
    line = f"\u2014 {name} {base64.b64encode(ind.key_id(name, 4, pub) + struct.pack('>Q', ts) + sig).decode()}\n"
    cosigned = cp.note + line
    assert ind.open_note(cosigned, vkey(svc, "acme"), [cos_vkey])["cosigned"] == [name]
    v = tlog.verify(keys=[vkey(svc, "acme")], checkpoint=cosigned, cosigners=[cos_vkey], min_cosignatures=1)
    assert v.ok and v.checkpoint is not None and v.checkpoint.cosigned_by == {name: ts}
    assert tlog.verify(keys=[vkey(svc, "acme")], checkpoint=cosigned).ok  # unknown cosigners are ignored
    v = tlog.verify(keys=[vkey(svc, "acme")], checkpoint=cp.note, cosigners=[cos_vkey], min_cosignatures=1)
    assert v.codes() == {"too_few_cosignatures"}
    forged = cp.note + line.replace(base64.b64encode(sig).decode()[:8], "AAAAAAAA")
    v = tlog.verify(keys=[vkey(svc, "acme")], checkpoint=forged, cosigners=[cos_vkey])
    assert v.codes() == {"bad_cosignature"}


def test_events_stored_before_the_log_are_adopted(db: Database, ingestor: Ingestor, several: bytes,
                                                  tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ls = lines(several)
    monkeypatch.setattr(server_tlog, "ENABLED", False)  # as a schema-1 server stored them
    ingestor.ingest("acme", b"".join(ls[:30]))
    with db.read() as tx:
        assert tx.q("SELECT COUNT(*) FROM events WHERE log_index IS NULL")[0][0] == 30
    monkeypatch.setattr(server_tlog, "ENABLED", True)
    ingestor.ingest("acme", b"".join(ls[30:40]))
    assert adopt_unlogged(db, limit=7) == 30
    assert adopt_unlogged(db) == 0
    leaves = leaves_by_index(db, "acme")
    assert len(leaves) == 40
    svc = service(db, str(tmp_path))
    assert ind.open_note(svc.checkpoint("acme").note, vkey(svc, "acme"))["root"] == ind.mth(leaves)


def test_retention_is_recorded_in_the_log(db: Database, ingestor: Ingestor, several: bytes, tmp_path: Any) -> None:
    traces = by_trace(several)
    tids = list(traces)
    ingestor.ingest("acme", several)
    svc = service(db, str(tmp_path))
    kept = bundle(svc, db, "acme", tids[:3])
    key = vkey(svc, "acme")
    later = now_us() + 2 * 86_400_000_000
    with db.write() as tx:
        tx.x("UPDATE traces SET last_received_us = ? WHERE tenant = 'acme' AND trace_id <> ?", (later, tids[0]))
    assert apply_retention(db, 1, "acme", now=later).traces == 1
    with db.read() as tx:  # the deleted trace's events are gone, one record was appended, the tree kept
        assert tx.q("SELECT COUNT(*) FROM events WHERE tenant = 'acme'")[0][0] == len(lines(several)) - len(traces[tids[0]])
        assert tx.q("SELECT log_index FROM tlog_records WHERE tenant = 'acme'") == [(len(lines(several)),)]
    cp = svc.checkpoint("acme")
    a = tlog.audit(keys=[key], checkpoint=cp.note, entries=entries(svc, "acme", cp.size), old_checkpoint=kept["checkpoint"])
    assert a.ok, a.to_json()
    assert {n.code for n in a.notes} == {"deleted_by_retention"} and len(a.notes) == len(traces[tids[0]])
    now = bundle(svc, db, "acme", tids[:3])
    cons = svc.consistency("acme", tlog.open_checkpoint(kept["checkpoint"], [key]).size)
    v = tlog.verify(keys=[key], checkpoint=now["checkpoint"], traces=now["traces"], proofs=now["proofs"],
                    kept=kept, consistency=cons)
    assert v.ok, v.to_json()
    assert [n.code for n in v.notes] == ["deleted_by_retention"] and v.notes[0].trace_id == tids[0]


def test_a_tree_that_does_not_hold_together_is_never_signed(db: Database, ingestor: Ingestor, several: bytes,
                                                            tmp_path: Any) -> None:
    ls = lines(several)
    ingestor.ingest("acme", b"".join(ls[:30]))
    svc = service(db, str(tmp_path))
    svc.checkpoint("acme")
    ingestor.ingest("globex", several)
    with db.write() as tx:  # a damaged (or edited) tile
        blob = bytes(tx.q("SELECT hashes FROM tlog_tiles WHERE tenant = 'acme' AND level = 0 AND idx = 0")[0][0])
        tx.x("UPDATE tlog_tiles SET hashes = ? WHERE tenant = 'acme' AND level = 0 AND idx = 0",
             (bytes(32) + blob[32:],))
    server_tlog._EDGES.clear()  # as another process would: the edge read from the tiles
    ingestor.ingest("acme", b"".join(ls[30:]))
    with pytest.raises(Exception, match="no longer gives the root|do not give the stored root"):
        svc.checkpoint("acme")
    assert svc.refused == 1
    assert svc.run_once() == 1  # the other tenant is still checkpointed
    assert json.loads(json.dumps(svc.state("acme")))["size"] == len(lines(several))


def test_an_exported_trace_verifies_offline_with_chains(db: Database, ingestor: Ingestor, demo: bytes,
                                                        tmp_path: Any) -> None:
    ingestor.ingest("acme", demo)
    svc = service(db, str(tmp_path))
    tids = list(by_trace(demo))
    b = bundle(svc, db, "acme", tids)
    v = tlog.verify(keys=[vkey(svc, "acme")], checkpoint=b["checkpoint"], traces=b["traces"], proofs=b["proofs"],
                    require_session_end=True)
    assert v.ok and v.events == len(lines(demo)) and v.traces == len(tids), v.to_json()
    assert export(db, "acme", tids).decode() == b["traces"]


def test_key_file_settings(tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from cra.cli import main
    from cra.server.settings import Settings, SettingsError

    assert Settings(db=f"sqlite:///{tmp_path}/x.db").log_key_path() == f"{tmp_path}/x.db.log-key"
    with pytest.raises(SettingsError, match="--log-key"):
        Settings(db="postgresql://u@127.0.0.1:1/x").log_key_path()
    for bad in ("", "has space", "a+b"):
        with pytest.raises(SettingsError, match="log_origin"):
            Settings(log_origin=bad)
    for k in ("CRA_INGEST_TOKENS", "CRA_INGEST_DB", "CRA_INGEST_LOG_KEY"):
        monkeypatch.delenv(k, raising=False)
    tokens = tmp_path / "tokens.json"
    tokens.write_text(json.dumps({"t": {"tenant": "a", "rights": ["read"]}}))
    key = tmp_path / "open.key"
    key.write_text("ed25519-private " + base64.b64encode(bytes(32)).decode() + "\n")
    os.chmod(key, 0o644)
    assert main(["serve", "--tokens", str(tokens), "--db", f"sqlite:///{tmp_path}/x.db", "--log-key", str(key)]) == 2
    assert "chmod 600" in capsys.readouterr().err
