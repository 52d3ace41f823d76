"""The log's signing keys and checkpoint notes (C2SP ``signed-note`` / ``tlog-checkpoint``).

Key file (``--log-key FILE``), text, one key a line, oldest first, ``#`` comments::

    # CRA transparency log keys (docs/transparency.md). The last ed25519-private line signs.
    ed25519-private <base64 of the 32-byte Ed25519 seed>
    ed25519-public <base64 of a 32-byte Ed25519 public key>   (a retired key: verify only)

The file is created on first start with one new key, mode 0600, and refused when group or others
may read it. Rotation: ``cra log keys add FILE`` appends a new private key, which signs from the
next start on; ``cra log keys retire FILE`` replaces every older private key by its public half.
Every key of the file is published (``GET /v1/log/keys``), so checkpoints signed by an older key
still verify.

Each tenant's log has the origin ``<log_origin>/<tenant>``; its checkpoints are signed under the
key name = origin (as tlog-checkpoint recommends), so a tenant's vkey is
``<origin>+<key id>+<base64(0x01 || public key)>``.
"""

from __future__ import annotations

import base64
import binascii
import os
import stat
from dataclasses import dataclass
from typing import List, Optional

from ..tlog import SIG_ED25519, format_checkpoint_text, format_vkey, key_id

__all__ = ["KeyRing", "KeyFileError", "LogKey", "sign_checkpoint", "add_signature", "HEADER"]

HEADER = "# CRA transparency log keys (docs/transparency.md). Oldest first; the last ed25519-private line signs.\n"
_MAX_FILE = 1 << 20


class KeyFileError(ValueError):
    """The key file cannot be used (the message says where and why)."""


@dataclass(frozen=True)
class LogKey:
    """One Ed25519 key: its public half, and the seed when this server may sign with it."""

    public_key: bytes
    seed: Optional[bytes]

    def sign(self, message: bytes) -> bytes:
        """An Ed25519 signature (deterministic: the same note signed twice is the same line)."""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if self.seed is None:
            raise KeyFileError("this key is retired (public only)")
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    def key_id(self, name: str) -> int:
        """Its signed-note key id under ``name``."""
        return key_id(name, SIG_ED25519, self.public_key)

    def vkey(self, name: str) -> str:
        """Its vkey under ``name``."""
        return format_vkey(name, self.public_key)


def _public(seed: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    return Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _new_line() -> str:
    return f"ed25519-private {base64.b64encode(os.urandom(32)).decode()}\n"


class KeyRing:
    """The keys of a key file; :attr:`active` (the last private one) signs."""

    def __init__(self, keys: List[LogKey], path: str = "") -> None:
        if not any(k.seed is not None for k in keys):
            raise KeyFileError(f"{path or 'the key file'}: no ed25519-private key to sign with")
        self.keys = keys
        self.path = path
        self.active = [k for k in keys if k.seed is not None][-1]

    @classmethod
    def parse(cls, text: str, path: str = "") -> "KeyRing":
        """Reads the key file's text."""
        keys: List[LogKey] = []
        for n, line in enumerate(text.splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, _, b64 = line.partition(" ")
            try:
                raw = base64.b64decode(b64.strip(), validate=True)
            except (binascii.Error, ValueError):
                raise KeyFileError(f"{path}:{n}: the key is not base64") from None
            if len(raw) != 32 or kind not in ("ed25519-private", "ed25519-public"):
                raise KeyFileError(f"{path}:{n}: expected 'ed25519-private <base64 32 bytes>' or "
                                   "'ed25519-public <base64 32 bytes>'")
            keys.append(LogKey(_public(raw), raw) if kind == "ed25519-private" else LogKey(raw, None))
        if len({k.public_key for k in keys}) != len(keys):
            raise KeyFileError(f"{path}: the same key appears twice")
        return cls(keys, path)

    @classmethod
    def load(cls, path: str, create: bool = True) -> "KeyRing":
        """Reads the key file, creating it (0600, one new key) when missing and ``create``.
        Refuses a file that is not a regular file or that group or others may read or write."""
        if create:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            except OSError as e:
                raise KeyFileError(f"cannot create the log key file {path}: {e.strerror}") from None
            else:
                with os.fdopen(fd, "w") as f:
                    f.write(HEADER + _new_line())
                    f.flush()
                    os.fsync(f.fileno())
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except OSError as e:
            raise KeyFileError(f"cannot read the log key file {path}: {e.strerror}") from None
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise KeyFileError(f"the log key file {path} is not a regular file")
            if st.st_mode & 0o077:
                raise KeyFileError(f"the log key file {path} is accessible to group or others "
                                   f"(mode {stat.S_IMODE(st.st_mode):04o}); chmod 600 it")
            data = f.read(_MAX_FILE + 1)
        if len(data) > _MAX_FILE:
            raise KeyFileError(f"the log key file {path} is larger than {_MAX_FILE} bytes")
        try:
            return cls.parse(data.decode("utf-8"), path)
        except UnicodeDecodeError:
            raise KeyFileError(f"the log key file {path} is not UTF-8 text") from None

    def vkeys(self, name: str) -> List[str]:
        """Every key's vkey under ``name``, oldest first."""
        return [k.vkey(name) for k in self.keys]

    @staticmethod
    def add(path: str) -> None:
        """Appends a new private key (it signs from the next start); creates the file if missing."""
        KeyRing.load(path)  # creates when missing, checks mode and content
        with open(path, "a") as f:
            f.write(_new_line())
            f.flush()
            os.fsync(f.fileno())

    @staticmethod
    def retire(path: str) -> int:
        """Replaces every private key but the active one by its public half; returns how many."""
        ring = KeyRing.load(path, create=False)
        lines = [HEADER]
        n = 0
        for k in ring.keys:
            if k.seed is not None and k is not ring.active:
                lines.append(f"ed25519-public {base64.b64encode(k.public_key).decode()}\n")
                n += 1
            elif k.seed is not None:
                lines.append(f"ed25519-private {base64.b64encode(k.seed).decode()}\n")
            else:
                lines.append(f"ed25519-public {base64.b64encode(k.public_key).decode()}\n")
        tmp = path + ".tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("".join(lines))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return n


def _sig_line(key: LogKey, name: str, text: bytes) -> str:
    blob = key.key_id(name).to_bytes(4, "big") + key.sign(text)
    return f"\u2014 {name} {base64.b64encode(blob).decode()}\n"


def sign_checkpoint(key: LogKey, origin: str, size: int, root: bytes) -> str:
    """The checkpoint note of (origin, size, root) signed by ``key`` under the name ``origin``."""
    text = format_checkpoint_text(origin, size, root)
    return text.decode("utf-8") + "\n" + _sig_line(key, origin, text)


def add_signature(note: str, key: LogKey, origin: str) -> str:
    """``note`` with ``key``'s signature line added (when it lacks one)."""
    cut = note.rfind("\n\n")
    text = note[:cut + 1].encode("utf-8")
    line = _sig_line(key, origin, text)
    return note if line in note else note + line
