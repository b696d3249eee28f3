"""Upgrading a store written by an older tunewise to the current schema version.

Migrations are data: an ordered list of steps, each taking the schema from one version to the
next with plain SQL that SQLite and PostgreSQL both accept. :func:`migrate` applies every step the
store needs, together with the version bump, in one transaction (both backends have transactional
DDL, so a failed upgrade leaves the store as it was), after copying a SQLite file aside.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, inspect, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from tunewise.storage import schema
from tunewise.storage.engine import make_short_lived_engine, write_transaction
from tunewise.storage.errors import SchemaVersionError, StorageError
from tunewise.storage.urls import (
    DB_FILENAME,
    is_sqlite,
    open_error_message,
    safe_url,
    storage_url,
)

_SCHEMA_LOCK = 727274  # the advisory lock that schema creation takes on PostgreSQL


@dataclass(frozen=True)
class Step:
    """One schema change, from ``version`` to ``version + 1``."""

    version: int
    description: str
    statements: tuple[str, ...]


STEPS: tuple[Step, ...] = (
    Step(
        1,
        "add tw_trials.device (the accelerator a trial ran on)",
        ("ALTER TABLE tw_trials ADD COLUMN device VARCHAR(64)",),
    ),
)
"""Every step, in order; ``STEPS[-1].version + 1 == schema.SCHEMA_VERSION``."""


def upgrade_hint(url: str) -> str:
    """The command (and Python call) that upgrades the store at ``url``."""
    backup = " (it backs up the SQLite file first)" if is_sqlite(url) else ""
    return (
        f"Upgrade it in place with `tunewise migrate {_location(url)}`{backup}, or from Python "
        "with tunewise.storage.migrate(url)."
    )


def stored_version(conn: Connection) -> int | None:
    """The schema version recorded in the store (None: not a tunewise store)."""
    if not inspect(conn).has_table(schema.meta.name):
        return None
    found = conn.execute(
        select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
    ).scalar()
    return None if found is None else int(found)


def migrate(location: str | os.PathLike[str]) -> list[str]:
    """Upgrade the store at ``location`` (a URL, a root folder or a SQLite file) to this version.

    Returns what was done, one line per action (nothing when the store is already current).
    Raises :class:`SchemaVersionError` for a store written by a newer tunewise.
    """
    url = _url_of(location)
    engine = make_short_lived_engine(url)
    try:
        try:
            with engine.connect() as conn:
                found = stored_version(conn)
        except DBAPIError as exc:
            raise StorageError(open_error_message(url, exc.orig)) from None
        if found is None:
            raise StorageError(f"no tunewise store at {safe_url(url)}: nothing to migrate")
        if found > schema.SCHEMA_VERSION:
            raise SchemaVersionError(newer_message(url, found))
        if found == schema.SCHEMA_VERSION:
            return []
        done = []
        if is_sqlite(url):
            backup = _backup_sqlite(url, found)
            done.append(f"backed up {make_url(url).database} to {backup}")
        with write_transaction(engine) as conn:
            if not is_sqlite(url):
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_SCHEMA_LOCK})")
            found = stored_version(conn) or found  # another process may have migrated meanwhile
            for step in STEPS:
                if step.version < found:
                    continue
                for statement in step.statements:
                    conn.exec_driver_sql(statement)
                done.append(f"schema {step.version} -> {step.version + 1}: {step.description}")
            conn.execute(
                update(schema.meta)
                .where(schema.meta.c.key == "schema_version")
                .values(value=str(schema.SCHEMA_VERSION))
            )
        return done
    finally:
        engine.dispose()


def older_message(url: str, found: int) -> str:
    return (
        f"the store at {safe_url(url)} has schema version {found}, written by an older tunewise; "
        f"this tunewise reads version {schema.SCHEMA_VERSION}. Nothing was changed. "
        + upgrade_hint(url)
    )


def newer_message(url: str, found: int | None) -> str:
    return (
        f"the store at {safe_url(url)} has schema version {found}, but this tunewise reads version "
        f"{schema.SCHEMA_VERSION}: it was written by a newer tunewise. Nothing was changed. "
        "Upgrade tunewise (pip install --upgrade tunewise) to open it."
    )


def _url_of(location: str | os.PathLike[str]) -> str:
    text = os.fspath(location)
    if "://" in text:
        return storage_url(storage=text)
    path = Path(text).expanduser()
    if path.is_dir():
        path = path / DB_FILENAME
    if path.is_file():
        return storage_url(storage=str(path))
    raise StorageError(f"no tunewise store at {text!r} (no such SQLite file, folder or URL)")


def _location(url: str) -> str:
    """What to type after ``tunewise migrate``: the root folder, the SQLite file or the URL."""
    if not is_sqlite(url):
        return safe_url(url)
    path = Path(make_url(url).database or "")
    return str(path.parent if path.name == DB_FILENAME else path)


def _backup_sqlite(url: str, version: int) -> Path:
    """Copy the SQLite file (with its WAL) to ``<file>.v<version>.bak`` next to it."""
    source = Path(make_url(url).database or "")
    target = source.with_name(f"{source.name}.v{version}.bak")
    n = 1
    while target.exists():
        n += 1
        target = source.with_name(f"{source.name}.v{version}.{n}.bak")
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        src.backup(dst)  # a consistent copy, including what is still in the WAL file
    finally:
        dst.close()
        src.close()
    return target
