"""Bayesian optimization: a GP over the unit cube of mixed, conditional spaces, with log-EI.

Decisions per suggestion ``k`` (slot ``"bo:k"``, ``k = history.next_number + i``):

1. *Initial design* while fewer than ``initial_design_size`` observations exist (default d + 1):
   uniform samples from ``rng_for(seed, k)``. Plain BO ignores priors (``capabilities.priors`` is
   False): a space's priors change none of its suggestions. With ``prior_first=True`` (piBO's
   default) the prior configuration comes first when the space has priors and nobody evaluates
   it yet.
2. Then the model (:mod:`tunewise.models.gp`): fit on finished trials at the maximum fidelity
   (read by :func:`tunewise.optimizers.observations.observations`; failed ones as the worst
   value), maximize log-EI (Ament et al. 2023) over the space
   (:mod:`tunewise.models.acquisition`), with other workers' pending trials and the batch's
   earlier picks as a constant liar (``"log_ei"``) or as ``X_pending`` of qLogNEI (``"qlog_nei"``).

Spaces with architecture parameters (:class:`~tunewise.space.Architecture`): the model step is
:mod:`tunewise.optimizers.architecture_bo` (one GP over the cube and the architectures'
Weisfeiler–Lehman features, log-EI maximized by evolution of derivations, then the winner's cube
part refined); the initial design has at least ``ARCHITECTURE_DESIGN`` samples (10, as Schrodi et
al. 2023). ``wl_h``: WL iterations (:data:`WL_H`); ``wl_hierarchical``: the hierarchical WL
kernel over the derivation's level graphs; ``combine``: ``"product"`` or ``"additive"`` kernel of
the cube and the architectures (:mod:`tunewise.models.joint`).

torch/BoTorch are imported inside :meth:`ask` only. The fit cache on the instance changes nothing
but speed (anchored warm starts, see :mod:`tunewise.models.gp`). Each suggestion's ``info`` says
where it came from and what the model cost (``fit_seconds``, ``acquisition_seconds``).
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np

from tunewise.optimizers.base import Capabilities, Optimizer, check_n
from tunewise.optimizers.observations import Observations, observations
from tunewise.optimizers.registry import register
from tunewise.space import Space
from tunewise.trial import History, Suggestion, config_key, max_fidelity, rng_for

_ACQUISITIONS = ("log_ei", "qlog_nei")
_COMBINES = ("product", "additive")
ARCHITECTURE_DESIGN = 10
"""The smallest initial design of a space with architecture parameters."""
WL_H = 1
"""Weisfeiler–Lehman iterations of the architecture kernel. One, not the surrogate-regression
optimum of two: in BO runs on NAS-Bench-201 h = 1 reached lower regret by 100 evaluations (h = 2
stalled around cells it had overfit; benchmarks/README.md, "Architecture search II")."""


def _positive_int(owner: str, name: str, value: Any, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{owner}: {name} must be an integer >= {minimum}, got {value!r}")


@register
class BayesianOptimization(Optimizer):
    """GP-based BO with log-EI at full fidelity; see the module docstring.

    ``restarts`` / ``raw_samples``: L-BFGS starts and the random points they are picked from.
    ``max_points``: training-set cap (best half + random rest beyond it). ``warm_iterations``:
    L-BFGS iterations that refine the anchored hyperparameters between full fits.
    ``prior_first``: start the initial design at the space's prior configuration (if it has
    priors); off by default, since plain BO is prior-free. ``local_starts``: the best this many
    observations (and one perturbation of each) are extra L-BFGS starts, which refines the
    suggestions near the optimum (:mod:`tunewise.models.acquisition`; continuous spaces); 0: off.
    """

    name = "bayesian_optimization"
    capabilities = Capabilities(priors=False, fidelity=False, conditions=True, architectures=True)
    slot_prefix: ClassVar[str] = "bo"

    def __init__(
        self,
        *,
        initial_design_size: int | None = None,
        acquisition: str = "log_ei",
        restarts: int = 4,
        raw_samples: int = 256,
        max_points: int = 300,
        warm_iterations: int = 20,
        prior_first: bool = False,
        local_starts: int = 3,
        wl_h: int = WL_H,
        wl_hierarchical: bool = False,
        combine: str = "product",
    ) -> None:
        owner = self.name
        if initial_design_size is not None:
            _positive_int(owner, "initial_design_size", initial_design_size)
        if acquisition not in _ACQUISITIONS:
            raise ValueError(
                f"{owner}: acquisition must be one of {list(_ACQUISITIONS)}, got {acquisition!r}"
            )
        _positive_int(owner, "restarts", restarts)
        _positive_int(owner, "raw_samples", raw_samples)
        _positive_int(owner, "max_points", max_points, minimum=8)
        _positive_int(owner, "warm_iterations", warm_iterations)
        _positive_int(owner, "local_starts", local_starts, minimum=0)
        _positive_int(owner, "wl_h", wl_h, minimum=0)
        if not isinstance(wl_hierarchical, bool):
            raise ValueError(
                f"{owner}: wl_hierarchical must be True or False, got {wl_hierarchical!r}"
            )
        if combine not in _COMBINES:
            raise ValueError(f"{owner}: combine must be one of {list(_COMBINES)}, got {combine!r}")
        if not isinstance(prior_first, bool):
            raise ValueError(f"{owner}: prior_first must be True or False, got {prior_first!r}")
        self.initial_design_size = initial_design_size
        self.acquisition = acquisition
        self.restarts = restarts
        self.raw_samples = raw_samples
        self.max_points = max_points
        self.warm_iterations = warm_iterations
        self.prior_first = prior_first
        self.local_starts = local_starts
        self.wl_h = wl_h
        self.wl_hierarchical = wl_hierarchical
        self.combine = combine
        self._cache: Any = None  # models.gp.FitCache, created on the first model-based ask

    def design_size(self, space: Space) -> int:
        if self.initial_design_size is not None:
            return self.initial_design_size
        if space.architectures:
            return max(len(space.dimension_names) + 1, ARCHITECTURE_DESIGN)
        return len(space.dimension_names) + 1

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        check_n(n)
        space = history.space
        fidelity = max_fidelity(space)
        taken = {config_key(t.config) for t in history.trials}
        numbers = range(history.next_number, history.next_number + n)
        n_finished = sum(1 for t in history.finished if fidelity is None or t.fidelity == fidelity)
        n_ok = sum(1 for t in history.succeeded if fidelity is None or t.fidelity == fidelity)
        if n_finished < self.design_size(space) or n_ok < 2:
            configs = [self._design(space, history.seed, k, taken) for k in numbers]
        else:
            configs = self._from_model(history, list(numbers), taken)
        return [
            Suggestion(config=config, slot=f"{self.slot_prefix}:{k}", fidelity=fidelity, info=info)
            for k, (config, info) in zip(numbers, configs, strict=True)
        ]

    def _design(
        self, space: Space, seed: int, k: int, taken: set[Any]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """With ``prior_first``, the prior configuration if untried; else a uniform sample; marks
        it taken."""
        if self.prior_first and space.has_priors:
            prior = space.prior_config()
            if config_key(prior) not in taken:
                taken.add(config_key(prior))
                return prior, {"sampled_from": "prior"}
        config = space.sample(rng_for(seed, k))
        taken.add(config_key(config))
        return config, {"sampled_from": "random"}

    # -- the model ---------------------------------------------------------------------------

    def _prior(
        self, encoding: Any, obs: Observations, log_density: Any = None
    ) -> tuple[Any, float, dict[str, Any]]:
        """(log-prior module, exponent, facts for ``info``) weighting the acquisition from the
        observations the model is fit on; none for plain BO. ``log_density`` (n,): the observed
        configs' whole log prior when it is more than the cube's (architectures)."""
        return None, 0.0, {}

    def _from_model(
        self, history: History, numbers: list[int], taken: set[Any]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        from tunewise.models import gp

        with gp.one_thread():
            if history.space.architectures:
                from tunewise.optimizers import architecture_bo

                return architecture_bo.suggestions(self, history, numbers, taken)
            return self._model_suggestions(history, numbers, taken)

    def _model_suggestions(
        self, history: History, numbers: list[int], taken: set[Any]
    ) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        import torch

        from tunewise.models import acquisition as acq_mod
        from tunewise.models import gp

        space = history.space
        encoding = gp.Encoding.of(space)
        if self._cache is None:
            self._cache = gp.FitCache()
        start = time.perf_counter()
        obs = observations(history).at_fidelity(max_fidelity(space))  # failed ones included
        model, train_x, train_y = gp.fitted_model(
            encoding.to_model(obs.u),
            gp.impute_failures(obs.y),
            encoding,
            keys=obs.numbers,
            seed=history.seed,
            max_points=self.max_points,
            warm_iterations=self.warm_iterations,
            cache=self._cache,
        )
        fit_seconds = time.perf_counter() - start
        pending = [torch.empty((0, encoding.dim), dtype=gp.DTYPE)]
        if len(obs.pending_u):
            pending.append(torch.tensor(encoding.to_model(obs.pending_u), dtype=gp.DTYPE))
        prior, exponent, prior_facts = self._prior(encoding, obs)
        tx = torch.tensor(train_x, dtype=gp.DTYPE)
        best_f, lie = -float(np.min(train_y)), -float(np.max(train_y))
        incumbents = tx[torch.from_numpy(np.argsort(train_y, kind="stable")[: self.local_starts])]
        results = []
        for k in numbers:
            start = time.perf_counter()
            seed = int(rng_for(history.seed, k, 0xAC).integers(2**31))
            acq = acq_mod.with_pending(
                self.acquisition,
                model,
                tx,
                best_f,
                torch.cat(pending),
                lie=lie,
                seed=seed,
                prior=prior,
                prior_exponent=exponent,
            )
            x = acq_mod.optimize(
                acq,
                encoding,
                restarts=self.restarts,
                raw_samples=self.raw_samples,
                seed=seed,
                incumbents=incumbents,
            )
            config = space.decode(encoding.to_unit(x.numpy())[0])
            info: dict[str, Any] = {
                "sampled_from": "model",
                "fit_seconds": round(fit_seconds, 4),
                "acquisition_seconds": round(time.perf_counter() - start, 4),
                "train_points": len(train_y),
                **prior_facts,
            }
            if config_key(config) in taken:  # the acquisition's best is a known config: explore
                config = space.sample(rng_for(history.seed, k, 0xD0))
                info["sampled_from"] = "random (model proposed a known config)"
            taken.add(config_key(config))
            pending.append(
                torch.tensor(encoding.to_model(space.encode(config)), dtype=gp.DTYPE).reshape(1, -1)
            )
            results.append((config, info))
        return results
