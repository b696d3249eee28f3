"""A frozen copy of the store's tables at schema version 1, to build real old stores in tests.

Never edit this file: it is what tunewise wrote before schema 2, and the migration tests check
that such a store is upgraded without losing anything.
"""

from __future__ import annotations

import json
import time

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
)

from tunewise.space import Space

metadata = MetaData()

meta = Table(
    "tw_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

studies = Table(
    "tw_studies",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("space", Text, nullable=False),
    Column("optimizer", Text, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("budget", Text, nullable=False),
    Column("settings", Text, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("seq", BigInteger, nullable=False, default=0),
    Column("next_number", Integer, nullable=False, default=0),
    Column("n_live", Integer, nullable=False, default=0),
    Column("n_finished", Integer, nullable=False, default=0),
    Column("cost_spent", Float, nullable=False, default=0.0),
    Column("fidelity_claimed", Float, nullable=False, default=0.0),
    Column("fidelity_spent", Float, nullable=False, default=0.0),
)

trials = Table(
    "tw_trials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("study_id", Integer, ForeignKey("tw_studies.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("slot", String(255), nullable=True),
    Column("status", String(16), nullable=False),
    Column("config", Text, nullable=False),
    Column("fidelity", Float, nullable=True),
    Column("fidelity_increment", Float, nullable=True),
    Column("objective", Float, nullable=True),
    Column("cost", Float, nullable=True),
    Column("learning_curve", Text, nullable=True),
    Column("info", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("worker", String(255), nullable=True),
    Column("heartbeat", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("started_at", Float, nullable=True),
    Column("finished_at", Float, nullable=True),
    Column("previous_trial", Integer, nullable=True),
    Column("retry_of", Integer, nullable=True),
    Column("retries", Integer, nullable=False, default=0),
    Column("seq", BigInteger, nullable=False),
    UniqueConstraint("study_id", "number", name="uq_tw_trials_number"),
    UniqueConstraint("study_id", "slot", name="uq_tw_trials_slot"),
    Index("ix_tw_trials_seq", "study_id", "seq"),
    Index("ix_tw_trials_status", "study_id", "status"),
)

# (status, objective, cost, worker): a result of each kind, a running trial and a queued one.
TRIALS = (
    ("succeeded", 0.25, 2.0, "old-worker"),
    ("failed", None, 1.0, "old-worker"),
    ("running", None, None, "old-worker"),
    ("pending", None, None, None),
)


def build_v1_store(url: str, space: Space, study: str) -> None:
    """Write a schema-1 store at ``url`` (a SQLAlchemy URL) holding one study with TRIALS."""
    engine = create_engine(url)
    now = time.time()
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            conn.execute(meta.insert().values(key="schema_version", value="1"))
            study_id = conn.execute(
                studies.insert().values(
                    name=study,
                    space=space.to_json(),
                    optimizer=json.dumps({"name": "random_search"}),
                    seed=3,
                    budget="{}",
                    settings="{}",
                    schema_version=1,
                    created_at=now,
                    seq=len(TRIALS),
                    next_number=len(TRIALS),
                    n_live=len(TRIALS),
                    n_finished=2,
                    cost_spent=3.0,
                    fidelity_claimed=float(len(TRIALS)),
                    fidelity_spent=2.0,
                )
            ).inserted_primary_key[0]
            for number, (status, objective, cost, worker) in enumerate(TRIALS):
                done = status in ("succeeded", "failed")
                conn.execute(
                    trials.insert().values(
                        study_id=study_id,
                        number=number,
                        slot=f"sample:{number}",
                        status=status,
                        config=json.dumps({"x": number / 10}),
                        fidelity=4.0,
                        fidelity_increment=1.0,
                        objective=objective,
                        cost=cost,
                        learning_curve="[[1,0.5]]" if done else None,
                        error="boom" if status == "failed" else None,
                        worker=worker,
                        heartbeat=now if worker else None,
                        created_at=now,
                        started_at=now if worker else None,
                        finished_at=now if done else None,
                        retries=0,
                        seq=number + 1,
                    )
                )
    finally:
        engine.dispose()
