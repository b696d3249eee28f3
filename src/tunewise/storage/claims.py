"""A trial's writes, one transaction each: claim, start a queued trial, beat, finish, release.

Functions over an engine and a study id; the handle (:mod:`tunewise.storage.study`) retries
them through transient faults and keeps its cache. The guarantees are those of
:class:`tunewise.storage.base.StudyHandle`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from tunewise.storage.engine import read_transaction, write_transaction
from tunewise.storage.errors import StorageError
from tunewise.storage.records import DEVICE_LENGTH, Claim, ClaimOutcome, Limits
from tunewise.storage.rows import Row, dumps, finite_or_zero
from tunewise.storage.statements import SQL, S, T, lock_study
from tunewise.trial import Suggestion, Trial, TrialStatus

logger = logging.getLogger("tunewise")

ToTrial = Callable[[Row], Trial]


class _Refused(Exception):
    """Raised inside a claim's transaction to roll it back (nothing was written)."""

    def __init__(self, claim: Claim) -> None:
        super().__init__(claim.outcome.value)
        self.claim = claim


def check_device(device: str | None) -> None:
    if device is not None and (not isinstance(device, str) or len(device) > DEVICE_LENGTH):
        raise ValueError(
            f"device must be a name of at most {DEVICE_LENGTH} characters, got {device!r}"
        )


def claim(
    engine: Engine,
    study_id: int,
    *,
    sqlite: bool,
    suggestions: Sequence[Suggestion],
    configs: Sequence[str],
    increments: Sequence[float],
    worker: str,
    limits: Limits,
    device: str | None,
    now: float,
    to_trial: ToTrial,
) -> Claim:
    """Insert the first suggestion whose slot is free as ``worker``'s running trial.

    A slot once taken stays taken (a crashed trial hands it to its retry), so a cheap read
    without the lock that finds every slot taken answers ``CONFLICT`` at once; the check is
    repeated under the study lock. A refused claim rolls back: it wrote nothing.
    """
    slots = [s.slot for s in suggestions]
    if sqlite:  # BEGIN IMMEDIATE takes the lock: read before it
        with read_transaction(engine) as conn:
            if _choose(conn, study_id, slots, configs, worker) is None:
                return Claim(ClaimOutcome.CONFLICT)
    try:
        with write_transaction(engine) as conn:
            if not sqlite and _choose(conn, study_id, slots, configs, worker) is None:
                raise _Refused(Claim(ClaimOutcome.CONFLICT))
            totals = lock_study(conn, study_id)
            chosen = _choose(conn, study_id, slots, configs, worker)
            if chosen is None:
                raise _Refused(Claim(ClaimOutcome.CONFLICT))
            index, ours = chosen
            if ours is not None:
                row = conn.execute(SQL.trial_by_number, {"b_sid": study_id, "b_number": ours})
                return Claim(ClaimOutcome.CLAIMED, to_trial(row.mappings().one()), index)
            if limits.exhausted_for_new(totals):
                raise _Refused(Claim(ClaimOutcome.BUDGET))
            suggestion, increment = suggestions[index], increments[index]
            seq = totals.seq + 1
            values = _new_trial(
                study_id, totals.next_number, suggestion, configs[index], increment, worker, device
            )
            values.update(heartbeat=now, created_at=now, started_at=now, seq=seq)
            conn.execute(SQL.insert_trial, values)
            conn.execute(SQL.claimed, {"b_sid": study_id, "b_seq": seq, "b_increment": increment})
    except _Refused as refused:
        return refused.claim
    return Claim(ClaimOutcome.CLAIMED, to_trial(values), index)


def _new_trial(
    study_id: int,
    number: int | None,
    suggestion: Suggestion,
    config: str,
    increment: float,
    worker: str,
    device: str | None,
) -> dict[str, Any]:
    """The column values of a new running trial (times and ``seq`` still to be set)."""
    return {
        "study_id": study_id,
        "number": number,
        "slot": suggestion.slot,
        "status": TrialStatus.RUNNING.value,
        "config": config,
        "fidelity": None if suggestion.fidelity is None else float(suggestion.fidelity),
        "fidelity_increment": increment,
        "info": dumps(dict(suggestion.info)) if suggestion.info else None,
        "worker": worker,
        "device": device,
        "previous_trial": suggestion.previous_trial,
        "retries": 0,
    }


