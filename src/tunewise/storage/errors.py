"""Errors the store raises; each message says what to do next, and none shows a password."""

from __future__ import annotations

import re

from sqlalchemy.engine import make_url


class StorageError(RuntimeError):
    """The store cannot be used as asked."""


class SchemaVersionError(StorageError):
    """The store was written by a tunewise with another schema version."""


class StudyNotFoundError(StorageError):
    """No study of that name exists in the store."""


class StudyMismatchError(StorageError):
    """An existing study was created with another space or optimizer."""


_PASSWORD_IN_URL = re.compile(r"(://[^:/@]*:)[^/]*@")

_MISCONFIGURED = (
    "authentication failed",  # password, ident, peer, ...
    "no pg_hba.conf entry",
    "does not exist",  # role or database
    "ssl was required",
    "invalid dsn",
    "invalid connection option",
    "invalid integer value",
    "permission denied",
)
_UNREACHABLE = (
    "connection refused",
    "could not connect",
    "failed to resolve host",
    "could not translate host name",
    "name or service not known",
    "timeout expired",
    "timed out",
    "no route to host",
    "network is unreachable",
    "server closed the connection",
    "the database system is",  # starting up / shutting down / in recovery
)


def mask_password(text: str) -> str:
    """``text`` with the password of any URL in it replaced by ``***`` (even if unparsable)."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)


def first_line(exc: BaseException | None) -> str:
    """The first line of an exception's message (drivers put hints on later lines)."""
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else type(exc).__name__


def server_of(url: str) -> str:
    """``host:port`` of a server URL, for messages."""
    parsed = make_url(url)
    return f"{parsed.host or 'localhost'}:{parsed.port or 5432}"


def is_unreachable(text: str) -> bool:
    """True when a driver's message says the server could not be reached at all."""
    lowered = text.lower()
    return any(marker in lowered for marker in _UNREACHABLE)


def is_misconfigured(text: str) -> bool:
    """True for connection errors that waiting cannot fix: credentials, a missing database, SSL."""
    lowered = text.lower()
    return any(marker in lowered for marker in _MISCONFIGURED)
