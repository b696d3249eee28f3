"""The early-stopping rules on constructed curves (no store, no runtime)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import tunewise as tw
from tunewise.optimizers.stopping_rules import (
    FinishedCurve,
    ModelRule,
    best_so_far,
    final_step,
    incumbent_value,
    median_rule,
    prepare,
)

# Five "others": error curves 1/(k + step) + offset, all reaching step 10.
OTHERS = [[(s, 0.1 * k + 1.0 / s) for s in range(1, 11)] for k in range(5)]
PREPARED = [prepare(c) for c in OTHERS]


def median_at(step: int) -> float:
    return float(np.median([np.mean([v for s, v in c if s <= step]) for c in OTHERS]))


def first_stop(curve: list[tuple[float, float]], **kwargs: float) -> float | None:
    """The first step of ``curve`` at which the median rule stops it (its points one by one)."""
    for i in range(1, len(curve) + 1):
        verdict = median_rule(curve[:i], PREPARED, **kwargs)  # type: ignore[arg-type]
        if verdict.stop:
            return verdict.step
    return None


def test_a_clearly_bad_curve_is_stopped_at_the_first_eligible_step() -> None:
    bad = [(s, 5.0) for s in range(1, 11)]
    assert first_stop(bad, min_steps=1, min_trials=5) == 1
    assert first_stop(bad, min_steps=3, min_trials=5) == 3  # the grace period


def test_a_good_curve_is_never_stopped() -> None:
    good = [(s, 0.5 / s) for s in range(1, 11)]
    assert first_stop(good, min_steps=1, min_trials=5) is None


def test_the_median_is_of_the_others_running_averages_and_a_tie_goes_on() -> None:
    step = 4
    median = median_at(step)
    tie = [(s, 9.0) for s in range(1, step)] + [(step, median)]
    verdict = median_rule(tie, PREPARED, min_steps=1, min_trials=5)
    assert not verdict.stop and verdict.step == step
    worse = [*tie[:-1], (step, median + 1e-9)]
    assert median_rule(worse, PREPARED, min_steps=1, min_trials=5).stop
    # Against the values at step 4 (not running averages), this curve would be far behind.
    at_step = float(np.median([dict(c)[step] for c in OTHERS]))
    assert at_step < median - 0.1


def test_the_trials_best_value_so_far_counts_not_its_last() -> None:
    # A trial that was good at step 2 and got worse is judged by its best value.
    curve = [(1, 0.9), (2, 0.2), (3, 5.0)]
    assert best_so_far(curve, 3) == 0.2
    assert not median_rule(curve, PREPARED, min_steps=1, min_trials=5).stop


def test_min_trials_counts_only_the_others_that_reached_the_step() -> None:
    bad = [(s, 5.0) for s in range(1, 8)]
    short = [prepare(c[:5]) for c in OTHERS]  # the others stopped at step 5
    assert median_rule(bad[:5], short, min_steps=1, min_trials=5).stop
    verdict = median_rule(bad[:6], short, min_steps=1, min_trials=5)
    assert not verdict.stop and "0 other trial(s) reached step 6" in verdict.reason
    assert not median_rule(bad[:1], PREPARED[:4], min_steps=1, min_trials=5).stop
    assert median_rule(bad[:1], PREPARED[:4], min_steps=1, min_trials=4).stop


def test_others_reporting_on_another_grid_are_compared_at_the_step() -> None:
    # Others that report every other step: a trial at step 3 uses their points at 1 and 2... up
    # to 3, i.e. step 2's running average, and they count as having reached step 3.
    sparse = [prepare([(s, v) for s, v in c if s % 2 == 0]) for c in OTHERS]
    assert sparse[0].mean_at(3) == pytest.approx(np.mean([OTHERS[0][1][1]]))
    assert sparse[0].mean_at(1) is None  # no point at or before step 1
    assert sparse[0].mean_at(11) is None  # not reached
    assert median_rule([(3, 5.0)], sparse, min_steps=1, min_trials=5).stop


def test_nan_values() -> None:
    diverged = [(1, math.nan), (2, math.inf)]
    verdict = median_rule(diverged, PREPARED, min_steps=1, min_trials=5)
    assert verdict.stop and "no finite value" in verdict.reason
    # ...even before enough others reached the step, but never in the grace period.
    assert median_rule(diverged, [], min_steps=1, min_trials=5).stop
    assert not median_rule(diverged, PREPARED, min_steps=3, min_trials=5).stop
    # A NaN point among finite ones is skipped for the trial itself...
    assert best_so_far([(1, 0.3), (2, math.nan)], 2) == 0.3
    # ...and counts as worse than anything in another trial's running average.
    nan_others = [prepare([(1, math.nan), (2, 0.0)]) for _ in range(3)] + PREPARED[:2]
    assert nan_others[0].mean_at(2) == math.inf
    assert not median_rule([(2, 50.0)], nan_others, min_steps=1, min_trials=5).stop


def test_an_empty_curve_is_never_stopped() -> None:
    assert not median_rule([], PREPARED, min_steps=0, min_trials=1).stop
    assert prepare([]).mean_at(1) is None


# -- the model rule -----------------------------------------------------------------------------

SPACE = tw.Space(x=tw.Float(0.0, 1.0))


def decaying(x: float, steps: range) -> list[tuple[float, float]]:
    """A curve that decays to ``x``: ``x + 0.5 / step``."""
    return [(float(s), x + 0.5 / s) for s in steps]


FINISHED = [
    FinishedCurve(number=i, config={"x": x}, curve=decaying(x, range(1, 11)))
    for i, x in enumerate([0.15, 0.3, 0.45, 0.6, 0.75, 0.9, 0.35, 0.55])
]
TARGET = final_step(max_fidelity=None, fidelity=None, finished=[f.curve for f in FINISHED])


def model_first_stop(rule: ModelRule, x: float) -> float | None:
    curve = decaying(x, range(1, 10))
    for i in range(1, len(curve) + 1):
        verdict = rule({"x": x}, curve[:i], FINISHED, target=TARGET)
        if verdict.stop:
            return verdict.step
    return None


def test_the_final_step_and_the_incumbent() -> None:
    assert TARGET == 10
    assert final_step(max_fidelity=27, fidelity=27, finished=[]) == 27
    assert final_step(max_fidelity=27, fidelity=9, finished=[[(1, 0.5), (12, 0.1)]]) == 12
    assert final_step(max_fidelity=None, fidelity=None, finished=[]) is None
    assert incumbent_value([f.curve for f in FINISHED], 10) == pytest.approx(0.15 + 0.05)
    # the curves that did not reach the step do not count; the last point before it does
    assert incumbent_value([[(1, 0.0)], [(2, 0.4), (5, 0.3)]], 4) == 0.4


def test_the_model_rule_stops_a_hopeless_curve_and_keeps_a_better_one() -> None:
    rule = ModelRule(SPACE, seed=0, p=0.05, min_steps=2, min_trials=5)
    assert model_first_stop(rule, 0.95) == 2  # the first eligible step
    assert model_first_stop(rule, 0.05) is None  # heading below the incumbent (0.2)
    verdict = rule({"x": 0.05}, decaying(0.05, range(1, 4)), FINISHED, target=TARGET)
    assert "P(value at step 10 < incumbent 0.2)" in verdict.reason


def test_the_model_rule_waits_for_min_trials_the_grace_period_and_an_incumbent() -> None:
    hopeless = decaying(0.95, range(1, 4))
    rule = ModelRule(SPACE, seed=0, p=0.05, min_steps=2, min_trials=5)
    assert not rule({"x": 0.95}, hopeless, FINISHED[:4], target=TARGET).stop
    assert not rule({"x": 0.95}, hopeless[:1], FINISHED, target=TARGET).stop
    assert not rule({"x": 0.95}, hopeless, FINISHED, target=11.0).stop  # nobody reached 11
    assert not rule({"x": 0.95}, hopeless, FINISHED, target=3.0).stop  # at the final step
    diverged = [(1.0, math.nan), (2.0, math.nan)]
    assert rule({"x": 0.95}, diverged, FINISHED, target=TARGET).stop


def test_the_model_rule_fits_once_per_set_of_finished_trials() -> None:
    rule = ModelRule(SPACE, seed=0, p=0.05, min_steps=1, min_trials=5)
    rule({"x": 0.5}, decaying(0.5, range(1, 3)), FINISHED, target=TARGET)
    fitted = rule._fitted
    rule({"x": 0.5}, decaying(0.5, range(1, 4)), FINISHED, target=TARGET)
    assert rule._fitted is fitted
    rule({"x": 0.5}, decaying(0.5, range(1, 4)), FINISHED[:-1], target=TARGET)
    assert rule._fitted is not fitted


def test_the_model_rule_handles_late_trials_beyond_the_training_cap() -> None:
    # 40 finished curves of 10 points from trials numbered in the thousands: more points than
    # max_points, so the training subset is drawn (its priorities indexed by dense point keys)
    finished = [
        FinishedCurve(number=5000 + 7 * i, config={"x": x}, curve=decaying(x, range(1, 11)))
        for i, x in enumerate(np.linspace(0.1, 0.9, 40))
    ]
    rule = ModelRule(SPACE, seed=0, p=0.05, min_steps=2, min_trials=5, max_points=100)
    verdict = rule({"x": 0.95}, decaying(0.95, range(1, 4)), finished, target=TARGET)
    assert verdict.stop
