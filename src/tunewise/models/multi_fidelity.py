"""One GP over all fidelities and the two-stage acquisition of PriorBand+BO (ALGORITHMS.md §4).

The model takes plain values: the observations' configs (n of them), fidelities (n,) and
objectives ``y`` (n,), every succeeded evaluation at any fidelity (the caller reads them from its
History, :func:`tunewise.optimizers.observations.observations`). An :class:`Inputs` turns them
into model rows (n, D) with the fidelity, on the log scale of its range
(:func:`tunewise.models.gp.fidelity_unit`), in one column of its own (:attr:`Inputs.column`):

- :class:`CubeInputs`: the unit-cube encoding's model coordinates plus the fidelity as the last
  column (:func:`tunewise.models.gp.with_fidelity`), the mixed GP of
  :func:`tunewise.models.gp.build_model_with_fidelity`;
- :class:`tunewise.models.joint_multi_fidelity.JointInputs`, for spaces with architecture
  parameters: the joint GP's rows (cube columns and WL features, :mod:`tunewise.models.joint`)
  with the fidelity as one more cube column.

Two-stage acquisition (NePS-old, Mallik et al. 2023): score the candidates by log-EI at the target
rung's fidelity, keep the best ``top_k``, re-score those at the maximum fidelity and take the best.
The EI incumbent at a fidelity is the best loss observed there (NePS-old: the target rung's best),
else the best loss at any fidelity. Pending points (other workers' trials, and earlier picks of the
same batch) are a pessimistic constant liar at their fidelity, so parallel workers are not sent to
the same region while those results are outstanding. ``fit_seconds`` and ``acquisition_seconds``
(which includes turning the candidates into rows) go to the trial's info; the training set is
capped at ``max_points``.

Imports torch: import this module inside an ``ask`` path only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.models.gp_regression import SingleTaskGP
from botorch.models.model import Model
from numpy.typing import NDArray

from tunewise.models import gp
from tunewise.models.acquisition import condition_on_lies
from tunewise.space import Space

TOP_K = 10

Configs = Sequence[Mapping[str, Any]]


class Inputs(Protocol):
    """How configs and fidelities become the rows of one multi-fidelity GP, and that GP."""

    @property
    def space(self) -> Space:
        """The user's space (with its :class:`~tunewise.space.Fidelity`)."""
        ...

    @property
    def column(self) -> int:
        """The rows' fidelity column (:func:`tunewise.models.gp.fidelity_unit` values)."""
        ...

    def rows(self, configs: Configs, fidelity: gp.Array) -> gp.Array:
        """Model rows (n, D) of ``configs`` (n) at ``fidelity`` (n,), for a fitted model."""
        ...

    def fitted(
        self,
        configs: Configs,
        fidelity: gp.Array,
        y: gp.Array,
        *,
        keys: NDArray[np.int64],
        pending: Configs,
        pending_fidelity: gp.Array,
        fit: gp.FitSettings,
    ) -> tuple[Model, gp.Array, gp.Array, gp.Array]:
        """(model, training rows (m, D), their objectives (m,), pending rows (p, D)).

        Observations: ``configs`` (n) at ``fidelity`` (n,) with finite objectives ``y`` (n,)
        named by ``keys`` (n,, trial numbers; see :func:`tunewise.models.gp.fitted_model`).
        """
        ...


@dataclass(frozen=True)
class CubeInputs:
    """Rows of :func:`tunewise.models.gp.with_fidelity`: model coordinates, then the fidelity."""

    encoding: gp.Encoding

    @classmethod
    def of(cls, space: Space) -> CubeInputs:
        return cls(gp.Encoding.of(space))

    @property
    def space(self) -> Space:
        return self.encoding.space

    @property
    def column(self) -> int:
        return self.encoding.dim

    def rows(self, configs: Configs, fidelity: gp.Array) -> gp.Array:
        return gp.with_fidelity(self.encoding, self.space.encode_many(configs), fidelity)

    def fitted(
        self,
        configs: Configs,
        fidelity: gp.Array,
        y: gp.Array,
        *,
        keys: NDArray[np.int64],
        pending: Configs,
        pending_fidelity: gp.Array,
        fit: gp.FitSettings,
    ) -> tuple[Model, gp.Array, gp.Array, gp.Array]:
        model, train_x, train_y = gp.fitted_model(
            self.rows(configs, fidelity),
            y,
            self.encoding,
            keys=keys,
            seed=fit.seed,
            max_points=fit.max_points,
            warm_iterations=fit.warm_iterations,
            cache=fit.cache,
            build=gp.build_model_with_fidelity,
        )
        return model, train_x, train_y, self.rows(pending, pending_fidelity)