def _choose(
    conn: Connection, study_id: int, slots: Sequence[str], configs: Sequence[str], worker: str
) -> tuple[int, int | None] | None:
    """The first suggestion (its index) whose slot is free or is ``worker``'s own running
    claim of the same config (then also that trial's number); None when all are taken."""
    taken = {
        row.slot: row
        for row in conn.execute(SQL.slots_taken, {"b_sid": study_id, "b_slots": list(slots)})
    }
    for index, (slot, config) in enumerate(zip(slots, configs, strict=True)):
        row = taken.get(slot)
        if row is None:
            return index, None
        if (row.status, row.worker, row.config) == (TrialStatus.RUNNING.value, worker, config):
            return index, row.number
    return None


def claim_pending(
    engine: Engine,
    study_id: int,
    *,
    worker: str,
    limits: Limits,
    device: str | None,
    now: float,
    to_trial: ToTrial,
) -> Trial | None:
    """Start the oldest queued trial; a re-run finds its own by worker and start time."""
    with write_transaction(engine) as conn:
        totals = lock_study(conn, study_id)
        ours = (
            conn.execute(
                select(T).where(
                    T.c.study_id == study_id,
                    T.c.status == TrialStatus.RUNNING.value,
                    T.c.worker == worker,
                    T.c.started_at == now,
                )
            )
            .mappings()
            .first()
        )
        if ours is not None:
            return to_trial(ours)
        if limits.exhausted_for_pending(totals):
            return None
        row = (
            conn.execute(
                select(T)
                .where(T.c.study_id == study_id, T.c.status == TrialStatus.PENDING.value)
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
        conn.execute(update(S).where(S.c.id == study_id).values(seq=seq))
    return to_trial({**row, **changes})


def heartbeat(
    engine: Engine,
    study_id: int,
    number: int,
    *,
    worker: str,
    learning_curve: list[tuple[float, float]] | None,
    now: float,
) -> bool:
    """Mark ``worker``'s running trial alive; False if it is no longer ours."""
    params: dict[str, Any] = {
        "b_sid": study_id,
        "b_number": number,
        "b_worker": worker,
        "b_now": now,
    }
    statement = SQL.beat
    if learning_curve is not None:
        params["b_curve"] = dumps(learning_curve)
        statement = SQL.beat_with_curve
    with write_transaction(engine) as conn:
        return conn.execute(statement, params).rowcount == 1


def finish(
    engine: Engine,
    study_id: int,
    number: int,
    *,
    study_name: str,
    worker: str,
    status: TrialStatus,
    objective: float | None,
    cost: float | None,
    learning_curve: Iterable[tuple[float, float]],
    info: Mapping[str, Any] | None,
    error: str | None,
    now: float,
    to_trial: ToTrial,
) -> Trial:
    """Record ``worker``'s result for trial ``number`` exactly once (a replay returns it)."""
    with write_transaction(engine) as conn:
        totals = lock_study(conn, study_id)
        row = (
            conn.execute(SQL.trial_by_number, {"b_sid": study_id, "b_number": number})
            .mappings()
            .one()
        )
        current = TrialStatus(row["status"])
        if current.finished:
            if row["worker"] == worker and _same_outcome(row, status, objective, cost, error):
                return to_trial(row)
            raise StorageError(f"trial {number} of study {study_name!r} is already {current}")
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
            "learning_curve": dumps([list(p) for p in learning_curve]),
            # the optimizer's notes from the claim (e.g. sampled_from) + the objective's info
            "info": dumps({**json.loads(row["info"] or "{}"), **dict(info or {})}),
            "error": error,
            "worker": worker,
            "finished_at": now,
            "heartbeat": now,
            "seq": seq,
        }
        conn.execute(
            SQL.finish_trial,
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
            SQL.finished,
            {
                "b_sid": study_id,
                "b_seq": seq,
                "b_live": 1 if current is TrialStatus.CRASHED else 0,
                "b_cost": finite_or_zero(cost),
                "b_fidelity": finite_or_zero(row["fidelity_increment"]),
            },
        )
    return to_trial({**row, **changes})


def release(engine: Engine, study_id: int, number: int, *, worker: str, reason: str) -> bool:
    """Put ``worker``'s running trial back in the queue; False if it is not ours."""
    with write_transaction(engine) as conn:
        totals = lock_study(conn, study_id)
        seq = totals.seq + 1
        result = conn.execute(
            update(T)
            .where(
                T.c.study_id == study_id,
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
        conn.execute(update(S).where(S.c.id == study_id).values(seq=seq))
    return True


def _same_outcome(
    row: Row,
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
