"""Engines for the two backends, with the transaction discipline the store relies on.

SQLite: WAL mode so readers never block the writer, and ``BEGIN IMMEDIATE`` for write transactions
so two workers never deadlock upgrading a read lock. PostgreSQL: ordinary (read committed)
transactions; the study row holds the study's counters, and whoever changes them holds its row
lock until COMMIT, which is what orders the study's changes (see :mod:`tunewise.storage.schema`).
A claim takes that lock just before its one write statement, a finish inside its only statement
(run in autocommit): see :mod:`tunewise.storage.claims`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tunewise.storage.urls import is_sqlite

_BEGIN_OPTION = "tunewise_begin"


def make_engine(url: str) -> Engine:
    """An engine configured for many worker processes sharing one study."""
    if is_sqlite(url):
        database = make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60.0})
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    # No pool_pre_ping: it costs a round trip per checkout, and a pooled connection that died
    # (a server restart) fails its first statement, which the store's retry layer (retry.py)
    # treats as transient, disposing of the pool and running the transaction again.
    return create_engine(
        url,
        pool_size=2,
        max_overflow=2,
        connect_args={"connect_timeout": 10, "application_name": "tunewise"},
    )


def make_short_lived_engine(url: str) -> Engine:
    """An engine that keeps no connection open between uses (for CLIs and one-off reads)."""
    if is_sqlite(url):
        return make_engine(url)
    return create_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 10})


def _sqlite_on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
    conn.exec_driver_sql(f"BEGIN {mode}")


@contextlib.contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A transaction that takes the write lock up front on SQLite; commits on success."""
    with engine.connect() as conn:
        conn = conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn


@contextlib.contextmanager
def read_transaction(engine: Engine) -> Iterator[Connection]:
    """A consistent snapshot for reads; takes no write lock."""
    with engine.connect() as conn, conn.begin():
        yield conn


@contextlib.contextmanager
def autocommit(engine: Engine) -> Iterator[Connection]:
    """PostgreSQL: each statement its own transaction, committed by the server before it replies.

    A row lock that a statement takes is then held for that statement (and its commit) only,
    never across a round trip to a client that may be waiting for a CPU.
    """
    with engine.connect() as conn:
        yield conn.execution_options(isolation_level="AUTOCOMMIT")
