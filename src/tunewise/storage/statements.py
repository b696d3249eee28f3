"""The hot-path SQL, built once with bound parameters.

Building a SQLAlchemy Core construct costs far more than running it on SQLite (~0.1 ms per
statement), so the per-trial statements are built here once and only executed per call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, Connection, bindparam, select, update

from tunewise.storage import schema
from tunewise.storage.records import Totals
from tunewise.storage.rows import totals_from_row
from tunewise.trial import TrialStatus

T = schema.trials
S = schema.studies


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


SQL = Statements()


def lock_study(conn: Connection, study_id: int) -> Totals:
    """Lock the study row for this transaction (``FOR UPDATE``) and return its totals."""
    return totals_from_row(conn.execute(SQL.lock, {"b_sid": study_id}).mappings().one())
