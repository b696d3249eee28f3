"""The SQL store: one SQLite file or PostgreSQL database holding many studies.

:class:`Store` implements :class:`~tunewise.storage.base.TrialStore` (whose docstrings are the
contract): it opens the database, checks or creates the schema, and creates and opens studies;
:class:`~tunewise.storage.study.StudyStore` is the handle on one study.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Engine, RowMapping, inspect, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, NoSuchModuleError

from tunewise.space import Space
from tunewise.storage import schema
from tunewise.storage.base import TrialStore
from tunewise.storage.engine import make_engine, read_transaction, write_transaction
from tunewise.storage.errors import (
    SchemaVersionError,
    StorageError,
    StudyMismatchError,
    StudyNotFoundError,
)
from tunewise.storage.migrations import newer_message, older_message
from tunewise.storage.records import StudyRecord
from tunewise.storage.retry import RetryPolicy, retried, run_with_retry
from tunewise.storage.rows import dumps, study_record_from_row
from tunewise.storage.statements import S
from tunewise.storage.study import StudyStore
from tunewise.storage.urls import check_url, is_sqlite, open_error_message, safe_url, storage_url

R = TypeVar("R")


class Store(TrialStore):
    """A connection to one tunewise store (many studies), SQLite file or PostgreSQL database.

    Opening fails fast with a message that says what to fix (malformed URL, server unreachable,
    authentication failed, no such database, older or newer schema): at that point a fault is
    almost always a mistake, and a user should not wait two minutes to learn it. Once open,
    every operation retries transient faults under ``retry`` (a :class:`RetryPolicy`; by default
    120 s, or ``TUNEWISE_STORE_RETRY_SECONDS``). ``retry_open=True`` retries the opening too
    (but never bad credentials or a missing database): for worker processes of a run whose store
    was already opened elsewhere, which may start while the server restarts.
    """

    def __init__(
        self, url: str, *, retry: RetryPolicy | None = None, retry_open: bool = False
    ) -> None:
        self.url = url
        self.retry = retry if retry is not None else RetryPolicy()
        self._where = safe_url(url)
        check_url(url)
        try:
            self.engine: Engine = make_engine(url)
        except (NoSuchModuleError, ImportError) as exc:
            raise StorageError(
                f"cannot open the store at {self._where}: its database driver is not installed "
                f"({exc}); for PostgreSQL, pip install 'psycopg[binary]'"
            ) from None
        try:
            if retry_open:
                self._retrying("opening the store", self._ensure_schema)
            else:
                self._ensure_schema()
        except DBAPIError as exc:
            self.engine.dispose()
            raise StorageError(open_error_message(url, exc.orig)) from None
        except BaseException:
            self.engine.dispose()
            raise

    @classmethod
    def at(
        cls,
        *,
        root: str | os.PathLike[str] | None = None,
        storage: str | None = None,
        retry: RetryPolicy | None = None,
        retry_open: bool = False,
    ) -> Store:
        """The store named by ``storage`` (URL or SQLite path), else ``<root>/tunewise.db``."""
        return cls(storage_url(root=root, storage=storage), retry=retry, retry_open=retry_open)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __repr__(self) -> str:
        return f"Store('{self._where}')"

    def _retrying(self, what: str, operation: Callable[[], R]) -> R:
        """Run ``operation`` (one whole transaction) again through transient faults."""
        return run_with_retry(
            operation, policy=self.retry, what=what, where=self._where, on_fault=self._on_fault
        )

    def _on_fault(self) -> None:
        # After a server restart every pooled connection is dead: start the retry on fresh ones.
        # (SQLite has no connections to lose, and an in-memory database would be lost with them.)
        if not is_sqlite(self.url):
            self.engine.dispose()

    # -- schema ---------------------------------------------------------------------------------

    def _ensure_schema(self) -> None:
        if not inspect(self.engine).has_table(schema.meta.name):
            with write_transaction(self.engine) as conn:
                if not is_sqlite(self.url):  # concurrent CREATE TABLE races on PostgreSQL
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
                schema.metadata.create_all(conn, checkfirst=True)
                found = conn.execute(
                    select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
                ).scalar()
                if found is None:
                    conn.execute(
                        schema.meta.insert().values(
                            key="schema_version", value=str(schema.SCHEMA_VERSION)
                        )
                    )
        with read_transaction(self.engine) as conn:
            found = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
            ).scalar()
        version = None if found is None else int(found)
        if version is not None and version < schema.SCHEMA_VERSION:
            raise SchemaVersionError(older_message(self.url, version))
        if version != schema.SCHEMA_VERSION:
            raise SchemaVersionError(newer_message(self.url, version))

    # -- studies --------------------------------------------------------------------------------

    @retried
    def study_names(self) -> list[str]:
        with read_transaction(self.engine) as conn:
            return list(conn.execute(select(S.c.name).order_by(S.c.id)).scalars())

    @retried
    def open_study(self, name: str) -> StudyRecord:
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(S).where(S.c.name == name)).mappings().first()
        if row is None:
            known = ", ".join(repr(n) for n in self.study_names()) or "none"
            raise StudyNotFoundError(
                f"no study named {name!r} in {safe_url(self.url)} (studies there: {known})"
            )
        return study_record_from_row(row)

    @retried
    def create_or_open_study(
        self,
        name: str,
        *,
        space: Space,
        optimizer: Mapping[str, Any],
        seed: int,
        budget: Mapping[str, Any],
        settings: Mapping[str, Any],
        check_seed: bool = False,
    ) -> StudyRecord:
        """Create the study, or open it after checking its space and optimizer (and, with
        ``check_seed``, its seed) are unchanged.

        An existing study keeps its seed; its budget and settings are replaced by the given ones
        (running again with a larger budget continues the study). A refusal changes nothing.
        """
        for _ in range(3):
            try:
                with write_transaction(self.engine) as conn:
                    row = (
                        conn.execute(select(S).where(S.c.name == name).with_for_update())
                        .mappings()
                        .first()
                    )
                    if row is None:
                        conn.execute(
                            S.insert().values(
                                name=name,
                                space=space.to_json(),
                                optimizer=dumps(dict(optimizer)),
                                seed=int(seed),
                                budget=dumps(dict(budget)),
                                settings=dumps(dict(settings)),
                                schema_version=schema.SCHEMA_VERSION,
                                created_at=time.time(),
                                seq=0,
                                next_number=0,
                                n_live=0,
                                n_finished=0,
                                cost_spent=0.0,
                                fidelity_claimed=0.0,
                                fidelity_spent=0.0,
                            )
                        )
                    else:
                        _check_compatible(name, row, space=space, optimizer=optimizer)
                        if check_seed and row["seed"] != int(seed):
                            raise StudyMismatchError(
                                f"study {name!r} was created with seed {row['seed']}, not "
                                f"{seed}; resume with the same seed (or none), or use a new "
                                "root (or study name)"
                            )
                        conn.execute(
                            update(S)
                            .where(S.c.id == row["id"])
                            .values(budget=dumps(dict(budget)), settings=dumps(dict(settings)))
                        )
                return self.open_study(name)
            except IntegrityError:  # another process created it between our read and insert
                continue
        raise StorageError(f"could not create or open study {name!r}")  # pragma: no cover

    def study(self, name: str) -> StudyStore:
        return StudyStore(self, self.open_study(name), engine=self.engine, retrying=self)


def _check_compatible(
    name: str, row: RowMapping, *, space: Space, optimizer: Mapping[str, Any]
) -> None:
    stored_space = Space.from_json(row["space"])
    changes = stored_space.diff(space)
    if changes:
        raise StudyMismatchError(
            f"study {name!r} was created with a different search space; refusing to mix results. "
            "Changes: " + "; ".join(changes) + ". Use a new root (or study name) for the new space."
        )
    stored_optimizer = json.loads(row["optimizer"])
    if json.loads(dumps(dict(optimizer))) != stored_optimizer:
        raise StudyMismatchError(
            f"study {name!r} was created with optimizer {stored_optimizer}, not {dict(optimizer)}. "
            "Resume with the same optimizer, or use a new root (or study name)."
        )
