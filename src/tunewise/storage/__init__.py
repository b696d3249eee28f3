"""The trial store: SQLite (embedded default) and PostgreSQL behind one SQLAlchemy code path."""

from tunewise.storage.engine import DB_FILENAME, safe_url, storage_url
from tunewise.storage.errors import (
    SchemaVersionError,
    StorageError,
    StudyMismatchError,
    StudyNotFoundError,
)
from tunewise.storage.migrations import migrate
from tunewise.storage.retry import RetryPolicy
from tunewise.storage.schema import SCHEMA_VERSION
from tunewise.storage.store import (
    Claim,
    ClaimOutcome,
    Limits,
    Store,
    StudyRecord,
    StudyStore,
    Totals,
    worker_name,
)

__all__ = [
    "DB_FILENAME",
    "SCHEMA_VERSION",
    "Claim",
    "ClaimOutcome",
    "Limits",
    "RetryPolicy",
    "SchemaVersionError",
    "StorageError",
    "Store",
    "StudyMismatchError",
    "StudyNotFoundError",
    "StudyRecord",
    "StudyStore",
    "Totals",
    "migrate",
    "safe_url",
    "storage_url",
    "worker_name",
]
