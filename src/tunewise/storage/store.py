"""The trial store: studies and their trials in SQLite or PostgreSQL, one SQLAlchemy Core code path.

Contract (checked by ``tests/storage/test_conformance.py`` on every backend):

- no two live trials share a slot, and trial numbers are dense per study;
- a claim is one short transaction on the locked study row: the optimizer's (possibly slow) ``ask``
  runs before it, on a snapshot, and a taken slot or an exhausted budget is reported, not waited on;
- every finished trial is recorded exactly once, and a finished trial is never changed again;
- a running trial whose heartbeat an observer saw silent for ``stale_after`` (compare-and-set on
  the value seen, see :mod:`tunewise.runtime.staleness`), or whose worker is known to have died,
  is marked ``crashed`` and re-queued as a new pending trial with the same slot (or failed, after
  ``max_retries``);
- reads return snapshots (frozen :class:`~tunewise.trial.Trial` objects), and a worker reads only
  what changed since its last read;
- every operation rides through transient database faults (see :mod:`tunewise.storage.retry`);
  claim, claim_pending and finish recognise their own commit when re-run after a lost reply.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Engine,
    RowMapping,
    and_,
    bindparam,
    func,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, NoSuchModuleError

from tunewise.space import Space
from tunewise.storage import schema
from tunewise.storage.base import StudyHandle, TrialStore
from tunewise.storage.engine import (
    check_url,
    is_sqlite,
    make_engine,
    read_transaction,
    safe_url,
    storage_url,
    write_transaction,
)
from tunewise.storage.errors import (
    SchemaVersionError,
    StorageError,
    StudyMismatchError,
    StudyNotFoundError,
    open_error_message,
)
from tunewise.storage.migrations import newer_message, older_message
from tunewise.storage.records import (
    DEVICE_LENGTH,
    Claim,
    ClaimOutcome,
    Limits,
    StudyRecord,
    Totals,
)
from tunewise.storage.retry import RetryPolicy, run_with_retry
from tunewise.trial import History, Suggestion, Trial, TrialSequence, TrialStatus

logger = logging.getLogger("tunewise")

T = schema.trials
S = schema.studies
COMPACT_AFTER = 64  # changed trials a StudyStore's cache holds before it rewrites its list

P = ParamSpec("P")
R = TypeVar("R")


def _retried(method: Callable[Concatenate[Any, P], R]) -> Callable[Concatenate[Any, P], R]:
    """Run the method (one transaction, safe to run again) through transient database faults."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._retrying(method.__name__, lambda: method(self, *args, **kwargs))

    return wrapper


class _Statements:
    """The hot-path statements, built once with bound parameters.

    Building a SQLAlchemy Core construct costs far more than running it on SQLite (~0.1 ms per
    statement), so the per-trial statements are built here once and only executed per call.
    """

    def __init__(self) -> None:
        sid = bindparam("b_sid")
        self.lock = select(S).where(S.c.id == sid).with_for_update()
        self.changed = (
            select(T).where(T.c.study_id == sid, T.c.seq > bindparam("b_after")).order_by(T.c.seq)
        )
        self.slots_taken = select(T.c.slot, T.c.number, T.c.status, T.c.worker, T.c.config).where(
            T.c.study_id == sid, T.c.slot.in_(bindparam("b_slots", expanding=True))
        )
        self.insert_trial = T.insert()
        self.claimed = (
            update(S)
            .where(S.c.id == sid)
            .values(
                seq=bindparam("b_seq"),
                next_number=S.c.next_number + 1,
                n_live=S.c.n_live + 1,
                fidelity_claimed=S.c.fidelity_claimed + bindparam("b_increment"),
            )
        )
        self.trial_by_number = select(T).where(
            T.c.study_id == sid, T.c.number == bindparam("b_number")
        )
        self.finish_trial = (
            update(T)
            .where(T.c.id == bindparam("b_id"))
            .values(
                status=bindparam("b_status"),
                objective=bindparam("b_objective"),
                cost=bindparam("b_cost"),
                learning_curve=bindparam("b_curve"),
                info=bindparam("b_info"),
                error=bindparam("b_error"),
                worker=bindparam("b_worker"),
                finished_at=bindparam("b_now"),
                heartbeat=bindparam("b_now"),
                seq=bindparam("b_seq"),
            )
        )
        self.finished = (
            update(S)
            .where(S.c.id == sid)
            .values(
                seq=bindparam("b_seq"),
                n_live=S.c.n_live + bindparam("b_live"),
                n_finished=S.c.n_finished + 1,
                cost_spent=S.c.cost_spent + bindparam("b_cost"),
                fidelity_spent=S.c.fidelity_spent + bindparam("b_fidelity"),
            )
        )
        running_of = (
            T.c.study_id == sid,
            T.c.number == bindparam("b_number"),
            T.c.status == TrialStatus.RUNNING.value,
            T.c.worker == bindparam("b_worker"),
        )
        self.running_heartbeats = select(T.c.number, T.c.heartbeat).where(
            T.c.study_id == sid, T.c.status == bindparam("b_running")
        )
        self.beat = update(T).where(*running_of).values(heartbeat=bindparam("b_now"))
        self.beat_with_curve = (
            update(T)
            .where(*running_of)
            .values(heartbeat=bindparam("b_now"), learning_curve=bindparam("b_curve"))
        )


