"""Shared fixtures: a private PostgreSQL database per test session, and the backends to test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from tests.requirements import unavailable

POSTGRES_SERVER = os.environ.get(
    "TUNEWISE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def _admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    return psycopg.connect(POSTGRES_SERVER, autocommit=True, connect_timeout=3)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session (dropped afterwards); a skip without one
    (a failure in CI)."""
    try:
        admin = _admin_connect()
    except Exception as exc:
        unavailable(
            f"no PostgreSQL server answers at {POSTGRES_SERVER} ({exc}); set "
            "TUNEWISE_TEST_POSTGRES to a server URL to run these tests"
        )
    name = f"tw_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_SERVER.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def storage_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    """A store URL on each backend: a SQLite file in tmp_path, or the session's PostgreSQL db."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tunewise.db'}"
    return request.getfixturevalue("postgres_url")


def unique_name(prefix: str = "study") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
