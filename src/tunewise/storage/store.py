"""The trial store: studies and their trials in SQLite or PostgreSQL, one SQLAlchemy Core code path.

Contract (checked by ``tests/storage/test_conformance.py`` on every backend):

- no two live trials share a slot, and trial numbers are dense per study;
- a claim is one short transaction on the locked study row: the optimizer's (possibly slow) ``ask``
  runs before it, on a snapshot, and a taken slot or an exhausted budget is reported, not waited on;
- every finished trial is recorded exactly once, and a finished trial is never changed again;
- a running trial whose heartbeat went stale is marked ``crashed`` and re-queued as a new pending
  trial with the same slot (or failed, after ``max_retries``);
- reads return snapshots (frozen :class:`~tunewise.trial.Trial` objects), and a worker reads only
  what changed since its last read.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Connection, Engine, RowMapping, bindparam, func, inspect, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from tunewise.space import Space
from tunewise.storage import schema
from tunewise.storage.engine import (
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
)
from tunewise.trial import History, Suggestion, Trial, TrialStatus

logger = logging.getLogger("tunewise")

T = schema.trials
S = schema.studies


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
        self.slot_taken = select(T.c.number).where(
            T.c.study_id == sid, T.c.slot == bindparam("b_slot")
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
        self.beat = update(T).where(*running_of).values(heartbeat=bindparam("b_now"))
        self.beat_with_curve = (
            update(T)
            .where(*running_of)
            .values(heartbeat=bindparam("b_now"), learning_curve=bindparam("b_curve"))
        )


_SQL = _Statements()


@dataclass(frozen=True)
class StudyRecord:
    """A study's identity and settings as stored."""

    id: int
    name: str
    space: Space
    optimizer: Mapping[str, Any]
    seed: int
    budget: Mapping[str, Any]
    settings: Mapping[str, Any]
    created_at: float


@dataclass(frozen=True)
class Totals:
    """Running totals of a study, read from its row (O(1), whatever the study's size)."""

    seq: int
    next_number: int
    n_live: int
    n_finished: int
    cost_spent: float
    fidelity_claimed: float
    fidelity_spent: float


@dataclass(frozen=True)
class Limits:
    """Budget limits a claim is checked against inside its transaction (None = no limit)."""

    max_trials: int | None = None
    max_cost: float | None = None
    max_fidelity_units: float | None = None

    def exhausted_for_new(self, totals: Totals) -> bool:
        """True when no new trial may be started."""
        return (
            (self.max_trials is not None and totals.n_live >= self.max_trials)
            or (
                self.max_fidelity_units is not None
                and totals.fidelity_claimed >= self.max_fidelity_units - 1e-9
            )
            or self.exhausted_for_pending(totals)
        )

    def exhausted_for_pending(self, totals: Totals) -> bool:
        """True when even queued trials (already counted) may not run."""
        return self.max_cost is not None and totals.cost_spent >= self.max_cost


class ClaimOutcome(Enum):
    CLAIMED = "claimed"
    CONFLICT = "conflict"  # another worker took the slot first: refresh and ask again
    BUDGET = "budget"  # the budget allows no new trial


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    trial: Trial | None = None


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays in user-returned info
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def worker_name() -> str:
    """A name for this process that is unique across machines."""
    return f"{os.uname().nodename}:{os.getpid()}:{os.urandom(3).hex()}"


