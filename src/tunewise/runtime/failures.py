"""Stopping a run whose trials keep failing: a streak of failures read from the store.

A run in which every trial fails (a typo in the objective, a missing file) would otherwise burn
its whole budget and exit as if all went well. The streak is counted over every worker's trials
in the store (not per process), among trials started since ``since`` (the run's start), so that
a resume after the objective was fixed is not stopped by the failures that made the user fix it.
"""

from __future__ import annotations

from collections.abc import Iterable

from tunewise.trial import Trial, TrialStatus

DEFAULT_MAX_CONSECUTIVE_FAILURES = 10


class TooManyFailures(RuntimeError):
    """``limit`` trials in a row failed; the run stopped. ``first`` is the streak's first."""

    def __init__(self, limit: int, first: Trial) -> None:
        first_line = (first.error or "").splitlines()[0] if first.error else "(no error text)"
        super().__init__(
            f"stopped after {limit} consecutive failed trials; the first, trial {first.number}, "
            f"failed with: {first_line} (see `tunewise status ROOT --trial {first.number}` for "
            "its traceback; max_consecutive_failures=None never stops)"
        )
        self.limit = limit
        self.first = first

    def __reduce__(self) -> tuple[type, tuple[int, Trial]]:  # travels back from Dask tasks
        return (type(self), (self.limit, self.first))


def check_max_consecutive_failures(value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"max_consecutive_failures must be an integer >= 1 or None, not {value!r}")


def failure_streak(trials: Iterable[Trial], *, since: float) -> list[Trial]:
    """The failed trials that finished last, in a row, among those started at or after ``since``
    (in the order they finished; crashed trials are retried, so they do not count)."""
    finished = sorted(
        (
            t
            for t in trials
            if t.status in (TrialStatus.SUCCEEDED, TrialStatus.FAILED)
            and (t.started_at or 0.0) >= since
        ),
        key=lambda t: (t.finished_at or 0.0, t.number),
    )
    streak: list[Trial] = []
    for t in reversed(finished):
        if t.status is not TrialStatus.FAILED:
            break
        streak.append(t)
    return streak[::-1]


def raise_if_too_many_failures(trials: Iterable[Trial], *, limit: int | None, since: float) -> None:
    """Raise :class:`TooManyFailures` when the last ``limit`` finished trials all failed."""
    if limit is None:
        return
    streak = failure_streak(trials, since=since)
    if len(streak) >= limit:
        raise TooManyFailures(limit, streak[0])