def two_stage_pick(
    inputs: Inputs,
    configs: Configs,
    fidelity: gp.Array,
    y: gp.Array,
    candidates: Configs,
    *,
    target_fidelity: float,
    seed: int,
    keys: NDArray[np.int64] | None = None,
    pending: Configs = (),
    pending_fidelity: gp.Array | None = None,
    top_k: int = TOP_K,
    max_points: int = 300,
    warm_iterations: int = 20,
    cache: gp.FitCache | None = None,
) -> tuple[int, dict[str, Any]] | None:
    """Index of the chosen candidate and facts for ``info``; None with fewer than 2 observations.

    Observations: ``configs`` (n) at ``fidelity`` (n,) with finite objectives ``y`` (n,) and
    their ``keys`` (n,, trial numbers, default ``0..n-1``). ``candidates`` (c configs) are scored
    at ``target_fidelity`` and then at the space's maximum fidelity. Pending points: ``pending``
    (m configs) at ``pending_fidelity`` (m,). Deterministic given the inputs and ``seed`` (the
    cache changes only speed).
    """
    space = inputs.space
    top = space.fidelity.upper if space.fidelity is not None else None
    if top is None or len(candidates) == 0 or len(y) < 2:
        return None
    start = time.perf_counter()
    model, _, train_y, pending_x = inputs.fitted(
        configs,
        fidelity,
        y,
        keys=np.arange(len(y), dtype=np.int64) if keys is None else keys,
        pending=pending,
        pending_fidelity=np.empty(0) if pending_fidelity is None else pending_fidelity,
        fit=gp.FitSettings(
            seed=seed, max_points=max_points, warm_iterations=warm_iterations, cache=cache
        ),
    )
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pending_rows = torch.tensor(pending_x, dtype=gp.DTYPE)
    lied = condition_on_lies(model, pending_rows, -float(np.max(train_y)))
    # the training solve once for both stages; for WL rows also the exact prior variance
    posterior = gp.CachedPosterior(lied) if isinstance(lied, SingleTaskGP) else lied
    x = inputs.rows(candidates, np.full(len(candidates), float(top)))
    z_target = gp.fidelity_unit(space, target_fidelity)
    z_top = gp.fidelity_unit(space, top)
    z_observed = np.array([gp.fidelity_unit(space, f) for f in fidelity], dtype=np.float64)
    scores = _log_ei(posterior, _best_loss(y, z_observed, z_target), x, inputs.column, z_target)
    keep = np.argsort(-scores, kind="stable")[: max(1, top_k)]
    final = _log_ei(posterior, _best_loss(y, z_observed, z_top), x[keep], inputs.column, z_top)
    best = int(keep[int(np.argmax(final))])
    info = {
        "train_points": len(train_y),
        "pending_points": len(pending_rows),
        "log_ei_target": round(float(scores[best]), 4),
        "log_ei_max": round(float(final.max()), 4),
        "fit_seconds": round(fit_seconds, 4),
        "acquisition_seconds": round(time.perf_counter() - start, 4),
    }
    return best, info


def _best_loss(y: gp.Array, z_observed: gp.Array, z: float) -> float:
    """The EI incumbent at fidelity ``z``: the best of ``y`` (n,) among the observations whose
    fidelity (``z_observed`` (n,), :func:`tunewise.models.gp.fidelity_unit`) is ``z``, else the
    best of all ``y`` (the training subset may leave some observations out; these count)."""
    at = np.isclose(z_observed, z)
    return float(np.min(y[at])) if at.any() else float(np.min(y))


def _log_ei(model: Model, best_loss: float, x: gp.Array, column: int, z: float) -> gp.Array:
    """log-EI over ``best_loss`` of model rows ``x`` (n, D) with their fidelity ``column`` set to
    ``z``, shape (n,)."""
    acq = LogExpectedImprovement(model, best_f=-best_loss)
    points = np.array(x, dtype=np.float64)
    points[:, column] = z
    with torch.no_grad():
        values = acq(torch.tensor(points, dtype=gp.DTYPE).unsqueeze(1)).numpy()
    scores: gp.Array = np.where(np.isfinite(values), values, -math.inf)
    return scores
