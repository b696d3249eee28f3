"""Early stopping of a running trial from its learning curve: ``trial.should_stop()``.

``tw.run(..., early_stopping="median")`` (or ``"model"``, or an :class:`EarlyStopping`) judges
each point an objective reports with ``trial.report(step, value)``: the worker that runs the
trial (or the ``tw.Study`` that asked it) refreshes its view of the study -- reading only what
changed -- and asks a rule of :mod:`tunewise.optimizers.stopping_rules` whether the trial is
worse than the others at that step. ``trial.report`` returns the verdict and
``trial.should_stop()`` repeats it; once a trial is told to stop it stays told. An objective
that never asks runs as before.

The setting is stored with the study's worker settings, so every worker of the study (``tunewise
worker``, Dask tasks) applies the same rule. When the objective returns after it was told to
stop, the trial is recorded succeeded with the value it returned and ``info["stopped_early"]``,
``info["stopped_at"]`` (its last step) and ``info["stop_rule"]``; at a fidelity it did not reach,
it counts only the fidelity its steps used against the budget (steps in the fidelity's units,
e.g. epochs). An objective that was told and went on gets ``info["stop_advised_at"]`` only.
"""

from __future__ import annotations

import logging
import math
import numbers
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from tunewise.optimizers.stopping_rules import (
    FinishedCurve,
    ModelRule,
    PreparedCurve,
    Verdict,
    final_step,
    median_rule,
    prepare,
)
from tunewise.storage import StudyReader
from tunewise.trial import Trial, TrialStatus, fidelity_units

__all__ = ["RULES", "EarlyStopping", "Stopper", "TrialJudge", "early_stopping_from"]

logger = logging.getLogger("tunewise")

RULES = ("median", "model")