class Store:
    """A connection to one tunewise store (many studies), SQLite file or PostgreSQL database."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = make_engine(url)
        try:
            self._ensure_schema()
        except DBAPIError as exc:
            self.engine.dispose()
            raise StorageError(
                f"cannot open the store at {safe_url(url)}: {_first_line(exc.orig)}"
            ) from None

    @classmethod
    def at(cls, *, root: str | os.PathLike[str] | None = None, storage: str | None = None) -> Store:
        """The store named by ``storage`` (URL or SQLite path), else ``<root>/tunewise.db``."""
        return cls(storage_url(root=root, storage=storage))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store('{safe_url(self.url)}')"

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
        if found is None or int(found) != schema.SCHEMA_VERSION:
            raise SchemaVersionError(
                f"the store at {safe_url(self.url)} has schema version {found}, but this tunewise "
                f"reads version {schema.SCHEMA_VERSION}. Nothing was changed: open it with the "
                "tunewise version that wrote it, or start a new root/database."
            )

    # -- studies --------------------------------------------------------------------------------

    def study_names(self) -> list[str]:
        with read_transaction(self.engine) as conn:
            return list(conn.execute(select(S.c.name).order_by(S.c.id)).scalars())

    def open_study(self, name: str) -> StudyRecord:
        with read_transaction(self.engine) as conn:
            row = conn.execute(select(S).where(S.c.name == name)).mappings().first()
        if row is None:
            known = ", ".join(repr(n) for n in self.study_names()) or "none"
            raise StudyNotFoundError(
                f"no study named {name!r} in {safe_url(self.url)} (studies there: {known})"
            )
        return _study_record(row)

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


def _first_line(exc: BaseException | None) -> str:
    text = str(exc).strip() if exc is not None else ""
    return text.splitlines()[0] if text else type(exc).__name__


class StudyStore:
    """One study's trials as seen by one worker, with an incremental cache of the trial table."""

    def __init__(self, store: Store, record: StudyRecord) -> None:
        self.store = store
        self.record = record
        self._engine = store.engine
        self._id = record.id
        fidelity = record.space.fidelity
        self._integer_fidelity = bool(fidelity is not None and fidelity.is_integer)
        self._trials: list[Trial | None] = []  # indexed by number (numbers are dense)
        self._gaps = 0  # numbers not read yet (another worker's claim we have not seen)
        self._open: dict[int, Trial] = {}  # running or pending, for the worker's quick checks
        self._history: History | None = None
        self._seq = 0

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def space(self) -> Space:
        return self.record.space

    # -- reads ----------------------------------------------------------------------------------

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
        if self._gaps == 0:
            return list(self._trials)  # type: ignore[arg-type]
        return [t for t in self._trials if t is not None]

    def trial(self, number: int) -> Trial | None:
        """The cached trial ``number`` (None if not read yet)."""
        return self._trials[number] if 0 <= number < len(self._trials) else None

    def pending_trials(self) -> list[Trial]:
        """Cached trials that are running or queued."""
        return list(self._open.values())

    def history(self) -> History:
        """A read-only snapshot of the cached trials for optimizers (rebuilt only after changes)."""
        if self._history is None:
            self._history = History(
                space=self.record.space, seed=self.record.seed, trials=self.trials()
            )
        return self._history

    def _put(self, trial: Trial) -> None:
        number = trial.number
        if number >= len(self._trials):
            self._gaps += number - len(self._trials)
            self._trials.extend([None] * (number + 1 - len(self._trials)))
        elif self._trials[number] is None:
            self._gaps -= 1
        self._trials[number] = trial
        if trial.status in (TrialStatus.RUNNING, TrialStatus.PENDING):
            self._open[number] = trial
        else:
            self._open.pop(number, None)
        self._history = None

    def totals(self) -> Totals:
        with read_transaction(self._engine) as conn:
            row = conn.execute(select(S).where(S.c.id == self._id)).mappings().one()
        return _totals(row)

    def budget(self) -> dict[str, Any]:
        """The study's current budget as stored (the latest ``run`` call may have changed it)."""
        with read_transaction(self._engine) as conn:
            return json.loads(conn.execute(select(S.c.budget).where(S.c.id == self._id)).scalar())

    # -- claims ---------------------------------------------------------------------------------

    def claim(self, suggestion: Suggestion, *, worker: str, limits: Limits) -> Claim:
        """Insert ``suggestion`` as a running trial if its slot is free and the budget allows."""
        increment = self._fidelity_increment(suggestion)
        now = time.time()
        with write_transaction(self._engine) as conn:
            totals = self._lock(conn)
            if limits.exhausted_for_new(totals):
                return Claim(ClaimOutcome.BUDGET)
            taken = conn.execute(
                _SQL.slot_taken, {"b_sid": self._id, "b_slot": suggestion.slot}
            ).first()
            if taken is not None:
                return Claim(ClaimOutcome.CONFLICT)
            seq = totals.seq + 1
            values = {
                "study_id": self._id,
                "number": totals.next_number,
                "slot": suggestion.slot,
                "status": TrialStatus.RUNNING.value,
                "config": _dumps(dict(suggestion.config)),
                "fidelity": _float_or_none(suggestion.fidelity),
                "fidelity_increment": increment,
                "info": _dumps(dict(suggestion.info)) if suggestion.info else None,
                "worker": worker,
                "heartbeat": now,
                "created_at": now,
                "started_at": now,
                "previous_trial": suggestion.previous_trial,
                "retries": 0,
                "seq": seq,
            }
            conn.execute(_SQL.insert_trial, values)
            conn.execute(_SQL.claimed, {"b_sid": self._id, "b_seq": seq, "b_increment": increment})
        trial = self._to_trial(values)
        self._put(trial)  # _seq is not advanced: the next refresh re-reads it
        return Claim(ClaimOutcome.CLAIMED, trial)

    def claim_pending(self, *, worker: str, limits: Limits) -> Trial | None:
        """Start the oldest queued trial (a re-queued crash or interruption), if any."""
        now = time.time()
        with write_transaction(self._engine) as conn:
            totals = self._lock(conn)
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
        """Record the result of ``worker``'s trial, exactly once."""
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
        stale_filter = (
            T.c.study_id == self._id,
            T.c.status == TrialStatus.RUNNING.value,
            T.c.heartbeat < cutoff,
        )
        with read_transaction(self._engine) as conn:  # cheap check first: usually nothing is stale
            if conn.execute(select(func.count()).select_from(T).where(*stale_filter)).scalar() == 0:
                return []
        recovered = []
        now = time.time()
        with write_transaction(self._engine) as conn:
            totals = self._lock(conn)
            seq, next_number = totals.seq, totals.next_number
            failed, failed_units = 0, 0.0
            for row in conn.execute(select(T).where(*stale_filter).order_by(T.c.number)).mappings():
                seq += 1
                age = now - (row["heartbeat"] or now)
                why = f"worker {row['worker']} stopped sending heartbeats ({age:.0f} s ago)"
                if row["retries"] < max_retries:
                    conn.execute(
                        update(T)
                        .where(T.c.id == row["id"])
                        .values(
                            status=TrialStatus.CRASHED.value,
                            slot=None,
                            error=f"{why}; re-queued as trial {next_number}",
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
                            error=f"{why}; crashed {row['retries'] + 1} times, "
                            f"not retried again (max_retries={max_retries})",
                            finished_at=now,
                            seq=seq,
                        )
                    )
                    failed += 1
                    failed_units += _finite_or_zero(row["fidelity_increment"])
                recovered.append(row["number"])
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
            logger.warning("trial %d crashed (stale heartbeat); recovered", number)
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


def _float_or_none(value: float | int | None) -> float | None:
    return None if value is None else float(value)


def _finite_or_zero(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) else 0.0
