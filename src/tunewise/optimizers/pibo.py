"""piBO: Bayesian optimization whose acquisition is weighted by the user's prior.

Hvarfner et al. 2022 ("piBO: Augmenting Acquisition Functions with User Beliefs for Bayesian
Optimization", ICLR): maximize ``acq(x) * pi(x) ** (beta / n)``, in log space
``log acq(x) + (beta / n) * log pi(x)`` (BoTorch's ``PriorGuidedAcquisitionFunction`` around the
same log-EI / qLogNEI as :class:`BayesianOptimization`), where ``pi`` is the space's prior density
on the unit cube (:meth:`Space.log_prior_unit`; for an architecture parameter, plus its production
prior relative to uniform sampling, :meth:`Architecture.log_prior`, which enters the evolutionary
acquisition search's fitness, :mod:`tunewise.optimizers.architecture_bo`, whose initial population
is then drawn from the prior) and ``n`` the number of observations the model is
fit on (failed ones included). The prior dominates early and fades as data accrue, so a bad
prior costs a few evaluations, not convergence.

``beta`` defaults to 10, the "NePS-old" row of ALGORITHMS.md §3 (n = number of training points):
the paper's rule is ``beta = N / 10`` for a total budget of ``N`` iterations (HyperMapper row), and
an ``ask``-based optimizer does not know ``N``; 10 equals that rule for a 100-evaluation budget.
The initial design starts at the prior configuration (the mode of ``pi``; ``prior_first=False``
turns that off).

``decay="exponential"`` uses NePS-new's schedule instead (ALGORITHMS.md §3): the exponent is
``exp(-(n - d) / d)`` for ``d`` searchable dimensions (``beta`` is then unused), so the prior
fades within a few multiples of ``d`` evaluations (``d`` counts each architecture as one), and is
dropped once below 1e-4.

``prior_evidence=True`` (the default; a departure from the paper, ALGORITHMS.md §9, on by default
because it recovers from bad priors without costing good ones in our benchmarks,
``benchmarks/README.md``; ``False`` gives the paper's piBO): the exponent is also
multiplied by a prior weight in [0.1, 1] from the evidence so far, the rank concordance between
the observed configurations' prior density and their objectives
(:func:`tunewise.optimizers.prior_evidence.from_density`): a prior whose dense region holds the
bad results loses its pull within a few evaluations instead of only as ``1 / n``; one that holds
the good results keeps it. Each model-made trial records ``prior_exponent`` and, with the option,
``prior_weight``, ``prior_win_rate`` and ``prior_comparisons``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from tunewise.optimizers import prior_evidence
from tunewise.optimizers.base import Capabilities
from tunewise.optimizers.bayesian_optimization import WL_H, BayesianOptimization
from tunewise.optimizers.observations import Observations
from tunewise.optimizers.registry import register

DECAYS = ("beta_over_n", "exponential")


@register
class PiBO(BayesianOptimization):
    """Prior-weighted BO (see the module docstring); ``beta >= 0`` sets the prior's strength."""

    name = "pibo"
    capabilities = Capabilities(priors=True, fidelity=False, conditions=True, architectures=True)
    slot_prefix: ClassVar[str] = "pibo"

    def __init__(
        self,
        *,
        beta: float = 10.0,
        decay: str = "beta_over_n",
        initial_design_size: int | None = None,
        acquisition: str = "log_ei",
        restarts: int = 4,
        raw_samples: int = 256,
        max_points: int = 300,
        warm_iterations: int = 20,
        prior_first: bool = True,
        local_starts: int = 3,
        prior_evidence: bool = True,
        wl_h: int = WL_H,
        wl_hierarchical: bool = False,
        combine: str = "product",
    ) -> None:
        if (
            not isinstance(beta, int | float)
            or isinstance(beta, bool)
            or not math.isfinite(beta)
            or beta < 0
        ):
            raise ValueError(f"pibo: beta must be a finite number >= 0, got {beta!r}")
        if decay not in DECAYS:
            raise ValueError(f"pibo: decay must be one of {list(DECAYS)}, got {decay!r}")
        if not isinstance(prior_evidence, bool):
            raise ValueError(f"pibo: prior_evidence must be True or False, got {prior_evidence!r}")
        super().__init__(
            initial_design_size=initial_design_size,
            acquisition=acquisition,
            restarts=restarts,
            raw_samples=raw_samples,
            max_points=max_points,
            warm_iterations=warm_iterations,
            prior_first=prior_first,
            local_starts=local_starts,
            wl_h=wl_h,
            wl_hierarchical=wl_hierarchical,
            combine=combine,
        )
        self.beta = beta
        self.decay = decay
        self.prior_evidence = prior_evidence

    def _prior(
        self, encoding: Any, obs: Observations, log_density: Any = None
    ) -> tuple[Any, float, dict[str, Any]]:
        space = encoding.space
        if not space.has_priors or (self.decay == "beta_over_n" and self.beta == 0):
            return None, 0.0, {}
        from tunewise.models.acquisition import LogPrior

        n_obs = len(obs)
        if self.decay == "exponential":
            d = max(len(space.dimension_names) + len(space.architectures), 1)
            exponent = min(math.exp(-(n_obs - d) / d), 1.0)
        else:
            exponent = self.beta / max(n_obs, 1)
        facts: dict[str, Any] = {}
        if self.prior_evidence:
            if log_density is None:
                log_density = space.log_prior_unit(obs.u)
            log_density = np.atleast_1d(np.asarray(log_density, dtype=np.float64))
            evidence = prior_evidence.from_density(log_density, obs.y)
            exponent *= evidence.weight
            facts.update(evidence.facts())
        if self.decay == "exponential" and exponent < 1e-4:
            return None, 0.0, {"prior_exponent": 0.0, **facts}
        return LogPrior(encoding), exponent, {"prior_exponent": round(exponent, 6), **facts}
