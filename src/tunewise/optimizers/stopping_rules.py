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

- :class:`ModelRule` -- stop a trial when a learning-curve GP over (configuration, step)
  (:mod:`tunewise.models.curves`), fitted to the finished trials' curve points and conditioned
  on the trial's own points, gives its value at the final step a probability below ``p`` of
  beating the incumbent's value there (the probabilistic stopping of Swersky et al., 2014,
  "Freeze-Thaw Bayesian Optimization", and Domhan et al., 2015, "Speeding up Automatic
  Hyperparameter Optimization of Deep Neural Networks by Extrapolation of Learning Curves",
  with the shared curve GP instead of their parametric curve ensembles). The fit is redone only
  when the set of finished trials changes; a judgement conditions the fitted GP on the trial's
  points (its hyperparameters fixed) and predicts one value.

Verdicts are :class:`Verdict` values; a rule never stops before ``min_steps`` (the grace
period) nor without ``min_trials`` other trials to compare with.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

if TYPE_CHECKING:
    from tunewise.space import Space

__all__ = [
    "FinishedCurve",
    "ModelRule",
    "PreparedCurve",
    "Verdict",
    "best_so_far",
    "final_step",
    "incumbent_value",
    "median_rule",
    "prepare",
]

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


# -- the model rule ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FinishedCurve:
    """A finished trial's curve for the model rule: its ``number`` (names its points), its
    ``config`` (without the fidelity) and its ``curve``."""

    number: int
    config: Mapping[str, Any]
    curve: Sequence[Point]


def final_step(
    *,
    max_fidelity: float | None,
    fidelity: float | None,
    finished: Sequence[Sequence[Point]],
) -> float | None:
    """The step whose value the model rule predicts: the space's maximum fidelity for a trial
    that runs to it, else the largest step any finished curve reached (None: none yet)."""
    if max_fidelity is not None and fidelity is not None and float(fidelity) >= max_fidelity:
        return float(max_fidelity)
    last = [max(s for s, _ in c) for c in finished if c]
    return max(last) if last else None


def incumbent_value(curves: Sequence[Sequence[Point]], step: float) -> float | None:
    """The lowest finite value at ``step`` (each curve's last point at or before it) among the
    curves that reached ``step``; None when none did."""
    best: float | None = None
    for curve in curves:
        if not curve or max(s for s, _ in curve) < step:
            continue
        before = [(s, v) for s, v in curve if s <= step]
        if not before:
            continue
        value = max(before, key=lambda p: p[0])[1]
        if math.isfinite(value) and (best is None or value < best):
            best = value
    return best


