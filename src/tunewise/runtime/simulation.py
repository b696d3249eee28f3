"""Simulated time: the real optimizer, store and worker code, with a virtual clock.

A benchmark whose objective is cheap to compute (a synthetic function, a surrogate) reports a
modelled ``cost``; instead of sleeping, the simulator advances a virtual clock by it (the approach
of Syne Tune's simulator backend). ``workers`` virtual workers run asynchronously: each claims a
trial through the same :class:`~tunewise.runtime.worker.Worker` steps a real worker uses, the
objective is computed at once, and the result is recorded when the virtual clock reaches the
trial's finish time, so the optimizer sees the running and finished trials it would see for real.
"""

from __future__ import annotations

import heapq
import itertools
import math
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tunewise.optimizers import Optimizer
from tunewise.runtime.context import Evaluate
from tunewise.runtime.outcome import Outcome
from tunewise.runtime.worker import Settings, Worker
from tunewise.space import Space
from tunewise.storage import Limits
from tunewise.storage.locations import open_store
from tunewise.trial import Trial, TrialStatus
from tunewise.trial import fidelity_units as units_added  # here `fidelity_units` is the budget


@dataclass(frozen=True)
class Event:
    """One finished trial in a simulated run, and the state of the run right after it."""

    time: float  # virtual seconds (cost units) since the start
    budget: float  # fidelity spent so far, in full-fidelity evaluations
    number: int
    fidelity: float | int | None
    objective: float | None
    status: TrialStatus
    incumbent: int | None  # the best trial so far (at the highest fidelity reached)
    incumbent_objective: float | None  # its observed objective
    incumbent_value: float | None  # its value as given by ``incumbent_value`` (else observed)


@dataclass(frozen=True)
class SimulatedStudy:
    """What :func:`simulate_study` returns: the events, and the study's trials as recorded (in
    trial-number order), e.g. to hand a finished run to a transfer method as an old study."""

    events: list[Event]
    trials: tuple[Trial, ...]


def simulate(
    evaluate: Evaluate,
    space: Space,
    *,
    optimizer: Optimizer,
    seed: int,
    fidelity_units: float,
    workers: int = 1,
    incumbent_value: Callable[[Mapping[str, Any]], float] | None = None,
    max_trials: int = 100_000,
) -> list[Event]:
    """Run ``optimizer`` on ``evaluate`` until ``fidelity_units`` full evaluations' worth is spent.

    ``incumbent_value(config)`` gives the value reported for the incumbent (e.g. a surrogate's
    full-fidelity objective); by default the incumbent's observed objective is reported.
    No new trial starts once the budget is allocated; trials already running finish.
    """
    return simulate_study(
        evaluate,
        space,
        optimizer=optimizer,
        seed=seed,
        fidelity_units=fidelity_units,
        workers=workers,
        incumbent_value=incumbent_value,
        max_trials=max_trials,
    ).events


def simulate_study(
    evaluate: Evaluate,
    space: Space,
    *,
    optimizer: Optimizer,
    seed: int,
    fidelity_units: float,
    workers: int = 1,
    incumbent_value: Callable[[Mapping[str, Any]], float] | None = None,
    max_trials: int = 100_000,
) -> SimulatedStudy:
    """:func:`simulate`, returning the recorded trials with the events."""
    if not fidelity_units > 0:
        raise ValueError(f"fidelity_units must be > 0, not {fidelity_units!r}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, not {workers!r}")
    optimizer.check_space(space)
    settings = Settings(heartbeat_interval=3600.0, stale_after=86400.0)
    limits = Limits(max_trials=max_trials)
    with (
        tempfile.TemporaryDirectory(prefix="tunewise-sim-") as root,
        open_store(storage="sqlite://") as store,
    ):
        store.create_or_open_study(
            "simulation",
            space=space,
            optimizer=optimizer.spec(),
            seed=seed,
            budget={},
            settings=settings.to_stored(),
        )
        study = store.study("simulation")
        pool = [
            Worker(
                study=study,
                evaluate=evaluate,
                optimizer=optimizer,
                settings=settings,
                root=root,
                name=f"virtual-{i}",
            )
            for i in range(workers)
        ]
        free = list(reversed(pool))
        running: list[tuple[float, int, Worker, Trial, Outcome, float]] = []
        order = itertools.count()
        tracker = _Incumbent(incumbent_value)
        clock = spent = allocated = 0.0
        events: list[Event] = []
        while True:
            while free and allocated < fidelity_units:
                worker = free[-1]
                study.refresh()
                trial = worker.claim(limits)
                if trial is None:
                    break
                free.pop()
                outcome = worker.execute(trial)
                increment = units_added(space, trial.fidelity, worker.previous_fidelity(trial))
                allocated += increment
                cost = outcome.cost if outcome.cost is not None else 0.0
                heapq.heappush(
                    running, (clock + cost, next(order), worker, trial, outcome, increment)
                )
            if not running:
                break
            finish, _, worker, trial, outcome, increment = heapq.heappop(running)
            clock = finish
            recorded = worker.record(trial, outcome)
            spent += increment
            free.append(worker)
            best = tracker.update(recorded)
            events.append(
                Event(
                    time=clock,
                    budget=spent,
                    number=recorded.number,
                    fidelity=recorded.fidelity,
                    objective=recorded.objective,
                    status=recorded.status,
                    incumbent=None if best is None else best.number,
                    incumbent_objective=None if best is None else best.objective,
                    incumbent_value=tracker.value(best),
                )
            )
        study.refresh()
        trials = tuple(sorted(study.trials(), key=lambda t: t.number))
        return SimulatedStudy(events=events, trials=trials)


class _Incumbent:
    """The best succeeded trial at the highest fidelity seen, updated one result at a time."""

    def __init__(self, value: Callable[[Mapping[str, Any]], float] | None) -> None:
        self._value = value
        self._best: dict[float, Trial] = {}
        self._values: dict[int, float] = {}

    def update(self, trial: Trial) -> Trial | None:
        if (
            trial.status is TrialStatus.SUCCEEDED
            and trial.objective is not None
            and math.isfinite(trial.objective)
        ):
            key = -math.inf if trial.fidelity is None else float(trial.fidelity)
            current = self._best.get(key)
            if current is None or current.objective is None or trial.objective < current.objective:
                self._best[key] = trial
        return self._best[max(self._best)] if self._best else None

    def value(self, trial: Trial | None) -> float | None:
        if trial is None:
            return None
        if self._value is None:
            return trial.objective
        if trial.number not in self._values:
            self._values[trial.number] = float(self._value(trial.config))
        return self._values[trial.number]
