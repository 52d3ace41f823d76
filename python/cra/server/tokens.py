"""Bearer tokens: each is scoped to one tenant and a set of rights (write, read, admin).

The tokens file is JSON: ``{"<token>": {"tenant": "acme", "rights": ["write"]}, ...}``. A key may
also be ``"sha256:<64 hex>"``, the SHA-256 of the token, so the file need not hold secrets. Only
the SHA-256 digests are kept in memory; a presented token is hashed and compared with every
known digest in constant time (no early exit), so response times say nothing about the tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Optional, Tuple

__all__ = ["Principal", "TokenStore", "TokenFileError", "RIGHTS", "hash_token"]

RIGHTS = frozenset({"write", "read", "admin"})
MAX_TOKENS_FILE = 1024 * 1024
MAX_TOKEN_LEN = 4096
_TENANT = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class TokenFileError(ValueError):
    """The tokens file cannot be used (the message says where and why)."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a tenant and its rights."""

    tenant: str
    rights: FrozenSet[str]

    def can(self, right: str) -> bool:
        """True when the token carries ``right``."""
        return right in self.rights


def hash_token(token: str) -> bytes:
    """The SHA-256 digest a token is known by."""
    return hashlib.sha256(token.encode("utf-8")).digest()


class TokenStore:
    """The known tokens (as digests) and their principals."""

    def __init__(self, entries: List[Tuple[bytes, Principal]]) -> None:
        self._entries = entries

    @classmethod
    def from_file(cls, path: str) -> "TokenStore":
        """Reads and checks a tokens file (at most 1 MiB)."""
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_TOKENS_FILE + 1)
        except OSError as e:
            raise TokenFileError(f"cannot read the tokens file {path}: {e.strerror}") from None
        if len(data) > MAX_TOKENS_FILE:
            raise TokenFileError(f"the tokens file {path} is larger than {MAX_TOKENS_FILE} bytes")
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise TokenFileError(f"the tokens file {path} is not JSON: {e}") from None
        return cls.from_mapping(doc, where=path)

    @classmethod
    def from_mapping(cls, doc: Any, where: str = "tokens") -> "TokenStore":
        """Builds the store from the parsed JSON document."""
        if not isinstance(doc, dict) or not doc:
            raise TokenFileError(f"{where}: expected a non-empty JSON object of token -> {{tenant, rights}}")
        entries: List[Tuple[bytes, Principal]] = []
        for n, (key, spec) in enumerate(doc.items(), 1):
            label = f"{where}: entry {n}"
            if not isinstance(key, str) or not key or len(key) > MAX_TOKEN_LEN:
                raise TokenFileError(f"{label}: the token must be a non-empty string of at most {MAX_TOKEN_LEN} characters")
            if key.startswith("sha256:"):
                hexd = key[len("sha256:"):]
                if not _HEX64.match(hexd):
                    raise TokenFileError(f"{label}: sha256: must be followed by 64 lowercase hex digits")
                digest = bytes.fromhex(hexd)
            else:
                digest = hash_token(key)
            if not isinstance(spec, dict) or set(spec) - {"tenant", "rights"}:
                raise TokenFileError(f"{label}: expected {{\"tenant\": ..., \"rights\": [...]}} and nothing else")
            tenant, rights = spec.get("tenant"), spec.get("rights")
            if not isinstance(tenant, str) or not _TENANT.match(tenant):
                raise TokenFileError(f"{label}: tenant must be 1-128 characters of A-Z a-z 0-9 . _ -")
            if not isinstance(rights, list) or not rights or not all(isinstance(r, str) and r in RIGHTS for r in rights):
                raise TokenFileError(f"{label}: rights must be a non-empty list of write, read, admin")
            if any(hmac.compare_digest(digest, d) for d, _ in entries):
                raise TokenFileError(f"{label}: the same token appears twice")
            entries.append((digest, Principal(tenant, frozenset(rights))))
        return cls(entries)

    def lookup(self, token: str) -> Optional[Principal]:
        """The principal of ``token``, or None. Compares with every entry (constant time)."""
        if not token or len(token) > MAX_TOKEN_LEN:
            return None
        digest = hash_token(token)
        found: Optional[Principal] = None
        for known, principal in self._entries:
            if hmac.compare_digest(digest, known):
                found = principal
        return found

    def __len__(self) -> int:
        return len(self._entries)

    def tenants(self) -> Dict[str, FrozenSet[str]]:
        """Tenant -> union of rights (for the startup log; no secrets)."""
        out: Dict[str, FrozenSet[str]] = {}
        for _, p in self._entries:
            out[p.tenant] = out.get(p.tenant, frozenset()) | p.rights
        return out
