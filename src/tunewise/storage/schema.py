"""The store's tables: one schema for SQLite and PostgreSQL, written with SQLAlchemy Core.

Every change to a trial bumps the study's change counter ``seq`` and stamps the trial with it, so a
worker reads only the trials changed since its last read (cost grows with changes, not study size).
The study row doubles as the study lock and holds running totals that budgets are checked against.

Why an incremental read never misses a change: ``seq`` is advanced on the study row, whose row
lock the writer holds until it commits, so changes commit in ``seq`` order; a reader that saw
``seq = k`` has seen every change up to ``k``. (A non-transactional sequence would not do: two
writers could commit out of order, and a reader could skip the later-committing one for good.)
"""

from __future__ import annotations

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
)

SCHEMA_VERSION = 2
"""Bump on any change to the tables below, and add a step to ``migrations.STEPS``."""

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
    # Running totals, updated in the same transaction as the trials they count.
    Column("seq", BigInteger, nullable=False, default=0),
    Column("next_number", Integer, nullable=False, default=0),
    Column("n_live", Integer, nullable=False, default=0),
    Column("n_finished", Integer, nullable=False, default=0),
    Column("cost_spent", Float, nullable=False, default=0.0),
    # Fidelity in full-fidelity units (one evaluation at the maximum fidelity = 1; a continuation
    # counts only the fidelity it adds): claimed by started trials, spent by finished ones.
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
    # Schema 2 (last, where ALTER TABLE ADD COLUMN puts it): the accelerator the trial ran on.
    Column("device", String(64), nullable=True),
    UniqueConstraint("study_id", "number", name="uq_tw_trials_number"),
    # A crashed trial hands its slot to its retry by setting its own slot to NULL.
    UniqueConstraint("study_id", "slot", name="uq_tw_trials_slot"),
    Index("ix_tw_trials_seq", "study_id", "seq"),
    Index("ix_tw_trials_status", "study_id", "status"),
)
