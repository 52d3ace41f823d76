"""The transparency log of the ingest service, seen from outside: formats and offline verification.

``cra serve`` appends every stored event to an append-only Merkle tree per tenant (RFC 9162
hashing) and signs checkpoints of it (C2SP ``tlog-checkpoint``, a ``signed-note``). This module
checks what the server hands out without trusting it: signatures (Ed25519 through the
``cryptography`` package), inclusion and consistency proofs (RFC 9162 §2.1.3.2 and §2.1.4.2), the
per-trace hash chains (:func:`cra.verify_trace`, i.e. libcra), and what changed since a checkpoint
and an export the verifier kept. ``docs/transparency.md`` describes the formats and the threat model.

* Leaf data: the event's line exactly as stored and exported (its canonical JSON, without the LF).
  ``leaf hash = SHA-256(0x00 || line)``; ``node hash = SHA-256(0x01 || left || right)``.
* Checkpoint (signed note)::

      <origin>\\n<size>\\n<base64 root>\\n\\n— <key name> <base64(key id || signature)>\\n

  The key name is the origin; ``key id = SHA-256(name || 0x0A || 0x01 || public key)[:4]``.
  Keys are given as vkeys: ``<name>+<8 hex key id>+<base64(0x01 || 32-byte public key)>``.
* Cosignatures (C2SP ``tlog-cosignature``, type 0x04, Ed25519) are checked when a cosigner's
  vkey is given; others are ignored, as the signed-note rules say.

>>> verdict = cra.tlog.verify(keys=[vkey], checkpoint=cp, traces=jsonl, proofs=proofs,
...                           old_checkpoint=kept_cp, consistency=consistency)
>>> if not verdict: print(verdict.problems[0].code, verdict.problems[0].message)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import struct
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

__all__ = [
    "HASH_SIZE", "EMPTY_ROOT", "SIG_ED25519", "SIG_COSIGNATURE", "BUNDLE_FORMAT",
    "leaf_hash", "node_hash", "root_of", "verify_inclusion", "verify_consistency",
    "NoteError", "Signature", "Note", "VerifierKey", "Checkpoint",
    "key_id", "parse_vkey", "format_vkey", "parse_note", "open_checkpoint", "format_checkpoint_text",
    "Problem", "Verdict", "verify", "audit", "load_bundle", "RECORD_PREFIX",
    "RECEIPT_FORMAT", "verify_receipts",
]

HASH_SIZE = 32
#: Root of the empty tree: SHA-256 of nothing (RFC 9162 §2.1.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()
#: Signature type bytes of the signed-note spec: Ed25519 note signatures, Ed25519 cosignatures.
SIG_ED25519 = 0x01
SIG_COSIGNATURE = 0x04
#: The ``format`` member of a bundle file written by ``cra log fetch``.
BUNDLE_FORMAT = "cra-tlog-bundle/1"
#: The ``format`` member of a receipt line written by the HTTP sink (``receipts_file``).
RECEIPT_FORMAT = "cra-receipt/1"
#: Most receipt lines and receipt bytes :func:`verify_receipts` reads.
MAX_RECEIPTS = 1_000_000
_DASH = "\u2014 "
MAX_NOTE = 1 << 20
MAX_SIGNATURES = 100


# -- Merkle tree hashing (RFC 9162 §2.1.1) ---------------------------------------------------------
def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``: the hash of one leaf (for CRA, an event's line without its LF)."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``: an interior node."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_of(leaves: Sequence[bytes]) -> bytes:
    """The root hash of a tree of these leaf hashes (MTH of RFC 9162), in O(n) time, O(log n)
    memory: perfect subtrees are merged as they complete, then folded right to left."""
    stack: List[Tuple[int, bytes]] = []  # (height, hash), heights strictly decreasing
    for h in leaves:
        height, cur = 0, h
        while stack and stack[-1][0] == height:
            cur = node_hash(stack.pop()[1], cur)
            height += 1
        stack.append((height, cur))
    if not stack:
        return EMPTY_ROOT
    acc = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        acc = node_hash(h, acc)
    return acc


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: True when ``proof`` shows the leaf hash ``leaf`` at ``index`` in the
    tree of ``size`` leaves whose root is ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: True when the tree of ``second`` leaves (root ``second_root``) extends
    the tree of ``first`` leaves (root ``first_root``)."""
    if first < 0 or second < first:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof  # every tree extends the empty one
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# -- signed notes (C2SP signed-note) and checkpoints (C2SP tlog-checkpoint) ------------------------
class NoteError(ValueError):
    """A note, vkey or checkpoint that cannot be read, or whose signatures do not hold."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """``SHA-256(name || 0x0A || type || public key)[:4]`` as a big-endian uint32."""
    return int.from_bytes(hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()[:4], "big")


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or any(ord(c) < 0x20 for c in name):
        raise NoteError("bad_key_name", f"key name {name[:80]!r} is empty or has spaces or '+'")


def _b64(s: str, what: str) -> bytes:
    try:
        return base64.b64decode(s.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise NoteError("malformed", f"{what} is not base64") from None


@dataclass(frozen=True)
class VerifierKey:
    """A public key able to check note signatures: name, key id, type and key bytes."""

    name: str
    key_id: int
    sig_type: int
    public_key: bytes

    @property
    def vkey(self) -> str:
        """The vkey string (``name+hexid+base64(type || key)``)."""
        return format_vkey(self.name, self.public_key, self.sig_type)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True when ``signature`` is this key's Ed25519 signature of ``message``."""
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError as e:  # pragma: no cover - the server and tlog extras install it
            raise NoteError("unsupported", f"checking signatures needs the cryptography package ({e})") from None
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
            return True
        except (InvalidSignature, ValueError):
            return False


