"""A trial's writes, one transaction each: claim, start a queued trial, queue a given
configuration, beat, finish, release.

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

from sqlalchemy import Connection, Engine, case, select, update
from sqlalchemy.exc import IntegrityError

from tunewise.storage.engine import autocommit, read_transaction, write_transaction
from tunewise.storage.errors import StorageError
from tunewise.storage.records import DEVICE_LENGTH, Claim, ClaimOutcome, Limits
from tunewise.storage.rows import Row, dumps, finite_or_zero
from tunewise.storage.statements import (
    CLAIM_FIRST_FREE,
    FINISH_IN_ONE_STATEMENT,
    SQL,
    S,
    T,
    lock_study,
)
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

    A slot once taken stays taken (a crashed trial hands it to its retry), so a read without
    any lock finds the taken slots and the worker's own earlier claim (a replay after a lost
    reply); when every slot is taken it answers ``CONFLICT`` at once. The rest is short. On
    SQLite (which locks the file from BEGIN) the check is repeated under the lock. On
    PostgreSQL the study row is locked (the budget is checked against its totals) and one
    statement, :data:`~tunewise.storage.statements.CLAIM_FIRST_FREE`, inserts the first
    suggestion still free and advances the counters; then COMMIT. A refused claim rolls back:
    it wrote nothing.
    """
    slots = [s.slot for s in suggestions]

    def candidate(index: int) -> dict[str, Any]:
        values = _new_trial(study_id, suggestions[index], configs[index], increments[index])
        values.update(worker=worker, device=device, heartbeat=now, created_at=now, started_at=now)
        return values

    if sqlite:
        with read_transaction(engine) as conn:  # BEGIN IMMEDIATE takes the lock: read before it
            if _choose(conn, study_id, slots, configs, worker) is None:
                return Claim(ClaimOutcome.CONFLICT)
        return _claim_locked(engine, study_id, slots, configs, worker, candidate, limits, to_trial)
    for _ in range(2):  # again only if the unique constraint caught a race (not expected)
        try:
            with write_transaction(engine) as conn:
                taken = _taken(conn, study_id, slots)  # no lock taken yet
                chosen = _pick(taken, slots, configs, worker)
                if chosen is None:
                    raise _Refused(Claim(ClaimOutcome.CONFLICT))
                first, ours = chosen
                if ours is not None:
                    return _replay(conn, study_id, ours, first, to_trial)
                # the slots taken at the read stay taken: offer the others, in order
                offered = [
                    {"idx": i, **candidate(i)}
                    for i in range(first, len(slots))
                    if slots[i] not in taken
                ]
                params = {"b_sid": study_id, "b_offered": json.dumps(offered)}
                totals = lock_study(conn, study_id)
                if limits.exhausted_for_new(totals):
                    raise _Refused(Claim(ClaimOutcome.BUDGET))
                inserted = conn.execute(CLAIM_FIRST_FREE, params).first()
                if inserted is None:  # all taken while this claim waited for the lock
                    raise _Refused(Claim(ClaimOutcome.CONFLICT))
        except _Refused as refused:
            return refused.claim
        except IntegrityError as exc:
            if _violated(exc) != "uq_tw_trials_slot":
                raise
            continue
        index = slots.index(inserted.slot)
        values = {**candidate(index), "number": inserted.number, "seq": inserted.seq}
        return Claim(ClaimOutcome.CLAIMED, to_trial(values), index)
    return Claim(ClaimOutcome.CONFLICT)  # pragma: no cover


def _replay(conn: Connection, study_id: int, number: int, index: int, to_trial: ToTrial) -> Claim:
    """The worker's own claim, committed before a lost reply, as the claim's answer."""
    row = conn.execute(SQL.trial_by_number, {"b_sid": study_id, "b_number": number})
    return Claim(ClaimOutcome.CLAIMED, to_trial(row.mappings().one()), index)


def _claim_locked(
    engine: Engine,
    study_id: int,
    slots: Sequence[str],
    configs: Sequence[str],
    worker: str,
    candidate: Callable[[int], dict[str, Any]],
    limits: Limits,
    to_trial: ToTrial,
) -> Claim:
    """SQLite: the claim under the write lock that BEGIN IMMEDIATE takes, checks repeated."""
    try:
        with write_transaction(engine) as conn:
            chosen = _choose(conn, study_id, slots, configs, worker)
            if chosen is None:
                raise _Refused(Claim(ClaimOutcome.CONFLICT))
            index, ours = chosen
            if ours is not None:
                return _replay(conn, study_id, ours, index, to_trial)
            totals = lock_study(conn, study_id)
            if limits.exhausted_for_new(totals):
                raise _Refused(Claim(ClaimOutcome.BUDGET))
            values = {**candidate(index), "number": totals.next_number, "seq": totals.seq + 1}
            conn.execute(SQL.insert_trial, values)
            conn.execute(
                SQL.claimed,
                {
                    "b_sid": study_id,
                    "b_seq": values["seq"],
                    "b_increment": values["fidelity_increment"],
                },
            )
    except _Refused as refused:
        return refused.claim
    return Claim(ClaimOutcome.CLAIMED, to_trial(values), index)


