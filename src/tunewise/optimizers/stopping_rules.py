"""Early-stopping rules: should a running trial stop, judged from learning curves?

Pure functions over curves (``(step, value)`` pairs, the objective minimized), without storage
or runtime: the runtime (:mod:`tunewise.runtime.early_stopping`) reads the study's trials and
asks here each time a trial reports a point. They live beside the optimizers because they are
the other half of a scheduler (Syne Tune's split: the searcher says what to try, the scheduler
whether to go on) and read the same plain data (configurations, curves); like optimizers they
may use :mod:`tunewise.models`.

- :func:`median_rule` -- the median stopping rule of Google Vizier (Golovin et al., 2017,
  "Google Vizier: A Service for Black-Box Optimization", KDD, section 3.2.2): stop a trial at
  step ``s`` when its best value up to ``s`` is strictly worse than the median, over the other
  trials that reached ``s``, of their running averages up to ``s``. The running average (not
  the value at ``s``, as Optuna's ``MedianPruner`` takes) is the paper's choice: it is robust to
  one noisy point and it is lenient with curves that start slowly, so the rule stops only
  trials that are behind for a while.

Verdicts are :class:`Verdict` values; a rule never stops before ``min_steps`` (the grace
period) nor without ``min_trials`` other trials to compare with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["PreparedCurve", "Verdict", "best_so_far", "median_rule", "prepare"]

Point = tuple[float, float]
Array = NDArray[np.float64]


@dataclass(frozen=True)
class Verdict:
    """A rule's answer for a trial at ``step``: ``stop`` or not, and why (for logs and info)."""

    stop: bool
    step: float
    reason: str


@dataclass(frozen=True)
class PreparedCurve:
    """One curve made ready for lookups by step: ``steps`` (k,) ascending and ``running_mean``
    (k,), the mean of the values at ``steps[: i + 1]``, non-finite values counted as ``+inf``
    (a diverged curve is worse than any). Prepare a finished trial's curve once and keep it."""

    steps: Array
    running_mean: Array

    @property
    def last_step(self) -> float:
        return float(self.steps[-1]) if len(self.steps) else -math.inf

    def mean_at(self, step: float) -> float | None:
        """The running average up to ``step``; None if the curve did not reach ``step`` (or has
        no point at or before it)."""
        if self.last_step < step:
            return None
        i = int(np.searchsorted(self.steps, step, side="right"))
        return float(self.running_mean[i - 1]) if i > 0 else None


def prepare(curve: Sequence[Point]) -> PreparedCurve:
    """A :class:`PreparedCurve` of ``curve`` (points in any order; a stable sort by step)."""
    if not curve:
        return PreparedCurve(np.empty(0), np.empty(0))
    points = np.asarray(curve, dtype=np.float64).reshape(-1, 2)
    order = np.argsort(points[:, 0], kind="stable")
    steps, values = points[order, 0], points[order, 1]
    values = np.where(np.isfinite(values), values, np.inf)
    with np.errstate(invalid="ignore"):
        running = np.cumsum(values) / np.arange(1, len(values) + 1)
    return PreparedCurve(steps, np.where(np.isnan(running), np.inf, running))


def best_so_far(curve: Sequence[Point], step: float) -> float:
    """The lowest finite value at steps up to ``step``; NaN when there is none (diverged)."""
    values = [v for s, v in curve if s <= step and math.isfinite(v)]
    return min(values) if values else math.nan


def median_rule(
    curve: Sequence[Point],
    others: Sequence[PreparedCurve],
    *,
    min_steps: float,
    min_trials: int,
) -> Verdict:
    """Vizier's median rule for a trial whose points so far are ``curve`` (its last point is the
    step judged) against the other trials' prepared curves.

    Stops when the trial's best value up to its last step ``s`` is strictly worse than the
    median of the running averages up to ``s`` of the ``others`` that reached ``s`` (a tie goes
    on), once ``s >= min_steps`` and at least ``min_trials`` others reached ``s``. A trial
    without a finite value yet (NaN or infinite losses: it diverged) is stopped once past the
    grace period, whatever the others did.
    """
    if not curve:
        return Verdict(False, math.nan, "no point reported yet")
    step = float(curve[-1][0])
    if step < min_steps:
        return Verdict(False, step, f"step {step:g} is before min_steps={min_steps:g}")
    best = best_so_far(curve, step)
    if math.isnan(best):
        return Verdict(True, step, f"no finite value up to step {step:g}")
    means = [m for m in (o.mean_at(step) for o in others) if m is not None]
    if len(means) < min_trials:
        return Verdict(
            False,
            step,
            f"{len(means)} other trial(s) reached step {step:g}, fewer than {min_trials}",
        )
    median = float(np.median(means))
    stop = best > median
    relation = ">" if stop else "<="
    return Verdict(
        stop,
        step,
        f"best {best:.6g} {relation} median {median:.6g} of {len(means)} running averages at "
        f"step {step:g}",
    )
