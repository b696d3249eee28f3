"""One GP over all fidelities and the two-stage acquisition of PriorBand+BO (ALGORITHMS.md §4).

The model takes arrays: the observations' unit vectors ``u`` (n, d), fidelities (n,) and
objectives ``y`` (n,), every succeeded evaluation at any fidelity (the caller reads them from its
History, :func:`tunewise.optimizers.observations.observations`); the fidelity, on the log scale of
its range, is one more input column (the last, :func:`tunewise.models.gp.with_fidelity`).

Two-stage acquisition (NePS-old, Mallik et al. 2023): score the candidates by log-EI at the target
rung's fidelity, keep the best ``top_k``, re-score those at the maximum fidelity and take the best.
The EI incumbent at a fidelity is the best loss observed there (NePS-old: the target rung's best),
else the best loss at any fidelity. Pending points (other workers' trials, and earlier picks of the
same batch) are a pessimistic constant liar at their fidelity, so parallel workers are not sent to
the same region while those results are outstanding. ``fit_seconds`` and ``acquisition_seconds``
go to the trial's info; the training set is capped at ``max_points``.

Imports torch: import this module inside an ``ask`` path only.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import torch
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.models.model import Model
from numpy.typing import NDArray

from tunewise.models import gp
from tunewise.models.acquisition import condition_on_lies

TOP_K = 10


def two_stage_pick(
    encoding: gp.Encoding,
    u: gp.Array,
    fidelity: gp.Array,
    y: gp.Array,
    candidates: gp.Array,
    *,
    target_fidelity: float,
    seed: int,
    keys: NDArray[np.int64] | None = None,
    pending_u: gp.Array | None = None,
    pending_fidelity: gp.Array | None = None,
    top_k: int = TOP_K,
    max_points: int = 300,
    warm_iterations: int = 20,
    cache: gp.FitCache | None = None,
) -> tuple[int, dict[str, Any]] | None:
    """Index of the chosen candidate and facts for ``info``; None with fewer than 2 observations.

    Observations: unit vectors ``u`` (n, d), ``fidelity`` (n,), finite objectives ``y`` (n,) and
    their ``keys`` (n,, trial numbers; see :func:`tunewise.models.gp.fitted_model`). Candidates:
    unit vectors (c, d), scored at ``target_fidelity`` and then at the space's maximum fidelity.
    Pending points: ``pending_u`` (m, d) at ``pending_fidelity`` (m,). Deterministic given the
    arrays and ``seed`` (the cache changes only speed).
    """
    space = encoding.space
    top = space.fidelity.upper if space.fidelity is not None else None
    if top is None or len(candidates) == 0 or len(y) < 2:
        return None
    train_x = gp.with_fidelity(encoding, u, fidelity)
    start = time.perf_counter()
    model, _, train_y = gp.fitted_model(
        train_x,
        y,
        encoding,
        keys=keys,
        seed=seed,
        max_points=max_points,
        warm_iterations=warm_iterations,
        cache=cache,
        build=gp.build_model_with_fidelity,
    )
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    if pending_u is None or pending_fidelity is None:
        pending_u, pending_fidelity = np.empty((0, encoding.dim)), np.empty(0)
    pending = torch.tensor(gp.with_fidelity(encoding, pending_u, pending_fidelity), dtype=gp.DTYPE)
    lied: Model = condition_on_lies(model, pending, -float(np.max(train_y)))
    x = encoding.to_model(candidates)
    z_target = gp.fidelity_unit(space, target_fidelity)
    z_top = gp.fidelity_unit(space, top)
    scores = _log_ei(lied, train_x, y, x, z_target)
    keep = np.argsort(-scores, kind="stable")[: max(1, top_k)]
    final = _log_ei(lied, train_x, y, x[keep], z_top)
    best = int(keep[int(np.argmax(final))])
    info = {
        "train_points": len(train_y),
        "pending_points": len(pending),
        "log_ei_target": round(float(scores[best]), 4),
        "log_ei_max": round(float(final.max()), 4),
        "fit_seconds": round(fit_seconds, 4),
        "acquisition_seconds": round(time.perf_counter() - start, 4),
    }
    return best, info


def _log_ei(model: Model, train_x: gp.Array, y: gp.Array, x: gp.Array, z: float) -> gp.Array:
    """log-EI of model-coordinate rows ``x`` (n, d) at fidelity column ``z``, shape (n,).

    The incumbent is the best of ``y`` at training rows (``train_x``, fidelity column last) whose
    fidelity is ``z``, else the best of all ``y``.
    """
    at = np.isclose(train_x[:, -1], z)
    best_loss = float(np.min(y[at])) if at.any() else float(np.min(y))
    acq = LogExpectedImprovement(model, best_f=-best_loss)
    points = np.column_stack([x, np.full(len(x), z)])
    with torch.no_grad():
        values = acq(torch.tensor(points, dtype=gp.DTYPE).unsqueeze(1)).numpy()
    scores: gp.Array = np.where(np.isfinite(values), values, -math.inf)
    return scores
