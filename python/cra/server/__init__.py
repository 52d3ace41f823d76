"""CRA's central ingest service: TRACE batches in over HTTP, chains checked by libcra, stored in
SQLite or PostgreSQL, served back for query, export and replay.

Install with the ``server`` extra (``pip install "./python[server]"``) and run ``cra serve``.
See ``docs/ingest.md``. Modules: :mod:`.app` (HTTP), :mod:`.ingest` and :mod:`.chains`
(verification and storage), :mod:`.verify` (the libcra adapter), :mod:`.db` and :mod:`.schema`
(storage), :mod:`.query`, :mod:`.replay`, :mod:`.maintenance` (held-event expiry, retention),
:mod:`.tlog`, :mod:`.merkle`, :mod:`.checkpoint` and :mod:`.tlog_api` (the transparency log,
docs/transparency.md).
"""

from __future__ import annotations

from .settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "serve"]


def serve(settings: Settings) -> None:
    """Runs the service with uvicorn until interrupted (SIGINT/SIGTERM shut it down cleanly).

    The tokens file, the database (migrated) and the log's key file (created when missing) are
    opened first, so a bad file, an unreachable database, a schema newer than this code or a key
    file others may read stop it with a clear :class:`SettingsError` before it listens."""
    import uvicorn

    from .app import create_app
    from .checkpoint import KeyFileError, KeyRing
    from .db import Busy, SchemaError, open_database
    from .tokens import TokenStore

    if not settings.tokens:
        raise SettingsError("a tokens file is required (--tokens FILE or CRA_INGEST_TOKENS)")
    tokens = TokenStore.from_file(settings.tokens)
    try:
        db = open_database(settings.db, settings.pool_size, settings.lock_timeout_seconds)
    except (Busy, SchemaError, OSError) as e:
        raise SettingsError(f"cannot open the database {_redact(settings.db)}: {e}") from None
    except ImportError as e:
        raise SettingsError(f"the database driver is missing ({e}); install the server extra") from None
    except Exception as e:  # sqlite3.DatabaseError (not a database), psycopg errors...
        raise SettingsError(f"cannot open the database {_redact(settings.db)}: {e}") from None
    try:
        try:
            ring = KeyRing.load(settings.log_key_path())
        except KeyFileError as e:
            raise SettingsError(str(e)) from None
        except ImportError as e:
            raise SettingsError(f"the log needs the cryptography package ({e}); install the server extra") from None
        app = create_app(settings, tokens, db=db, ring=ring)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False,
                    limit_concurrency=max(64, settings.max_concurrent_ingests * 16), timeout_keep_alive=30)
    finally:
        db.close()


def _redact(url: str) -> str:
    """A database URL without its password."""
    import re

    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)
