"""The worker loop: claim -> evaluate -> record, until the study's budget is spent.

Every worker, in-process or in its own process or on another machine, runs this same loop against
the store; there is no coordinator. A claim takes one short transaction; the optimizer's ``ask``
and the evaluation run outside any transaction.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from tunewise.optimizers import Optimizer
from tunewise.runtime import outcome as outcomes
from tunewise.runtime.budget import StoredBudget
from tunewise.runtime.context import Evaluate, TrialContext, objective_config
from tunewise.runtime.early_stopping import EarlyStopping, Stopper, TrialJudge
from tunewise.runtime.failures import (
    DEFAULT_MAX_CONSECUTIVE_FAILURES,
    TooManyFailures,
    check_max_consecutive_failures,
    raise_if_too_many_failures,
)
from tunewise.runtime.heartbeat import Heartbeat
from tunewise.runtime.isolated import Isolation, IsolationError, evaluate_isolated
from tunewise.runtime.loading import load_callable
from tunewise.runtime.paths import trial_directory
from tunewise.runtime.signals import Interrupted, raise_if_stop_requested, signals_deferred
from tunewise.storage import ClaimOutcome, Limits, StudyHandle, worker_name
from tunewise.trial import Trial, TrialStatus

logger = logging.getLogger("tunewise")

ON_ERROR = ("record", "raise")
MAX_SUGGESTIONS_PER_CLAIM = 8  # how many suggestions one claim may try (see Worker._ask_size)


@dataclass(frozen=True)
class Settings:
    """How workers of a study behave; stored with the study so attached workers behave the same.

    ``evaluate`` is the objective's import path (``module:function``) when it has one, so that
    ``tunewise worker`` can join without being told what to run. ``trial_timeout`` (seconds) and
    ``trial_memory_limit`` (bytes) run each evaluation in a child process that is stopped when it
    passes them (see :mod:`tunewise.runtime.isolated`). ``max_consecutive_failures`` stops the
    workers after that many failed trials in a row (None: never), counting the trials started
    since ``failures_since`` (the latest ``tw.run``'s start, shared by all its workers), so a
    resume is not stopped by the failures before it. ``tensorboard`` writes each finished trial
    under ``<root>/tensorboard/<study>/`` (see :mod:`tunewise.integrations.tensorboard`).
    ``early_stopping`` judges each reported point of a running trial (see
    :mod:`tunewise.runtime.early_stopping`); None: ``trial.should_stop()`` is always False.
    """

    max_retries: int = 2
    heartbeat_interval: float = 10.0
    stale_after: float = 60.0
    on_error: str = "record"
    evaluate: str | None = None
    trial_timeout: float | None = None
    trial_memory_limit: int | None = None
    max_consecutive_failures: int | None = DEFAULT_MAX_CONSECUTIVE_FAILURES
    failures_since: float = 0.0
    tensorboard: bool = False
    early_stopping: EarlyStopping | None = None

    def __post_init__(self) -> None:
        check_max_consecutive_failures(self.max_consecutive_failures)
        if self.early_stopping is not None and not isinstance(self.early_stopping, EarlyStopping):
            raise TypeError(
                f"early_stopping must be a tw.EarlyStopping or None, not "
                f"{type(self.early_stopping).__name__}"
            )
        if self.on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, not {self.on_error!r}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"max_retries must be an integer >= 0, not {self.max_retries!r}")
        if not self.heartbeat_interval > 0:
            raise ValueError(f"heartbeat_interval must be > 0, not {self.heartbeat_interval!r}")
        if not self.stale_after > 2 * self.heartbeat_interval:
            raise ValueError(
                f"stale_after ({self.stale_after}) must be more than twice heartbeat_interval "
                f"({self.heartbeat_interval}), or live trials would be declared crashed"
            )
        if self.trial_timeout is not None and (
            isinstance(self.trial_timeout, bool)
            or not isinstance(self.trial_timeout, int | float)
            or not math.isfinite(self.trial_timeout)
            or self.trial_timeout <= 0
        ):
            raise ValueError(
                f"trial_timeout must be a positive number of seconds, not {self.trial_timeout!r}"
            )
        if self.trial_memory_limit is not None and (
            isinstance(self.trial_memory_limit, bool)
            or not isinstance(self.trial_memory_limit, int)
            or self.trial_memory_limit < 1
        ):
            raise ValueError(
                f"trial_memory_limit must be a positive number of bytes, "
                f"not {self.trial_memory_limit!r}"
            )

    @property
    def isolated(self) -> bool:
        """True when evaluations run in a child process the worker can stop."""
        return self.trial_timeout is not None or self.trial_memory_limit is not None

    def to_stored(self) -> dict[str, Any]:
        return asdict(self)  # early_stopping becomes its dict

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Settings:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("early_stopping") is not None:
            known["early_stopping"] = EarlyStopping.from_stored(known["early_stopping"])
        return cls(**known)


class TrialFailed(RuntimeError):
    """Raised with ``on_error="raise"`` after a failed trial has been recorded."""

    def __init__(self, number: int, error: str) -> None:
        super().__init__(f"trial {number} failed: {error}")
        self.number = number
        self.error = error

    def __reduce__(self) -> tuple[type, tuple[int, str]]:  # travels back from Dask tasks
        return (type(self), (self.number, self.error))


class Worker:
    """Runs trials of one study until its budget is spent or the optimizer has nothing left.

    ``device`` is recorded with each trial it claims and handed to the objective as
    ``trial.device``. ``stop``, when set by another thread (a Dask task's watcher), makes the
    loop end between trials and re-queue a trial whose evaluation runs in a child process.
    ``child_env`` runs every evaluation in a child process with these environment variables
    (``CUDA_VISIBLE_DEVICES`` for a GPU worker that cannot set it for its own process).
    ``evaluate`` may be the objective's path (``module:function``, ``script.py:function``):
    evaluations in child processes load it there, others load it here once.
    """

    def __init__(
        self,
        *,
        study: StudyHandle,
        evaluate: Evaluate | str,
        optimizer: Optimizer,
        settings: Settings,
        root: str | os.PathLike[str],
        name: str | None = None,
        device: str | None = None,
        stop: threading.Event | None = None,
        child_env: Mapping[str, str] | None = None,
        on_finished: Callable[[Trial, StudyHandle], None] | None = None,
    ) -> None:
        self.study = study
        self.optimizer = optimizer
        self.settings = settings
        self.root = Path(root)
        self.name = name or worker_name()
        self.device = device
        self.stop = stop
        self.on_finished = on_finished
        self.isolation = (
            Isolation(
                timeout=settings.trial_timeout,
                memory_limit=settings.trial_memory_limit,
                env=dict(child_env or {}),
            )
            if settings.isolated or child_env
            else None
        )
        self.evaluate: Evaluate | str = (
            load_callable(evaluate)
            if isinstance(evaluate, str) and self.isolation is None
            else evaluate
        )
        self.evaluated = 0
        self.too_many_failures: TooManyFailures | None = None  # why the loop stopped, if so
        self._fidelity_name = study.space.fidelity_name
        self._trials_root = trial_directory(self.root, study.name, 0).parent
        self.stopper = (
            Stopper(settings.early_stopping, study) if settings.early_stopping is not None else None
        )

    def run(self) -> int:
        """Work until done; returns how many trials this worker evaluated."""
        budget = StoredBudget.from_stored(self.study.budget())
        heartbeat = Heartbeat(
            self.study,
            worker=self.name,
            interval=self.settings.heartbeat_interval,
            stale_after=self.settings.stale_after,
            max_retries=self.settings.max_retries,
        )
        idle = _Backoff()
        try:
            while not budget.past_deadline() and not self._stopping():
                raise_if_stop_requested()
                self.study.refresh()
                if self._failing():
                    break
                trial = self.claim(budget.limits)
                if trial is None:
                    if self._finished(budget):
                        break
                    idle.wait()
                    continue
                # From the claim until its result is committed, a Ctrl-C or SIGTERM re-queues
                # the trial (release does nothing once it is recorded, or already re-queued).
                try:
                    idle.reset()
                    if not self._work_on(trial, heartbeat):
                        break
                except (KeyboardInterrupt, Interrupted) as stop:
                    self._release(trial, _interrupted_by(stop))
                    raise
        finally:
            heartbeat.stop()
        return self.evaluated

    def _work_on(self, trial: Trial, heartbeat: Heartbeat) -> bool:
        """Evaluate and record a claimed trial; False when a stop request ends the loop."""
        if self._stopping():
            self._release(trial, "interrupted by a stop request")
            return False
        heartbeat.track(trial.number)  # until recorded: a finish retried through an outage beats
        judge = self.judge(trial)
        try:
            result = self.execute(trial, on_report=heartbeat.set_curve, judge=judge)
            if self._stopping() and not self._still_ours(trial):
                logger.warning(
                    "trial %d was re-queued by the stop request while it ran; its result is "
                    "dropped",
                    trial.number,
                )
                return False
            heartbeat.recording()
            recorded = self._record(trial, result, judge)
        finally:
            heartbeat.untrack()
        self._recorded(trial, recorded)
        return True

    def _failing(self) -> bool:
        """True (and logged) when the study's last trials all failed (see :class:`Settings`)."""
        try:
            raise_if_too_many_failures(
                self.study.trials(),
                limit=self.settings.max_consecutive_failures,
                since=self.settings.failures_since,
            )
        except TooManyFailures as stop:
            self.too_many_failures = stop
            logger.error("%s", stop)
            return True
        return False

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _still_ours(self, trial: Trial) -> bool:
        self.study.refresh()
        current = self.study.trial(trial.number)
        return (
            current is not None
            and current.status is TrialStatus.RUNNING
            and current.worker == self.name
        )

    def _release(self, trial: Trial, reason: str) -> None:
        """Give a claimed trial back to the queue (this worker stops, or cannot evaluate it)."""
        with signals_deferred():
            if self.study.release(trial.number, worker=self.name, reason=reason):
                logger.warning("trial %d %s; re-queued", trial.number, reason)

    # -- claiming -------------------------------------------------------------------------------

    def claim(self, limits: Limits) -> Trial | None:
        """Start a queued trial, or a new one the optimizer suggests; None if there is none now."""
        if any(t.status is TrialStatus.PENDING for t in self.study.pending_trials()):
            with signals_deferred():  # a stop request must not leave a claimed trial behind
                trial = self.study.claim_pending(
                    worker=self.name, limits=limits, device=self.device
                )
            if trial is not None:
                return self._checked(trial)
        for attempt in range(8):  # a conflict: others claimed first; ask again on fresh data
            suggestions = self.optimizer.ask(self.study.history(), self._ask_size(attempt))
            if not suggestions:
                return None
            with signals_deferred():
                claim = self.study.claim(
                    suggestions, worker=self.name, limits=limits, device=self.device
                )
            if claim.outcome is ClaimOutcome.CLAIMED and claim.trial is not None:
                return self._checked(claim.trial)
            if claim.outcome is ClaimOutcome.BUDGET:
                return None
            self.study.refresh()
        return None

    def _ask_size(self, attempt: int = 0) -> int:
        """How many suggestions to offer one claim: one more than the trials running elsewhere,
        doubled after each conflict (with a quick objective few trials are seen running).

        Workers that refreshed at the same moment ask on the same History, so with one
        suggestion each all but the first would conflict. Offered several, a claim takes the
        first whose slot is still free, in the optimizer's order (no per-worker offset: taking
        them in order keeps ``slot k`` below the next trial number for optimizers that number
        their slots from it, so a lone worker never finds its single slot taken). A lone worker
        asks for one, so a one-worker study is the same whatever ran before.
        """
        running = sum(1 for t in self.study.pending_trials() if t.status is TrialStatus.RUNNING)
        return min(MAX_SUGGESTIONS_PER_CLAIM, (1 + running) << attempt)

    def _checked(self, trial: Trial) -> Trial:
        """Honor a stop request that arrived during the claim: give the trial back, then stop."""
        try:
            raise_if_stop_requested()
        except (KeyboardInterrupt, Interrupted) as stop:
            self._release(trial, _interrupted_by(stop))
            raise
        return trial

    def _finished(self, budget: StoredBudget) -> bool:
        """True when this worker should stop: the budget is spent, or nothing is left to do."""
        totals = self.study.totals()
        if budget.done(totals):
            return True
        if self.study.pending_trials():
            return False  # others are running: one may crash and need a retry, so wait
        if budget.limits.exhausted_for_new(totals):
            return False  # a claim raced us; look again
        # Nothing running anywhere and the optimizer suggests nothing: the search is complete.
        self.study.refresh()
        if self.study.pending_trials():
            return False
        return not self.optimizer.ask(self.study.history(), 1)

    # -- running --------------------------------------------------------------------------------

    def judge(self, trial: Trial) -> TrialJudge | None:
        """The early-stopping judge of ``trial``'s reports (None without early stopping)."""
        if self.stopper is None:
            return None
        return self.stopper.judge(trial, previous_fidelity=self.previous_fidelity(trial))

    def execute(
        self,
        trial: Trial,
        *,
        on_report: Callable[[list[tuple[float, float]]], None] | None = None,
        judge: TrialJudge | None = None,
    ) -> outcomes.Outcome:
        """Evaluate a claimed trial (here, or in a child process when isolated); Ctrl-C/SIGTERM
        re-queue it and propagate. ``judge`` answers the objective's reports (early stopping)."""
        directory = self._trials_root / str(trial.number)
        previous = (
            self._trials_root / str(trial.previous_trial)
            if trial.previous_trial is not None
            else None
        )
        config = objective_config(trial, self._fidelity_name)
        arguments: dict[str, Any] = {
            "number": trial.number,
            "config": config,
            "fidelity": trial.fidelity,
            "directory": directory,
            "previous_directory": previous,
            "previous_trial": trial.previous_trial,
            "previous_fidelity": self.previous_fidelity(trial),
            "study": self.study.name,
            "worker": self.name,
            "device": self.device,
        }
        if self.isolation is not None:
            try:
                return evaluate_isolated(
                    self.evaluate,
                    config,
                    arguments,
                    isolation=self.isolation,
                    on_report=on_report,
                    should_stop=self._stopping,
                    judge=judge,
                )
            except (KeyboardInterrupt, Interrupted) as stop:
                self._release(trial, _interrupted_by(stop))
                raise
            except (IsolationError, TypeError):
                self._release(trial, "its evaluation process could not start")
                raise
        evaluate = self.evaluate
        assert not isinstance(evaluate, str)  # loaded in __init__ when evaluations run here
        context = TrialContext(**arguments, on_report=on_report, judge=judge)
        started = time.perf_counter()
        try:
            value = evaluate(config, context)
        except (KeyboardInterrupt, Interrupted) as stop:
            self._release(trial, _interrupted_by(stop))
            raise
        except (Exception, SystemExit) as exc:
            result = outcomes.from_exception(
                exc, elapsed=time.perf_counter() - started, curve=context.learning_curve
            )
        else:
            result = outcomes.from_return(
                value, elapsed=time.perf_counter() - started, curve=context.learning_curve
            )
        return replace(result, stop_seen=context.stop_seen)

    def record(
        self, trial: Trial, result: outcomes.Outcome, *, judge: TrialJudge | None = None
    ) -> Trial:
        """Store the outcome of ``trial``; with ``on_error="raise"`` a failure then raises.
        ``judge``: the trial's early-stopping judge, whose verdict is recorded with it."""
        return self._recorded(trial, self._record(trial, result, judge))

    def _recorded(self, trial: Trial, recorded: Trial) -> Trial:
        """What follows a committed result: count it, report it, raise if asked to."""
        self.evaluated += 1
        if self.settings.tensorboard:
            self._write_tensorboard(recorded)
        if self.on_finished is not None:
            self.on_finished(recorded, self.study)
        if recorded.status is TrialStatus.FAILED:
            first_line = (recorded.error or "").splitlines()[0] if recorded.error else ""
            logger.warning("trial %d failed: %s", trial.number, first_line)
            if self.settings.on_error == "raise":
                raise TrialFailed(trial.number, recorded.error or "")
        return recorded

    def _write_tensorboard(self, trial: Trial) -> None:
        """Write a recorded trial's TensorBoard run; a failure is a warning, never the trial's."""
        try:
            from tunewise.integrations.tensorboard import write_trial

            write_trial(
                log_dir=self.root / "tensorboard" / self.study.name,
                trial=trial,
                space=self.study.space,
            )
        except Exception as exc:
            logger.warning("trial %d: writing its TensorBoard files failed: %s", trial.number, exc)

    def previous_fidelity(self, trial: Trial) -> float | int | None:
        """The fidelity of the trial ``trial`` continues, if any (its ``previous_trial``)."""
        if trial.previous_trial is None:
            return None
        previous = self.study.trial(trial.previous_trial)
        return previous.fidelity if previous is not None else None

    def _record(
        self, trial: Trial, result: outcomes.Outcome, judge: TrialJudge | None = None
    ) -> Trial:
        # The store rides through transient faults and recognises its own earlier commit, so a
        # finish is recorded exactly once without a retry loop here.
        info, fidelity_used = result.info, None
        if judge is not None:
            notes, fidelity_used = judge.notes(status=result.status, stop_seen=result.stop_seen)
            info = {**info, **notes}
        with signals_deferred():  # a result is never lost to a Ctrl-C mid-write
            return self.study.finish(
                trial.number,
                worker=self.name,
                status=result.status,
                objective=result.objective,
                cost=result.cost,
                learning_curve=result.learning_curve,
                info=info,
                error=result.error,
                fidelity_used=fidelity_used,
            )


def _interrupted_by(stop: BaseException) -> str:
    return "interrupted by " + (stop.signal_name if isinstance(stop, Interrupted) else "Ctrl-C")


class _Backoff:
    """Sleep a little longer each time nothing could be claimed, up to half a second."""

    def __init__(self, start: float = 0.005, cap: float = 0.5) -> None:
        self._start, self._cap, self._delay = start, cap, start

    def wait(self) -> None:
        time.sleep(self._delay)
        self._delay = min(self._delay * 2, self._cap)

    def reset(self) -> None:
        self._delay = self._start
