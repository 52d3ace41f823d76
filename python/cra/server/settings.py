"""Configuration of the ingest service: every bound in one place, from flags or ``CRA_INGEST_*``.

Each field has a default that suits one process on one machine; ``docs/ingest.md`` lists them
with their environment variables. Values are checked when the settings are built, so a bad
setting stops ``cra serve`` before it listens.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any, Dict, Mapping, Optional

__all__ = ["Settings", "SettingsError", "ENV_PREFIX"]

ENV_PREFIX = "CRA_INGEST_"
MIB = 1024 * 1024


class SettingsError(ValueError):
    """A setting is missing or out of range (the message names it)."""


@dataclasses.dataclass(frozen=True)
class Settings:
    """Every knob of the service. Sizes are bytes, durations seconds."""

    #: ``sqlite:///path/to/file`` (or a plain path) or ``postgresql://...``.
    db: str = "sqlite:///./cra-ingest.sqlite3"
    #: JSON file mapping tokens (or ``sha256:<hex>`` of tokens) to ``{tenant, rights}``.
    tokens: Optional[str] = None
    host: str = "127.0.0.1"
    port: int = 8787
    #: Largest request body as sent (compressed or not).
    max_body: int = 16 * MIB
    #: Largest batch after decompression (a zip bomb stops here). A batch in work takes about 4x
    #: this in memory, so the worst case is ``4 * max_decompressed * max_concurrent_ingests``.
    max_decompressed: int = 32 * MIB
    #: Most lines (events) in one batch.
    max_lines: int = 100_000
    #: Longest single line (one event).
    max_line: int = 1 * MIB
    #: How long events that arrive ahead of a missing one are held before a gap is recorded.
    hold_seconds: float = 300.0
    #: Most held events per tenant; beyond, ``POST /v1/traces`` answers 429.
    max_held_events: int = 100_000
    #: Most ingest requests worked on at once in this process; beyond, 503.
    max_concurrent_ingests: int = 4
    #: Whole traces whose last batch arrived longer ago are deleted (0 keeps everything).
    retention_days: float = 0.0
    #: How often the background timer expires held events and applies retention (0: never).
    sweep_seconds: float = 10.0
    #: ``Retry-After`` sent with 429 and 503.
    retry_after_seconds: int = 1
    #: Connections kept per process (PostgreSQL; SQLite opens one per worker thread as needed).
    pool_size: int = 8
    #: How long a write waits for a lock (SQLite busy timeout, PostgreSQL lock_timeout).
    lock_timeout_seconds: float = 5.0
    #: Most traces one replay request re-runs, and most bytes of trace it reads.
    max_replay_traces: int = 100
    max_replay_bytes: int = 64 * MIB
    #: Atlases the dashboard offers as replay candidates: an atlas directory, or a directory of them.
    atlases: Optional[str] = None
    #: The transparency log's signing keys (docs/transparency.md): created with one new key (mode
    #: 0600) when missing. Default: ``<database file>.log-key`` beside a SQLite database; required
    #: with PostgreSQL (every process of a deployment must use the same keys).
    log_key: Optional[str] = None
    #: Prefix of every tenant's log origin (``<log_origin>/<tenant>``), also the checkpoints' key
    #: name: a name unique to this deployment (a schema-less URL such as ``audit.example.com/cra``).
    #: Never change it once checkpoints were handed out: verifiers pin it.
    log_origin: str = "localhost/cra-ingest"
    #: How often each tenant whose log grew gets a new signed checkpoint (0: on demand only).
    checkpoint_seconds: float = 5.0

    def __post_init__(self) -> None:
        positive = ("max_body", "max_decompressed", "max_lines", "max_line", "max_held_events",
                    "max_concurrent_ingests", "pool_size", "max_replay_traces", "max_replay_bytes")
        for name in positive:
            if int(getattr(self, name)) < 1:
                raise SettingsError(f"{name} must be at least 1 (got {getattr(self, name)})")
        for name in ("hold_seconds", "retention_days", "sweep_seconds", "lock_timeout_seconds", "retry_after_seconds",
                     "checkpoint_seconds"):
            if float(getattr(self, name)) < 0:
                raise SettingsError(f"{name} must not be negative (got {getattr(self, name)})")
        if not 0 <= self.port <= 65535:
            raise SettingsError(f"port must be 0-65535 (got {self.port})")
        if not (self.db.startswith(("sqlite:", "postgresql:", "postgres:")) or "://" not in self.db):
            raise SettingsError(f"db must be sqlite:///PATH or postgresql://... (got {self.db!r})")
        o = self.log_origin
        if not o or len(o) > 200 or any(c.isspace() or c == "+" or ord(c) < 0x20 for c in o):
            raise SettingsError(f"log_origin must be 1-200 characters without spaces or '+' (got {o!r})")

    def log_key_path(self) -> str:
        """The key file: ``log_key``, else ``<SQLite file>.log-key``; PostgreSQL needs ``log_key``."""
        if self.log_key:
            return self.log_key
        if self.db.startswith(("postgresql:", "postgres:")):
            raise SettingsError("with PostgreSQL, --log-key FILE (CRA_INGEST_LOG_KEY) is required: every process "
                                "of the deployment signs with the same keys")
        from .db import _sqlite_path

        return os.path.abspath(_sqlite_path(self.db)) + ".log-key"

    @classmethod
    def from_env(cls, env: Optional[Mapping[str, str]] = None, **overrides: Any) -> "Settings":
        """Defaults, then ``CRA_INGEST_<FIELD>`` variables, then ``overrides`` (flags; None skipped)."""
        env = os.environ if env is None else env
        values: Dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _convert(f.name, f.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _convert(name: str, kind: Any, raw: str) -> Any:
    kind = str(kind)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise SettingsError(f"{ENV_PREFIX}{name.upper()} must be a number (got {raw!r})") from None
    return raw
