"""Progress: a rich bar on a terminal, plain lines otherwise (logs of batch jobs), or nothing."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from tunewise.trial import Trial, TrialStatus, incumbent


@dataclass(frozen=True)
class Snapshot:
    """Counts and the incumbent, summarized from a list of trials.

    The incumbent is the best at the highest fidelity reached, so it jumps when a higher fidelity
    is first evaluated: its fidelity is shown next to it (``fidelity_name``, e.g. ``epochs=27``).
    """

    succeeded: int = 0
    failed: int = 0
    running: int = 0
    pending: int = 0
    crashed: int = 0
    best: Trial | None = None
    fidelity_name: str | None = None

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @classmethod
    def of(cls, trials: list[Trial], *, fidelity_name: str | None = None) -> Snapshot:
        counts = Counter(t.status for t in trials)
        best = incumbent(trials)
        return cls(
            succeeded=counts[TrialStatus.SUCCEEDED],
            failed=counts[TrialStatus.FAILED],
            running=counts[TrialStatus.RUNNING],
            pending=counts[TrialStatus.PENDING],
            crashed=counts[TrialStatus.CRASHED],
            best=best,
            fidelity_name=fidelity_name,
        )

    def describe(self) -> str:
        best = "best -"
        if self.best is not None:
            at = (
                f" at {self.fidelity_name or 'fidelity'}={self.best.fidelity:g}"
                if self.best.fidelity is not None
                else ""
            )
            best = f"best {self.best.objective:.6g}{at} (trial {self.best.number})"
        extra = f", {self.crashed} crashed" if self.crashed else ""
        return f"{self.running} running, {self.failed} failed{extra}, {best}"


class Reporter:
    """Base reporter: shows nothing."""

    def note(self, lines: Sequence[str]) -> None:
        """Say something before the progress starts (what a transfer carried over, say)."""

    def start(self, total: int | None) -> None:
        pass

    def update(self, trials: Callable[[], list[Trial]], *, force: bool = False) -> None:
        """Refresh the display; ``trials`` is called only when a refresh is due (it is O(n))."""

    def stop(self, trials: Callable[[], list[Trial]]) -> None:
        pass


class RichReporter(Reporter):
    """A live bar: done/total, running, failed, best so far."""

    def __init__(
        self,
        console: Console | None = None,
        min_interval: float = 0.2,
        *,
        fidelity_name: str | None = None,
    ) -> None:
        self._fidelity_name = fidelity_name
        self._console = console or Console(stderr=True)
        self._min_interval = min_interval
        self._last = 0.0
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def note(self, lines: Sequence[str]) -> None:
        for line in lines:
            self._console.print(f"[bold]tunewise[/bold] {escape(line)}", highlight=False)

    def start(self, total: int | None) -> None:
        self._progress = Progress(
            TextColumn("[bold]tunewise"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=self._console,
            transient=False,
        )
        self._progress.start()
        self._task = self._progress.add_task("trials", total=total, status="starting")

    def update(self, trials: Callable[[], list[Trial]], *, force: bool = False) -> None:
        now = time.monotonic()
        if (
            self._progress is None
            or self._task is None
            or (not force and now - self._last < self._min_interval)
        ):
            return
        self._last = now
        snap = Snapshot.of(trials(), fidelity_name=self._fidelity_name)
        self._progress.update(self._task, completed=snap.done, status=snap.describe())

    def stop(self, trials: Callable[[], list[Trial]]) -> None:
        if self._progress is not None:
            self.update(trials, force=True)
            self._progress.stop()
            self._progress = None


class PlainReporter(Reporter):
    """One line per new best and a summary at most every ``interval`` seconds (for log files)."""

    def __init__(
        self,
        stream: TextIO | None = None,
        interval: float = 10.0,
        *,
        fidelity_name: str | None = None,
    ) -> None:
        self._fidelity_name = fidelity_name
        self._stream = stream or sys.stderr
        self._interval = interval
        self._last = 0.0
        self._last_look = 0.0
        self._total: int | None = None
        self._best_number: int | None = None

    def note(self, lines: Sequence[str]) -> None:
        for line in lines:
            print(f"tunewise: {line}", file=self._stream)
        self._stream.flush()

    def start(self, total: int | None) -> None:
        self._total = total
        self._last = time.monotonic()

    def update(self, trials: Callable[[], list[Trial]], *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_look < 0.2:  # summarizing is O(trials): not every time
            return
        self._last_look = now
        snap = Snapshot.of(trials(), fidelity_name=self._fidelity_name)
        new_best = snap.best is not None and snap.best.number != self._best_number
        if force or new_best or now - self._last >= self._interval:
            self._last = now
            if snap.best is not None:
                self._best_number = snap.best.number
            total = f"/{self._total}" if self._total else ""
            print(f"tunewise: {snap.done}{total} done, {snap.describe()}", file=self._stream)
            self._stream.flush()

    def stop(self, trials: Callable[[], list[Trial]]) -> None:
        self.update(trials, force=True)


def make_reporter(progress: bool | None, *, fidelity_name: str | None = None) -> Reporter:
    """``None`` picks a rich bar on a terminal and plain lines otherwise; ``False`` is silent.
    ``fidelity_name`` names the fidelity shown next to the best."""
    if progress is False:
        return Reporter()
    if sys.stderr.isatty():
        return RichReporter(fidelity_name=fidelity_name)
    return PlainReporter(fidelity_name=fidelity_name)
