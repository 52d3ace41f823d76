"""Fixtures of the ingest suite: every store-level test runs on SQLite and on a real PostgreSQL
(installed and started by :mod:`.pg` when missing), each on a fresh database."""

from __future__ import annotations

import os
from typing import Iterator

import pytest

from cra.server.db import Database, open_database
from cra.server.ingest import Ingestor
from cra.server.settings import Settings

from .helpers import demo_trace, many_traces
from .pg import Cluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    c = Cluster().start()
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: "os.PathLike[str]") -> str:
    if request.param == "sqlite":
        return f"sqlite:///{os.path.join(os.fspath(tmp_path), 'ingest.sqlite3')}"
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database()


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    d = open_database(db_url, pool_size=4, lock_timeout=5.0)
    try:
        yield d
    finally:
        d.close()


@pytest.fixture
def settings() -> Settings:
    return Settings(max_held_events=1000)


@pytest.fixture
def ingestor(db: Database, settings: Settings) -> Ingestor:
    return Ingestor(db, settings)


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The demo trace (two traces, every kind of decision)."""
    return demo_trace(os.path.join(os.fspath(tmp_path_factory.mktemp("demo")), "demo.jsonl"))


@pytest.fixture(scope="session")
def several(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Twelve ended support sessions of six events or more each."""
    return many_traces(os.path.join(os.fspath(tmp_path_factory.mktemp("many")), "many.jsonl"), 12)
