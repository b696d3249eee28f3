"""The trial store: SQLite (embedded default) and PostgreSQL behind one SQLAlchemy code path.

Callers type against the interface (:class:`TrialStore`, :class:`StudyReader`,
:class:`StudyHandle`, in :mod:`tunewise.storage.base`, whose docstrings are the contract);
:class:`Store` is its SQL implementation.
"""

from tunewise.storage.base import StudyHandle, StudyReader, TrialStore
from tunewise.storage.errors import (
    SchemaVersionError,
    StorageError,
    StudyMismatchError,
    StudyNotFoundError,
)
from tunewise.storage.migrations import migrate
from tunewise.storage.records import (
    Claim,
    ClaimOutcome,
    Limits,
    StudyRecord,
    Totals,
    process_table,
    worker_name,
)
from tunewise.storage.retry import RetryPolicy
from tunewise.storage.schema import SCHEMA_VERSION
from tunewise.storage.store import Store
from tunewise.storage.study import StudyStore
from tunewise.storage.urls import DB_FILENAME, safe_url, storage_url

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
    "StudyHandle",
    "StudyMismatchError",
    "StudyNotFoundError",
    "StudyReader",
    "StudyRecord",
    "StudyStore",
    "Totals",
    "TrialStore",
    "migrate",
    "process_table",
    "safe_url",
    "storage_url",
    "worker_name",
]
