"""CRA's central ingest service: TRACE batches in over HTTP, chains checked by libcra, stored in
SQLite or PostgreSQL, served back for query, export and replay.

Install with the ``server`` extra (``pip install "./python[server]"``) and run ``cra serve``.
See ``docs/ingest.md``. Modules: :mod:`.app` (HTTP), :mod:`.ingest` and :mod:`.chains`
(verification and storage), :mod:`.verify` (the libcra adapter), :mod:`.db` and :mod:`.schema`
(storage), :mod:`.query`, :mod:`.replay`, :mod:`.maintenance` (held-event expiry, retention).
"""

from __future__ import annotations

from .settings import Settings, SettingsError

__all__ = ["Settings", "SettingsError", "serve"]


def serve(settings: Settings) -> None:
    """Runs the service with uvicorn until interrupted (SIGINT/SIGTERM shut it down cleanly)."""
    import uvicorn

    from .app import create_app
    from .tokens import TokenStore

    if not settings.tokens:
        raise SettingsError("a tokens file is required (--tokens FILE or CRA_INGEST_TOKENS)")
    tokens = TokenStore.from_file(settings.tokens)
    app = create_app(settings, tokens)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", access_log=False,
                limit_concurrency=max(64, settings.max_concurrent_ingests * 16), timeout_keep_alive=30)
