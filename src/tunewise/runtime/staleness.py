"""Judging a running trial dead by the silence of its heartbeat, as one observer saw it.

A heartbeat's age on the wall clock says nothing while the store is down (nobody can write one),
and compares clocks of different machines. So an observer judges what it saw itself: a trial is
*silent* when its stored heartbeat kept the same value through ``stale_after`` seconds of the
observer's continuous watching. When the observer itself stopped watching for a while (an outage
it retried through, a stalled process), it cannot tell silence from its own absence, so every
clock starts again. The store then crashes a silent trial only if its heartbeat still holds the
value seen (:meth:`~tunewise.storage.StudyHandle.recover_silent`), so a beat that lands in between
saves it.
"""

from __future__ import annotations

from collections.abc import Mapping

Beat = float | None
"""A trial's stored heartbeat value; None when it has none."""


class SilenceWatch:
    """Per running trial, the heartbeat value last seen and since when (on one monotonic clock).

    ``observe`` is called with every successful read of the running trials' heartbeats. A gap
    of more than ``stale_after / 2`` seconds since the previous observation (or the first
    observation) restarts every clock, ``grace`` seconds late: after an outage, the trials'
    workers come back through their own retry backoff, up to ``grace`` seconds after this
    observer does. Only the values and the times of ``observe`` calls count, never the
    heartbeat values as times.
    """

    def __init__(self, *, stale_after: float, grace: float = 0.0) -> None:
        if not stale_after > 0:
            raise ValueError(f"stale_after must be > 0 seconds, not {stale_after!r}")
        if not grace >= 0:
            raise ValueError(f"grace must be >= 0 seconds, not {grace!r}")
        self.stale_after = stale_after
        self.grace = grace
        self._seen: dict[int, tuple[Beat, float]] = {}  # number -> (value, seen since)
        self._last: float | None = None

    def observe(self, beats: Mapping[int, Beat], now: float) -> dict[int, Beat]:
        """Record ``beats`` (trial number -> heartbeat value, all running trials) read at
        ``now``; return the silent ones, each with the value it kept (to compare-and-set)."""
        restart = self._last is None or now - self._last > self.stale_after / 2
        self._last = now
        if restart:
            self._seen = {}
        start = now + self.grace if restart else now
        seen: dict[int, tuple[Beat, float]] = {}
        for number, value in beats.items():
            previous = self._seen.get(number)
            if previous is None or previous[0] != value:
                previous = (value, start)  # a new trial, or it beat: its clock starts now
            seen[number] = previous
        self._seen = seen  # trials no longer running are forgotten
        return {n: v for n, (v, since) in seen.items() if now - since >= self.stale_after}
