"""A run whose trials keep failing stops, naming the first error, instead of burning its budget."""

from __future__ import annotations

import time

import pytest

import tunewise as tw
from tests.runtime import objectives
from tunewise.runtime.failures import TooManyFailures

SPACE = tw.Space(x=tw.Float(-5.0, 5.0))


def _run(root, evaluate=objectives.always_fails, **options):  # type: ignore[no-untyped-def]
    options = {"budget": 40, "optimizer": "random_search", "seed": 0, "progress": False, **options}
    return tw.run(evaluate, SPACE, root=root, **options)


def test_every_trial_failing_stops_after_ten_with_the_first_error(tmp_path) -> None:
    with pytest.raises(TooManyFailures, match="10 consecutive failed trials") as caught:
        _run(tmp_path / "r")
    assert "trial 0" in str(caught.value) and "no such file: data-0.csv" in str(caught.value)
    counts = tw.load(tmp_path / "r").counts
    assert counts["failed"] == 10 and counts["succeeded"] == 0  # not the budget's 40


def test_a_success_breaks_the_streak_and_none_never_stops(tmp_path) -> None:
    # fails_on_negative fails on about half the draws: no run of 3 in a row lasts 40 trials
    # for every seed, but a limit of None never stops whatever happens.
    result = _run(tmp_path / "n", objectives.always_fails, max_consecutive_failures=None)
    assert result.counts["failed"] == 40
    mixed = _run(tmp_path / "m", objectives.fails_on_negative, max_consecutive_failures=8)
    assert mixed.counts["succeeded"] + mixed.counts["failed"] == 40


def test_failures_before_a_resume_do_not_count(tmp_path) -> None:
    with pytest.raises(TooManyFailures):
        _run(tmp_path / "r", max_consecutive_failures=3)
    result = _run(tmp_path / "r", objectives.quadratic, max_consecutive_failures=3, budget=8)
    assert result.counts == {**result.counts, "failed": 3, "succeeded": 5}


@pytest.mark.slow
def test_the_streak_is_counted_across_worker_processes(tmp_path) -> None:
    started = time.monotonic()
    with pytest.raises(TooManyFailures, match="4 consecutive"):
        _run(tmp_path / "w", workers=2, max_consecutive_failures=4)
    failed = tw.load(tmp_path / "w").counts["failed"]
    assert 4 <= failed < 8, failed  # per process, each of the two would have failed 4
    assert time.monotonic() - started < 30


def test_bad_limit_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="max_consecutive_failures must be"):
        _run(tmp_path / "b", max_consecutive_failures=0)
