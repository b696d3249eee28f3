"""Crash recovery: running trials whose worker died are marked crashed and re-queued (or failed).

Three ways to know a worker died, one way to recover: a supervisor saw the process die
(:func:`of_worker`), an observer saw its heartbeat stay unchanged (:func:`unchanged_since`, a
compare-and-set on the values seen), or its heartbeat is older than a cutoff on this machine's
clock (:func:`stale_before`). :func:`crash` then does what
:class:`tunewise.storage.base.StudyHandle` promises: crashed row kept with its slot cleared, a
pending retry with the same config, fidelity and slot, or a failure after ``max_retries``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, or_, select, update

from tunewise.storage.engine import read_transaction, write_transaction
from tunewise.storage.rows import Row, finite_or_zero
from tunewise.storage.statements import S, T, lock_study
from tunewise.trial import TrialStatus

logger = logging.getLogger("tunewise")

Why = Callable[[Row, float], str]
"""The reason a trial is recovered, from its row and the time now (goes into its error)."""


def stale_before(cutoff: float) -> ColumnElement[bool]:
    """Trials whose stored heartbeat is older than ``cutoff`` (seconds since the epoch)."""
    return T.c.heartbeat < cutoff


def unchanged_since(observed: Mapping[int, float | None]) -> ColumnElement[bool]:
    """Trials whose heartbeat still holds the value observed (number -> value; not empty)."""
    return or_(
        *(
            and_(
                T.c.number == number,
                T.c.heartbeat.is_(None) if beat is None else T.c.heartbeat == beat,
            )
            for number, beat in observed.items()
        )
    )


def of_worker(worker: str) -> ColumnElement[bool]:
    """Trials of ``worker``."""
    return T.c.worker == worker


def any_running(engine: Engine, study_id: int, condition: ColumnElement[bool]) -> bool:
    """True when a running trial matches ``condition`` (one cheap read, no lock)."""
    with read_transaction(engine) as conn:
        count = conn.execute(
            select(func.count())
            .select_from(T)
            .where(T.c.study_id == study_id, T.c.status == TrialStatus.RUNNING.value, condition)
        ).scalar()
    return bool(count)


def crash(
    engine: Engine,
    study_id: int,
    condition: ColumnElement[bool],
    *,
    why: Why,
    max_retries: int,
    label: str,
) -> list[int]:
    """Mark the running trials matching ``condition`` crashed and queue their retries.

    One transaction under the study lock; returns the numbers of the trials recovered.
    """
    recovered = []
    now = time.time()
    with write_transaction(engine) as conn:
        totals = lock_study(conn, study_id)
        seq, next_number = totals.seq, totals.next_number
        failed, failed_units = 0, 0.0
        rows = conn.execute(
            select(T)
            .where(T.c.study_id == study_id, T.c.status == TrialStatus.RUNNING.value, condition)
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
                conn.execute(T.insert().values(**_retry_of(row, study_id, next_number, now, seq)))
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
                failed_units += finite_or_zero(row["fidelity_increment"])
            recovered.append(row["number"])
        if recovered:
            conn.execute(
                update(S)
                .where(S.c.id == study_id)
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


def _retry_of(row: Row, study_id: int, number: int, now: float, seq: int) -> dict[str, Any]:
    """The pending retry of a crashed trial: same slot, config and fidelity, a new number."""
    return {
        "study_id": study_id,
        "number": number,
        "slot": row["slot"],
        "status": TrialStatus.PENDING.value,
        "config": row["config"],
        "fidelity": row["fidelity"],
        "fidelity_increment": row["fidelity_increment"],
        "info": row["info"],
        "created_at": now,
        "previous_trial": row["previous_trial"],
        "retry_of": row["number"],
        "retries": row["retries"] + 1,
        "seq": seq,
    }
