"""Acquisition functions and their optimization over mixed spaces, on BoTorch.

Default: log expected improvement (Ament et al. 2023, "Unexpected Improvements to Expected
Improvement for Bayesian Optimization"), numerically sound where plain EI underflows.

Pending trials (other workers', and earlier picks of the same batch) enter in one of two ways:

- ``"log_ei"``: a *constant liar* (Ginsbourger et al. 2010). The model is conditioned on the
  pending points with the worst observed value as their outcome (``condition_on_observations``,
  hyperparameters unchanged). The pessimistic lie makes EI vanish at and around a pending point; an
  optimistic lie would leave EI of about 0.4 noise-sigmas there, which late in a run can still win.
- ``"qlog_nei"``: BoTorch's ``qLogNoisyExpectedImprovement`` with ``X_pending``: pending outcomes
  are integrated out jointly with the candidate's (fantasies by quasi-MC sampling).

piBO (Hvarfner et al. 2022) wraps either in ``PriorGuidedAcquisitionFunction`` with
:class:`LogPrior`: ``log acq(x) + (beta / n) * log pi(x)``.

The optimizer: continuous dimensions by L-BFGS-B from the best of ``raw_samples`` random points,
``restarts`` times, plus starts at and around the incumbents (below); categoricals and integers
(snapped to their allowed values) by BoTorch's alternating discrete local search / continuous
steps (``optimize_acqf_mixed_alternating``).

Starts near the incumbents: late in a run the maximizer of EI is a narrow peak next to the best
observed points, which random starts (picked by Boltzmann sampling on their acquisition value)
rarely land in, so BO stops short of the optimum by a few digits. Like Optuna's GP sampler (local
search warm-started at the best trial) and BoTorch's ``sample_around_best`` initial-condition
heuristic, each incumbent is also a start, as is one Gaussian perturbation of it (sd
``LOCAL_SIGMA`` of the unit range); these are extra L-BFGS starts, so the random ones still cover
the cube. Continuous spaces only: ``optimize_acqf_mixed_alternating`` takes no starting points.
"""

from __future__ import annotations

import math
import warnings

import gpytorch
import numpy as np
import torch
from botorch.acquisition.acquisition import AcquisitionFunction
from botorch.acquisition.analytic import LogExpectedImprovement
from botorch.acquisition.logei import qLogNoisyExpectedImprovement
from botorch.acquisition.prior_guided import PriorGuidedAcquisitionFunction
from botorch.models.gp_regression import SingleTaskGP
from botorch.models.model import Model
from botorch.optim.initializers import gen_batch_initial_conditions
from botorch.optim.optimize import optimize_acqf
from botorch.optim.optimize_mixed import optimize_acqf_mixed_alternating
from botorch.sampling.normal import SobolQMCNormalSampler
from torch import Tensor

from tunewise.models.gp import DTYPE, CachedPosterior, Encoding
from tunewise.space.parameters import Categorical

ACQUISITIONS = ("log_ei", "qlog_nei")
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
LOCAL_SIGMA = 0.01  # sd of the perturbed start around each incumbent, in unit-range units


def _phi(z: float) -> float:
    """Standard normal CDF, in float64."""
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


class LogPrior(torch.nn.Module):
    """The space's prior log-density on model coordinates: ``batch x q x d`` -> ``batch x q``.

    The same density as :meth:`Space.log_prior_unit` (a truncated normal per number in unit space,
    ``log(k * p)`` per categorical, inactive dimensions contributing 0), written in torch so that
    L-BFGS gets its gradient.
    """

    def __init__(self, encoding: Encoding) -> None:
        super().__init__()
        self.encoding = encoding
        self.numeric: list[tuple[int, float, float, float]] = []  # (column, mean, sd, log mass)
        self.categorical: list[tuple[int, Tensor]] = []  # (column, log(k p) per choice)
        for j, param in enumerate(encoding.space.searchable.values()):
            if param.prior is None:
                continue
            if isinstance(param, Categorical):
                logs = np.log(len(param.choices) * param.probabilities)
                self.categorical.append((j, torch.tensor(logs, dtype=DTYPE)))
            else:
                mean, sd = param.to_unit(param.prior), param.sd
                mass = _phi((1 - mean) / sd) - _phi(-mean / sd)
                self.numeric.append((j, mean, sd, math.log(mass)))

    def forward(self, X: Tensor) -> Tensor:
        total = torch.zeros(X.shape[:-1], dtype=X.dtype, device=X.device)
        if not (self.numeric or self.categorical):
            return total
        if self.encoding.space.has_conditions:
            flat = X.detach().reshape(-1, X.shape[-1]).cpu().numpy()
            mask = torch.from_numpy(self.encoding.active_mask(flat)).reshape(X.shape)
        else:
            mask = torch.ones_like(X, dtype=torch.bool)
        for j, mean, sd, log_mass in self.numeric:
            z = (X[..., j].clamp(0.0, 1.0) - mean) / sd
            log_pdf = -0.5 * z**2 - _LOG_SQRT_2PI - math.log(sd) - log_mass
            total = total + torch.where(mask[..., j], log_pdf, torch.zeros_like(log_pdf))
        for j, logs in self.categorical:
            index = X[..., j].detach().round().long().clamp(0, len(logs) - 1)
            value = logs.to(X)[index]
            total = total + torch.where(mask[..., j], value, torch.zeros_like(value))
        return total


