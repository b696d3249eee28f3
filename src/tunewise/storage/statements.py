"""The hot-path SQL, built once with bound parameters.

Building a SQLAlchemy Core construct costs far more than running it on SQLite (~0.1 ms per
statement), so the per-trial statements are built here once and only executed per call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    Connection,
    Integer,
    Text,
    Update,
    bindparam,
    cast,
    column,
    func,
    select,
    true,
    update,
)

from tunewise.storage import schema
from tunewise.storage.records import Totals
from tunewise.storage.rows import totals_from_row
from tunewise.trial import TrialStatus

T = schema.trials
S = schema.studies


def _result_values(*, seq: Any) -> dict[str, Any]:
    """The columns a finish writes into its trial (bound parameters ``b_status`` ... ``b_now``;
    ``b_increment``: the fidelity units it counts, less than claimed for a trial stopped early),
    with ``seq`` given by the statement: a parameter, or the locked study row's next value."""
    return {
        "status": bindparam("b_status"),
        "fidelity_increment": bindparam("b_increment"),
        "objective": bindparam("b_objective"),
        "cost": bindparam("b_cost"),
        "learning_curve": bindparam("b_curve"),
        "info": bindparam("b_info"),
        "error": bindparam("b_error"),
        "worker": bindparam("b_worker"),
        "finished_at": bindparam("b_now"),
        "heartbeat": bindparam("b_now"),
        "seq": seq,
    }


class Statements:
    """The statements a worker runs per trial (study id bound as ``b_sid``)."""

    def __init__(self) -> None:
        sid: BindParameter[Any] = bindparam("b_sid")
        self.lock = select(S).where(S.c.id == sid).with_for_update()
        self.study_row = select(S).where(S.c.id == sid)
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
            .values(**_result_values(seq=bindparam("b_seq")))
        )
        self.finished = (
            update(S)
            .where(S.c.id == sid)
            .values(
                seq=bindparam("b_seq"),
                n_live=S.c.n_live + bindparam("b_live"),
                n_finished=S.c.n_finished + 1,
                cost_spent=S.c.cost_spent + bindparam("b_cost_units"),
                fidelity_claimed=S.c.fidelity_claimed - bindparam("b_refund"),
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
            .values(
                heartbeat=bindparam("b_now"),
                learning_curve=bindparam("b_curve"),
                seq=bindparam("b_seq"),
            )
        )


SQL = Statements()

NEW_TRIAL_COLUMNS = (
    "study_id",
    "slot",
    "status",
    "config",
    "fidelity",
    "fidelity_increment",
    "info",
    "worker",
    "device",
    "heartbeat",
    "created_at",
    "started_at",
    "previous_trial",
    "retries",
)
"""The columns of a new trial bound by value (``number`` and ``seq`` come from the counters)."""


def _typed(name: str, column: str) -> ColumnElement[Any]:
    """A bound value in a SELECT list, cast to the trial column's type (PostgreSQL would take
    an untyped NULL for text)."""
    return cast(bindparam(name), T.c[column].type)


def _claim_first_free() -> Update:
    """PostgreSQL: a claim's write, once :func:`lock_study` holds the study row.

    The offered suggestions come as one JSON array (``b_offered``: objects with ``idx`` and the
    new trial's columns but ``study_id``), built before the lock. One statement inserts the
    first whose slot is not taken — as the study's next number, with the next ``seq`` — and
    advances the counters from the insert's RETURNING. Its snapshot is taken when it starts,
    after the lock was granted, so it holds every claim committed before, and every writer of
    slots or counters holds that lock: the test is exact. No row back: every slot was taken
    while this claim waited for the lock.
    """
    columns = [c for c in NEW_TRIAL_COLUMNS if c != "study_id"]
    offered = (
        func.json_to_recordset(cast(bindparam("b_offered", type_=Text), JSON))
        .table_valued(column("idx", Integer), *(column(c, T.c[c].type) for c in columns))
        .render_derived(name="offered", with_types=True)
    )
    study = select(S.c.id, S.c.next_number, S.c.seq).where(S.c.id == bindparam("b_sid")).cte()
    taken = select(T.c.id).where(T.c.study_id == study.c.id, T.c.slot == offered.c.slot)
    first_free = (
        select(study.c.id, *(offered.c[c] for c in columns), study.c.next_number, study.c.seq + 1)
        .select_from(offered)
        .join(study, true())
        .where(~taken.exists())
        .order_by(offered.c.idx)
        .limit(1)
    )
    inserted = (
        T.insert()
        .from_select(["study_id", *columns, "number", "seq"], first_free)
        .returning(T.c.study_id, T.c.number, T.c.seq, T.c.slot, T.c.fidelity_increment)
        .cte("inserted")
    )
    return (
        update(S)
        .where(S.c.id == inserted.c.study_id)
        .values(
            seq=inserted.c.seq,
            next_number=inserted.c.number + 1,
            n_live=S.c.n_live + 1,
            fidelity_claimed=S.c.fidelity_claimed + inserted.c.fidelity_increment,
        )
        .returning(inserted.c.number, inserted.c.seq, inserted.c.slot)
    )


CLAIM_FIRST_FREE = _claim_first_free()


def _finish_in_one_statement() -> Update:
    """PostgreSQL: a finish as one statement, run on its own (autocommit).

    It locks the study row (``FOR UPDATE`` returns its newest version after the wait),
    records the result in the trial — ``WHERE`` the trial is still as the finish read it
    (status and worker), re-checked on its newest version — with the next ``seq``, and
    advances the counters only if the trial changed. No row back: the trial changed since the
    read (crash recovery), nothing was written, and the finish reads it again.
    """
    locked = select(S.c.id, S.c.seq).where(S.c.id == bindparam("b_sid")).with_for_update()
    locked_cte = locked.cte("locked")
    finished = (
        update(T)
        .where(
            T.c.study_id == locked_cte.c.id,
            T.c.id == bindparam("b_id"),
            T.c.status == bindparam("b_seen_status"),
            T.c.worker.is_not_distinct_from(bindparam("b_seen_worker", type_=T.c.worker.type)),
        )
        .values(**_result_values(seq=locked_cte.c.seq + 1))
        .returning(T.c.study_id, T.c.seq)
        .cte("finished")
    )
    return (
        update(S)
        .where(S.c.id == finished.c.study_id)
        .values(
            seq=finished.c.seq,
            n_live=S.c.n_live + bindparam("b_live"),
            n_finished=S.c.n_finished + 1,
            cost_spent=S.c.cost_spent + bindparam("b_cost_units"),
            fidelity_claimed=S.c.fidelity_claimed - bindparam("b_refund"),
            fidelity_spent=S.c.fidelity_spent + bindparam("b_fidelity"),
        )
        .returning(finished.c.seq)
    )


FINISH_IN_ONE_STATEMENT = _finish_in_one_statement()


def lock_study(conn: Connection, study_id: int) -> Totals:
    """Lock the study row for this transaction (``FOR UPDATE``) and return its totals."""
    return totals_from_row(conn.execute(SQL.lock, {"b_sid": study_id}).mappings().one())
