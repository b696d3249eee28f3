"""The early-stopping rules on constructed curves (no store, no runtime)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunewise.optimizers.stopping_rules import best_so_far, median_rule, prepare

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