def _violated(exc: IntegrityError) -> str | None:
    """The name of the constraint an IntegrityError violated (PostgreSQL says; else None)."""
    diag = getattr(exc.orig, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return name if isinstance(name, str) else None


def _new_trial(
    study_id: int, suggestion: Suggestion, config: str, increment: float
) -> dict[str, Any]:
    """The column values of a new running trial from its suggestion (worker, device, times,
    number and ``seq`` still to be set)."""
    return {
        "study_id": study_id,
        "slot": suggestion.slot,
        "status": TrialStatus.RUNNING.value,
        "config": config,
        "fidelity": None if suggestion.fidelity is None else float(suggestion.fidelity),
        "fidelity_increment": increment,
        "info": dumps(dict(suggestion.info)) if suggestion.info else None,
        "previous_trial": suggestion.previous_trial,
        "retries": 0,
    }


def _taken(conn: Connection, study_id: int, slots: Sequence[str]) -> dict[str, Any]:
    """The rows (slot, number, status, worker, config) holding any of ``slots``, by slot."""
    rows = conn.execute(SQL.slots_taken, {"b_sid": study_id, "b_slots": list(slots)})
    return {row.slot: row for row in rows}


def _pick(
    taken: Mapping[str, Any], slots: Sequence[str], configs: Sequence[str], worker: str
) -> tuple[int, int | None] | None:
    """The first suggestion (its index) whose slot is free or is ``worker``'s own running
    claim of the same config (then also that trial's number); None when all are taken."""
    for index, (slot, config) in enumerate(zip(slots, configs, strict=True)):
        row = taken.get(slot)
        if row is None:
            return index, None
        if (row.status, row.worker, row.config) == (TrialStatus.RUNNING.value, worker, config):
            return index, int(row.number)
    return None


def _choose(
    conn: Connection, study_id: int, slots: Sequence[str], configs: Sequence[str], worker: str
) -> tuple[int, int | None] | None:
    """:func:`_pick` on the slots as they are now."""
    return _pick(_taken(conn, study_id, slots), slots, configs, worker)


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
    """Start the oldest queued trial; a re-run finds its own by worker and start time.

    A trial starts no earlier than it was queued: ``now`` is read before the lock is taken, and a
    retry queued while this claim waited for the lock must not appear to start before the crash
    that queued it. The start is ``max(now, created_at)``, which a re-run computes the same way.
    """
    started = case((T.c.created_at > now, T.c.created_at), else_=now)
    with write_transaction(engine) as conn:
        totals = lock_study(conn, study_id)
        ours = (
            conn.execute(
                select(T).where(
                    T.c.study_id == study_id,
                    T.c.status == TrialStatus.RUNNING.value,
                    T.c.worker == worker,
                    T.c.started_at == started,
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
        start = max(now, row["created_at"] or now)
        changes = {
            "status": TrialStatus.RUNNING.value,
            "worker": worker,
            "device": device,
            "heartbeat": start,
            "started_at": start,
            "seq": seq,
        }
        conn.execute(update(T).where(T.c.id == row["id"]).values(**changes))
        conn.execute(update(S).where(S.c.id == study_id).values(seq=seq))
    return to_trial({**row, **changes})


def enqueue(
    engine: Engine,
    study_id: int,
    *,
    slot: str,
    config: str,
    fidelity: float | None,
    increment: float,
    info: str | None,
    limits: Limits,
    now: float,
    to_trial: ToTrial,
) -> Trial | None:
    """Insert a ``pending`` trial of a given configuration, counted now as a claim counts.

    The queue is the one crash retries wait in, so every worker starts it (oldest first) before
    asking its optimizer. ``slot`` is unique to this call: a re-run after a lost reply finds
    the trial by it and returns it. None, writing nothing, when ``limits`` allow no new trial.
    """
    with write_transaction(engine) as conn:
        mine = conn.execute(select(T).where(T.c.study_id == study_id, T.c.slot == slot))
        ours = mine.mappings().first()
        if ours is not None:
            return to_trial(ours)
        totals = lock_study(conn, study_id)
        if limits.exhausted_for_new(totals):
            return None
        values: dict[str, Any] = {
            "study_id": study_id,
            "number": totals.next_number,
            "slot": slot,
            "status": TrialStatus.PENDING.value,
            "config": config,
            "fidelity": fidelity,
            "fidelity_increment": increment,
            "info": info,
            "created_at": now,
            "retries": 0,
            "seq": totals.seq + 1,
        }
        conn.execute(SQL.insert_trial, values)
        conn.execute(
            SQL.claimed, {"b_sid": study_id, "b_seq": values["seq"], "b_increment": increment}
        )
    return to_trial(values)


def heartbeat(
    engine: Engine,
    study_id: int,
    number: int,
    *,
    worker: str,
    learning_curve: list[tuple[float, float]] | None,
    now: float,
) -> bool:
    """Mark ``worker``'s running trial alive; False if it is no longer ours.

    A beat carrying new learning-curve points is a change of the trial: it takes the next
    ``seq`` (under the study lock), so readers that refresh by ``seq`` (a dashboard, other
    workers) see the curve grow while the trial runs. A plain beat changes nothing they read.
    """
    params: dict[str, Any] = {
        "b_sid": study_id,
        "b_number": number,
        "b_worker": worker,
        "b_now": now,
    }
    if learning_curve is None:
        with write_transaction(engine) as conn:
            return conn.execute(SQL.beat, params).rowcount == 1
    params["b_curve"] = dumps(learning_curve)
    with write_transaction(engine) as conn:
        seq = lock_study(conn, study_id).seq + 1
        if conn.execute(SQL.beat_with_curve, {**params, "b_seq": seq}).rowcount != 1:
            return False
        conn.execute(update(S).where(S.c.id == study_id).values(seq=seq))
        return True


class _Changed(Exception):
    """Raised inside a finish's transaction when the trial changed since it was read."""


def finish(
    engine: Engine,
    study_id: int,
    number: int,
    *,
    sqlite: bool,
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
    fidelity_used: float | None = None,
) -> Trial:
    """Record ``worker``'s result for trial ``number`` exactly once (a replay returns it).

    ``fidelity_used`` (a trial stopped early) replaces the trial's claimed
    ``fidelity_increment`` when it is smaller: the trial is counted as spending that much, and
    the rest goes back to the study's claimed total, in the same write.

    The trial is read first (without a lock on PostgreSQL), which decides everything: a
    replay, an error, or the result's values. Then the counters and the trial change together
    only if the trial is still as read; if crash recovery changed it in between, the finish
    reads it again. On PostgreSQL that is one statement run on its own
    (:data:`~tunewise.storage.statements.FINISH_IN_ONE_STATEMENT`, autocommit), so the study
    row is locked for that statement and its commit only.
    """
    curve = dumps([list(p) for p in learning_curve])
    while True:
        try:
            # PostgreSQL: a read, then one statement that locks, writes and commits
            with write_transaction(engine) if sqlite else autocommit(engine) as conn:
                seq = lock_study(conn, study_id).seq + 1 if sqlite else None  # locked at BEGIN
                row = (
                    conn.execute(SQL.trial_by_number, {"b_sid": study_id, "b_number": number})
                    .mappings()
                    .one()
                )
                current = TrialStatus(row["status"])
                if current.finished:
                    if row["worker"] == worker and _same_outcome(
                        row, status, objective, cost, error
                    ):
                        return to_trial(row)
                    raise StorageError(
                        f"trial {number} of study {study_name!r} is already {current}"
                    )
                claimed = row["fidelity_increment"]
                increment = _increment_used(claimed, fidelity_used)
                changes = {
                    "status": status.value,
                    "fidelity_increment": increment,
                    "objective": objective,
                    "cost": cost,
                    "learning_curve": curve,
                    # the optimizer's notes from the claim (e.g. sampled_from) + the objective's
                    "info": dumps({**json.loads(row["info"] or "{}"), **dict(info or {})}),
                    "error": error,
                    "worker": worker,
                    "finished_at": now,
                    "heartbeat": now,
                }
                params = {
                    "b_sid": study_id,
                    "b_id": row["id"],
                    "b_status": status.value,
                    "b_objective": objective,
                    "b_cost": cost,
                    "b_curve": curve,
                    "b_info": changes["info"],
                    "b_error": error,
                    "b_worker": worker,
                    "b_now": now,
                    "b_live": 1 if current is TrialStatus.CRASHED else 0,
                    "b_cost_units": finite_or_zero(cost),
                    "b_increment": increment,
                    "b_fidelity": finite_or_zero(increment),
                    # a crashed trial's claim is its retry's now: nothing of it goes back
                    "b_refund": finite_or_zero(claimed) - finite_or_zero(increment)
                    if current is TrialStatus.RUNNING
                    else 0.0,
                }
                if seq is not None:
                    conn.execute(SQL.finish_trial, {**params, "b_seq": seq})
                    conn.execute(SQL.finished, {**params, "b_seq": seq})
                else:
                    params.update(b_seen_status=row["status"], b_seen_worker=row["worker"])
                    seq = conn.execute(FINISH_IN_ONE_STATEMENT, params).scalar()
                    if seq is None:
                        raise _Changed  # nothing was written
        except _Changed:
            continue
        break
    if current is not TrialStatus.RUNNING or row["worker"] != worker:
        # Declared dead while still working (e.g. a stalled heartbeat): the result is real, so
        # it is kept; its retry (if any) stays queued as a separate trial.
        logger.warning(
            "trial %d finished on %s after being marked %s; recording its result anyway",
            number,
            worker,
            current,
        )
    return to_trial({**row, **changes, "seq": seq})


def _increment_used(claimed: float | None, used: float | None) -> float | None:
    """The fidelity units a finished trial counts: what it ``used`` when that is known and less
    than what its claim counted (``claimed``), else the claimed units."""
    if used is None or claimed is None or not math.isfinite(used):
        return claimed
    return min(max(float(used), 0.0), float(claimed))


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
