"""History -> observations: the one step where an optimizer turns its trials into model arrays.

Models (:mod:`tunewise.models`) take arrays, as BoTorch's ``SingleTaskGP(train_X, train_Y)`` does,
and know nothing of trials, statuses or where the data came from. :func:`observations` reads a
History once into :class:`Observations`; each model-based optimizer then picks its rows (BO: the
maximum fidelity; PriorBand+BO: the succeeded trials at every fidelity; BOHB: per rung) and hands
the arrays to its model, which maps them to its own coordinates (for the GP,
:class:`tunewise.models.gp.Encoding`). New kinds of inputs (architecture features for graph
kernels, learning curves) are read here and modelled there, without touching the optimizers' other
logic.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tunewise.trial import History, Trial, TrialStatus

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Observations:
    """Finished trials (``n`` rows, by trial number) and pending ones (``m`` rows) as arrays.

    ``u`` (n, d): the unit-cube encoding of each config (:meth:`Space.encode`; NaN = inactive);
    ``fidelity`` (n,): its fidelity, NaN where it has none; ``y`` (n,): the objective (minimized) of
    a succeeded trial, NaN for a failed one or one without an objective; ``numbers`` (n,): trial
    numbers, ascending. ``pending_u`` (m, d) and ``pending_fidelity`` (m,): the same for running and
    queued trials (the constant liar's points).
    """

    u: Array
    fidelity: Array
    y: Array
    numbers: NDArray[np.int64]
    pending_u: Array
    pending_fidelity: Array

    def __len__(self) -> int:
        return len(self.y)

    def where(self, mask: NDArray[np.bool_]) -> Observations:
        """The finished rows where ``mask`` (n,) holds; the pending rows unchanged."""
        return Observations(
            self.u[mask],
            self.fidelity[mask],
            self.y[mask],
            self.numbers[mask],
            self.pending_u,
            self.pending_fidelity,
        )

    def at_fidelity(self, fidelity: float | int | None) -> Observations:
        """The finished rows evaluated at ``fidelity`` (all of them for None: no fidelity)."""
        if fidelity is None:
            return self
        return self.where(self.fidelity == float(fidelity))

    def succeeded(self) -> Observations:
        """The finished rows with a finite objective (failed ones left out)."""
        return self.where(np.isfinite(self.y))


def observations(history: History) -> Observations:
    """The History's finished and pending trials as :class:`Observations`."""
    space = history.space
    finished = sorted(history.finished, key=lambda t: t.number)
    pending = history.pending
    d = len(space.dimension_names)

    def encode(configs: list[dict[str, object]]) -> Array:
        return space.encode_many(configs) if configs else np.empty((0, d))

    def fidelities(values: list[float | int | None]) -> Array:
        return np.array([math.nan if f is None else float(f) for f in values], dtype=np.float64)

    return Observations(
        u=encode([dict(t.config) for t in finished]),
        fidelity=fidelities([t.fidelity for t in finished]),
        y=np.array(
            [
                float(t.objective)
                if t.status is TrialStatus.SUCCEEDED and t.objective is not None
                else math.nan
                for t in finished
            ],
            dtype=np.float64,
        ),
        numbers=np.array([t.number for t in finished], dtype=np.int64),
        pending_u=encode([dict(t.config) for t in pending]),
        pending_fidelity=fidelities([t.fidelity for t in pending]),
    )


@dataclass(frozen=True)
class CurvePoints:
    """Every learning-curve point of the finished trials, one row per (chain, step).

    ``configs`` (n): the configuration of each point (one mapping object per chain, its first
    trial's, so that a model encodes each chain once); ``steps`` (n,): its step (a fidelity value);
    ``y`` (n,): the objective there, NaN for a failed evaluation (at its fidelity); ``chains``
    (n,): the number of the first trial of the point's chain (a configuration continued step by
    step through ``previous_trial``); ``numbers`` (n,): the trial that reported it. Rows are in
    trial-number order, so a point keeps its index as later trials finish (the model's keys).
    """

    configs: list[Mapping[str, Any]]
    steps: Array
    y: Array
    chains: NDArray[np.int64]
    numbers: NDArray[np.int64]

    def __len__(self) -> int:
        return len(self.y)


def chain_roots(trials: Sequence[Trial]) -> dict[int, int]:
    """Trial number -> the number of the first trial of its chain (following ``previous_trial``;
    a missing ancestor ends the chain)."""
    by_number = {t.number: t for t in trials}
    roots: dict[int, int] = {}
    for t in sorted(trials, key=lambda t: t.number):
        previous = t.previous_trial
        roots[t.number] = roots.get(previous, t.number) if previous in by_number else t.number
    return roots


def curve_points(history: History, *, step_range: tuple[float, float]) -> CurvePoints:
    """The finished trials' curve points within ``step_range`` (inclusive), as arrays.

    Per trial: its objective at its fidelity first (NaN for a failed trial), then the points it
    reported (``trial.report(step, value)``, steps in fidelity units) whose step lies in
    ``step_range``; a (chain, step) already seen (an earlier trial of the chain, or the trial's
    own objective) is not repeated. Trials without a fidelity contribute their curve only,
    never (a freeze-thaw study's trials all have one).
    """
    lower, upper = step_range
    trials = list(history.trials)
    roots = chain_roots(trials)
    root_config = {t.number: t.config for t in trials if roots[t.number] == t.number}
    seen: set[tuple[int, float]] = set()
    configs: list[Mapping[str, Any]] = []
    steps: list[float] = []
    ys: list[float] = []
    chains: list[int] = []
    numbers: list[int] = []
    for t in sorted(history.finished, key=lambda t: t.number):
        root = roots[t.number]
        succeeded = t.status is TrialStatus.SUCCEEDED and t.objective is not None
        points: list[tuple[float, float]] = []
        if t.fidelity is not None:
            value = float(t.objective) if succeeded and t.objective is not None else math.nan
            points.append((float(t.fidelity), value))
        points.extend(t.learning_curve)
        for step, value in points:
            if not lower - 1e-12 <= step <= upper + 1e-12 or (root, step) in seen:
                continue
            seen.add((root, step))
            configs.append(root_config.get(root, t.config))
            steps.append(step)
            ys.append(value if math.isfinite(value) else math.nan)
            chains.append(root)
            numbers.append(t.number)
    return CurvePoints(
        configs=configs,
        steps=np.array(steps, dtype=np.float64),
        y=np.array(ys, dtype=np.float64),
        chains=np.array(chains, dtype=np.int64),
        numbers=np.array(numbers, dtype=np.int64),
    )
