"""Model-made suggestions of BO / piBO on spaces with architecture parameters.

:class:`~tunewise.optimizers.bayesian_optimization.BayesianOptimization` hands its model step here
when the space has an :class:`~tunewise.space.Architecture`: the joint GP of
:mod:`tunewise.models.joint` (cube columns x WL features) is fit on the finished trials at the
maximum fidelity (failed ones as the worst value), log-EI (piBO: ``+ exponent * log pi``, where
``log pi`` is the cube prior plus the architectures' production prior) is maximized over configs by
the evolution of :mod:`tunewise.models.evolution`, and the winner's hyperparameters are refined
with its architectures fixed by the cube optimizer of :mod:`tunewise.models.acquisition` (kept
only if better and the same architectures stay active). Pending trials of other workers, and the
batch's earlier picks, are a constant liar (``"log_ei"``) or ``X_pending`` (``"qlog_nei"``), as
for cube spaces.

Each suggestion's ``info``: ``sampled_from``, ``fit_seconds``, ``acquisition_seconds``,
``generations`` (of the evolution), ``refined`` (whether the cube refinement won),
``train_points`` and piBO's prior facts. All randomness: ``rng_for(seed, k, ...)``.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from tunewise.optimizers.base import Capabilities
from tunewise.optimizers.observations import Observations, observations
from tunewise.trial import History, max_fidelity, rng_for

if TYPE_CHECKING:
    from tunewise.models.evolution import Result, Score
    from tunewise.models.joint import JointFeatures

Pick = tuple[dict[str, Any], dict[str, Any]]


class Settings(Protocol):
    """What this module reads of the BO / piBO optimizer that calls it (and its fit cache)."""

    @property
    def capabilities(self) -> Capabilities: ...

    acquisition: str
    restarts: int
    raw_samples: int
    max_points: int
    warm_iterations: int
    wl_h: int
    wl_hierarchical: bool
    combine: str
    _cache: Any

    def _prior(
        self, encoding: Any, obs: Observations, log_density: Any = None
    ) -> tuple[Any, float, dict[str, Any]]: ...


def suggestions(
    optimizer: Settings, history: History, numbers: list[int], taken: set[Any]
) -> list[Pick]:
    """One (config, info) per trial number in ``numbers``; marks each config taken."""
    import torch

    from tunewise.models import acquisition as acq_mod
    from tunewise.models import evolution, gp, joint

    space = history.space
    fidelity = max_fidelity(space)
    if optimizer._cache is None:
        optimizer._cache = gp.FitCache()
    start = time.perf_counter()
    obs = observations(history).at_fidelity(fidelity)
    by_number = {t.number: dict(t.config) for t in history.finished}
    configs = [by_number[int(k)] for k in obs.numbers]
    pending = [dict(t.config) for t in history.pending]
    features = joint.JointFeatures.of(
        space,
        h=optimizer.wl_h,
        hierarchical=optimizer.wl_hierarchical,
        with_prior=optimizer.capabilities.priors,
    )
    y_all = gp.impute_failures(obs.y)
    model, train_x, train_y, pending_x = joint.fitted_model(
        configs,
        y_all,
        features,
        keys=obs.numbers,
        pending=pending,
        seed=history.seed,
        max_points=optimizer.max_points,
        warm_iterations=optimizer.warm_iterations,
        combine=optimizer.combine,
        cache=optimizer._cache,
    )
    fit_seconds = time.perf_counter() - start
    log_density = np.array(
        [joint.architecture_log_prior(space, c) for c in configs], dtype=np.float64
    ) + np.atleast_1d(np.asarray(space.log_prior_unit(obs.u), dtype=np.float64))
    prior, exponent, prior_facts = optimizer._prior(features.encoding, obs, log_density)
    if prior is not None:
        prior = joint.JointLogPrior(prior)
    tx = torch.tensor(train_x, dtype=gp.DTYPE)
    best_f, lie = -float(np.min(train_y)), -float(np.max(train_y))
    ranked = [configs[i] for i in np.argsort(y_all, kind="stable")]
    pending_rows = [torch.tensor(pending_x, dtype=gp.DTYPE).reshape(-1, features.dim)]
    d = features.encoding.dim
    results: list[Pick] = []
    for k in numbers:
        start = time.perf_counter()
        seed = int(rng_for(history.seed, k, 0xAC).integers(2**31))
        acq = acq_mod.with_pending(
            optimizer.acquisition,
            model,
            tx,
            best_f,
            torch.cat(pending_rows),
            lie=lie,
            seed=seed,
            prior=prior,
            prior_exponent=exponent,
        )

        def score(batch: list[dict[str, Any]], acq: Any = acq) -> Any:
            rows = torch.tensor(features.transform(batch), dtype=gp.DTYPE).unsqueeze(-2)
            with torch.no_grad():
                return acq(rows).numpy()

        found = evolution.maximize(
            score,
            space,
            best=ranked,
            rng=rng_for(history.seed, k, 0xE7),
            taken=taken,
            use_priors=optimizer.capabilities.priors,
        )
        config, refined = found.config, False
        if d and found.value > -np.inf:
            better = _refine(optimizer, acq, features, found, seed, score, taken)
            if better is not None:
                config, refined = better, True
        info: dict[str, Any] = {
            "sampled_from": "model",
            "fit_seconds": round(fit_seconds, 4),
            "acquisition_seconds": round(time.perf_counter() - start, 4),
            "generations": found.generations,
            "refined": refined,
            "train_points": len(train_y),
            **prior_facts,
        }
        if evolution.key(config) in taken:  # nothing new found: explore
            config = space.sample(rng_for(history.seed, k, 0xD0))
            info["sampled_from"] = "random (model proposed a known config)"
        taken.add(evolution.key(config))
        pending_rows.append(torch.tensor(features.transform([config]), dtype=gp.DTYPE))
        results.append((config, info))
    return results


def _refine(
    optimizer: Settings,
    acq: Any,
    features: JointFeatures,
    found: Result,
    seed: int,
    score: Score,
    taken: set[Any],
) -> dict[str, Any] | None:
    """The winner with its cube part re-optimized, architectures fixed; None unless better."""
    import torch

    from tunewise.models import acquisition as acq_mod
    from tunewise.models import evolution, gp
    from tunewise.space import SpaceError

    space = features.space
    d = features.encoding.dim
    row = torch.tensor(features.transform([found.config]), dtype=gp.DTYPE)[0]
    fixed = acq_mod.FixedColumns(acq, row[d:])
    x = acq_mod.optimize(
        fixed,
        features.encoding,
        restarts=optimizer.restarts,
        raw_samples=optimizer.raw_samples,
        seed=seed,
        incumbents=row[:d].reshape(1, -1),
    )
    archs = {name: found.config[name] for name in space.architectures if name in found.config}
    try:
        config = space.decode(features.encoding.to_unit(x.numpy())[0], architectures=archs)
    except SpaceError:  # the refinement activated an architecture the winner has no value for
        return None
    if set(archs) != {n for n in space.architectures if n in config}:
        return None
    if evolution.key(config) in taken or float(score([config])[0]) <= found.value:
        return None
    refined: dict[str, Any] = config
    return refined