def acquisition_function(
    kind: str,
    model: Model,
    train_x: Tensor,
    best_f: float,
    pending: Tensor | None,
    *,
    seed: int,
    prior: torch.nn.Module | None = None,
    prior_exponent: float = 0.0,
) -> AcquisitionFunction:
    """The acquisition to maximize (``model`` predicts ``-objective``; ``best_f`` likewise).

    ``pending`` (m, d) is passed as ``X_pending`` for ``"qlog_nei"``; for ``"log_ei"`` the model
    must already be conditioned on the lies (:func:`condition_on_lies`).
    """
    if kind == "log_ei":
        posterior = CachedPosterior(model) if isinstance(model, SingleTaskGP) else model
        acq: AcquisitionFunction = LogExpectedImprovement(posterior, best_f=best_f)
        pending = None
    elif kind == "qlog_nei":
        acq = qLogNoisyExpectedImprovement(
            model,
            X_baseline=train_x,
            sampler=SobolQMCNormalSampler(torch.Size([64]), seed=seed),
            prune_baseline=True,
            cache_root=False,
        )
    else:
        raise ValueError(f"acquisition must be one of {ACQUISITIONS}, got {kind!r}")
    if prior is not None:
        return PriorGuidedAcquisitionFunction(
            acq, prior, log=True, prior_exponent=prior_exponent, X_pending=pending
        )
    if pending is not None:
        acq.set_X_pending(pending)
    return acq


def with_pending(
    kind: str,
    model: Model,
    train_x: Tensor,
    best_f: float,
    pending: Tensor,
    *,
    lie: float,
    seed: int,
    prior: torch.nn.Module | None = None,
    prior_exponent: float = 0.0,
) -> AcquisitionFunction:
    """The acquisition of one pick with ``pending`` (m, d) points taken into account: the model
    conditioned on ``lie`` at each (``"log_ei"``, a constant liar) or ``X_pending`` of qLogNEI."""
    if kind == "log_ei":
        acq_model, x_pending = condition_on_lies(model, pending, lie), None
    else:
        acq_model, x_pending = model, pending if len(pending) else None
    return acquisition_function(
        kind,
        acq_model,
        train_x,
        best_f,
        x_pending,
        seed=seed,
        prior=prior,
        prior_exponent=prior_exponent,
    )


def condition_on_lies(model: Model, pending: Tensor, lie: float) -> Model:
    """``model`` conditioned on outcome ``lie`` (model scale) at each pending point (m, d)."""
    if len(pending) == 0:
        return model
    model.posterior(pending[:1])  # builds the prediction caches conditioning needs
    return model.condition_on_observations(pending, torch.full((len(pending), 1), lie, dtype=DTYPE))


def optimize(
    acq: AcquisitionFunction,
    encoding: Encoding,
    *,
    restarts: int,
    raw_samples: int,
    seed: int,
    incumbents: Tensor | None = None,
) -> Tensor:
    """The maximizer of ``acq`` over the space, shape (d,) in model coordinates.

    ``incumbents`` (k, d), model coordinates: the best observed points; each, and one perturbation
    of it, become extra starts of the continuous optimizer (module docstring). Every random draw
    comes from torch's RNG seeded with ``seed`` inside a forked RNG state, so results are
    reproducible and global state is untouched.
    """
    bounds = encoding.bounds()
    cat_dims = {j: list(range(k)) for j, k in encoding.cat_dims.items() if k > 1}
    fixed = {j: 0.0 for j, k in encoding.cat_dims.items() if k == 1}
    with (
        torch.random.fork_rng(devices=[]),
        warnings.catch_warnings(),
        gpytorch.settings.debug(False),
    ):
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")
        if cat_dims or encoding.int_dims:
            x, _ = optimize_acqf_mixed_alternating(
                acq,
                bounds,
                discrete_dims=encoding.int_dims,
                cat_dims=cat_dims,
                q=1,
                num_restarts=restarts,
                raw_samples=raw_samples,
                fixed_features=fixed or None,
                options={
                    "initialization_strategy": "random",
                    "maxiter_alternating": 2,
                    "maxiter_continuous": 10,
                },
            )
        else:
            starts = None
            if incumbents is not None and len(incumbents):
                starts = torch.cat(
                    [
                        gen_batch_initial_conditions(
                            acq,
                            bounds,
                            q=1,
                            num_restarts=restarts,
                            raw_samples=raw_samples,
                            options={"seed": seed},
                        ),
                        _local_starts(incumbents.to(bounds), bounds).unsqueeze(-2),
                    ]
                )
            x, _ = optimize_acqf(
                acq,
                bounds,
                q=1,
                num_restarts=restarts if starts is None else len(starts),
                raw_samples=raw_samples,
                options={"seed": seed, "maxiter": 100},
                batch_initial_conditions=starts,
            )
    return x.detach().reshape(-1)


def _local_starts(incumbents: Tensor, bounds: Tensor) -> Tensor:
    """(2k, d): each of the k incumbents and one Gaussian perturbation of it, inside ``bounds``.

    Draws from torch's global RNG (seeded and forked by the caller).
    """
    width = bounds[1] - bounds[0]
    moved = incumbents + LOCAL_SIGMA * width * torch.randn_like(incumbents)
    return torch.cat([incumbents, moved]).clamp(bounds[0], bounds[1])


class FixedColumns(AcquisitionFunction):
    """``acq`` with trailing columns fixed: ``X`` (batch x q x d) -> ``acq([X, tail])``.

    The joint model's hyperparameter refinement (:mod:`tunewise.optimizers.architecture_bo`):
    the architecture's feature columns stay those of one candidate while :func:`optimize` moves
    the ``d`` cube columns.
    """

    def __init__(self, acq: AcquisitionFunction, tail: Tensor) -> None:
        super().__init__(model=acq.model)
        self.inner = acq
        self.tail = tail.reshape(-1)

    def forward(self, X: Tensor) -> Tensor:
        tail = self.tail.to(X).expand(*X.shape[:-1], len(self.tail))
        value: Tensor = self.inner(torch.cat([X, tail], dim=-1))
        return value