class ModelRule:
    """Stop a trial whose predicted value at the final step beats the incumbent's with
    probability below ``p`` (see the module docstring).

    The GP is fitted (:func:`tunewise.models.gp.fitted_model`, the curve rows of
    :class:`tunewise.models.curves.CurveRows`, BoTorch's default GP with the log-step as one more
    input) on the finished trials' points and kept until that set or the step range changes;
    at most ``max_points`` points train it. ``seed`` makes the fits reproducible.
    """

    def __init__(
        self,
        space: Space,
        *,
        seed: int,
        p: float,
        min_steps: float,
        min_trials: int,
        max_points: int = 300,
    ) -> None:
        self.space = space
        self.seed = seed
        self.p = p
        self.min_steps = min_steps
        self.min_trials = min_trials
        self.max_points = max_points
        self._key: tuple[Any, ...] | None = None
        self._fitted: Any = None  # for self._key: rows, train x (m, d + 1), y (m,), hyperparameters
        self._fit_cache: Any = None

    def __call__(
        self,
        config: Mapping[str, Any],
        curve: Sequence[Point],
        finished: Sequence[FinishedCurve],
        *,
        target: float | None,
    ) -> Verdict:
        """The verdict on a trial of ``config`` with points ``curve`` so far, whose value at step
        ``target`` (:func:`final_step`) is predicted from the ``finished`` curves."""
        if not curve:
            return Verdict(False, math.nan, "no point reported yet")
        step = float(curve[-1][0])
        if step < self.min_steps:
            return Verdict(False, step, f"step {step:g} is before min_steps={self.min_steps:g}")
        own = [(float(s), float(v)) for s, v in curve if math.isfinite(v)]
        if not own:
            return Verdict(True, step, f"no finite value up to step {step:g}")
        usable = [f for f in finished if f.curve]
        if len(usable) < self.min_trials:
            return Verdict(
                False,
                step,
                f"{len(usable)} finished trial(s) with curves, fewer than {self.min_trials}",
            )
        if target is None or step >= target:
            return Verdict(False, step, "at or past the final step")
        incumbent = incumbent_value([f.curve for f in usable], target)
        if incumbent is None:
            return Verdict(False, step, f"no finished trial reached step {target:g}")
        mean, std = self._predict(config, own, usable, target)
        if std > 0:
            probability = float(norm.cdf((incumbent - mean) / std))
        else:
            probability = 1.0 if mean < incumbent else 0.0
        stop = probability < self.p
        relation = "<" if stop else ">="
        return Verdict(
            stop,
            step,
            f"P(value at step {target:g} < incumbent {incumbent:.6g}) = {probability:.3g} "
            f"{relation} p={self.p:g} (predicted {mean:.6g} +- {std:.3g})",
        )

    def _predict(
        self,
        config: Mapping[str, Any],
        own: Sequence[Point],
        finished: Sequence[FinishedCurve],
        target: float,
    ) -> tuple[float, float]:
        """Mean and standard deviation of ``config``'s value at ``target``, given its ``own``
        finite points, from the GP on the finished points conditioned on them."""
        from tunewise.models import gp
        from tunewise.models.curves import CurveModel

        rows, train_x, train_y, hyperparameters = self._model(finished, target)
        steps = np.array([s for s, _ in own])
        values = np.array([v for _, v in own])
        # the finished points plus the trial's own, under the fitted hyperparameters: the GP
        # conditioned on the own points (one Cholesky factor, no fit)
        x = np.vstack([train_x, rows.rows([config] * len(own), steps)])
        model = gp.build_model_with_fidelity(x, np.concatenate([train_y, values]), rows.encoding)
        gp.load_hyperparameters(model, hyperparameters)
        model.eval()
        curves = CurveModel(rows=rows, model=gp.CachedPosterior(model), train_points=len(x))
        mean, std = curves.predict([config], np.array([target]))
        return float(mean[0]), float(std[0])

    def _model(self, finished: Sequence[FinishedCurve], target: float) -> Any:
        """The curve rows, the training rows (m, d + 1) and objectives (m,) and the
        hyperparameters of the GP fitted on ``finished``'s points (kept while the finished
        trials and the step range stay the same)."""
        from tunewise.models import gp
        from tunewise.models.curves import CurveRows

        points = [(f, float(s), float(v)) for f in finished for s, v in f.curve]
        positive = [s for _, s, _ in points if s > 0]
        step_range = (min(min(positive, default=1.0), target), target)
        key = (tuple(f.number for f in finished), step_range)
        if self._key != key:
            rows = CurveRows.of(self.space, step_range)
            configs = [f.config for f, _, _ in points]
            steps = np.array([s for _, s, _ in points])
            y = gp.impute_failures(np.array([v for _, _, v in points]))
            # a point's key: its index with the finished curves in trial-number order (dense, so
            # the training subset's priorities stay an array of n; stable as trials finish)
            order = sorted(range(len(finished)), key=lambda i: finished[i].number)
            start = np.cumsum([0] + [len(finished[i].curve) for i in order])
            first = {order[j]: int(start[j]) for j in range(len(order))}
            keys = np.array(
                [first[k] + i for k, f in enumerate(finished) for i in range(len(f.curve))],
                dtype=np.int64,
            )
            if self._fit_cache is None:
                self._fit_cache = gp.FitCache()
            model, train_x, train_y = gp.fitted_model(
                rows.rows(configs, steps),
                y,
                rows.encoding,
                keys=keys,
                seed=self.seed,
                max_points=self.max_points,
                cache=self._fit_cache,
                build=gp.build_model_with_fidelity,
            )
            fitted = (rows, train_x, train_y, gp.hyperparameters(model))
            self._key, self._fitted = key, fitted
        return self._fitted
