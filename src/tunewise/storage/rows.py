"""Rows to records and back: JSON encoding of stored values, and the records built from rows."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from tunewise.space import Space
from tunewise.storage.records import StudyRecord, Totals
from tunewise.trial import Trial, TrialStatus

Row = Mapping[Any, Any]
"""A row as SQLAlchemy returns it (``RowMapping``), or a dict of column values."""


def dumps(value: Any) -> str:
    """Compact JSON for a stored value (numpy scalars and arrays become lists and numbers)."""
    return json.dumps(value, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays in user-returned info
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def trial_from_row(row: Row, *, integer_fidelity: bool) -> Trial:
    """The frozen :class:`Trial` of a ``tw_trials`` row (an integer fidelity comes back an int)."""
    fidelity = row.get("fidelity")
    if fidelity is not None and integer_fidelity:
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
        learning_curve=tuple((p[0], p[1]) for p in json.loads(curve)) if curve else (),
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


def totals_from_row(row: Row) -> Totals:
    """The running totals kept in a ``tw_studies`` row."""
    return Totals(
        seq=row["seq"],
        next_number=row["next_number"],
        n_live=row["n_live"],
        n_finished=row["n_finished"],
        cost_spent=row["cost_spent"],
        fidelity_claimed=row["fidelity_claimed"],
        fidelity_spent=row["fidelity_spent"],
    )


def study_record_from_row(row: Row) -> StudyRecord:
    """The identity and settings kept in a ``tw_studies`` row."""
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


def finite_or_zero(value: float | None) -> float:
    """``value`` for the running totals: a missing, NaN or infinite one counts 0."""
    return value if value is not None and math.isfinite(value) else 0.0
