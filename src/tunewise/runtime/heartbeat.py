"""A background thread that keeps a worker's running trial marked alive in the store, and finds
the running trials of other workers that went silent."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from tunewise.runtime.staleness import SilenceWatch
from tunewise.storage import StudyHandle

logger = logging.getLogger("tunewise")


class Heartbeat:
    """Every ``interval`` seconds: watch the study's running trials, then stamp the tracked one.

    The watch (when ``stale_after`` is given) reads every running trial's heartbeat and crashes
    those seen unchanged for ``stale_after`` seconds of continuous watching (see
    :mod:`tunewise.runtime.staleness`): each is re-queued, or failed after ``max_retries``, and
    ``on_recovered`` is called with their numbers. It runs here, beside the stamping, so that a
    worker inside a long evaluation still notices dead peers. The watch goes first: after this
    thread was held up in a read through an outage, its own trial's beat follows at once.

    An error in either step is logged and tried again next tick; it never ends the thread.
    """

    def __init__(
        self,
        study: StudyHandle,
        *,
        worker: str,
        interval: float,
        stale_after: float | None = None,
        max_retries: int = 0,
        on_recovered: Callable[[list[int]], None] | None = None,
    ) -> None:
        self._study = study
        self._worker = worker
        self._interval = interval
        self._max_retries = max_retries
        self._on_recovered = on_recovered
        # Workers come back from an outage through the store's retry backoff, each up to
        # max_delay seconds after this one: their trials' clocks restart that much later.
        self._watch = (
            SilenceWatch(stale_after=stale_after, grace=study.store.retry.max_delay)
            if stale_after is not None
            else None
        )
        self._lock = threading.Lock()
        self._trial: int | None = None
        self._tracked = 0  # counts track() calls: tells a re-tracked trial from the one stamped
        self._recording = False
        self._curve: list[tuple[float, float]] | None = None
        self._sent: list[tuple[float, float]] | None = None  # the curve the store holds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tunewise-heartbeat", daemon=True)
        self._thread.start()

    def track(self, number: int) -> None:
        with self._lock:
            self._trial, self._curve, self._sent, self._recording = number, None, None, False
            self._tracked += 1

    def recording(self) -> None:
        """The tracked trial's result is being written: it is still stamped (the write may retry
        through an outage), but a stamp that finds it finished is no news (the write committed,
        its reply not back yet; and the write itself reports a trial declared crashed)."""
        with self._lock:
            self._recording = True

    def untrack(self) -> None:
        with self._lock:
            self._trial, self._curve, self._sent, self._recording = None, None, None, False

    def set_curve(self, curve: list[tuple[float, float]]) -> None:
        with self._lock:
            self._curve = curve

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._watch_running()
            except Exception as exc:  # a database fault past the store's retries: next tick
                logger.warning("%s could not check for silent trials: %r", self._worker, exc)
            try:
                self._beat()
            except Exception as exc:
                logger.warning("heartbeat of %s failed: %r", self._worker, exc)

    def _watch_running(self) -> None:
        if self._watch is None:
            return
        beats = self._study.running_heartbeats()
        silent = self._watch.observe(beats, time.monotonic())
        if not silent or self._stop.is_set():
            return
        recovered = self._study.recover_silent(
            silent, max_retries=self._max_retries, silent_for=self._watch.stale_after
        )
        if recovered and self._on_recovered is not None:
            self._on_recovered(recovered)

    def _beat(self) -> None:
        with self._lock:
            number, curve, tracked = self._trial, self._curve, self._tracked
            new_points = None if curve is None or curve == self._sent else list(curve)
        if number is None:
            return
        # Only new points travel: a beat with a curve is a change readers refresh for.
        alive = self._study.heartbeat(number, worker=self._worker, learning_curve=new_points)
        if alive:
            if new_points is not None:
                with self._lock:
                    if self._tracked == tracked:
                        self._sent = new_points
            return
        with self._lock:
            news = self._trial == number and self._tracked == tracked and not self._recording
        if news:  # else the worker recorded (or released) it while we stamped: nothing crashed
            logger.warning(
                "trial %d is no longer marked running by %s (declared crashed?)",
                number,
                self._worker,
            )
