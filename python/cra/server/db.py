"""SQLite and PostgreSQL behind one small interface: pooled connections and transactions.

SQL is written once with ``?`` placeholders (turned into ``%s`` for psycopg). Writes run in
``Database.write()``: ``BEGIN IMMEDIATE`` on SQLite (one writer at a time, across processes;
WAL lets readers go on), an ordinary transaction on PostgreSQL where the ingest path locks the
trace rows it touches with ``SELECT ... FOR UPDATE``. Lock waits are bounded
(``lock_timeout_seconds``); a lock that cannot be had, a deadlock or a lost connection raise
:class:`Busy`, which the HTTP layer answers with 503 and ``Retry-After``.
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, List, Optional, Sequence, Tuple

from .schema import LATEST, MIGRATIONS, statements

__all__ = ["Database", "Tx", "Busy", "SchemaError", "open_database"]

Row = Tuple[Any, ...]


class Busy(Exception):
    """The database cannot take the work now (locked, deadlock, connection lost): retry later."""


class SchemaError(Exception):
    """The database's schema is newer than this code, or cannot be migrated."""


class Tx:
    """One transaction on one connection."""

    def __init__(self, conn: Any, dialect: str) -> None:
        self.conn = conn
        self.dialect = dialect
        self.pg = dialect == "postgresql"
        #: ``" FOR UPDATE"`` on PostgreSQL, empty on SQLite (whose write lock covers the file).
        self.for_update = " FOR UPDATE" if self.pg else ""

    def _sql(self, sql: str) -> str:
        return sql.replace("?", "%s") if self.pg else sql

    def among(self, column: str, values: Sequence[Any]) -> Iterator[Tuple[str, List[Any]]]:
        """``column`` among ``values`` as (SQL condition, parameters) slices: one ``= ANY(?)``
        with an array on PostgreSQL, ``IN (...)`` lists of at most 500 on SQLite (its variable
        limit). Nothing for no values."""
        if not values:
            return
        if self.pg:
            yield f"{column} = ANY(?)", [list(values)]
            return
        for i in range(0, len(values), 500):
            part = list(values[i:i + 500])
            yield f"{column} IN ({', '.join('?' for _ in part)})", part

    def q(self, sql: str, params: Sequence[Any] = ()) -> List[Row]:
        """Runs a query and returns every row."""
        cur = self.conn.execute(self._sql(sql), tuple(params))
        return list(cur.fetchall()) if cur.description is not None else []

    def x(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Runs a statement and returns the affected row count."""
        cur = self.conn.execute(self._sql(sql), tuple(params))
        return int(cur.rowcount or 0)

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Runs a statement for each row (psycopg pipelines them)."""
        rows = list(rows)
        if not rows:
            return
        if self.pg:
            with self.conn.cursor() as cur:
                cur.executemany(self._sql(sql), rows)
        else:
            self.conn.executemany(sql, rows)

    def copy(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Bulk insert: ``COPY ... FROM STDIN`` on PostgreSQL, ``executemany`` on SQLite."""
        if not rows:
            return
        cols = ", ".join(columns)
        if self.pg:
            with self.conn.cursor() as cur:
                with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                    for r in rows:
                        cp.write_row(r)
        else:
            marks = ", ".join("?" for _ in columns)
            self.conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", rows)


def _sqlite_path(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///"):] or "cra-ingest.sqlite3"
    if url.startswith("sqlite://"):
        return url[len("sqlite://"):]
    if url.startswith("sqlite:"):
        return url[len("sqlite:"):]
    return url


class Database:
    """A pool of connections to one database (``sqlite:///...`` or ``postgresql://...``)."""

    def __init__(self, url: str, pool_size: int = 8, lock_timeout: float = 5.0) -> None:
        self.url = url
        self.dialect = "postgresql" if url.startswith(("postgresql:", "postgres:")) else "sqlite"
        self.lock_timeout = lock_timeout
        self._size = pool_size
        self._idle: "queue.LifoQueue[Any]" = queue.LifoQueue()
        self._made = 0
        self._lock = threading.Lock()
        self._closed = False
        if self.dialect == "sqlite":
            self.path = os.path.abspath(_sqlite_path(url))
        else:
            import psycopg  # noqa: F401  (fail early with a clear ImportError)

            self.path = ""

    # -- connections -----------------------------------------------------------------------
    def _connect(self) -> Any:
        c: Any
        if self.dialect == "sqlite":
            c = sqlite3.connect(self.path, timeout=self.lock_timeout, isolation_level=None, check_same_thread=False)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=FULL")
            c.execute(f"PRAGMA busy_timeout={int(self.lock_timeout * 1000)}")
            return c
        import psycopg

        try:
            c = psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.lock_timeout)))
        except psycopg.OperationalError as e:
            raise Busy(f"cannot connect to PostgreSQL: {_first_line(e)}") from None
        c.execute(f"SET lock_timeout = '{int(self.lock_timeout * 1000)}ms'")
        c.execute("SET statement_timeout = '120s'")
        c.autocommit = False
        return c

    def _acquire(self) -> Any:
        if self._closed:
            raise Busy("the database is closed")
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if self._made < self._size:
                self._made += 1
                make = True
            else:
                make = False
        if make:
            try:
                return self._connect()
            except BaseException:
                with self._lock:
                    self._made -= 1
                raise
        try:
            return self._idle.get(timeout=self.lock_timeout)
        except queue.Empty:
            raise Busy("every database connection is in use") from None

    def _release(self, conn: Any, broken: bool) -> None:
        if broken or self._closed:
            try:
                conn.close()
            finally:
                with self._lock:
                    self._made -= 1
            return
        self._idle.put(conn)

    @contextmanager
    def _tx(self, write: bool) -> Iterator[Tx]:
        conn = self._acquire()
        broken = False
        try:
            try:
                if self.dialect == "sqlite":
                    conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                tx = Tx(conn, self.dialect)
                yield tx
                conn.commit() if self.dialect == "postgresql" else conn.execute("COMMIT")
            except BaseException:
                try:
                    if self.dialect == "sqlite":
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                    else:
                        conn.rollback()
                except Exception:
                    broken = True
                raise
        except Exception as e:
            if self.dialect == "postgresql" and getattr(conn, "closed", False):
                broken = True
            mapped = _busy(e)
            if mapped is not None:
                if self.dialect == "postgresql" and conn.broken:
                    broken = True
                raise mapped from e
            raise
        finally:
            self._release(conn, broken)

    def write(self) -> "Any":
        """A write transaction (context manager yielding :class:`Tx`)."""
        return self._tx(True)

    def read(self) -> "Any":
        """A read transaction (a consistent snapshot on SQLite)."""
        return self._tx(False)

    def close(self) -> None:
        """Closes every idle connection; later calls raise :class:`Busy`."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break

    # -- schema ----------------------------------------------------------------------------
    def migrate(self) -> int:
        """Applies missing migrations; returns the schema version. Refuses newer schemas."""
        with self.write() as tx:
            if tx.pg:
                tx.q("SELECT pg_advisory_xact_lock(7311)")
            tx.x("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL PRIMARY KEY, applied_at_us BIGINT NOT NULL)")
            rows = tx.q("SELECT MAX(version) FROM schema_version")
            current = int(rows[0][0] or 0)
            if current > LATEST:
                raise SchemaError(
                    f"the database has schema version {current}, newer than this cra ({LATEST}); upgrade cra"
                )
            for version, template in MIGRATIONS:
                if version <= current:
                    continue
                for stmt in statements(template, self.dialect):
                    tx.x(stmt)
                tx.x("INSERT INTO schema_version (version, applied_at_us) VALUES (?, ?)", (version, now_us()))
                current = version
            return current

    def ping(self) -> bool:
        """True when a trivial query answers."""
        with self.read() as tx:
            return bool(tx.q("SELECT 1"))


def _first_line(e: BaseException) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def _busy(e: BaseException) -> Optional[Busy]:
    if isinstance(e, Busy):
        return e
    if isinstance(e, sqlite3.IntegrityError):
        return Busy(f"a concurrent batch stored some of these events first; retry: {e}")
    if isinstance(e, sqlite3.OperationalError):
        msg = str(e).lower()
        if "locked" in msg or "busy" in msg:
            return Busy(f"the database is busy: {e}")
        return None
    try:
        import psycopg
        from psycopg import errors as pe
    except ImportError:  # pragma: no cover
        return None
    if isinstance(e, (pe.LockNotAvailable, pe.DeadlockDetected, pe.SerializationFailure, pe.QueryCanceled,
                      pe.AdminShutdown, pe.CannotConnectNow)):
        return Busy(f"the database is busy: {_first_line(e)}")
    if isinstance(e, psycopg.IntegrityError):
        return Busy(f"a concurrent batch stored some of these events first; retry: {_first_line(e)}")
    if isinstance(e, psycopg.OperationalError):
        return Busy(f"the database is unavailable: {_first_line(e)}")
    return None


def now_us() -> int:
    """Wall-clock microseconds since the epoch (server side)."""
    return time.time_ns() // 1000


def open_database(url: str, pool_size: int = 8, lock_timeout: float = 5.0) -> Database:
    """Opens (creating when needed) and migrates the database."""
    db = Database(url, pool_size=pool_size, lock_timeout=lock_timeout)
    if db.dialect == "sqlite":
        d = os.path.dirname(db.path)
        if d and not os.path.isdir(d):
            raise SchemaError(f"the directory of the SQLite database does not exist: {d}")
    db.migrate()
    return db
