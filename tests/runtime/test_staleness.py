"""Silence of a heartbeat as one observer saw it (tunewise.runtime.staleness)."""

from __future__ import annotations

import pytest

from tunewise.runtime.staleness import SilenceWatch


def watch_every(
    watch: SilenceWatch, beats: dict[int, float | None], start: float, stop: float, step: float
) -> dict[float, dict[int, float | None]]:
    """Observe the same ``beats`` every ``step`` seconds from ``start`` to ``stop``."""
    found = {}
    now = start
    while now <= stop + 1e-9:
        found[round(now, 6)] = watch.observe(beats, now)
        now += step
    return found


def test_a_beat_unchanged_through_stale_after_of_watching_is_silent() -> None:
    watch = SilenceWatch(stale_after=2.0)
    found = watch_every(watch, {0: 100.0, 1: None}, 10.0, 12.0, 0.5)
    assert all(not silent for now, silent in found.items() if now < 12.0)
    assert found[12.0] == {0: 100.0, 1: None}  # the values kept, for the compare-and-set


def test_the_heartbeat_values_are_not_read_as_times() -> None:
    watch = SilenceWatch(stale_after=2.0)
    # A heartbeat from long ago (or from a clock far behind) is not silence yet.
    assert watch.observe({0: 1.0}, 1e9) == {}
    assert watch.observe({0: 1.0}, 1e9 + 1.0) == {}
    assert watch.observe({0: 1.0}, 1e9 + 2.0) == {0: 1.0}


def test_a_changed_beat_restarts_its_clock_only() -> None:
    watch = SilenceWatch(stale_after=2.0)
    watch_every(watch, {0: 5.0, 1: 7.0}, 0.0, 1.5, 0.5)
    assert watch.observe({0: 6.0, 1: 7.0}, 2.0) == {1: 7.0}  # 0 beat at the last moment
    found = watch_every(watch, {0: 6.0, 1: 7.0}, 2.5, 4.0, 0.5)
    assert found[3.5] == {1: 7.0} and found[4.0] == {0: 6.0, 1: 7.0}


def test_a_trial_first_seen_later_has_its_own_clock() -> None:
    watch = SilenceWatch(stale_after=2.0)
    watch_every(watch, {0: 5.0}, 0.0, 1.5, 0.5)
    assert watch.observe({0: 5.0, 1: None}, 2.0) == {0: 5.0}
    found = watch_every(watch, {0: 5.0, 1: None}, 2.5, 4.0, 0.5)
    assert found[3.5] == {0: 5.0} and found[4.0] == {0: 5.0, 1: None}


def test_a_trial_that_left_and_came_back_starts_again() -> None:
    watch = SilenceWatch(stale_after=2.0)
    watch_every(watch, {0: 5.0}, 0.0, 1.5, 0.5)
    assert watch.observe({}, 1.75) == {}  # finished (or re-queued) and forgotten
    found = watch_every(watch, {0: 5.0}, 2.0, 4.0, 0.25)
    assert found[3.75] == {} and found[4.0] == {0: 5.0}


def test_a_gap_in_the_watching_restarts_every_clock() -> None:
    watch = SilenceWatch(stale_after=2.0)
    watch_every(watch, {0: 5.0, 1: None}, 0.0, 1.5, 0.5)
    # The observer was held up (an outage it retried through) for more than stale_after / 2:
    # what it saw before says nothing about the time in between.
    assert watch.observe({0: 5.0, 1: None}, 30.0) == {}
    found = watch_every(watch, {0: 5.0, 1: None}, 30.5, 32.0, 0.5)
    assert found[31.5] == {} and found[32.0] == {0: 5.0, 1: None}


def test_a_gap_of_at_most_half_stale_after_is_still_watching() -> None:
    watch = SilenceWatch(stale_after=2.0)
    assert watch.observe({0: 5.0}, 0.0) == {}
    assert watch.observe({0: 5.0}, 1.0) == {}
    assert watch.observe({0: 5.0}, 2.0) == {0: 5.0}


def test_after_a_restart_the_clocks_start_grace_seconds_late() -> None:
    # Workers come back from an outage through their own retry backoff, up to grace later.
    watch = SilenceWatch(stale_after=2.0, grace=1.5)
    found = watch_every(watch, {0: 5.0}, 0.0, 4.0, 0.5)
    assert found[3.0] == {} and found[3.5] == {0: 5.0}
    assert watch.observe({0: 5.0}, 60.0) == {}  # a gap: late again
    found = watch_every(watch, {0: 5.0}, 60.5, 63.5, 0.5)
    assert found[63.0] == {} and found[63.5] == {0: 5.0}
    # A trial first seen without a restart starts at once; one that beats restarts at once.
    assert watch.observe({0: 6.0, 1: None}, 64.0) == {}
    found = watch_every(watch, {0: 6.0, 1: None}, 64.5, 66.0, 0.5)
    assert found[65.5] == {} and found[66.0] == {0: 6.0, 1: None}


@pytest.mark.parametrize(
    ("stale_after", "grace", "message"),
    [(0.0, 0.0, "stale_after must be > 0"), (1.0, -1.0, "grace must be >= 0")],
)
def test_bad_settings_are_refused(stale_after: float, grace: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        SilenceWatch(stale_after=stale_after, grace=grace)