_SQL = _Statements()


class _Refused(Exception):
    """Raised inside a claim's transaction to roll it back (nothing was written)."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(claim.outcome.value)
        self.claim = claim


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays in user-returned info
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


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

    def __exit__(self, *exc: object) -> None:
        self.close()

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

    @_retried
    def study_names(self) -> list[str]:
        with read_transaction(self.engine) as conn:
            return list(conn.execute(select(S.c.name).order_by(S.c.id)).scalars())

    @_retried
    def open_study(self, name: str) -> StudyRecord:
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(S).where(S.c.name == name)).mappings().first()
        if row is None:
            known = ", ".join(repr(n) for n in self.study_names()) or "none"
            raise StudyNotFoundError(
                f"no study named {name!r} in {safe_url(self.url)} (studies there: {known})"
            )
        return _study_record(row)

    @_retried
    def create_or_open_study(
        self,
        name: str,
        *,
        space: Space,
        optimizer: Mapping[str, Any],
        seed: int,
        budget: Mapping[str, Any],
        settings: Mapping[str, Any],
    ) -> StudyRecord:
        """Create the study, or open it after checking its space and optimizer are unchanged.

        An existing study keeps its seed; its budget and settings are replaced by the given ones
        (running again with a larger budget continues the study).
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
                                optimizer=_dumps(dict(optimizer)),
                                seed=int(seed),
                                budget=_dumps(dict(budget)),
                                settings=_dumps(dict(settings)),
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
                        conn.execute(
                            update(S)
                            .where(S.c.id == row["id"])
                            .values(budget=_dumps(dict(budget)), settings=_dumps(dict(settings)))
                        )
                return self.open_study(name)
            except IntegrityError:  # another process created it between our read and insert
                continue
        raise StorageError(f"could not create or open study {name!r}")  # pragma: no cover

    def study(self, name: str) -> StudyStore:
        return StudyStore(self, self.open_study(name))


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
    if json.loads(_dumps(dict(optimizer))) != stored_optimizer:
        raise StudyMismatchError(
            f"study {name!r} was created with optimizer {stored_optimizer}, not {dict(optimizer)}. "
            "Resume with the same optimizer, or use a new root (or study name)."
        )


def _study_record(row: RowMapping) -> StudyRecord:
    return StudyRecord(
        id=row["id"],
        name=row["name"],
        space=Space.from_json(row["space"]),
        optimizer=json.loads(row["optimizer"]),
        seed=int(row["seed"]),
        budget=json.loads(row["budget"]),
        settings=json.loads(row["settings"]),
        created_at=row["created_at"],
    )


