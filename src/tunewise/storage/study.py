"""One study as one worker sees it: the SQL :class:`~tunewise.storage.base.StudyHandle`.

Reads go through the handle's :class:`~tunewise.storage.cache.TrialCache`; the writes are the
transactions of :mod:`tunewise.storage.claims` and :mod:`tunewise.storage.recovery`, each run
through transient faults by the store's retry policy.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Engine, select

from tunewise.space import SpaceError
from tunewise.storage import claims, recovery
from tunewise.storage.base import StudyHandle, TrialStore
from tunewise.storage.cache import TrialCache
from tunewise.storage.engine import read_transaction
from tunewise.storage.records import Claim, Limits, StudyRecord, Totals
from tunewise.storage.retry import Retrying, retried
from tunewise.storage.rows import Row, dumps, totals_from_row, trial_from_row
from tunewise.storage.statements import SQL, S
from tunewise.storage.urls import is_sqlite
from tunewise.trial import History, Suggestion, Trial, TrialStatus, fidelity_units

R = TypeVar("R")


class StudyStore(StudyHandle):
    """One study's trials as seen by one worker, with an incremental cache of the trial table."""

    def __init__(
        self, store: TrialStore, record: StudyRecord, *, engine: Engine, retrying: Retrying
    ) -> None:
        """A handle on ``record``'s study of ``store``, whose ``engine`` it runs on and whose
        ``retrying`` runs each of its transactions through transient faults."""
        self._store = store
        self._record = record
        self._engine = engine
        self._retrier = retrying
        self._id = record.id
        self._sqlite = is_sqlite(store.url)
        fidelity = record.space.fidelity
        self._integer_fidelity = bool(fidelity is not None and fidelity.is_integer)
        self._cache = TrialCache(record.space, record.seed)

    @property
    def record(self) -> StudyRecord:
        return self._record

    @property
    def store(self) -> TrialStore:
        return self._store

    def _retrying(self, what: str, operation: Callable[[], R]) -> R:
        return self._retrier._retrying(what, operation)

    # -- reads ----------------------------------------------------------------------------------

    @retried
    def refresh(self) -> int:
        cache = self._cache
        with read_transaction(self._engine) as conn:
            rows = conn.execute(SQL.changed, {"b_sid": self._id, "b_after": cache.seq}).mappings()
            changed = 0
            for row in rows:
                cache.put(self._to_trial(row))
                cache.seq = max(cache.seq, row["seq"])
                changed += 1
        return changed

    def trials(self) -> list[Trial]:
        return self._cache.trials()

    def trial(self, number: int) -> Trial | None:
        return self._cache.get(number)

    def pending_trials(self) -> list[Trial]:
        return self._cache.open_trials()

    def history(self) -> History:
        return self._cache.history()

    @retried
    def totals(self) -> Totals:
        with read_transaction(self._engine) as conn:
            return totals_from_row(
                conn.execute(SQL.study_row, {"b_sid": self._id}).mappings().one()
            )

    @retried
    def budget(self) -> dict[str, Any]:
        with read_transaction(self._engine) as conn:
            text = conn.execute(select(S.c.budget).where(S.c.id == self._id)).scalar_one()
        budget: dict[str, Any] = json.loads(text)
        return budget

    @retried
    def running_heartbeats(self) -> dict[int, float | None]:
        with read_transaction(self._engine) as conn:
            rows = conn.execute(
                SQL.running_heartbeats, {"b_sid": self._id, "b_running": TrialStatus.RUNNING.value}
            )
            return {number: heartbeat for number, heartbeat in rows}

    # -- a trial's writes -----------------------------------------------------------------------

    @retried
    def claim(
        self,
        suggestions: Suggestion | Sequence[Suggestion],
        *,
        worker: str,
        limits: Limits,
        device: str | None = None,
    ) -> Claim:
        claims.check_device(device)
        if isinstance(suggestions, Suggestion):
            suggestions = (suggestions,)
        if not suggestions:
            raise ValueError("claim: give at least one suggestion")
        slots = [s.slot for s in suggestions]
        if len(set(slots)) != len(slots):
            raise ValueError(f"claim: the suggestions' slots must be distinct, got {slots}")
        result = claims.claim(
            self._engine,
            self._id,
            sqlite=self._sqlite,
            suggestions=suggestions,
            configs=[dumps(dict(s.config)) for s in suggestions],
            increments=[self._fidelity_units(s) for s in suggestions],
            worker=worker,
            limits=limits,
            device=device,
            now=time.time(),
            to_trial=self._to_trial,
        )
        if result.trial is not None:
            self._cache.put(result.trial)  # the cache's seq is not advanced: refresh re-reads it
        return result

    def claim_pending(
        self, *, worker: str, limits: Limits, device: str | None = None
    ) -> Trial | None:
        claims.check_device(device)
        now = time.time()  # the same in every attempt: a re-run finds its own claim by it
        trial = self._retrying(
            "claim_pending",
            lambda: claims.claim_pending(
                self._engine,
                self._id,
                worker=worker,
                limits=limits,
                device=device,
                now=now,
                to_trial=self._to_trial,
            ),
        )
        if trial is not None:
            self._cache.put(trial)
        return trial

    def enqueue(
        self,
        config: Mapping[str, Any],
        *,
        fidelity: float | int | None,
        limits: Limits,
        info: Mapping[str, Any] | None = None,
    ) -> Trial | None:
        config = self._checked_config(config, fidelity)
        slot = f"enqueued:{secrets.token_hex(8)}"  # the same in every attempt: a re-run finds it
        now = time.time()
        trial = self._retrying(
            "enqueue",
            lambda: claims.enqueue(
                self._engine,
                self._id,
                slot=slot,
                config=dumps(config),
                fidelity=None if fidelity is None else float(fidelity),
                increment=fidelity_units(self.space, fidelity),
                info=dumps(dict(info)) if info else None,
                limits=limits,
                now=now,
                to_trial=self._to_trial,
            ),
        )
        if trial is not None:
            self._cache.put(trial)
        return trial

    @retried
    def heartbeat(
        self, number: int, *, worker: str, learning_curve: list[tuple[float, float]] | None = None
    ) -> bool:
        return claims.heartbeat(
            self._engine,
            self._id,
            number,
            worker=worker,
            learning_curve=learning_curve,
            now=time.time(),
        )

    @retried
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
        fidelity_used: float | None = None,
    ) -> Trial:
        if not status.finished:
            raise ValueError(f"finish() needs succeeded or failed, not {status}")
        trial = claims.finish(
            self._engine,
            self._id,
            number,
            sqlite=self._sqlite,
            study_name=self.name,
            worker=worker,
            status=status,
            objective=objective,
            cost=cost,
            learning_curve=learning_curve,
            info=info,
            error=error,
            fidelity_used=fidelity_used,
            now=time.time(),
            to_trial=self._to_trial,
        )
        self._cache.put(trial)
        return trial

    @retried
    def release(self, number: int, *, worker: str, reason: str) -> bool:
        return claims.release(self._engine, self._id, number, worker=worker, reason=reason)

    # -- crash recovery -------------------------------------------------------------------------

    def recover_stale(self, *, stale_after: float, max_retries: int) -> list[int]:
        stale = recovery.stale_before(time.time() - stale_after)
        if not self._retrying(
            "recover_stale", lambda: recovery.any_running(self._engine, self._id, stale)
        ):
            return []  # the usual case, found with a cheap read

        def why(row: Row, now: float) -> str:
            age = now - (row["heartbeat"] or now)
            return f"worker {row['worker']} stopped sending heartbeats ({age:.0f} s ago)"

        return self._crash("recover_stale", stale, why, max_retries, "stale heartbeat")

    def recover_silent(
        self,
        observed: Mapping[int, float | None],
        *,
        max_retries: int,
        silent_for: float | None = None,
    ) -> list[int]:
        if not observed:
            return []
        during = f" for {silent_for:g} s" if silent_for is not None else ""

        def why(row: Row, _now: float) -> str:
            return f"worker {row['worker']} sent no heartbeat{during}"

        unchanged = recovery.unchanged_since(observed)
        return self._crash("recover_silent", unchanged, why, max_retries, "no heartbeat")

    def recover_worker(self, worker: str, *, max_retries: int, reason: str) -> list[int]:
        def why(_row: Row, _now: float) -> str:
            return f"worker {worker}: {reason}"

        return self._crash("recover_worker", recovery.of_worker(worker), why, max_retries, reason)

    def _crash(
        self,
        what: str,
        condition: ColumnElement[bool],
        why: recovery.Why,
        max_retries: int,
        label: str,
    ) -> list[int]:
        return self._retrying(
            what,
            lambda: recovery.crash(
                self._engine,
                self._id,
                condition,
                why=why,
                max_retries=max_retries,
                label=label,
            ),
        )

    # -- helpers --------------------------------------------------------------------------------

    def _fidelity_units(self, suggestion: Suggestion) -> float:
        """The full-fidelity units a suggestion adds (a continuation adds only the difference)."""
        number, previous_fidelity = suggestion.previous_trial, None
        if (
            number is not None
            and suggestion.fidelity is not None
            and self.space.fidelity is not None
        ):
            previous = self.trial(number)
            if previous is None:
                self.refresh()
                previous = self.trial(number)
            previous_fidelity = previous.fidelity if previous is not None else None
        return fidelity_units(self.space, suggestion.fidelity, previous_fidelity)

    def _checked_config(
        self, config: Mapping[str, Any], fidelity: float | int | None
    ) -> dict[str, Any]:
        """``config`` as stored (plain JSON values), once valid in the space with ``fidelity``."""
        space, name = self.space, self.space.fidelity_name
        space.validate_config(config)
        if name is not None and name in config:
            raise SpaceError(
                f"parameter {name!r}: the fidelity is not part of a configuration; "
                f"give it as fidelity={config[name]!r}"
            )
        if name is None and fidelity is not None:
            raise SpaceError(f"fidelity={fidelity!r} given, but the space has no fidelity")
        if name is not None:
            if fidelity is None:
                raise SpaceError(f"parameter {name!r}: missing (the fidelity to evaluate at)")
            space.validate_config({**config, name: fidelity})
        plain: dict[str, Any] = json.loads(dumps(dict(config)))
        return plain

    def _to_trial(self, row: Row) -> Trial:
        return trial_from_row(row, integer_fidelity=self._integer_fidelity)
