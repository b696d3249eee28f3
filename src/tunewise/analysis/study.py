"""One study's trials as tidy tables: incumbent trace, learning curves, rungs, parallel coordinates.

Pure functions over a sequence of :class:`tunewise.trial.Trial` (and the study's
:class:`tunewise.space.Space` where values need it): the plots (:mod:`tunewise.plot`) and the
dashboard draw from the same tables, so the numbers in a figure and on a page agree. Each returns
a ``pandas.DataFrame`` with fixed columns, empty (with those columns) when nothing qualifies.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tunewise.trial import (
    Trial,
    TrialStatus,
    fidelity_units,
    incumbent,
    trials_by_number,
    used_fidelity,
)

if TYPE_CHECKING:
    from tunewise.space import Space

TRACE_COLUMNS = (
    "number",
    "elapsed",
    "budget",
    "objective",
    "fidelity",
    "best",
    "best_number",
    "best_fidelity",
)
CURVE_COLUMNS = ("number", "status", "fidelity", "step", "value")
RUNG_COLUMNS = (
    "number",
    "fidelity",
    "status",
    "objective",
    "sampled_from",
    "rung",
    "bracket",
    "previous_trial",
    "promoted_to",
)
SUMMARY_COLUMNS = ("fidelity", "trials", "succeeded", "running", "failed", "promoted")
PARALLEL_COLUMNS = ("number", "fidelity", "objective")


def _nan(value: float | int | None) -> float:
    return math.nan if value is None else float(value)


def _finish_order(trials: Sequence[Trial]) -> list[Trial]:
    """Finished trials (succeeded or failed) by finish time; ties and missing times by number."""
    done = [t for t in trials if t.finished]
    return sorted(done, key=lambda t: (t.finished_at is None, t.finished_at or 0.0, t.number))


def study_start(trials: Sequence[Trial]) -> float | None:
    """The earliest ``started_at`` (or ``created_at`` where a trial never started) of a study."""
    times = [
        t.started_at if t.started_at is not None else t.created_at
        for t in trials
        if t.started_at is not None or t.created_at is not None
    ]
    return min(t for t in times if t is not None) if times else None


def incumbent_trace(trials: Sequence[Trial], space: Space) -> pd.DataFrame:
    """The incumbent after each finished trial, in finish order.

    ``elapsed``: seconds from the study's start (:func:`study_start`) to the trial's finish;
    ``budget``: cumulative full-fidelity units (:func:`tunewise.trial.fidelity_units`, a
    continuation counting only what it adds, a trial stopped early only the steps it ran,
    :func:`tunewise.trial.used_fidelity`; crashed trials, which are run again, not counted);
    ``best``/``best_number``/``best_fidelity``: the incumbent by
    :func:`tunewise.trial.incumbent` (lowest objective at the highest fidelity reached so far),
    NaN (``best_number``: ``<NA>``) before the first success.
    """
    by_number = trials_by_number(trials)
    start = study_start(trials)
    rows: list[dict[str, Any]] = []
    spent = 0.0
    best: Trial | None = None
    for t in _finish_order(trials):
        previous = by_number.get(t.previous_trial) if t.previous_trial is not None else None
        used = used_fidelity(space, t)  # a trial stopped early counts the steps it ran
        spent += fidelity_units(space, used, None if previous is None else previous.fidelity)
        best = incumbent([best, t] if best is not None else [t])
        finished = t.finished_at
        rows.append(
            {
                "number": t.number,
                "elapsed": math.nan if finished is None or start is None else finished - start,
                "budget": spent,
                "objective": _nan(t.objective),
                "fidelity": _nan(t.fidelity),
                "best": math.nan if best is None else _nan(best.objective),
                "best_number": None if best is None else best.number,
                "best_fidelity": math.nan if best is None else _nan(best.fidelity),
            }
        )
    frame = pd.DataFrame(rows, columns=list(TRACE_COLUMNS))
    frame["number"] = frame["number"].astype("int64")
    frame["best_number"] = frame["best_number"].astype("Int64")
    for column in ("elapsed", "budget", "objective", "fidelity", "best", "best_fidelity"):
        frame[column] = frame[column].astype("float64")
    return frame


def learning_curves(trials: Sequence[Trial]) -> pd.DataFrame:
    """Every reported ``(step, value)`` point of every trial (running ones too), long format."""
    with_curves = [t for t in trials if t.learning_curve]
    lengths = [len(t.learning_curve) for t in with_curves]
    points = [point for t in with_curves for point in t.learning_curve]
    columns = {
        "number": np.repeat([t.number for t in with_curves], lengths).astype(np.int64),
        "status": np.repeat([t.status.value for t in with_curves], lengths).astype(object),
        "fidelity": np.repeat([_nan(t.fidelity) for t in with_curves], lengths).astype(float),
        "step": np.array([p[0] for p in points], dtype=float),
        "value": np.array([p[1] for p in points], dtype=float),
    }
    return pd.DataFrame(columns, columns=list(CURVE_COLUMNS))


def chain_curve(trials: Sequence[Trial], number: int) -> pd.DataFrame:
    """The whole learning curve of trial ``number``'s configuration across its chain.

    A configuration continued step by step (freeze-thaw, promotions) spreads its curve over
    several trials, each reporting what it added; this joins them from the chain's first trial
    down to ``number`` (:func:`chain`), one row per step (``number`` = the trial that reported
    it, a later trial's point replacing an earlier one's at the same step), sorted by step.
    Columns: ``number``, ``fidelity`` (that trial's), ``step``, ``value``.
    """
    by_number = trials_by_number(trials)
    points: dict[float, tuple[int, float, float]] = {}
    for n in chain(trials, number):
        t = by_number[n]
        for step, value in t.learning_curve:
            points[step] = (n, _nan(t.fidelity), value)
    steps = sorted(points)
    return pd.DataFrame(
        {
            "number": np.array([points[s][0] for s in steps], dtype=np.int64),
            "fidelity": np.array([points[s][1] for s in steps], dtype=float),
            "step": np.array(steps, dtype=float),
            "value": np.array([points[s][2] for s in steps], dtype=float),
        }
    )


def _config_key(trial: Trial) -> str:
    return json.dumps(dict(trial.config), sort_keys=True, default=str)


def _promotions(live: Sequence[Trial]) -> dict[int, int]:
    """Trial number -> the number of the trial that continued it at a higher fidelity.

    A continuation names its ``previous_trial``; a promotion that restarts from scratch (no
    checkpoint) is recognised by the same config at the next higher fidelity with
    ``info["sampled_from"] == "promotion"``. The lowest number wins where several qualify.
    """
    promoted: dict[int, int] = {}
    for t in sorted(live, key=lambda t: t.number):
        if t.previous_trial is not None:
            promoted.setdefault(t.previous_trial, t.number)
    restarts: dict[str, list[Trial]] = {}
    for t in live:
        if t.previous_trial is None and t.info.get("sampled_from") == "promotion":
            restarts.setdefault(_config_key(t), []).append(t)
    if not restarts:
        return promoted
    for t in live:
        if t.number in promoted or t.fidelity is None:
            continue
        fidelity = t.fidelity
        higher = [
            r
            for r in restarts.get(_config_key(t), ())
            if r.fidelity is not None and r.fidelity > fidelity
        ]
        if higher:
            lowest = min(r.fidelity for r in higher if r.fidelity is not None)
            promoted[t.number] = min(r.number for r in higher if r.fidelity == lowest)
    return promoted


def rungs(trials: Sequence[Trial]) -> pd.DataFrame:
    """One row per trial that did not crash: its fidelity, where it came from, where it went.

    ``sampled_from``, ``rung`` and ``bracket`` come from the optimizer's ``trial.info`` (None
    where absent); ``promoted_to`` is the trial that continued this one (see :func:`_promotions`).
    """
    live = [t for t in trials if t.status is not TrialStatus.CRASHED]
    promoted = _promotions(live)
    rows = [
        {
            "number": t.number,
            "fidelity": _nan(t.fidelity),
            "status": t.status.value,
            "objective": _nan(t.objective),
            "sampled_from": t.info.get("sampled_from"),
            "rung": t.info.get("rung"),
            "bracket": t.info.get("bracket"),
            "previous_trial": t.previous_trial,
            "promoted_to": promoted.get(t.number),
        }
        for t in live
    ]
    frame = pd.DataFrame(rows, columns=list(RUNG_COLUMNS))
    frame["number"] = frame["number"].astype("int64")
    for column in ("rung", "bracket", "previous_trial", "promoted_to"):
        frame[column] = frame[column].astype("Int64")
    for column in ("fidelity", "objective"):
        frame[column] = frame[column].astype("float64")
    frame["sampled_from"] = frame["sampled_from"].astype("object")
    return frame


def rung_summary(trials: Sequence[Trial]) -> pd.DataFrame:
    """Per fidelity value (ascending; NaN for trials without one, last): how many trials ran
    there, how they ended and how many were promoted. Crashed trials are not counted."""
    table = rungs(trials)
    rows = []
    for fidelity, group in table.groupby("fidelity", dropna=False, sort=True):
        status = group["status"]
        rows.append(
            {
                "fidelity": fidelity,
                "trials": len(group),
                "succeeded": int((status == TrialStatus.SUCCEEDED.value).sum()),
                "running": int((status == TrialStatus.RUNNING.value).sum()),
                "failed": int((status == TrialStatus.FAILED.value).sum()),
                "promoted": int(group["promoted_to"].notna().sum()),
            }
        )
    frame = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    frame["fidelity"] = frame["fidelity"].astype("float64")
    for column in SUMMARY_COLUMNS[1:]:
        frame[column] = frame[column].astype("int64")
    return frame


def parameter_names(space: Space) -> list[str]:
    """The searched parameters in the space's order: numbers, categoricals and architectures
    (the fidelity and constants are not searched)."""
    searched = set(space.searchable) | set(space.architectures)
    return [name for name in space.parameters if name in searched]


def parallel_coordinates(trials: Sequence[Trial], space: Space) -> pd.DataFrame:
    """Succeeded trials with one column per searched parameter (:func:`parameter_names`).

    Floats stay floats, integers are ``Int64`` (``<NA>`` where inactive); categorical and
    architecture values become strings (a choice of ``True`` reads ``"True"``), None where
    inactive.
    """
    names = parameter_names(space)
    floats = {n for n, p in space.searchable.items() if p.type_name == "float"}
    integers = {n for n, p in space.searchable.items() if p.type_name == "integer"}
    numeric = floats | integers
    rows = []
    for t in trials:
        if t.status is not TrialStatus.SUCCEEDED:
            continue
        row: dict[str, Any] = {
            "number": t.number,
            "fidelity": _nan(t.fidelity),
            "objective": _nan(t.objective),
        }
        for name in names:
            value = t.config.get(name)
            if name in numeric:
                row[name] = value
            else:
                row[name] = None if value is None else str(value)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*PARALLEL_COLUMNS, *names])
    frame["number"] = frame["number"].astype("int64")
    for column in ("fidelity", "objective", *sorted(floats)):
        frame[column] = frame[column].astype("float64")
    for column in integers:
        frame[column] = frame[column].astype("Int64")
    for name in names:
        if name not in numeric:
            frame[name] = frame[name].astype("object")
    return frame


def chain(trials: Sequence[Trial], number: int) -> list[int]:
    """Trial numbers from the first ancestor (following ``previous_trial``) down to ``number``.

    Raises ``KeyError`` for a number that is not among ``trials``; an ancestor that is missing
    (not among ``trials``) ends the chain there.
    """
    by_number = trials_by_number(trials)
    if number not in by_number:
        raise KeyError(f"no trial number {number}")
    out = [number]
    seen = {number}
    current = by_number[number].previous_trial
    while current is not None and current not in seen and current in by_number:
        out.append(current)
        seen.add(current)
        current = by_number[current].previous_trial
    return out[::-1]
