"""A background thread that keeps a worker's running trial marked alive in the store."""

from __future__ import annotations

import logging
import threading

from tunewise.storage import StudyStore

logger = logging.getLogger("tunewise")


class Heartbeat:
    """Every ``interval`` seconds, stamp the tracked trial's heartbeat (and its learning curve).

    Other workers declare a trial crashed when its heartbeat is older than the study's
    ``stale_after``; a worker that is alive, even inside a long evaluation, keeps stamping.
    """

    def __init__(self, study: StudyStore, *, worker: str, interval: float) -> None:
        self._study = study
        self._worker = worker
        self._interval = interval
        self._lock = threading.Lock()
        self._trial: int | None = None
        self._curve: list[tuple[float, float]] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tunewise-heartbeat", daemon=True)
        self._thread.start()

    def track(self, number: int) -> None:
        with self._lock:
            self._trial, self._curve = number, None

    def untrack(self) -> None:
        with self._lock:
            self._trial, self._curve = None, None

    def set_curve(self, curve: list[tuple[float, float]]) -> None:
        with self._lock:
            self._curve = curve

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            with self._lock:
                number, curve = self._trial, self._curve
            if number is None:
                continue
            try:
                alive = self._study.heartbeat(number, worker=self._worker, learning_curve=curve)
            except Exception as exc:  # a database hiccup: try again next beat
                logger.warning("heartbeat for trial %d failed: %s", number, exc)
                continue
            if not alive:
                logger.warning(
                    "trial %d is no longer marked running by %s (declared crashed?)",
                    number,
                    self._worker,
                )
