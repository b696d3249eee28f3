"""Fixtures for the store's tests: stores of each backend, a fresh PostgreSQL database per test,
and a faulty network."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.engine import make_url

from tests.conftest import POSTGRES_SERVER, _admin_connect
from tests.storage.faults import TcpProxy
from tunewise.storage import Store, TrialStore

OpenStore = Callable[[], TrialStore]


@pytest.fixture
def open_store(storage_url: str) -> Iterator[OpenStore]:
    """Opens stores of the backend under test (each of SQLite and PostgreSQL); closes them after."""
    opened: list[TrialStore] = []

    def open_() -> TrialStore:
        store = Store.at(storage=storage_url)
        opened.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def fresh_database(postgres_url: str) -> Iterator[str]:
    """The name of an empty PostgreSQL database of this test's own (dropped afterwards).

    Fault tests end connections and migration tests need an empty database: neither may touch
    the session's shared test database, nor anything else on the server.
    """
    name = f"tw_fault_{uuid.uuid4().hex[:10]}"
    with _admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def fresh_postgres_url(fresh_database: str) -> str:
    return make_url(POSTGRES_SERVER).set(database=fresh_database).render_as_string(False)


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    """A proxy to the test server that can cut, refuse and lose replies on demand."""
    server = make_url(POSTGRES_SERVER)
    forward = TcpProxy((server.host or "127.0.0.1", server.port or 5432))
    try:
        yield forward
    finally:
        forward.close()