def format_vkey(name: str, public_key: bytes, sig_type: int = SIG_ED25519) -> str:
    """A vkey: ``<name>+<8 hex digits of the key id>+<base64(type || public key)>``."""
    _check_name(name)
    return f"{name}+{key_id(name, sig_type, public_key):08x}+{base64.b64encode(bytes([sig_type]) + public_key).decode()}"


def parse_vkey(vkey: str) -> VerifierKey:
    """Reads a vkey (Ed25519 note key, type 0x01, or Ed25519 cosigner key, type 0x04); the key id
    must be the one the name and key give."""
    vkey = vkey.strip()
    parts = vkey.split("+", 2)  # the base64 key may itself hold "+"
    if len(parts) != 3:
        raise NoteError("bad_vkey", "a vkey is <name>+<hex key id>+<base64 key>")
    name, hexid, b64 = parts
    _check_name(name)
    if len(hexid) != 8 or any(c not in "0123456789abcdef" for c in hexid):
        raise NoteError("bad_vkey", "the key id of a vkey is 8 lowercase hex digits")
    raw = _b64(b64, "the vkey's key")
    if len(raw) != 33 or raw[0] not in (SIG_ED25519, SIG_COSIGNATURE):
        raise NoteError("bad_vkey", "only Ed25519 vkeys (type 0x01, or 0x04 for cosigners) are supported")
    k = VerifierKey(name, int(hexid, 16), raw[0], raw[1:])
    if key_id(name, raw[0], raw[1:]) != k.key_id:
        raise NoteError("bad_vkey", "the vkey's key id does not match its name and key")
    return k


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key id, and the signature bytes after the id."""

    name: str
    key_id: int
    signature: bytes


@dataclass(frozen=True)
class Note:
    """A signed note: the text (ending in LF) and its signature lines."""

    text: bytes
    signatures: Tuple[Signature, ...]


def parse_note(data: Union[str, bytes]) -> Note:
    """Splits a signed note into its text and signature lines (no signature is checked here)."""
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    if len(raw) > MAX_NOTE:
        raise NoteError("malformed", f"the note is larger than {MAX_NOTE} bytes")
    try:
        s = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("malformed", "the note is not UTF-8") from None
    if any(ord(c) < 0x20 and c != "\n" for c in s):
        raise NoteError("malformed", "the note has control characters")
    cut = s.rfind("\n\n")
    if cut < 0 or not s.endswith("\n"):
        raise NoteError("malformed", "a signed note is text, a blank line, then signature lines ending in LF")
    text, sigs = s[:cut + 1], s[cut + 2:]
    lines = sigs[:-1].split("\n")
    if not lines or len(lines) > MAX_SIGNATURES:
        raise NoteError("malformed", f"a note has 1 to {MAX_SIGNATURES} signature lines")
    out: List[Signature] = []
    for ln in lines:
        if not ln.startswith(_DASH):
            raise NoteError("malformed", f"signature line {ln[:60]!r} does not start with an em dash and a space")
        name, sp, b64 = ln[len(_DASH):].partition(" ")
        if not sp or " " in b64:
            raise NoteError("malformed", f"signature line {ln[:60]!r} is not '— <name> <base64>'")
        _check_name(name)
        blob = _b64(b64, "a signature")
        if len(blob) < 5:
            raise NoteError("malformed", "a signature is at least a 4-byte key id and one byte")
        out.append(Signature(name, int.from_bytes(blob[:4], "big"), blob[4:]))
    return Note(text.encode("utf-8"), tuple(out))


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose log signature verified: origin, size, root, the key that signed it and
    the cosigners whose cosignatures verified (name -> timestamp)."""

    origin: str
    size: int
    root: bytes
    extensions: Tuple[str, ...]
    text: bytes
    signed_by: str
    cosigned_by: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> Dict[str, Any]:
        """The checkpoint's facts for a report."""
        return {"origin": self.origin, "size": self.size, "root": base64.b64encode(self.root).decode(),
                "signed_by": self.signed_by, "cosigned_by": dict(self.cosigned_by)}


def format_checkpoint_text(origin: str, size: int, root: bytes) -> bytes:
    """The note text of a checkpoint (what is signed)."""
    if not origin or "\n" in origin:
        raise NoteError("malformed", "the origin must be one non-empty line")
    return f"{origin}\n{int(size)}\n{base64.b64encode(root).decode()}\n".encode("utf-8")


def _checkpoint_body(text: bytes) -> Tuple[str, int, bytes, Tuple[str, ...]]:
    lines = text.decode("utf-8")[:-1].split("\n")
    if len(lines) < 3 or any(not x for x in lines):
        raise NoteError("malformed", "a checkpoint's text is origin, size and root hash lines (then non-empty extensions)")
    origin, size_s, root_s = lines[:3]
    if not size_s.isdigit() or (size_s != "0" and size_s.startswith("0")) or not size_s.isascii():
        raise NoteError("malformed", f"the tree size {size_s[:30]!r} is not a decimal without leading zeros")
    root = _b64(root_s, "the root hash")
    if len(root) != HASH_SIZE:
        raise NoteError("malformed", "the root hash is not 32 bytes")
    return origin, int(size_s), root, tuple(lines[3:])


