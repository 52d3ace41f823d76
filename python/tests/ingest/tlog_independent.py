"""An independent check of the transparency log's output, sharing no code with ``cra.tlog`` or
``cra.server``: SHA-256 from hashlib, Ed25519 from PyNaCl (libsodium, not the OpenSSL behind
``cryptography``), and the RFC 9162 definitions written recursively (MTH, PATH, PROOF), not as
the iterative algorithms of §2.1.3.2 / §2.1.4.2 that the code under test uses."""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any, Dict, List, Optional, Sequence, Tuple

import nacl.exceptions
import nacl.signing


def h_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def h_node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes, by its recursive definition."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = _k(n)
    return h_node(mth(leaves[:k]), mth(leaves[k:]))


def root_from_inclusion(index: int, size: int, leaf: bytes, path: List[bytes]) -> Optional[bytes]:
    """The root the path gives for ``leaf`` at ``index`` (PATH's definition, consumed from the
    top, i.e. from the end of the list); None when the path has the wrong length."""
    if size == 1:
        return leaf if not path else None
    if not path:
        return None
    k = _k(size)
    top, rest = path[-1], path[:-1]
    if index < k:
        left = root_from_inclusion(index, k, leaf, rest)
        return None if left is None else h_node(left, top)
    right = root_from_inclusion(index - k, size - k, leaf, rest)
    return None if right is None else h_node(top, right)


def check_inclusion(index: int, size: int, leaf: bytes, path: List[bytes], root: bytes) -> bool:
    return 0 <= index < size and root_from_inclusion(index, size, leaf, path) == root


def _sub(m: int, n: int, b: bool, path: List[bytes], first_root: bytes) -> Optional[Tuple[bytes, bytes]]:
    """(old root, new root) a SUBPROOF(m, D[n], b) path gives; the path is consumed from the end."""
    if m == n:
        if b:
            return (first_root, first_root) if not path else None
        return (path[0], path[0]) if len(path) == 1 else None
    if not path:
        return None
    k = _k(n)
    top, rest = path[-1], path[:-1]
    if m <= k:
        got = _sub(m, k, b, rest, first_root)
        return None if got is None else (got[0], h_node(got[1], top))
    got = _sub(m - k, n - k, False, rest, first_root)
    return None if got is None else (h_node(top, got[0]), h_node(top, got[1]))


def check_consistency(m: int, n: int, first_root: bytes, second_root: bytes, path: List[bytes]) -> bool:
    if m == n:
        return first_root == second_root and not path
    if m == 0:
        return not path
    if not 0 < m < n:
        return False
    got = _sub(m, n, True, list(path), first_root)
    return got is not None and got == (first_root, second_root)


def key_id(name: str, typ: int, pub: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pub).digest()[:4]


def read_vkey(vkey: str) -> Tuple[str, bytes, int]:
    """(name, 32-byte key, type) of a vkey, its key id checked."""
    name, kid, rest = vkey.split("+", 2)
    raw = base64.b64decode(rest)
    assert len(raw) == 33 and bytes.fromhex(kid) == key_id(name, raw[0], raw[1:]), vkey
    return name, raw[1:], raw[0]


def open_note(note: str, vkey: str, cosigners: Sequence[str] = ()) -> Dict[str, Any]:
    """Checks a checkpoint note signed by ``vkey`` (and the cosignatures of ``cosigners``) with
    PyNaCl; returns {origin, size, root, cosigned: [names]}. Raises AssertionError."""
    name, pub, typ = read_vkey(vkey)
    assert typ == 1
    text, sep, sigs = note.rpartition("\n\n")
    assert sep and note.endswith("\n")
    body = (text + "\n").encode()
    lines = body.decode().split("\n")[:-1]
    origin, size, root_b64 = lines[0], lines[1], lines[2]
    assert size.isdigit() and (size == "0" or not size.startswith("0"))
    root = base64.b64decode(root_b64, validate=True)
    assert len(root) == 32
    signed = False
    cosigned = []
    cos = {read_vkey(c)[0]: read_vkey(c) for c in cosigners}
    for ln in sigs[:-1].split("\n"):
        assert ln.startswith("\u2014 "), ln
        who, b64 = ln[2:].split(" ")
        blob = base64.b64decode(b64, validate=True)
        if who == name and blob[:4] == key_id(name, 1, pub):
            nacl.signing.VerifyKey(pub).verify(body, blob[4:])  # raises BadSignatureError
            signed = True
        elif who in cos and blob[:4] == key_id(who, 4, cos[who][1]):
            ts = struct.unpack(">Q", blob[4:12])[0]
            nacl.signing.VerifyKey(cos[who][1]).verify(b"cosignature/v1\ntime %d\n" % ts + body, blob[12:])
            cosigned.append(who)
    assert signed, "no signature of the key"
    return {"origin": origin, "size": int(size), "root": root, "cosigned": cosigned}


def bad_signature(note: str, vkey: str) -> bool:
    """True when the note's signature by ``vkey`` fails (or is absent)."""
    try:
        open_note(note, vkey)
        return False
    except (AssertionError, nacl.exceptions.BadSignatureError, ValueError):
        return True


def b64s(xs: Sequence[str]) -> List[bytes]:
    return [base64.b64decode(x) for x in xs]
