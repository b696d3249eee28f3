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
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from tunewise.trial import History, TrialStatus

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