def _as_keys(keys: Iterable[Union[str, VerifierKey]]) -> List[VerifierKey]:
    return [k if isinstance(k, VerifierKey) else parse_vkey(k) for k in keys]


def open_checkpoint(data: Union[str, bytes], keys: Iterable[Union[str, VerifierKey]],
                    cosigners: Iterable[Union[str, VerifierKey]] = (), origin: Optional[str] = None) -> Checkpoint:
    """Parses a checkpoint and checks it as the signed-note spec says: signatures of unknown keys
    are ignored; one of a known key (name and id) that fails rejects the note; at least one
    known log key must have signed. Cosignatures (type 0x04) of the given cosigner keys are
    checked too (a bad one rejects the note). ``origin``, when given, must match."""
    note = parse_note(data)
    origin_s, size, root, ext = _checkpoint_body(note.text)
    if origin is not None and origin_s != origin:
        raise NoteError("origin_mismatch", f"the checkpoint is of log {origin_s!r}, not {origin!r}")
    logs = {(k.name, k.key_id): k for k in _as_keys(keys) if k.sig_type == SIG_ED25519}
    cos = {(k.name, k.key_id): k for k in _as_keys(cosigners) if k.sig_type == SIG_COSIGNATURE}
    if not logs:
        raise NoteError("no_key", "no Ed25519 log key (vkey of type 0x01) was given")
    signed_by: Optional[str] = None
    cosigned: Dict[str, int] = {}
    for sig in note.signatures:
        k = logs.get((sig.name, sig.key_id))
        if k is not None:
            if not k.verify(note.text, sig.signature):
                raise NoteError("bad_signature", f"the signature of {k.vkey} does not verify: the checkpoint was altered")
            signed_by = signed_by or k.vkey
            continue
        c = cos.get((sig.name, sig.key_id))
        if c is not None:
            if len(sig.signature) != 8 + 64:
                raise NoteError("bad_cosignature", f"the cosignature of {sig.name} is not a timestamp and an Ed25519 signature")
            ts = struct.unpack(">Q", sig.signature[:8])[0]
            msg = b"cosignature/v1\ntime %d\n" % ts + note.text
            if ts >= 1 << 63 or not c.verify(msg, sig.signature[8:]):
                raise NoteError("bad_cosignature", f"the cosignature of {c.vkey} does not verify")
            cosigned[sig.name] = ts
    if signed_by is None:
        known = ", ".join(sorted(f"{n}+{i:08x}" for n, i in logs)) or "none"
        raise NoteError("unknown_key", f"no signature of a known log key (known: {known})")
    return Checkpoint(origin_s, size, root, ext, note.text, signed_by, cosigned)


