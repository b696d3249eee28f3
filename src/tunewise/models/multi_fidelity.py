"""One GP over all fidelities and the two-stage acquisition of PriorBand+BO (ALGORITHMS.md §4).

The model (:func:`tunewise.models.gp.multi_fidelity_observations`): every succeeded trial, at any
fidelity, is a training point; the fidelity, on the log scale of its range, is one more input
column (the last). Promotions give one row per rung reached.

Two-stage acquisition (NePS-old, Mallik et al. 2023): score the candidates by log-EI at the target
rung's fidelity, keep the best ``top_k``, re-score those at the maximum fidelity and take the best.
The EI incumbent at a fidelity is the best loss observed there (NePS-old: the target rung's best),
else the best loss at any fidelity. Pending trials (other workers', and earlier picks of the same
batch) are a pessimistic constant liar at their fidelity. ``fit_seconds`` and
``acquisition_seconds`` go to the trial's info; the training set is capped at ``max_points``.

Imports torch: import this module inside an ``ask`` path only.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from botorch.acquisition import LogExpectedImprovement

from tunewise.models import gp
from tunewise.models.acquisition import condition_on_lies
from tunewise.trial import History

TOP_K = 10


def two_stage_pick(
    history: History,
    candidates: Sequence[Mapping[str, Any]],
    *,
    target_fidelity: float,
    seed: int,
    top_k: int = TOP_K,
    max_points: int = 300,
    warm_iterations: int = 20,
    cache: gp.FitCache | None = None,
) -> tuple[int, dict[str, Any]] | None:
    """Index of the chosen candidate and facts for ``info``; None with fewer than 2 observations.

    Deterministic given the History, the candidates and ``seed`` (the cache changes only speed).
    """
    space = history.space
    top = space.fidelity.upper if space.fidelity is not None else None
    if top is None or not candidates:
        return None
    encoding = gp.Encoding.of(space)
    obs = gp.multi_fidelity_observations(history, encoding)
    if len(obs) < 2:
        return None
    start = time.perf_counter()
    model, _, train_y = gp.fitted_model(
        obs,
        encoding,
        seed=seed,
        max_points=max_points,
        warm_iterations=warm_iterations,
        cache=cache,
        build=gp.build_model_with_fidelity,
    )
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    pending = _pending_points(history, encoding)
    model = condition_on_lies(model, pending, -float(np.max(train_y)))
    x = encoding.to_model(space.encode_many([dict(c) for c in candidates]))
    z_target = gp.fidelity_unit(space, target_fidelity)
    z_top = gp.fidelity_unit(space, top)
    scores = _log_ei(model, obs, x, z_target)
    keep = np.argsort(-scores, kind="stable")[: max(1, top_k)]
    final = _log_ei(model, obs, x[keep], z_top)
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


def _pending_points(history: History, encoding: gp.Encoding) -> torch.Tensor:
    """Other workers' running and queued trials as model rows (config plus fidelity column).

    They enter as a pessimistic constant liar (as in Bayesian optimization), so parallel workers
    are not sent to the same region while those results are outstanding.
    """
    space = history.space
    rows = [t for t in history.pending if t.fidelity is not None]
    if not rows:
        return torch.empty((0, encoding.dim + 1), dtype=gp.DTYPE)
    x = encoding.to_model(space.encode_many([dict(t.config) for t in rows]))
    z = [gp.fidelity_unit(space, t.fidelity) for t in rows]
    return torch.tensor(np.column_stack([x, z]), dtype=gp.DTYPE)


def _log_ei(model: Any, obs: gp.Observations, x: gp.Array, z: float) -> gp.Array:
    """log-EI of model-coordinate rows ``x`` (n, d) at fidelity column ``z``, shape (n,)."""
    at = np.isclose(obs.x[:, -1], z)
    best_loss = float(np.min(obs.y[at])) if at.any() else float(np.min(obs.y))
    acq = LogExpectedImprovement(model, best_f=-best_loss)
    points = np.column_stack([x, np.full(len(x), z)])
    with torch.no_grad():
        values = acq(torch.tensor(points, dtype=gp.DTYPE).unsqueeze(1)).numpy()
    return np.where(np.isfinite(values), values, -math.inf)
