"""A GP over (configuration, step) fitted to learning-curve points: freeze-thaw's surrogate.

Freeze-thaw BO (Swersky et al. 2014) and DyHPO (Wistuba et al. 2022) model the objective of a
configuration at *every* step of its training, not only its final value: each point a trial
reported (``trial.report(step, value)``) is one observation. The caller reads its History into
plain arrays (:func:`tunewise.optimizers.curve_points.curve_points`): ``configs`` (n), ``steps``
(n,) and objectives ``y`` (n,); this module turns them into model rows (n, d + 1), the unit-cube
model coordinates of :class:`tunewise.models.gp.Encoding` plus the step on the log scale of
``step_range`` (:func:`step_unit`) as the last column, and fits one GP on them with the
warm-started, capped fit of :func:`tunewise.models.gp.fitted_model`.

Kernels (``kernel=``, :data:`KERNELS`):

- ``"rbf"``: BoTorch's default GP (RBF with a dimension-scaled lengthscale prior; mixed with a
  categorical kernel when the space has categoricals) over all columns, the log-step being one
  more input; the same model PriorBand+BO fits over fidelities.
- ``"exponential_decay"``: a configuration kernel times BoTorch's ``ExponentialDecayKernel`` on
  the step column, ``k(t, t') = w + b**a / (t + t' + b)**a`` (Swersky et al.'s learning-curve
  kernel, as in BoTorch's multi-fidelity GP): curves that decay towards an asymptote, correlated
  across configurations through the configuration kernel.

Predictions are of the objective (minimized), with the GP's posterior standard deviation; pending
points (other workers' running steps) are a pessimistic constant liar. Imports torch: import this
module inside an ``ask`` path only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.models.gp_regression import SingleTaskGP
from botorch.models.kernels.categorical import CategoricalKernel
from botorch.models.kernels.exponential_decay import ExponentialDecayKernel
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.kernels import Kernel, ProductKernel, ScaleKernel
from numpy.typing import NDArray
from scipy import special

from tunewise.models import gp
from tunewise.models.acquisition import condition_on_lies
from tunewise.space import Space
from tunewise.trial import config_key

KERNELS = ("rbf", "exponential_decay")

Configs = Sequence[Mapping[str, Any]]


def step_unit(steps: gp.Array, step_range: tuple[float, float]) -> gp.Array:
    """Steps (n,) on the log scale of ``step_range`` = (lowest, highest), clipped to [0, 1]."""
    lower, upper = float(step_range[0]), float(step_range[1])
    steps = np.maximum(np.asarray(steps, dtype=np.float64), lower)
    if upper <= lower:
        return np.ones_like(steps)
    z: gp.Array = np.clip(np.log(steps / lower) / math.log(upper / lower), 0.0, 1.0)
    return z


@dataclass(frozen=True)
class CurveRows:
    """How configurations and steps become model rows (n, d + 1): coordinates, then log-step."""

    encoding: gp.Encoding
    step_range: tuple[float, float]

    @classmethod
    def of(cls, space: Space, step_range: tuple[float, float]) -> CurveRows:
        lower, upper = (float(v) for v in step_range)
        if not (math.isfinite(lower) and math.isfinite(upper) and 0 < lower <= upper):
            raise ValueError(f"step_range must be 0 < lowest <= highest, got {step_range!r}")
        return cls(gp.Encoding.of(space), (lower, upper))

    @property
    def column(self) -> int:
        """The step column."""
        return self.encoding.dim

    def rows(
        self, configs: Configs, steps: gp.Array, *, memo: dict[Any, gp.Array] | None = None
    ) -> gp.Array:
        """Model rows (n, d + 1) of ``configs`` (n) at ``steps`` (n,).

        ``memo`` (optional, the caller's across calls): configuration key
        (:func:`tunewise.trial.config_key`) -> its model coordinates (d,), so that a chain's
        configuration is encoded once per study rather than once per ask.
        """
        if len(configs) == 0:
            return np.empty((0, self.encoding.dim + 1))
        # a chain repeats its configuration (the same object, :class:`CurvePoints`) at every
        # step: each distinct object is looked up once
        index: dict[int, int] = {}
        which = np.array([index.setdefault(id(c), len(index)) for c in configs])
        distinct = {i: c for c, i in zip(configs, which.tolist(), strict=True)}
        ordered = [distinct[i] for i in range(len(index))]
        keys = [config_key(c) for c in ordered] if memo is not None else []
        missing = [i for i, k in enumerate(keys) if k not in memo] if memo is not None else []
        if memo is None:
            x = self.encoding.to_model(self.encoding.space.encode_many(ordered))
        else:
            if missing:
                u = self.encoding.space.encode_many([ordered[i] for i in missing])
                for i, row in zip(missing, self.encoding.to_model(u), strict=True):
                    memo[keys[i]] = row
            x = np.array([memo[k] for k in keys], dtype=np.float64)
        return np.column_stack([x[which], step_unit(steps, self.step_range)])


def build_exponential_decay(x: gp.Array, y: gp.Array, encoding: gp.Encoding) -> SingleTaskGP:
    """An unfitted GP on rows ``x`` (n, d + 1) whose last column is the log-step: a scaled
    product of an RBF over the numeric columns (BoTorch's dimension-scaled prior), a categorical
    kernel over the categorical ones, and ``ExponentialDecayKernel`` over the step column."""
    train_x = torch.tensor(x, dtype=gp.DTYPE)
    train_y = -torch.tensor(y, dtype=gp.DTYPE).unsqueeze(-1)
    d = encoding.dim
    cat = [j for j, k in encoding.cat_dims.items() if k > 1]
    numeric = [j for j in range(d) if j not in cat and j not in encoding.cat_dims]
    parts: list[Kernel] = []
    if numeric:
        parts.append(
            get_covar_module_with_dim_scaled_prior(ard_num_dims=len(numeric), active_dims=numeric)
        )
    if cat:
        parts.append(CategoricalKernel(ard_num_dims=len(cat), active_dims=cat))
    parts.append(ExponentialDecayKernel(active_dims=[d]))
    covar = ScaleKernel(ProductKernel(*parts))
    return SingleTaskGP(train_x, train_y, covar_module=covar, likelihood=gp.likelihood())


@dataclass
class CurveModel:
    """A fitted curve GP: the objective's posterior at any (configuration, step)."""

    rows: CurveRows
    model: gp.CachedPosterior
    train_points: int

    def predict_rows(self, x: gp.Array) -> tuple[gp.Array, gp.Array]:
        """Posterior mean (n,) and standard deviation (n,) of the objective at rows ``x``."""
        if len(x) == 0:
            return np.empty(0), np.empty(0)
        with torch.no_grad():
            mean, variance = self.model.mean_and_variance(torch.tensor(x, dtype=gp.DTYPE))
        # the GP models -objective (BoTorch maximizes)
        return -mean.numpy().astype(np.float64), np.sqrt(variance.numpy()).astype(np.float64)

    def predict(self, configs: Configs, steps: gp.Array) -> tuple[gp.Array, gp.Array]:
        """Posterior mean (n,) and standard deviation (n,) of ``configs`` (n) at ``steps`` (n,)."""
        return self.predict_rows(self.rows.rows(configs, steps))

    def log_ei(self, x: gp.Array, best: gp.Array) -> gp.Array:
        """log expected improvement (n,) of rows ``x`` (n, d + 1) below ``best`` (n,): each row
        against its own incumbent (DyHPO: the best value seen at that row's step)."""
        mean, std = self.predict_rows(x)
        return log_expected_improvement(mean, std, np.asarray(best, dtype=np.float64))

    def log_pi(self, x: gp.Array, threshold: gp.Array) -> gp.Array:
        """log probability (n,) that rows ``x`` (n, d + 1) fall below ``threshold`` (n,)."""
        mean, std = self.predict_rows(x)
        u = (np.asarray(threshold, dtype=np.float64) - mean) / np.maximum(std, MIN_STD)
        scores: gp.Array = special.log_ndtr(u)
        return scores


MIN_STD = 1e-9
"""Posterior standard deviations below this count as this (a point the GP has seen exactly)."""


def log_expected_improvement(mean: gp.Array, std: gp.Array, best: gp.Array) -> gp.Array:
    """log E[max(best - f, 0)] for f ~ N(mean, std**2), elementwise (n,), minimizing.

    ``log(std) + log(phi(u) + u Phi(u))`` with ``u = (best - mean) / std``; for u < -1 the
    second term is computed as ``log phi(u) + log1p(-|u| R(|u|))`` with Mills' ratio
    ``R(a) = sqrt(pi / 2) erfcx(a / sqrt(2))``, so it stays finite far below the incumbent
    (the numerics BoTorch's LogEI uses, here on arrays).
    """
    std = np.maximum(std, MIN_STD)
    u = (best - mean) / std
    out = np.empty_like(u)
    upper = u >= -1.0
    uu = u[upper]
    out[upper] = np.log(np.exp(-0.5 * uu * uu) / math.sqrt(2 * math.pi) + uu * special.ndtr(uu))
    a = -u[~upper]
    ratio = math.sqrt(math.pi / 2) * special.erfcx(a / math.sqrt(2))
    out[~upper] = (
        -0.5 * a * a - 0.5 * math.log(2 * math.pi) + np.log1p(-np.minimum(a * ratio, 1 - 1e-16))
    )
    return out + np.log(std)


def _column(values: gp.Array) -> torch.Tensor:
    """Per-row incumbents (n,) as the (n, 1) tensor BoTorch's analytic acquisitions broadcast
    against their (n, 1) posterior means."""
    return torch.tensor(np.asarray(values, dtype=np.float64), dtype=gp.DTYPE).reshape(-1, 1)


def fit_curve_model(
    configs: Configs,
    steps: gp.Array,
    y: gp.Array,
    *,
    space: Space,
    step_range: tuple[float, float],
    seed: int,
    keys: NDArray[np.int64] | None = None,
    pending: Configs = (),
    pending_steps: gp.Array | None = None,
    kernel: str = "rbf",
    max_points: int = 300,
    warm_iterations: int = 20,
    cache: gp.FitCache | None = None,
    memo: dict[Any, gp.Array] | None = None,
) -> CurveModel:
    """The curve GP on observations ``configs`` (n) at ``steps`` (n,) with objectives ``y`` (n,).

    ``y`` may hold NaN for failed evaluations (imputed with the worst value,
    :func:`tunewise.models.gp.impute_failures`); at least one must be finite. ``keys`` (n,):
    distinct non-negative integers naming the points in a stable order (the caller's point
    index; default ``0..n-1``), for the training subset and the warm start. ``pending`` configs
    (m) at ``pending_steps`` (m,) are conditioned on as a pessimistic constant liar. Deterministic
    given the inputs and ``seed`` (``cache`` and ``memo``, :meth:`CurveRows.rows`, change only
    speed).
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {list(KERNELS)}, got {kernel!r}")
    y = gp.impute_failures(np.asarray(y, dtype=np.float64))
    if len(y) == 0 or not np.isfinite(y).any():
        raise ValueError("fit_curve_model needs at least one finite objective")
    rows = CurveRows.of(space, step_range)
    build = gp.build_model_with_fidelity if kernel == "rbf" else build_exponential_decay
    model, _, train_y = gp.fitted_model(
        rows.rows(configs, np.asarray(steps, dtype=np.float64), memo=memo),
        y,
        rows.encoding,
        keys=keys,
        seed=seed,
        max_points=max_points,
        warm_iterations=warm_iterations,
        cache=cache,
        build=build,
    )
    lied = model
    if len(pending):
        pending_x = rows.rows(pending, np.asarray(pending_steps, dtype=np.float64))
        conditioned = condition_on_lies(
            model, torch.tensor(pending_x, dtype=gp.DTYPE), -float(np.max(train_y))
        )
        assert isinstance(conditioned, SingleTaskGP)  # conditioning keeps the model's class
        lied = conditioned
    return CurveModel(rows=rows, model=gp.CachedPosterior(lied), train_points=len(train_y))
