"""Fixtures of the dashboard's API tests: the ingest suite's databases (a fresh SQLite file and a
fresh database on a real PostgreSQL for each test) and its recorded demo trace."""

from __future__ import annotations

from ingest.conftest import db, db_url, demo, pg_cluster  # noqa: F401  (fixtures, used by name)