# -- verdicts -----------------------------------------------------------------------------------------
@dataclass
class Problem:
    """One finding: a stable ``code`` and a sentence naming what is missing or rewritten."""

    code: str
    message: str
    trace_id: Optional[str] = None
    event_id: Optional[str] = None
    sequence: Optional[int] = None
    index: Optional[int] = None

    def to_json(self) -> Dict[str, Any]:
        """The problem as JSON (None members left out)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class Verdict:
    """What :func:`verify` or :func:`audit` found. Truthy when nothing is wrong."""

    checkpoint: Optional[Checkpoint] = None
    old_checkpoint: Optional[Checkpoint] = None
    events: int = 0
    traces: int = 0
    problems: List[Problem] = field(default_factory=list)
    #: Findings that are not problems: traces deleted by retention, as the log itself records.
    notes: List[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def __bool__(self) -> bool:
        return self.ok

    def codes(self) -> Set[str]:
        """The distinct problem codes."""
        return {p.code for p in self.problems}

    def add(self, code: str, message: str, **where: Any) -> None:
        """Records a problem (at most 10,000; the rest are counted in a last one)."""
        if len(self.problems) < 10_000:
            self.problems.append(Problem(code, message, **where))
        elif len(self.problems) == 10_000:
            self.problems.append(Problem("too_many_problems", "more problems were found and not listed"))

    def to_json(self) -> Dict[str, Any]:
        """The verdict as JSON."""
        return {"ok": self.ok, "events": self.events, "traces": self.traces,
                "checkpoint": self.checkpoint.to_json() if self.checkpoint else None,
                "old_checkpoint": self.old_checkpoint.to_json() if self.old_checkpoint else None,
                "problems": [p.to_json() for p in self.problems], "notes": [p.to_json() for p in self.notes]}


#: Leaves that are log records, not events, start with this (events start with {"event_hash":).
RECORD_PREFIX = b'{"cra_log":'


def _deleted_record(raw: bytes) -> Optional[Tuple[str, List[int]]]:
    """(trace id, leaf indices) of a ``deleted`` record, or None for an event line."""
    if not raw.startswith(RECORD_PREFIX):
        return None
    try:
        doc = json.loads(raw)
        if doc.get("cra_log") != "deleted":
            return None
        return str(doc["trace_id"]), [int(x) for x in doc["indices"]]
    except (ValueError, KeyError, TypeError):
        return None


Keys = Iterable[Union[str, VerifierKey]]


def _open(v: Verdict, what: str, data: Union[str, bytes], keys: List[VerifierKey], cos: List[VerifierKey],
          origin: Optional[str]) -> Optional[Checkpoint]:
    try:
        return open_checkpoint(data, keys, cos, origin)
    except NoteError as e:
        v.add(e.code if what == "checkpoint" else f"old_{e.code}", f"{what}: {e.message}")
        return None


def _hashes(xs: Any, what: str) -> List[bytes]:
    if not isinstance(xs, list):
        raise NoteError("malformed_proof", f"{what} must be a list of base64 hashes")
    out = []
    for x in xs:
        h = _b64(x, what) if isinstance(x, str) else b""
        if len(h) != HASH_SIZE:
            raise NoteError("malformed_proof", f"{what} holds something that is not a base64 SHA-256 hash")
        out.append(h)
    return out


def _check_consistency(v: Verdict, old: Checkpoint, new: Checkpoint, consistency: Optional[Mapping[str, Any]]) -> None:
    if old.origin != new.origin:
        v.add("origin_mismatch", f"the old checkpoint is of log {old.origin!r}, the new one of {new.origin!r}")
        return
    if new.size < old.size:
        v.add("log_shrank", f"the log has {new.size} leaves now but had {old.size} at your old checkpoint: it was "
                            "rolled back (or this is another view of it)")
        return
    if new.size == old.size:
        if new.root != old.root:
            v.add("inconsistent", f"two signed roots for size {new.size}: the log was rewritten (a fork)")
        return
    if consistency is None:
        v.add("no_consistency_proof", f"no consistency proof from size {old.size} to {new.size} was given")
        return
    try:
        if int(consistency.get("from", -1)) != old.size or int(consistency.get("to", -1)) != new.size:
            v.add("no_consistency_proof", f"the consistency proof is not from {old.size} to {new.size}")
            return
        path = _hashes(consistency.get("hashes"), "the consistency proof")
    except (NoteError, TypeError, ValueError) as e:
        v.add("malformed_proof", str(e))
        return
    if not verify_consistency(old.size, new.size, old.root, new.root, path):
        v.add("inconsistent", f"the log at size {new.size} does not extend your checkpoint at size {old.size}: "
                              "leaves before it were rewritten, removed or reordered, or the log was rolled back and "
                              "grown again")


@dataclass
class _Entry:
    trace_id: str
    event_id: str
    sequence: int
    index: Optional[int]
    path: Optional[List[bytes]]


@dataclass
class _Deleted:
    trace_id: str
    index: int
    record: bytes
    path: Optional[List[bytes]]


def _deleted_entries(proofs: Mapping[str, Any]) -> List[_Deleted]:
    hashes = _hashes(proofs.get("hashes", []), "the proofs' hashes")
    out = []
    for d in proofs.get("deleted") or []:
        path = None
        if d.get("proof") is not None:
            try:
                path = [hashes[int(k)] for k in d["proof"]]
            except (IndexError, ValueError, TypeError):
                raise NoteError("malformed_proof", "a deletion record's proof refers to a hash it lacks") from None
        out.append(_Deleted(str(d["trace_id"]), int(d["index"]), str(d["record"]).encode("utf-8"), path))
    return out


def _proof_entries(proofs: Mapping[str, Any]) -> Tuple[Dict[str, _Entry], Set[str], Set[str]]:
    """event_id -> entry; trace ids the proofs cover; trace ids the server said it lacks."""
    hashes = _hashes(proofs.get("hashes", []), "the proofs' hashes")
    out: Dict[str, _Entry] = {}
    covered: Set[str] = set()
    for t in proofs.get("traces") or []:
        tid = str(t["trace_id"])
        covered.add(tid)
        for e in t.get("events") or []:
            idx = e.get("index")
            path: Optional[List[bytes]] = None
            if e.get("proof") is not None:
                try:
                    path = [hashes[int(k)] for k in e["proof"]]
                except (IndexError, ValueError, TypeError):
                    raise NoteError("malformed_proof", f"a proof of trace {tid} refers to a hash it lacks") from None
            out[str(e["event_id"])] = _Entry(tid, str(e["event_id"]), int(e["sequence"]),
                                             None if idx is None else int(idx), path)
    missing = {str(x) for x in proofs.get("missing") or []}
    return out, covered, missing


@dataclass
class _Line:
    raw: bytes
    trace_id: str
    event_id: str
    sequence: int


def _lines(data: Union[str, bytes, None]) -> List[_Line]:
    if data is None:
        return []
    raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    out = []
    for n, ln in enumerate(raw.split(b"\n")[:-1] if raw.endswith(b"\n") else raw.split(b"\n"), 1):
        if not ln:
            continue
        try:
            ev = json.loads(ln)
            out.append(_Line(ln, str(ev["trace_id"]), str(ev["event_id"]), int(ev["sequence"])))
        except (ValueError, KeyError, TypeError):
            raise NoteError("malformed_trace", f"line {n} of the trace is not an event") from None
    return out


def _chains(v: Verdict, data: bytes, require_session_end: bool) -> None:
    from .trace import verify_trace

    report = verify_trace(data, require_session_end=require_session_end)
    v.traces += int(report.sessions)
    for e in report.errors:
        v.add(f"chain_{e.get('code')}", f"trace {e.get('trace_id')}: the hash chain fails at sequence "
                                        f"{e.get('sequence')}: {e.get('message')}", trace_id=e.get("trace_id"),
              sequence=e.get("sequence"))


def verify(*, keys: Keys, checkpoint: Union[str, bytes], traces: Union[str, bytes, None] = None,
           proofs: Optional[Mapping[str, Any]] = None, old_checkpoint: Union[str, bytes, None] = None,
           consistency: Optional[Mapping[str, Any]] = None, kept: Optional[Mapping[str, Any]] = None,
           cosigners: Keys = (), min_cosignatures: int = 0, origin: Optional[str] = None,
           require_session_end: bool = False) -> Verdict:
    """Checks what an ingest server handed out against keys the verifier trusts.

    * ``checkpoint``: the newest signed checkpoint (its log signature must verify with ``keys``;
      cosignatures of ``cosigners`` are checked, ``min_cosignatures`` of them required).
    * ``traces`` and ``proofs``: an export (JSONL of one or many traces, as ``GET
      /v1/traces/{id}.jsonl`` gives) and the server's proofs for it (``POST /v1/log/proofs``):
      every line must be proven included at its leaf index in ``checkpoint``'s tree, and every
      trace's hash chain must verify (libcra). Traces the server said it lacks are reported.
    * ``old_checkpoint`` and ``consistency``: a checkpoint the verifier kept, and the proof that
      ``checkpoint`` extends it (``GET /v1/log/proof/consistency``).
    * ``kept``: an earlier bundle (``{"checkpoint", "traces", "proofs"}``, what ``cra log fetch``
      writes) the verifier kept; every event in it must still be exported identically at the same
      leaf index, else it is reported missing, rewritten or moved. Its checkpoint serves as the
      old checkpoint when none is given.

    Problem codes: ``bad_signature``, ``unknown_key``, ``malformed``, ``origin_mismatch``,
    ``bad_cosignature``, ``too_few_cosignatures``, ``log_shrank``, ``inconsistent``,
    ``no_consistency_proof``, ``not_included`` (an exported line is not in the log at the index
    claimed: rewritten or moved after it was logged), ``unlogged`` (no proof for a line),
    ``not_yet_logged`` (logged after this checkpoint), ``missing_trace``, ``missing_event``,
    ``changed_event``, ``moved_event``, ``chain_<libcra code>``, ``malformed_proof``,
    ``malformed_trace``.
    """
    v = Verdict()
    ks, cos = _as_keys(keys), _as_keys(cosigners)
    cp = _open(v, "checkpoint", checkpoint, ks, cos, origin)
    v.checkpoint = cp
    if cp is None:
        return v
    if len(cp.cosigned_by) < min_cosignatures:
        v.add("too_few_cosignatures", f"{len(cp.cosigned_by)} known cosigners signed the checkpoint, "
                                      f"{min_cosignatures} are required")
    kept_cp: Optional[Checkpoint] = None
    if kept is not None:
        kept_cp = _open(v, "kept bundle's checkpoint", kept["checkpoint"], ks, [], cp.origin)
    old: Optional[Checkpoint] = None
    if old_checkpoint is not None:
        old = _open(v, "old checkpoint", old_checkpoint, ks, [], cp.origin)
    elif kept_cp is not None:
        old = kept_cp
    v.old_checkpoint = old
    if old is not None:
        _check_consistency(v, old, cp, consistency)
    try:
        lines = _lines(traces)
        entries, covered, missing = _proof_entries(proofs or {}) if proofs is not None else ({}, set(), set())
        deletions = _deleted_entries(proofs or {})
    except NoteError as e:
        v.add(e.code, e.message)
        return v
    except (KeyError, TypeError, ValueError) as e:
        v.add("malformed_proof", f"the proofs are not what POST /v1/log/proofs answers: {e}")
        return v
    if proofs is not None and int(proofs.get("size", -1)) != cp.size:
        v.add("malformed_proof", f"the proofs are for size {proofs.get('size')}, the checkpoint is of size {cp.size}")
        return v
    deleted: Dict[str, Set[int]] = {}  # trace -> leaves its proven deletion records name
    for d in deletions:
        rec = _deleted_record(d.record)
        if rec is None or rec[0] != d.trace_id or d.path is None or d.index >= cp.size or \
                not verify_inclusion(leaf_hash(d.record), d.index, cp.size, d.path, cp.root):
            v.add("not_included", f"the deletion record of trace {d.trace_id} is not the leaf {d.index} of the "
                                  "signed log", trace_id=d.trace_id, index=d.index)
            continue
        deleted.setdefault(d.trace_id, set()).update(rec[1])
        v.notes.append(Problem("deleted_by_retention", f"trace {d.trace_id} ({len(rec[1])} logged events) was deleted "
                                                       f"by retention, as the log records at leaf {d.index}",
                               trace_id=d.trace_id, index=d.index))
    for tid in sorted(missing):
        if tid not in deleted:
            v.add("missing_trace", f"the server has no trace {tid}, and the log records no deletion of it",
                  trace_id=tid)
    v.events = len(lines)
    now: Dict[str, Tuple[bytes, Optional[int]]] = {}
    if lines:
        if proofs is None:
            v.add("unlogged", "no proofs were given for the exported events")
        for ln in lines:
            where: Dict[str, Any] = dict(trace_id=ln.trace_id, event_id=ln.event_id, sequence=ln.sequence)
            ent = entries.get(ln.event_id)
            lh = leaf_hash(ln.raw)
            if proofs is None:
                continue
            if ent is None or ent.index is None:
                v.add("unlogged", f"event {ln.event_id} (trace {ln.trace_id}, sequence {ln.sequence}) has no leaf in "
                                  "the log", **where)
                continue
            now[ln.event_id] = (lh, ent.index)
            if ent.trace_id != ln.trace_id or ent.sequence != ln.sequence:
                v.add("not_included", f"the proof of event {ln.event_id} names trace {ent.trace_id} sequence "
                                      f"{ent.sequence}, the export trace {ln.trace_id} sequence {ln.sequence}",
                      index=ent.index, **where)
                continue
            if ent.index >= cp.size or ent.path is None:
                v.add("not_yet_logged", f"event {ln.event_id} (trace {ln.trace_id}, sequence {ln.sequence}) is at "
                                        f"leaf {ent.index}, beyond the checkpoint's {cp.size} leaves: ask for a newer "
                                        "checkpoint", index=ent.index, **where)
                continue
            if not verify_inclusion(lh, ent.index, cp.size, ent.path, cp.root):
                v.add("not_included", f"event {ln.event_id} (trace {ln.trace_id}, sequence {ln.sequence}) as exported "
                                      f"is not the leaf {ent.index} of the signed log: it was rewritten (or moved) "
                                      "after it was logged", index=ent.index, **where)
        seen_idx: Dict[int, str] = {}
        for eid, (_, idx) in now.items():
            if idx is not None and idx in seen_idx:
                v.add("not_included", f"events {seen_idx[idx]} and {eid} claim the same leaf {idx}", index=idx,
                      event_id=eid)
            elif idx is not None:
                seen_idx[idx] = eid
        data = b"".join(x.raw + b"\n" for x in lines)
        _chains(v, data, require_session_end)
    if kept is not None and kept_cp is not None:
        _compare_kept(v, kept, kept_cp, lines, now, covered | missing if proofs is not None else None, deleted)
    return v


def _compare_kept(v: Verdict, kept: Mapping[str, Any], kept_cp: Checkpoint, lines: List[_Line],
                  now: Mapping[str, Tuple[bytes, Optional[int]]], asked: Optional[Set[str]],
                  deleted: Mapping[str, Set[int]]) -> None:
    """Every event of the kept bundle (proven in its own checkpoint) must still be there."""
    try:
        old_lines = _lines(kept.get("traces"))
        old_entries, _, _ = _proof_entries(kept.get("proofs") or {})
    except (NoteError, KeyError, TypeError, ValueError) as e:
        v.add("malformed_proof", f"the kept bundle: {e}")
        return
    current = {x.event_id: x for x in lines}
    for ln in old_lines:
        if asked is not None and ln.trace_id not in asked:
            continue  # a trace of the kept bundle that this export did not ask for
        where: Dict[str, Any] = dict(trace_id=ln.trace_id, event_id=ln.event_id, sequence=ln.sequence)
        ent = old_entries.get(ln.event_id)
        lh = leaf_hash(ln.raw)
        proven = (ent is not None and ent.index is not None and ent.path is not None and ent.index < kept_cp.size
                  and verify_inclusion(lh, ent.index, kept_cp.size, ent.path, kept_cp.root))
        if not proven:
            v.add("kept_unproven", f"event {ln.event_id} of the kept bundle was not proven in its own checkpoint",
                  **where)
            continue
        assert ent is not None
        cur = current.get(ln.event_id)
        if cur is None and ent.index in deleted.get(ln.trace_id, set()):
            continue  # deleted by retention, and the log says so (a note was made)
        if cur is None:
            v.add("missing_event", f"event {ln.event_id} (trace {ln.trace_id}, sequence {ln.sequence}), logged at leaf "
                                   f"{ent.index} of your kept checkpoint, is no longer in the store: deleted (a cut tail "
                                   "or a deleted session)", index=ent.index, **where)
        elif cur.raw != ln.raw:
            v.add("changed_event", f"event {ln.event_id} (trace {ln.trace_id}, sequence {ln.sequence}) differs from "
                                   f"the one logged at leaf {ent.index} of your kept checkpoint: rewritten", index=ent.index,
                  **where)
        elif now.get(ln.event_id, (b"", None))[1] != ent.index:
            v.add("moved_event", f"event {ln.event_id} (trace {ln.trace_id}, sequence {ln.sequence}) was logged at leaf "
                                 f"{ent.index} but the server now puts it at {now.get(ln.event_id, (b'', None))[1]}: "
                                 "the log was reordered", index=ent.index, **where)


def audit(*, keys: Keys, checkpoint: Union[str, bytes], entries: Iterable[Mapping[str, Any]],
          old_checkpoint: Union[str, bytes, None] = None, cosigners: Keys = (), origin: Optional[str] = None,
          check_chains: bool = True) -> Verdict:
    """Checks a whole log, as a monitor does, from a checkpoint's leaves (``GET /v1/log/entries``,
    every page from 0 to the checkpoint's size: ``{"index", "leaf_hash", "line"}``).

    Each event line must hash to its leaf (else ``leaf_mismatch``: rewritten in the store), every
    leaf must still have its event (else ``missing_leaf``: deleted), the leaves must hash to the
    checkpoint's root (else ``root_mismatch``: the log was rewritten), the first ``old.size``
    leaves to the root of the ``old_checkpoint`` the verifier kept (else ``log_rewritten``, or
    ``log_shrank``), and every trace's chain must verify in log order (``chain_*``: a trace's
    events are logged in chain order). The roots are recomputed here from the leaf hashes the
    server gives (or from the lines, where it gives none): they judge the log; each line is then
    compared with its leaf, which names the events rewritten in the store while the log kept
    their original hashes."""
    v = Verdict()
    ks, cos = _as_keys(keys), _as_keys(cosigners)
    cp = _open(v, "checkpoint", checkpoint, ks, cos, origin)
    v.checkpoint = cp
    if cp is None:
        return v
    old: Optional[Checkpoint] = None
    if old_checkpoint is not None:
        old = _open(v, "old checkpoint", old_checkpoint, ks, [], cp.origin)
        v.old_checkpoint = old
        if old is not None and old.size > cp.size:
            v.add("log_shrank", f"the log has {cp.size} leaves now but had {old.size} at your old checkpoint: it was "
                                "rolled back (or this is another view of it)")
            old = None
    stack: List[Tuple[int, bytes]] = []
    data: List[bytes] = []
    missing: List[int] = []
    deleted: Dict[int, Tuple[str, int]] = {}  # leaf -> (trace, leaf of the record deleting it)
    expected = 0
    for ent in entries:
        i = int(ent["index"])
        if i != expected:
            v.add("malformed_entries", f"entries jump from leaf {expected} to {i}")
            return v
        if i >= cp.size:
            break
        server_leaf = _b64(str(ent.get("leaf_hash", "")), "a leaf hash") if ent.get("leaf_hash") else None
        line = ent.get("line")
        lh = server_leaf  # the log's own leaf: the roots judge it; lines are compared with it
        if line is None:
            missing.append(i)
        else:
            raw = line.encode("utf-8") if isinstance(line, str) else bytes(line)
            if lh is None:
                lh = leaf_hash(raw)
            rec = _deleted_record(raw)
            if rec is not None:
                for j in rec[1]:
                    if j < i:
                        deleted[j] = (rec[0], i)
            else:
                data.append(raw + b"\n")
                v.events += 1
            if server_leaf is not None and server_leaf != leaf_hash(raw):
                try:
                    ev = json.loads(raw)
                    where = dict(trace_id=str(ev.get("trace_id")), event_id=str(ev.get("event_id")),
                                 sequence=ev.get("sequence"))
                except ValueError:
                    where = {}
                v.add("leaf_mismatch", f"the event stored for leaf {i} is not the one logged there: rewritten in the "
                                       "store", index=i, **where)
        if lh is None or len(lh) != HASH_SIZE:
            v.add("missing_leaf", f"leaf {i}: the server gives neither its event nor its hash", index=i)
            return v
        height, cur = 0, lh
        while stack and stack[-1][0] == height:
            cur = node_hash(stack.pop()[1], cur)
            height += 1
        stack.append((height, cur))
        expected = i + 1
        if old is not None and expected == old.size:
            if _fold(stack) != old.root:
                v.add("log_rewritten", f"the first {old.size} leaves no longer hash to the root of your old checkpoint: "
                                       "the log was rewritten, reordered, or rolled back and grown again")
    if expected != cp.size:
        v.add("malformed_entries", f"the entries end at leaf {expected}, the checkpoint has {cp.size}")
        return v
    root_ok = _fold(stack) == cp.root
    if not root_ok:
        v.add("root_mismatch", "the log's leaves do not hash to the checkpoint's root: the log was rewritten")
    for i in missing:
        d = deleted.get(i)
        if d is not None and root_ok:
            v.notes.append(Problem("deleted_by_retention", f"leaf {i} (trace {d[0]}) was deleted by retention, as the "
                                                           f"log records at leaf {d[1]}", trace_id=d[0], index=i))
        else:
            v.add("missing_leaf", f"leaf {i} of the log has no event in the store any more, and the log records no "
                                  "deletion of it: deleted", index=i)
    if check_chains and data:
        _chains(v, b"".join(data), False)
    return v


def _fold(stack: List[Tuple[int, bytes]]) -> bytes:
    if not stack:
        return EMPTY_ROOT
    acc = stack[-1][1]
    for _, h in reversed(stack[:-1]):
        acc = node_hash(h, acc)
    return acc


def load_bundle(path: str) -> Dict[str, Any]:
    """Reads a bundle file written by ``cra log fetch`` (JSON: checkpoint, traces, proofs,
    consistency)."""
    with open(path, "rb") as f:
        doc = json.loads(f.read())
    if not isinstance(doc, dict) or doc.get("format") != BUNDLE_FORMAT:
        raise NoteError("malformed", f"{path} is not a {BUNDLE_FORMAT} file")
    return doc



# -- receipts of the HTTP sink -------------------------------------------------------------------------
def verify_receipts(*, keys: Keys, receipts: Union[str, bytes], traces: Union[str, bytes, None] = None,
                    origin: Optional[str] = None) -> Verdict:
    """Checks the receipts file of an HTTP sink (``trace.http.receipts_file``; one JSON line per
    delivered batch, ``format`` :data:`RECEIPT_FORMAT`) offline, against log keys the verifier
    trusts: each receipt's checkpoint signature; the inclusion of every event it lists at its
    leaf in that checkpoint's tree; that no two receipts give one tree size two roots or one leaf
    two events. With ``traces`` (the sender's own copy of the events, JSONL): every listed event
    is there, its line hashes to the leaf the log proved, and the batch's lines, in the
    receipt's order, hash (BLAKE3, needs the ``blake3`` package) to the digest of what was sent.

    Problem codes: ``malformed_receipt``, the checkpoint's (``bad_signature``, ``unknown_key``,
    ``malformed``, ``origin_mismatch``), ``not_logged`` (the server gave an event no leaf),
    ``not_included``, ``inconsistent`` (two roots for one size: a split view), ``leaf_conflict``,
    ``not_in_trace``, ``leaf_mismatch`` (the sender's line is not the logged one),
    ``batch_mismatch``; a note ``batch_unchecked`` when ``blake3`` is missing."""
    v = Verdict()
    ks = _as_keys(keys)
    raw = receipts.encode("utf-8") if isinstance(receipts, str) else bytes(receipts)
    mine: Dict[str, bytes] = {}
    if traces is not None:
        for ln in _lines(traces):
            mine.setdefault(ln.event_id, ln.raw)
    digest_of: Optional[Any] = None  # blake3's hasher, when the package is there
    try:
        import blake3

        digest_of = blake3.blake3
    except ImportError:
        if traces is not None:
            v.notes.append(Problem("batch_unchecked", "the blake3 package is missing: batch digests were not checked "
                                                      "(each event's line was still checked against its leaf)"))
    roots: Dict[int, bytes] = {}
    by_index: Dict[int, str] = {}  # leaf index -> event id, over all receipts
    trace_ids: Set[str] = set()
    best: Optional[Checkpoint] = None
    for n, line in enumerate(raw.splitlines()[:MAX_RECEIPTS], 1):
        if not line.strip():
            continue
        where = f"receipt {n}"
        try:
            r = json.loads(line)
            if not isinstance(r, dict) or r.get("format") != RECEIPT_FORMAT:
                raise ValueError(f"not a {RECEIPT_FORMAT} line")
            events = r["events"]
            hashes = [_b64(h, "a proof hash") for h in r["hashes"]]
            if not isinstance(events, list) or any(len(h) != HASH_SIZE for h in hashes):
                raise ValueError("events must be a list and hashes 32 bytes each")
            digest = str(r["batch_blake3"])
        except (ValueError, KeyError, TypeError, AttributeError, NoteError) as e:
            v.add("malformed_receipt", f"{where}: {e}")
            continue
        try:
            cp = open_checkpoint(r.get("checkpoint") or "", ks, origin=origin)
        except NoteError as e:
            v.add(e.code, f"{where}: its checkpoint: {e.message}")
            continue
        if r.get("size") != cp.size:
            v.add("malformed_receipt", f"{where}: size {r.get('size')} is not its checkpoint's ({cp.size})")
            continue
        if roots.setdefault(cp.size, cp.root) != cp.root:
            v.add("inconsistent", f"{where}: a checkpoint of size {cp.size} with another root than an earlier "
                                  "receipt's, both validly signed: the log showed two views")
        if best is None or cp.size > best.size:
            best = cp
        sent: List[bytes] = []
        whole = True
        for ev in events:
            try:
                eid, tid, idx = str(ev["event_id"]), str(ev["trace_id"]), ev.get("index")
            except (KeyError, TypeError):
                v.add("malformed_receipt", f"{where}: an event without event_id or trace_id")
                whole = False
                continue
            v.events += 1
            trace_ids.add(tid)
            line_b = mine.get(eid)
            if traces is not None:
                if line_b is None:
                    v.add("not_in_trace", f"{where}: event {eid} is not in the given trace", trace_id=tid, event_id=eid)
                    whole = False
                else:
                    sent.append(line_b)
            if idx is None:
                v.add("not_logged", f"{where}: the server gave event {eid} no leaf when it was delivered (held or "
                                    "rejected)", trace_id=tid, event_id=eid)
                continue
            try:
                index = int(idx)
                leaf = _b64(ev["leaf_hash"], "a leaf hash")
                pos = [int(k) for k in ev["proof"]]
                if any(k < 0 for k in pos) or index < 0:
                    raise ValueError("a negative index or proof position")
                proof = [hashes[k] for k in pos]
                if len(leaf) != HASH_SIZE:
                    raise ValueError("the leaf hash is not 32 bytes")
            except (KeyError, TypeError, ValueError, IndexError, AttributeError, NoteError) as e:
                v.add("malformed_receipt", f"{where}: event {eid}: {e}", trace_id=tid, event_id=eid)
                continue
            if by_index.setdefault(index, eid) != eid:
                v.add("leaf_conflict", f"{where}: leaf {index} is claimed for {eid} and for {by_index[index]}",
                      trace_id=tid, event_id=eid, index=index)
            if line_b is not None and leaf_hash(line_b) != leaf:
                v.add("leaf_mismatch", f"{where}: the line of {eid} in the given trace is not the leaf the log proved",
                      trace_id=tid, event_id=eid, index=index)
            if not verify_inclusion(leaf, index, cp.size, proof, cp.root):
                v.add("not_included", f"{where}: event {eid} is not at leaf {index} of the tree of {cp.size} leaves",
                      trace_id=tid, event_id=eid, index=index)
        if traces is not None and whole and digest_of is not None:
            if digest_of(b"".join(x + b"\n" for x in sent)).hexdigest() != digest:
                v.add("batch_mismatch", f"{where}: the given trace's lines of this batch do not hash to what was sent")
    v.checkpoint = best
    v.traces = len(trace_ids)
    return v
