"""Storage URLs: what the user gives (a path or a URL), how it is shown, and why it is refused.

Only string handling here (and SQLAlchemy's URL parser), so that the engine, the errors and the
command line can all use it without importing one another.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tunewise.storage.errors import (
    StorageError,
    first_line,
    is_unreachable,
    mask_password,
    server_of,
)

DB_FILENAME = "tunewise.db"


def storage_url(*, root: str | os.PathLike[str] | None = None, storage: str | None = None) -> str:
    """The URL for ``storage`` (a URL or a SQLite file path), else ``<root>/tunewise.db``."""
    if storage:
        text = str(storage)
        if "://" not in text:
            return f"sqlite:///{Path(text).expanduser().resolve()}"
        if text.startswith(("postgresql://", "postgres://")):
            return "postgresql+psycopg://" + text.split("://", 1)[1]
        return text
    if root is None:
        raise ValueError("give a root folder or a storage URL")
    return f"sqlite:///{Path(root).expanduser().resolve() / DB_FILENAME}"


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show no part of it that could hold a secret
        return "<unparsable storage URL>"


def check_url(url: str) -> None:
    """Raise :class:`StorageError` unless ``url`` names a SQLite or PostgreSQL store."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise StorageError(malformed_url_message(url, "it cannot be parsed")) from None
    if parsed.host and "@" in parsed.host:
        raise StorageError(malformed_url_message(url, "there is an '@' in the host part"))
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        why = f"tunewise stores trials in sqlite or postgresql, not {backend}"
        raise StorageError(malformed_url_message(url, why))


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def open_error_message(url: str, driver_error: BaseException | None) -> str:
    """Why a store could not be opened, and what to check, from the driver's error."""
    detail = mask_password(first_line(driver_error))
    prefix = f"cannot open the store at {safe_url(url)}"
    if is_sqlite(url):
        return f"{prefix}: {detail}"
    parsed = make_url(url)
    lowered = str(driver_error).lower()
    if (
        "authentication failed" in lowered
        or "pg_hba.conf" in lowered
        or ('role "' in lowered and "does not exist" in lowered)
    ):
        return (
            f"{prefix}: authentication failed for user {parsed.username!r} at {server_of(url)} "
            f"({detail}). Check the user name and password in the storage URL."
        )
    if 'database "' in lowered and "does not exist" in lowered:
        return (
            f"{prefix}: the database {parsed.database!r} does not exist on {server_of(url)}. "
            f"Create it (e.g. createdb -h {parsed.host or 'localhost'} -p {parsed.port or 5432} "
            f"{parsed.database}) or fix the URL."
        )
    if is_unreachable(lowered):
        return (
            f"{prefix}: cannot reach the database server at {server_of(url)} ({detail}). "
            "Is the server running, and reachable from this machine?"
        )
    return f"{prefix}: {detail}"


def malformed_url_message(url: str, why: str) -> str:
    return (
        f"malformed storage URL {mask_password(url)!r}: {why}. Expected a SQLite file path, "
        "sqlite:///PATH, or postgresql://USER:PASSWORD@HOST:PORT/DATABASE (URL-encode special "
        "characters in the password, e.g. @ as %40)."
    )