@dataclass(frozen=True)
class EarlyStopping:
    """Which rule stops running trials, and when it may act.

    ``rule``: ``"median"`` (stop a trial whose best value so far is worse than the median of the
    other trials' running averages at the same step; Golovin et al., 2017) or ``"model"`` (stop
    when a learning-curve GP gives the trial's final value a probability below ``p`` of beating
    the incumbent). ``min_steps``: the grace period, no trial is stopped at a step below it.
    ``min_trials``: how many other trials must have reached the step (median), or have curves
    at all (model), before the rule acts (Optuna's ``n_startup_trials`` is 5 too). ``p``: the
    model rule's threshold, in (0, 1).
    """

    rule: str = "median"
    min_steps: float = 1.0
    min_trials: int = 5
    p: float = 0.05

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise ValueError(f"early_stopping rule must be one of {RULES}, not {self.rule!r}")
        if (
            isinstance(self.min_steps, bool)
            or not isinstance(self.min_steps, numbers.Real)
            or not math.isfinite(self.min_steps)
        ):
            raise ValueError(f"min_steps must be a finite number (a step), not {self.min_steps!r}")
        if isinstance(self.min_trials, bool) or not isinstance(self.min_trials, int):
            raise ValueError(f"min_trials must be an integer >= 1, not {self.min_trials!r}")
        if self.min_trials < 1:
            raise ValueError(f"min_trials must be an integer >= 1, not {self.min_trials!r}")
        if (
            isinstance(self.p, bool)
            or not isinstance(self.p, numbers.Real)
            or not 0.0 < float(self.p) < 1.0
        ):
            raise ValueError(f"p must be a probability strictly between 0 and 1, not {self.p!r}")

    def to_stored(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> EarlyStopping:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def early_stopping_from(value: object) -> EarlyStopping | None:
    """``early_stopping=`` as given to ``tw.run`` or ``tw.Study``: None, a rule's name, an
    :class:`EarlyStopping`, or its stored dict."""
    if value is None or isinstance(value, EarlyStopping):
        return value
    if isinstance(value, str):
        if value not in RULES:
            raise ValueError(
                f"early_stopping must be None, one of {RULES} or a tw.EarlyStopping, not {value!r}"
            )
        return EarlyStopping(rule=value)
    if isinstance(value, Mapping):
        return EarlyStopping.from_stored(value)
    raise TypeError(
        f"early_stopping must be None, one of {RULES} or a tw.EarlyStopping, "
        f"not {type(value).__name__}"
    )


class Stopper:
    """A study's early stopping as one worker applies it: a :class:`TrialJudge` per trial.

    Holds what outlives a trial: the prepared curves of finished trials (they never change), so a
    judgement costs a refresh of the study (what changed since the last) and a lookup per trial.
    ``study`` is the worker's handle: judgements refresh it from the thread that runs the
    worker (or, for ``tw.Study``, under its lock).
    """

    def __init__(self, settings: EarlyStopping, study: StudyReader) -> None:
        self.settings = settings
        self.study = study
        self._prepared: dict[int, PreparedCurve] = {}
        self._running: dict[int, tuple[int, PreparedCurve]] = {}
        self._model_rule = (
            ModelRule(
                study.space,
                seed=study.record.seed,
                p=float(settings.p),
                min_steps=float(settings.min_steps),
                min_trials=settings.min_trials,
            )
            if settings.rule == "model"
            else None
        )

    def judge(self, trial: Trial, *, previous_fidelity: float | int | None = None) -> TrialJudge:
        """The judge of ``trial``'s reports (``previous_fidelity``: of the trial it continues)."""
        return TrialJudge(self, trial, previous_fidelity=previous_fidelity)

    def others(self, number: int) -> list[PreparedCurve]:
        """The prepared curves of the study's other succeeded and running trials, as of a fresh
        refresh (failed and crashed trials' curves are left out)."""
        self.study.refresh()
        curves: list[PreparedCurve] = []
        for t in self.study.trials():
            if t.number == number or not t.learning_curve:
                continue
            if t.status is TrialStatus.SUCCEEDED:
                prepared = self._prepared.get(t.number)
                if prepared is None:
                    prepared = self._prepared[t.number] = prepare(t.learning_curve)
                    self._running.pop(t.number, None)
                curves.append(prepared)
            elif t.status is TrialStatus.RUNNING:
                seen = self._running.get(t.number)
                if seen is None or seen[0] != len(t.learning_curve):
                    seen = self._running[t.number] = (
                        len(t.learning_curve),
                        prepare(t.learning_curve),
                    )
                curves.append(seen[1])
            else:
                self._running.pop(t.number, None)
        return curves

    def finished(self, number: int) -> list[FinishedCurve]:
        """The study's other succeeded trials with a curve, as of a fresh refresh."""
        self.study.refresh()
        return [
            FinishedCurve(t.number, t.config, t.learning_curve)
            for t in self.study.trials()
            if t.number != number and t.status is TrialStatus.SUCCEEDED and t.learning_curve
        ]

    def decide(self, trial: Trial, curve: Sequence[tuple[float, float]]) -> Verdict:
        """The rule's verdict on ``trial`` with its points so far ``curve``."""
        settings = self.settings
        if self._model_rule is not None:
            finished = self.finished(trial.number)
            fidelity = self.study.space.fidelity
            target = final_step(
                max_fidelity=None if fidelity is None else float(fidelity.upper),
                fidelity=None if trial.fidelity is None else float(trial.fidelity),
                finished=[f.curve for f in finished],
            )
            return self._model_rule(trial.config, curve, finished, target=target)
        return median_rule(
            curve,
            self.others(trial.number),
            min_steps=float(settings.min_steps),
            min_trials=settings.min_trials,
        )


class TrialJudge:
    """Judges one trial's reports: called with its curve so far after each ``trial.report``,
    it answers whether to stop; once it said stop it keeps saying so (without more reads).

    A rule that fails (the store out of reach past its retries) is logged and taken as "go on":
    early stopping never fails a trial. :meth:`notes` turns what happened into the info and the
    fidelity used that the worker records.
    """

    def __init__(
        self, stopper: Stopper, trial: Trial, *, previous_fidelity: float | int | None
    ) -> None:
        self._stopper = stopper
        self.trial = trial
        self.previous_fidelity = previous_fidelity
        self.verdict: Verdict | None = None  # the stop verdict, once given
        self.points = 0  # how many points were judged
        self.last_step: float | None = None
        self.seconds = 0.0  # spent judging
        self._lock = threading.Lock()
        self._warned = False

    @property
    def rule(self) -> str:
        return self._stopper.settings.rule

    def __call__(self, curve: Sequence[tuple[float, float]]) -> bool:
        with self._lock:
            self.points = len(curve)
            self.last_step = float(curve[-1][0]) if curve else None
            if self.verdict is not None:
                return True
            started = time.perf_counter()
            try:
                verdict = self._stopper.decide(self.trial, curve)
            except Exception as exc:  # never the trial's failure: it goes on
                if not self._warned:
                    logger.warning(
                        "trial %d: early stopping could not judge step %s: %r",
                        self.trial.number,
                        self.last_step,
                        exc,
                    )
                    self._warned = True
                return False
            finally:
                self.seconds += time.perf_counter() - started
            if verdict.stop:
                self.verdict = verdict
                logger.info(
                    "trial %d: %s rule advises stopping at step %g (%s)",
                    self.trial.number,
                    self.rule,
                    verdict.step,
                    verdict.reason,
                )
            return verdict.stop

    def notes(
        self, *, status: TrialStatus, stop_seen: int | None
    ) -> tuple[dict[str, Any], float | None]:
        """What to record of a trial that ended with ``status``, whose objective first learnt
        of the stop after ``stop_seen`` points (None: never asked, or never told).

        Returns the info to merge over the objective's and the fidelity units it used (None:
        what was claimed). The trial stopped early when it was told and reported nothing after.
        ``early_stopping_seconds``: the time spent judging its points (part of its measured
        cost, as the evaluation waited for each verdict).
        """
        with self._lock:
            verdict, points, last = self.verdict, self.points, self.last_step
            spent = {"early_stopping_seconds": self.seconds} if points else {}
        if verdict is None:
            return spent, None
        stopped = status is TrialStatus.SUCCEEDED and stop_seen is not None and points == stop_seen
        if not stopped or last is None:
            return {**spent, "stop_advised_at": verdict.step}, None
        info = {**spent, "stopped_early": True, "stopped_at": last, "stop_rule": self.rule}
        return info, self._units_used(last)

    def _units_used(self, step: float) -> float | None:
        """The full-fidelity units of a trial stopped at ``step`` short of its fidelity."""
        space, fidelity = self._stopper.study.space, self.trial.fidelity
        if space.fidelity is None or fidelity is None or not step < float(fidelity):
            return None
        if not space.fidelity.resumable:
            return None  # a data-subset fidelity: the steps (epochs) are not its units
        return fidelity_units(space, step, self.previous_fidelity)