class StudyStore(StudyHandle):
    """One study's trials as seen by one worker, with an incremental cache of the trial table."""

    def __init__(self, store: Store, record: StudyRecord) -> None:
        self._store = store
        self._record = record
        self._engine = store.engine
        self._retrying = store._retrying
        self._id = record.id
        self._sqlite = is_sqlite(store.url)
        fidelity = record.space.fidelity
        self._integer_fidelity = bool(fidelity is not None and fidelity.is_integer)
        # The cached trials, indexed by number (numbers are dense): an append-only list whose
        # entries are never replaced in place, plus the entries changed since it was written. A
        # History shares the list and copies the small dict, so a snapshot costs O(changes), not
        # O(trials); the dict is folded into a new list once it holds COMPACT_AFTER entries.
        self._base: list[Trial | None] = []
        self._changed: dict[int, Trial] = {}
        self._gaps = 0  # numbers not read yet (another worker's claim we have not seen)
        self._open: dict[int, Trial] = {}  # running or pending, for the worker's quick checks
        self._history: History | None = None
        self._seq = 0

    @property
    def record(self) -> StudyRecord:
        return self._record

    @property
    def store(self) -> Store:
        return self._store

    # -- reads ----------------------------------------------------------------------------------

    @_retried
    def refresh(self) -> int:
        """Read the trials changed since the last read; returns how many changed."""
        with read_transaction(self._engine) as conn:
            rows = conn.execute(_SQL.changed, {"b_sid": self._id, "b_after": self._seq}).mappings()
            changed = 0
            for row in rows:
                self._put(self._to_trial(row))
                self._seq = max(self._seq, row["seq"])
                changed += 1
        return changed

    def trials(self) -> list[Trial]:
        """The cached trials (as of the last :meth:`refresh`), ordered by number."""
        return [t for t in self._snapshot() if t is not None]

    def trial(self, number: int) -> Trial | None:
        """The cached trial ``number`` (None if not read yet)."""
        found = self._changed.get(number)
        if found is not None:
            return found
        return self._base[number] if 0 <= number < len(self._base) else None

    def pending_trials(self) -> list[Trial]:
        """Cached trials that are running or queued."""
        return list(self._open.values())

    def history(self) -> History:
        """A read-only snapshot of the cached trials for optimizers (rebuilt only after changes,
        in O(changes since the cache was last compacted), whatever the study's size)."""
        if self._history is None:
            trials = self._snapshot()
            self._history = History(
                space=self.record.space,
                seed=self.record.seed,
                trials=trials if self._gaps == 0 else tuple(t for t in trials if t is not None),
            )
        return self._history

    def _snapshot(self) -> TrialSequence:
        return TrialSequence(self._base, len(self._base), self._changed)  # type: ignore[arg-type]

    def _put(self, trial: Trial) -> None:
        number = trial.number
        base = self._base
        if number >= len(base):
            self._gaps += number - len(base)
            base.extend([None] * (number - len(base)))
            base.append(trial)
        else:
            current = self.trial(number)
            if current == trial:
                return  # e.g. the refresh after our own finish: the History stays valid
            if current is None:
                self._gaps -= 1
            self._changed[number] = trial
            if len(self._changed) >= COMPACT_AFTER:
                self._compact()
        if trial.status in (TrialStatus.RUNNING, TrialStatus.PENDING):
            self._open[number] = trial
        else:
            self._open.pop(number, None)
        self._history = None

    def _compact(self) -> None:
        """Fold the changed entries into a new list (snapshots keep the old one)."""
        base = self._base.copy()
        for number, trial in self._changed.items():
            base[number] = trial
        self._base, self._changed = base, {}

    @_retried
    def totals(self) -> Totals:
        with read_transaction(self._engine) as conn:
            row = conn.execute(select(S).where(S.c.id == self._id)).mappings().one()
        return _totals(row)

    @_retried
    def budget(self) -> dict[str, Any]:
        """The study's current budget as stored (the latest ``run`` call may have changed it)."""
        with read_transaction(self._engine) as conn:
            return json.loads(conn.execute(select(S.c.budget).where(S.c.id == self._id)).scalar())

    # -- claims ---------------------------------------------------------------------------------

    @_retried
    def claim(
        self,
        suggestions: Suggestion | Sequence[Suggestion],
        *,
        worker: str,
        limits: Limits,
        device: str | None = None,
    ) -> Claim:
        """Insert the first of ``suggestions`` whose slot is free as a running trial, if the
        budget allows; ``Claim.index`` says which one.

        The suggestions' slots must be distinct. ``device`` names the accelerator the trial will
        run on. If a slot is already running under ``worker`` with the same config, that trial is
        returned: it is this worker's own claim, committed before a lost reply.

        A slot once taken stays taken (a crashed trial hands it to its retry), so a cheap read
        without the lock that finds every slot taken answers ``CONFLICT`` at once; the check is
        repeated under the study lock. A refused claim (``CONFLICT``, ``BUDGET``) rolls back: it
        wrote nothing, so it does not wait for a commit while holding the lock.
        """
        _check_device(device)
        if isinstance(suggestions, Suggestion):
            suggestions = (suggestions,)
        if not suggestions:
            raise ValueError("claim: give at least one suggestion")
        slots = [s.slot for s in suggestions]
        if len(set(slots)) != len(slots):
            raise ValueError(f"claim: the suggestions' slots must be distinct, got {slots}")
        configs = [_dumps(dict(s.config)) for s in suggestions]
        increments = [self._fidelity_increment(s) for s in suggestions]
        if self._sqlite:  # BEGIN IMMEDIATE takes the lock: read before it
            with read_transaction(self._engine) as conn:
                if self._choose(conn, slots, configs, worker) is None:
                    return Claim(ClaimOutcome.CONFLICT)
        now = time.time()
        try:
            with write_transaction(self._engine) as conn:
                if not self._sqlite and (self._choose(conn, slots, configs, worker) is None):
                    raise _Refused(Claim(ClaimOutcome.CONFLICT))
                totals = self._lock(conn)
                chosen = self._choose(conn, slots, configs, worker)
                if chosen is None:
                    raise _Refused(Claim(ClaimOutcome.CONFLICT))
                index, ours = chosen
                if ours is not None:
                    row = conn.execute(
                        _SQL.trial_by_number, {"b_sid": self._id, "b_number": ours}
                    ).mappings()
                    trial = self._to_trial(row.one())
                    self._put(trial)
                    return Claim(ClaimOutcome.CLAIMED, trial, index)
                if limits.exhausted_for_new(totals):
                    raise _Refused(Claim(ClaimOutcome.BUDGET))
                suggestion, increment = suggestions[index], increments[index]
                seq = totals.seq + 1
                values = {
                    "study_id": self._id,
                    "number": totals.next_number,
                    "slot": suggestion.slot,
                    "status": TrialStatus.RUNNING.value,
                    "config": configs[index],
                    "fidelity": _float_or_none(suggestion.fidelity),
                    "fidelity_increment": increment,
                    "info": _dumps(dict(suggestion.info)) if suggestion.info else None,
                    "worker": worker,
                    "device": device,
                    "heartbeat": now,
                    "created_at": now,
                    "started_at": now,
                    "previous_trial": suggestion.previous_trial,
                    "retries": 0,
                    "seq": seq,
                }
                conn.execute(_SQL.insert_trial, values)
                conn.execute(
                    _SQL.claimed, {"b_sid": self._id, "b_seq": seq, "b_increment": increment}
                )
        except _Refused as refused:
            return refused.claim
        trial = self._to_trial(values)
        self._put(trial)  # _seq is not advanced: the next refresh re-reads it
        return Claim(ClaimOutcome.CLAIMED, trial, index)

    def _choose(
        self, conn: Connection, slots: Sequence[str], configs: Sequence[str], worker: str
    ) -> tuple[int, int | None] | None:
        """The first suggestion (its index) whose slot is free or is ``worker``'s own running
        claim of the same config (then also that trial's number); None when all are taken."""
        taken = {
            row.slot: row
            for row in conn.execute(_SQL.slots_taken, {"b_sid": self._id, "b_slots": list(slots)})
        }
        for index, (slot, config) in enumerate(zip(slots, configs, strict=True)):
            row = taken.get(slot)
            if row is None:
                return index, None
            if (row.status, row.worker, row.config) == (TrialStatus.RUNNING.value, worker, config):
                return index, row.number
        return None

    def claim_pending(
        self, *, worker: str, limits: Limits, device: str | None = None
    ) -> Trial | None:
        """Start the oldest queued trial (a re-queued crash or interruption), if any.

        ``device`` names the accelerator it will run on. Run again after a lost reply, it
        returns the trial its first run claimed (found by worker and start time).
        """
        _check_device(device)
        now = time.time()
        return self._retrying(
            "claim_pending", lambda: self._claim_pending(worker, limits, device, now)
        )

    def _claim_pending(
        self, worker: str, limits: Limits, device: str | None, now: float
    ) -> Trial | None:
        with write_transaction(self._engine) as conn:
            totals = self._lock(conn)
            ours = (
                conn.execute(
                    select(T).where(
                        T.c.study_id == self._id,
                        T.c.status == TrialStatus.RUNNING.value,
                        T.c.worker == worker,
                        T.c.started_at == now,
                    )
                )
                .mappings()
                .first()
            )
            if ours is not None:
                trial = self._to_trial(ours)
                self._put(trial)
                return trial
            if limits.exhausted_for_pending(totals):
                return None
            row = (
                conn.execute(
                    select(T)
                    .where(T.c.study_id == self._id, T.c.status == TrialStatus.PENDING.value)
                    .order_by(T.c.number)
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if row is None:
                return None
            seq = totals.seq + 1
            changes = {
                "status": TrialStatus.RUNNING.value,
                "worker": worker,
                "device": device,
                "heartbeat": now,
                "started_at": now,
                "seq": seq,
            }
            conn.execute(update(T).where(T.c.id == row["id"]).values(**changes))
            conn.execute(update(S).where(S.c.id == self._id).values(seq=seq))
        trial = self._to_trial({**row, **changes})
        self._put(trial)
        return trial

    # -- while running --------------------------------------------------------------------------

    @_retried
    def heartbeat(
        self, number: int, *, worker: str, learning_curve: list[tuple[float, float]] | None = None
    ) -> bool:
        """Mark ``worker``'s running trial alive; False if it is no longer ours (declared dead)."""
        params: dict[str, Any] = {
            "b_sid": self._id,
            "b_number": number,
            "b_worker": worker,
            "b_now": time.time(),
        }
        statement = _SQL.beat
        if learning_curve is not None:
            params["b_curve"] = _dumps(learning_curve)
            statement = _SQL.beat_with_curve
        with write_transaction(self._engine) as conn:
            result = conn.execute(statement, params)
            return result.rowcount == 1

    @_retried
    def finish(
        self,
        number: int,
        *,
        worker: str,
        status: TrialStatus,
        objective: float | None = None,
        cost: float | None = None,
        learning_curve: Iterable[tuple[float, float]] = (),
        info: Mapping[str, Any] | None = None,
        error: str | None = None,
    ) -> Trial:
        """Record the result of ``worker``'s trial, exactly once.

        Recording the same result by the same worker again (a retry after a lost reply) returns
        the stored trial and counts nothing twice; any other result for a finished trial is an
        error.
        """
        if not status.finished:
            raise ValueError(f"finish() needs succeeded or failed, not {status}")
        now = time.time()
        with write_transaction(self._engine) as conn:
            totals = self._lock(conn)
            row = (
                conn.execute(_SQL.trial_by_number, {"b_sid": self._id, "b_number": number})
                .mappings()
                .one()
            )
            current = TrialStatus(row["status"])
            if current.finished:
                if row["worker"] == worker and _same_outcome(row, status, objective, cost, error):
                    trial = self._to_trial(row)
                    self._put(trial)
                    return trial
                raise StorageError(f"trial {number} of study {self.name!r} is already {current}")
            if current is not TrialStatus.RUNNING or row["worker"] != worker:
                # Declared dead while still working (e.g. a stalled heartbeat): the result is
                # real, so keep it; its retry (if any) stays queued as a separate trial.
                logger.warning(
                    "trial %d finished on %s after being marked %s; recording its result anyway",
                    number,
                    worker,
                    current,
                )
            seq = totals.seq + 1
            changes = {
                "status": status.value,
                "objective": objective,
                "cost": cost,
                "learning_curve": _dumps([list(p) for p in learning_curve]),
                # the optimizer's notes from the claim (e.g. sampled_from) + the objective's info
                "info": _dumps({**json.loads(row["info"] or "{}"), **dict(info or {})}),
                "error": error,
                "worker": worker,
                "finished_at": now,
                "heartbeat": now,
                "seq": seq,
            }
            conn.execute(
                _SQL.finish_trial,
                {
                    "b_id": row["id"],
                    "b_status": changes["status"],
                    "b_objective": objective,
                    "b_cost": cost,
                    "b_curve": changes["learning_curve"],
                    "b_info": changes["info"],
                    "b_error": error,
                    "b_worker": worker,
                    "b_now": now,
                    "b_seq": seq,
                },
            )
            conn.execute(
                _SQL.finished,
                {
                    "b_sid": self._id,
                    "b_seq": seq,
                    "b_live": 1 if current is TrialStatus.CRASHED else 0,
                    "b_cost": _finite_or_zero(cost),
                    "b_fidelity": _finite_or_zero(row["fidelity_increment"]),
                },
            )
        trial = self._to_trial({**row, **changes})
        self._put(trial)
        return trial

    @_retried
    def release(self, number: int, *, worker: str, reason: str) -> bool:
        """Put ``worker``'s running trial back in the queue (Ctrl-C, SIGTERM) to run again later."""
        with write_transaction(self._engine) as conn:
            totals = self._lock(conn)
            seq = totals.seq + 1
            result = conn.execute(
                update(T)
                .where(
                    T.c.study_id == self._id,
                    T.c.number == number,
                    T.c.status == TrialStatus.RUNNING.value,
                    T.c.worker == worker,
                )
                .values(
                    status=TrialStatus.PENDING.value,
                    worker=None,
                    heartbeat=None,
                    started_at=None,
                    error=f"re-queued: {reason}",
                    seq=seq,
                )
            )
            if result.rowcount != 1:
                return False
            conn.execute(update(S).where(S.c.id == self._id).values(seq=seq))
        return True

    def recover_stale(self, *, stale_after: float, max_retries: int) -> list[int]:
        """Mark running trials with a heartbeat older than ``stale_after`` seconds as crashed.

        Each is re-queued as a new pending trial with the same config, fidelity and slot, until it
        has crashed ``max_retries + 1`` times; then it is marked failed. Returns their numbers.
        """
        cutoff = time.time() - stale_after
        stale = T.c.heartbeat < cutoff
        if not self._retrying("recover_stale", lambda: self._any_running(stale)):
            return []  # the usual case, found with a cheap read

        def why(row: Mapping[str, Any], now: float) -> str:
            age = now - (row["heartbeat"] or now)
            return f"worker {row['worker']} stopped sending heartbeats ({age:.0f} s ago)"

        return self._retrying(
            "recover_stale", lambda: self._crash(stale, why, max_retries, "stale heartbeat")
        )

    @_retried
    def running_heartbeats(self) -> dict[int, float | None]:
        """The heartbeat value of each of this study's running trials, by trial number.

        One cheap read, for an observer that judges silence by what it sees change
        (:class:`~tunewise.runtime.staleness.SilenceWatch`), not by the values as times.
        """
        with read_transaction(self._engine) as conn:
            rows = conn.execute(
                _SQL.running_heartbeats, {"b_sid": self._id, "b_running": TrialStatus.RUNNING.value}
            )
            return {number: heartbeat for number, heartbeat in rows}

    def recover_silent(
        self,
        observed: Mapping[int, float | None],
        *,
        max_retries: int,
        silent_for: float | None = None,
    ) -> list[int]:
        """Crash the running trials whose heartbeat still holds the value an observer saw
        unchanged (``observed``: trial number -> that value) for ``silent_for`` seconds.

        Compare-and-set, in one transaction: a trial that beat since (or finished, or was
        re-queued) is left alone. Each crashed trial is retried or failed as by
        :meth:`recover_stale`. Returns their numbers.
        """
        if not observed:
            return []
        unchanged = or_(
            *(
                and_(
                    T.c.number == number,
                    T.c.heartbeat.is_(None) if beat is None else T.c.heartbeat == beat,
                )
                for number, beat in observed.items()
            )
        )

        during = f" for {silent_for:g} s" if silent_for is not None else ""

        def why(row: Mapping[str, Any], _now: float) -> str:
            return f"worker {row['worker']} sent no heartbeat{during}"

        return self._retrying(
            "recover_silent",
            lambda: self._crash(unchanged, why, max_retries, "no heartbeat"),
        )

    def recover_worker(self, worker: str, *, max_retries: int, reason: str) -> list[int]:
        """Treat the running trials of ``worker``, known to be dead, as crashed right now.

        Exactly what :meth:`recover_stale` does for a stale heartbeat (crashed row kept, retry
        queued with the slot, failed after ``max_retries``), without waiting for ``stale_after``:
        for a supervisor that saw the worker's process die. ``reason`` says how (e.g. "exited
        with signal SIGKILL"). Returns the trials' numbers.
        """
        return self._retrying(
            "recover_worker",
            lambda: self._crash(
                T.c.worker == worker,
                lambda _row, _now: f"worker {worker}: {reason}",
                max_retries,
                reason,
            ),
        )

    def _any_running(self, condition: ColumnElement[bool]) -> bool:
        with read_transaction(self._engine) as conn:
            count = conn.execute(
                select(func.count())
                .select_from(T)
                .where(T.c.study_id == self._id, T.c.status == TrialStatus.RUNNING.value, condition)
            ).scalar()
        return bool(count)

    def _crash(
        self,
        condition: ColumnElement[bool],
        why: Callable[[Mapping[str, Any], float], str],
        max_retries: int,
        label: str,
    ) -> list[int]:
        """Mark the running trials matching ``condition`` crashed and queue their retries."""
        recovered = []
        now = time.time()
        with write_transaction(self._engine) as conn:
            totals = self._lock(conn)
            seq, next_number = totals.seq, totals.next_number
            failed, failed_units = 0, 0.0
            rows = conn.execute(
                select(T)
                .where(T.c.study_id == self._id, T.c.status == TrialStatus.RUNNING.value, condition)
                .order_by(T.c.number)
            ).mappings()
            for row in rows.all():
                seq += 1
                reason = why(row, now)
                if row["retries"] < max_retries:
                    conn.execute(
                        update(T)
                        .where(T.c.id == row["id"])
                        .values(
                            status=TrialStatus.CRASHED.value,
                            slot=None,
                            error=f"{reason}; re-queued as trial {next_number}",
                            finished_at=now,
                            seq=seq,
                        )
                    )
                    conn.execute(
                        T.insert().values(
                            study_id=self._id,
                            number=next_number,
                            slot=row["slot"],
                            status=TrialStatus.PENDING.value,
                            config=row["config"],
                            fidelity=row["fidelity"],
                            fidelity_increment=row["fidelity_increment"],
                            info=row["info"],
                            created_at=now,
                            previous_trial=row["previous_trial"],
                            retry_of=row["number"],
                            retries=row["retries"] + 1,
                            seq=seq,
                        )
                    )
                    next_number += 1
                else:
                    conn.execute(
                        update(T)
                        .where(T.c.id == row["id"])
                        .values(
                            status=TrialStatus.FAILED.value,
                            error=f"{reason}; crashed {row['retries'] + 1} times, "
                            f"not retried again (max_retries={max_retries})",
                            finished_at=now,
                            seq=seq,
                        )
                    )
                    failed += 1
                    failed_units += _finite_or_zero(row["fidelity_increment"])
                recovered.append(row["number"])
            if recovered:
                conn.execute(
                    update(S)
                    .where(S.c.id == self._id)
                    .values(
                        seq=seq,
                        next_number=next_number,
                        n_finished=S.c.n_finished + failed,
                        fidelity_spent=S.c.fidelity_spent + failed_units,
                    )
                )
        for number in recovered:
            logger.warning("trial %d crashed (%s); recovered", number, label)
        return recovered

    # -- helpers --------------------------------------------------------------------------------

    def _fidelity_increment(self, suggestion: Suggestion) -> float:
        """The full-fidelity units a suggestion adds (a continuation adds only the difference)."""
        fidelity = self.record.space.fidelity
        if fidelity is None or suggestion.fidelity is None:
            return 1.0
        start = 0.0
        if suggestion.previous_trial is not None:
            previous = self.trial(suggestion.previous_trial)
            if previous is None:
                self.refresh()
                previous = self.trial(suggestion.previous_trial)
            if previous is not None and previous.fidelity is not None:
                start = float(previous.fidelity)
        return max(float(suggestion.fidelity) - start, 0.0) / float(fidelity.upper)

    def _lock(self, conn: Connection) -> Totals:
        """Lock the study row for this transaction and return its totals."""
        row = conn.execute(_SQL.lock, {"b_sid": self._id}).mappings().one()
        return _totals(row)

    def _to_trial(self, row: Mapping[str, Any]) -> Trial:
        fidelity = row.get("fidelity")
        if fidelity is not None and self._integer_fidelity:
            fidelity = round(fidelity)
        curve = row.get("learning_curve")
        info = row.get("info")
        return Trial(
            number=row["number"],
            config=json.loads(row["config"]),
            status=TrialStatus(row["status"]),
            fidelity=fidelity,
            slot=row.get("slot"),
            objective=row.get("objective"),
            cost=row.get("cost"),
            learning_curve=[tuple(p) for p in json.loads(curve)] if curve else (),
            info=json.loads(info) if info else {},
            error=row.get("error"),
            worker=row.get("worker"),
            previous_trial=row.get("previous_trial"),
            retry_of=row.get("retry_of"),
            created_at=row.get("created_at"),
            started_at=row.get("started_at"),
            finished_at=row.get("finished_at"),
            device=row.get("device"),
        )


def _totals(row: RowMapping) -> Totals:
    return Totals(
        seq=row["seq"],
        next_number=row["next_number"],
        n_live=row["n_live"],
        n_finished=row["n_finished"],
        cost_spent=row["cost_spent"],
        fidelity_claimed=row["fidelity_claimed"],
        fidelity_spent=row["fidelity_spent"],
    )


def _check_device(device: str | None) -> None:
    if device is not None and (not isinstance(device, str) or len(device) > DEVICE_LENGTH):
        raise ValueError(
            f"device must be a name of at most {DEVICE_LENGTH} characters, got {device!r}"
        )


def _same_outcome(
    row: Mapping[str, Any],
    status: TrialStatus,
    objective: float | None,
    cost: float | None,
    error: str | None,
) -> bool:
    """True when the stored result is the given one (a NaN may come back as NULL from SQLite)."""

    def same(stored: float | None, given: float | None) -> bool:
        missing = (stored is None or math.isnan(stored), given is None or math.isnan(given))
        return all(missing) or (not any(missing) and stored == given)

    return (
        row["status"] == status.value
        and same(row["objective"], objective)
        and same(row["cost"], cost)
        and row["error"] == error
    )


def _float_or_none(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def _finite_or_zero(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else 0.0
