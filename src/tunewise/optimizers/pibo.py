"""piBO: Bayesian optimization whose acquisition is weighted by the user's prior.

Hvarfner et al. 2022 ("piBO: Augmenting Acquisition Functions with User Beliefs for Bayesian
Optimization", ICLR): maximize ``acq(x) * pi(x) ** (beta / n)``, in log space
``log acq(x) + (beta / n) * log pi(x)`` (BoTorch's ``PriorGuidedAcquisitionFunction`` around the
same log-EI / qLogNEI as :class:`BayesianOptimization`), where ``pi`` is the space's prior density
on the unit cube (:meth:`Space.log_prior_unit`) and ``n`` the number of observations the model is
fit on (failed ones included). The prior dominates early and fades as data accrue, so a bad
prior costs a few evaluations, not convergence.

``beta`` defaults to 10, the "NePS-old" row of ALGORITHMS.md §3 (n = number of training points):
the paper's rule is ``beta = N / 10`` for a total budget of ``N`` iterations (HyperMapper row), and
an ``ask``-based optimizer does not know ``N``; 10 equals that rule for a 100-evaluation budget.
The initial design starts at the prior configuration (the mode of ``pi``; ``prior_first=False``
turns that off).

``decay="exponential"`` uses NePS-new's schedule instead (ALGORITHMS.md §3): the exponent is
``exp(-(n - d) / d)`` for ``d`` searchable dimensions (``beta`` is then unused), so the prior
fades within a few multiples of ``d`` evaluations, and is dropped once below 1e-4.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from tunewise.optimizers.base import Capabilities
from tunewise.optimizers.bayesian_optimization import BayesianOptimization
from tunewise.optimizers.registry import register

DECAYS = ("beta_over_n", "exponential")


@register
class PiBO(BayesianOptimization):
    """Prior-weighted BO (see the module docstring); ``beta >= 0`` sets the prior's strength."""

    name = "pibo"
    capabilities = Capabilities(priors=True, fidelity=False, conditions=True)
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
        super().__init__(
            initial_design_size=initial_design_size,
            acquisition=acquisition,
            restarts=restarts,
            raw_samples=raw_samples,
            max_points=max_points,
            warm_iterations=warm_iterations,
            prior_first=prior_first,
            local_starts=local_starts,
        )
        self.beta = beta
        self.decay = decay

    def _prior(self, encoding: Any, n_obs: int) -> tuple[Any, float]:
        if not encoding.space.has_priors or (self.decay == "beta_over_n" and self.beta == 0):
            return None, 0.0
        from tunewise.models.acquisition import LogPrior

        if self.decay == "exponential":
            d = max(len(encoding.space.dimension_names), 1)
            exponent = min(math.exp(-(n_obs - d) / d), 1.0)
            return (LogPrior(encoding), exponent) if exponent >= 1e-4 else (None, 0.0)
        return LogPrior(encoding), self.beta / max(n_obs, 1)
