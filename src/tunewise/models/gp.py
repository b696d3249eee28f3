"""A Gaussian-process surrogate on arrays of observations, built on BoTorch/GPyTorch.

The model knows nothing of trials: it takes training inputs ``x`` (n, d) and objectives ``y``
(n,), as BoTorch's ``SingleTaskGP(train_X, train_Y)`` does; the optimizer reads its History into
arrays (:func:`tunewise.optimizers.observations.observations`) and maps unit-cube configs to model
coordinates with :meth:`Encoding.to_model`.

Inputs live in *model coordinates*, shape (n, d) over :attr:`Space.dimension_names`: a number
(float or integer, log or not) keeps its unit-cube value in [0, 1]; a categorical becomes its
choice index 0..k-1, compared by BoTorch's categorical kernel (``MixedSingleTaskGP``: equal or not,
no false order between choices). Integers are continuous for the kernel and snapped to their
allowed values by the acquisition optimizer.

Inactive conditional dimensions (NaN in the unit cube) are imputed with a constant, the
dimension's default (its prior value, else the middle of the range / first choice), in training
data *and* in every point the model is asked about (:class:`ImputeInactive`, an input transform).
No "active" indicator column is added: activity is a function of the parent categoricals, which
are inputs already, and the constant makes two configs that differ only in an inactive value
identical to the model.

Outputs: the objective is minimized, the model sees ``-objective`` (BoTorch maximizes),
standardized (BoTorch's default ``Standardize``). A failed evaluation (NaN) is imputed with the
worst succeeded value (:func:`impute_failures`), so the model learns to avoid regions that fail (as
SMAC does), instead of forgetting them.

Fitting cost stays bounded: at most ``max_points`` training points (beyond that the best half
plus a seeded random sample of the rest), and hyperparameters are warm-started. To keep the
contract that a cache changes nothing but speed, the warm start does not come from "whatever the
last fit was": it comes from an *anchor* fit, a full fit from BoTorch's default initialization on
the first ``2**floor(log2 n)`` observations (by ``keys``, the trial numbers), refined by a few
L-BFGS iterations on all ``n``. Anchors are a pure function of the observations, so a cold worker
computes the same anchor (slowly, once) that a warm one keeps in :class:`FitCache`.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gpytorch
import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models.gp_regression import SingleTaskGP
from botorch.models.gp_regression_mixed import MixedSingleTaskGP
from botorch.models.model import Model
from botorch.models.transforms.input import InputTransform
from botorch.optim.closures import ForwardBackwardClosure
from botorch.optim.utils import get_parameters
from botorch.posteriors.gpytorch import GPyTorchPosterior
from gpytorch.constraints import GreaterThan
from gpytorch.distributions import MultivariateNormal
from gpytorch.likelihoods import GaussianLikelihood
from gpytorch.mlls import ExactMarginalLogLikelihood
from gpytorch.priors import LogNormalPrior
from linear_operator.utils.cholesky import psd_safe_cholesky
from numpy.typing import NDArray
from torch import Tensor

from tunewise.space import Space
from tunewise.space.parameters import Categorical
from tunewise.trial import rng_for

DTYPE = torch.float64
#: L-BFGS iterations of a full (anchor) fit; converging to scipy's tolerance took 300-600
#: iterations for a <1% better marginal likelihood
FULL_FIT_ITERATIONS = 60
#: the noise prior of :func:`build_model` (LogNormal on the standardized noise variance, its
#: log-location) and the floor under the variance; BoTorch's defaults are -4 (mode 6.7e-3) and 1e-4
NOISE_LOG_LOC = -10.0
NOISE_FLOOR = 1e-6
#: integer dimensions with at most this many values are enumerated by the acquisition optimizer
MAX_ENUMERATED_INTEGERS = 1000

Array = NDArray[np.float64]


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, then restore the caller's setting.

    GP fits and acquisition optimization here are many small dense operations: one thread is
    faster, and on a shared machine OpenMP threads waiting for busy cores made one marginal
    likelihood evaluation at 512 points take 0.79 s on two threads against 0.054 s on one.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True, eq=False)
class Encoding:
    """How a space's unit cube maps to model coordinates (see the module docstring).

    ``cat_dims``: column -> number of choices k; ``int_dims``: column -> allowed unit values
    (ascending, first 0.0, last 1.0) for integers with few enough values; ``impute``: shape (d,),
    the model-coordinate value of each dimension when inactive.
    """

    space: Space
    cat_dims: dict[int, int]
    int_dims: dict[int, list[float]]
    impute: Array

    @classmethod
    def of(cls, space: Space) -> Encoding:
        cat_dims: dict[int, int] = {}
        int_dims: dict[int, list[float]] = {}
        impute = np.zeros(len(space.dimension_names))
        for j, param in enumerate(space.searchable.values()):
            if isinstance(param, Categorical):
                cat_dims[j] = len(param.choices)
                impute[j] = param.index(param.default)
                continue
            impute[j] = param.to_unit(param.default)
            lower, upper = param.lower, param.upper
            if isinstance(lower, int) and upper - lower < MAX_ENUMERATED_INTEGERS:
                values = [param.to_unit(v) for v in range(lower, int(upper) + 1)]
                values[0], values[-1] = 0.0, 1.0
                int_dims[j] = values
        return cls(space=space, cat_dims=cat_dims, int_dims=int_dims, impute=impute)

    @property
    def dim(self) -> int:
        return len(self.impute)

    def bounds(self) -> Tensor:
        """Box of model coordinates, shape (2, d): [0, 1] for numbers, [0, k - 1] for choices."""
        upper = np.ones(self.dim)
        for j, k in self.cat_dims.items():
            upper[j] = k - 1
        return torch.tensor(np.stack([np.zeros(self.dim), upper]), dtype=DTYPE)

    def to_model(self, u: Array) -> Array:
        """Unit vectors (n, d) -> model coordinates (n, d), inactive/NaN dims imputed."""
        u = np.atleast_2d(np.asarray(u, dtype=np.float64))
        x = u.copy()
        for j, k in self.cat_dims.items():
            x[:, j] = np.minimum(np.floor(np.clip(np.nan_to_num(u[:, j]), 0.0, 1.0) * k), k - 1)
        return self.impute_inactive(x)

    def to_unit(self, x: Array) -> Array:
        """Model coordinates (n, d) -> unit vectors (n, d); categoricals to their bin centres."""
        u = np.atleast_2d(np.array(x, dtype=np.float64))
        for j, k in self.cat_dims.items():
            u[:, j] = (np.clip(np.round(u[:, j]), 0, k - 1) + 0.5) / k
        return np.clip(u, 0.0, 1.0)

    def active_mask(self, x: Array) -> NDArray[np.bool_]:
        """Activity of each dimension of model-coordinate rows (n, d), bool (n, d)."""
        return self.space.active_mask(self.to_unit(x))

    def impute_inactive(self, x: Array) -> Array:
        """Model-coordinate rows (n, d) with inactive dimensions set to :attr:`impute`."""
        if not self.space.has_conditions:
            return x
        return np.where(self.active_mask(np.nan_to_num(x)), x, self.impute)


class ImputeInactive(InputTransform, torch.nn.Module):
    """Input transform: inactive dimensions of ``X`` (``batch x q x d``) take their constant.

    The mask is piecewise constant in ``X`` (it depends on the categorical parents only), so the
    gradient of the acquisition with respect to an inactive dimension is zero.
    """

    impute: Tensor  # a buffer, registered in __init__

    def __init__(self, encoding: Encoding) -> None:
        super().__init__()
        self.encoding = encoding
        self.transform_on_train = True
        self.transform_on_eval = True
        self.transform_on_fantasize = True
        self.register_buffer("impute", torch.tensor(encoding.impute, dtype=DTYPE))

    def transform(self, X: Tensor) -> Tensor:
        """Columns past the encoding's ``d`` (a joint model's architecture features) pass as they
        are."""
        d = self.encoding.dim
        head, tail = X[..., :d], X[..., d:]
        flat = head.detach().reshape(-1, d).cpu().numpy()
        mask = torch.from_numpy(self.encoding.active_mask(flat)).reshape(head.shape)
        return torch.cat([torch.where(mask.to(X.device), head, self.impute.to(X)), tail], dim=-1)


def impute_failures(y: Array) -> Array:
    """Objectives ``y`` (n,) with each NaN (a failed evaluation) set to the worst finite value.

    Non-finite values count as failed; with no finite value at all, ``y`` is returned as NaN.
    """
    y = np.where(np.isfinite(y), y, math.nan)
    if np.isfinite(y).any():
        y = np.where(np.isfinite(y), y, np.nanmax(y))
    return y


def training_subset(
    y: Array, keys: NDArray[np.int64], max_points: int, seed: int
) -> NDArray[np.int64]:
    """Indices (ascending) of at most ``max_points`` of the observations ``y`` (n,): all, or the
    best half plus a uniform sample of the rest.

    The sample keeps the rows with the lowest random priority, a fixed number per (seed, key) where
    ``keys`` (n,) are distinct non-negative integers naming the rows (trial numbers): one more
    observation changes the subset by a point or two, so the warm-started fit stays close to
    converged.
    """
    n = len(y)
    if n <= max_points:
        return np.arange(n)
    order = np.argsort(y, kind="stable")
    best, others = order[: max_points // 2], order[max_points // 2 :]
    priority = rng_for(seed, 0xB0).random(int(keys.max()) + 1)[keys[others]]
    rest = others[np.argsort(priority, kind="stable")[: max_points - len(best)]]
    return np.sort(np.concatenate([best, rest]))


def build_model(x: Array, y: Array, encoding: Encoding) -> SingleTaskGP:
    """An unfitted GP on ``x`` (n, d) model coordinates and objectives ``y`` (n,).

    ``MixedSingleTaskGP`` (continuous RBF kernel plus a categorical kernel, sum and product) when
    the space has categoricals, else ``SingleTaskGP`` (RBF with dimension-scaled lengthscale prior,
    Hvarfner et al. 2024). The model's targets are ``-y``, standardized.

    The noise prior sits low (``NOISE_LOG_LOC``, ``NOISE_FLOOR``): with BoTorch's default
    (LogNormal(-4, 1), mode 6.7e-3 of the target's variance) the GP explained the last digits near
    the optimum as noise and BO stopped short of it (median Branin regret 2e-3 after 40 evaluations
    against 2.6e-4 here). The marginal likelihood still raises the noise where the data is noisy.
    """
    train_x = torch.tensor(x, dtype=DTYPE)
    train_y = -torch.tensor(y, dtype=DTYPE).unsqueeze(-1)
    transform = ImputeInactive(encoding) if encoding.space.has_conditions else None
    cat_dims = [j for j, k in encoding.cat_dims.items() if k > 1]
    if cat_dims:
        return MixedSingleTaskGP(
            train_x, train_y, cat_dims=cat_dims, input_transform=transform, likelihood=likelihood()
        )
    return SingleTaskGP(train_x, train_y, input_transform=transform, likelihood=likelihood())


def likelihood() -> GaussianLikelihood:
    """The Gaussian likelihood of :func:`build_model`: the low noise prior (``NOISE_LOG_LOC``)
    over the floor ``NOISE_FLOOR``; shared by the joint model (:mod:`tunewise.models.joint`)."""
    prior = LogNormalPrior(NOISE_LOG_LOC, 1.0)
    return GaussianLikelihood(
        noise_prior=prior,
        noise_constraint=GreaterThan(NOISE_FLOOR, transform=None, initial_value=prior.mode),
    )


def hyperparameters(model: torch.nn.Module) -> dict[str, Tensor]:
    """The model's trainable hyperparameters (raw lengthscales, noise, ...), detached copies."""
    return {name: p.detach().clone() for name, p in model.named_parameters()}


def load_hyperparameters(model: torch.nn.Module, values: dict[str, Tensor]) -> None:
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in values and values[name].shape == p.shape:
                p.copy_(values[name])


def fit(model: SingleTaskGP, *, seed: int, maxiter: int = FULL_FIT_ITERATIONS) -> None:
    """Maximize the marginal likelihood (L-BFGS-B via BoTorch), at most ``maxiter`` iterations.

    BoTorch's retries re-draw hyperparameters from their priors with torch's global generator,
    so the fit runs under a forked, seeded generator: same data + seed -> same hyperparameters.
    Kernels are evaluated at once, not as GPyTorch's lazy kernel tensors: the marginal likelihood
    needs the whole training covariance anyway, and the lazy wrapper's bookkeeping (walking the
    kernel tree for its shape) cost ~12% of a 20-iteration fit at 50 points, for the same result.
    """
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    kwargs: dict[str, Any] = {"optimizer_kwargs": {"options": {"maxiter": maxiter}}}
    if model.train_targets.dim() == 1:
        parameters = get_parameters(mll, requires_grad=True)
        kwargs["closure"] = ForwardBackwardClosure(negative_mll(mll), parameters)
    with (
        torch.random.fork_rng(devices=[]),
        warnings.catch_warnings(),
        gpytorch.settings.debug(False),
        gpytorch.settings.lazily_evaluate_kernels(False),
    ):
        torch.manual_seed(seed)
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(mll, **kwargs)
    model.eval()


class _GaussianLogDensity(torch.autograd.Function):
    """``log N(r; 0, C)`` of residuals ``r`` (n, 1) under a dense covariance ``C`` (n, n).

    Backward by the closed form (Rasmussen & Williams 2006, eq. 5.9): with ``a = C^-1 r``,
    ``d/dC = (a a^T - C^-1) / 2`` and ``d/dr = -a``; one ``cholesky_inverse`` instead of
    differentiating through the Cholesky factorization and the solve (the same gradient to
    ~1e-15 relative, 30% less time per evaluation at 300 points).
    """

    @staticmethod
    def forward(ctx: Any, resid: Tensor, covar: Tensor) -> Tensor:
        chol = psd_safe_cholesky(covar)
        a = torch.cholesky_solve(resid, chol)
        n = resid.shape[-2]
        log_det = 2.0 * torch.log(torch.diagonal(chol)).sum()
        ctx.save_for_backward(chol, a)
        value: Tensor = -0.5 * ((resid * a).sum() + log_det + n * math.log(2.0 * math.pi))
        return value

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, Tensor]:
        chol, a = ctx.saved_tensors
        return -grad * a, grad * 0.5 * (a @ a.T - torch.cholesky_inverse(chol))


def negative_mll(mll: ExactMarginalLogLikelihood) -> Callable[[], Tensor]:
    """The loss of :func:`fit`: ``-mll(model(train_x), train_y)`` of a single-output exact GP,
    computed from the model's own kernel, mean, noise and priors without GPyTorch's distribution
    and linear-operator layers (the same value and gradient, ``tests/models/test_gp.py``).

    ``-(log N(y; m, K + noise I) + sum of log priors) / n`` with ``K`` dense (n, n) and one
    Cholesky factor and the closed-form gradient (:class:`_GaussianLogDensity`); the prior terms
    are listed once instead of walking the module tree at every evaluation. One evaluation with
    its gradient took ~0.6x the time of BoTorch's default closure at 50 and at 300 points.
    """
    model = mll.model
    priors = [(module, prior, closure) for _, module, prior, closure, _ in model.named_priors()]

    def loss() -> Tensor:
        (train_x,) = model.train_inputs
        x = model.transform_inputs(train_x)
        with gpytorch.settings.lazily_evaluate_kernels(False):
            covar = model.covar_module(x).to_dense()
        resid = (model.train_targets - model.mean_module(x)).unsqueeze(-1)
        n = resid.shape[-2]
        noise = model.likelihood.noise.expand(n)
        total = _GaussianLogDensity.apply(resid, covar + torch.diag_embed(noise))  # type: ignore[no-untyped-call]
        for module, prior, closure in priors:
            total = total + prior.log_prob(closure(module)).sum()
        result: Tensor = -total / n
        return result

    return loss


@dataclass
class FitCache:
    """Anchor hyperparameters keyed by a digest of the anchor's data (a few kept, LRU)."""

    size: int = 4
    entries: OrderedDict[str, dict[str, Tensor]] = field(default_factory=OrderedDict)

    def get(self, key: str) -> dict[str, Tensor] | None:
        if key in self.entries:
            self.entries.move_to_end(key)
        return self.entries.get(key)

    def put(self, key: str, value: dict[str, Tensor]) -> None:
        self.entries[key] = value
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


@dataclass(frozen=True)
class FitSettings:
    """How a model is fitted, handed down as one value: the study ``seed`` (the fits' random
    streams and training subsets), the cap on training points, the L-BFGS iterations that
    refine the anchor's hyperparameters, and the optimizer's anchor cache (speed only)."""

    seed: int
    max_points: int = 300
    warm_iterations: int = 20
    cache: FitCache | None = None


def _digest(encoding: Encoding, x: Array, y: Array) -> str:
    h = hashlib.sha1(encoding.space.to_json().encode())
    h.update(np.ascontiguousarray(x).tobytes())
    h.update(np.ascontiguousarray(y).tobytes())
    return h.hexdigest()


def fitted_model(
    x: Array,
    y: Array,
    encoding: Encoding,
    *,
    keys: NDArray[np.int64] | None = None,
    seed: int,
    max_points: int = 300,
    warm_iterations: int = 20,
    cache: FitCache | None = None,
    build: Callable[[Array, Array, Encoding], SingleTaskGP] | None = None,
) -> tuple[SingleTaskGP, Array, Array]:
    """The GP on inputs ``x`` (n, d) in model coordinates and finite objectives ``y`` (n,).

    ``keys`` (n,): distinct non-negative integers naming the rows, the trial numbers (default
    ``0..n-1``); the anchor is the first ``2**floor(log2 n)`` rows by key (see the module
    docstring for the warm start). Returns the fitted model and its training data ``x`` (m, d),
    ``y`` (m,), ``m <= max_points``, ordered by key. ``build`` makes the unfitted model (default
    :func:`build_model`; multi-fidelity models pass :func:`build_model_with_fidelity`).
    """
    make = build_model if build is None else build
    n = len(y)
    keys = np.arange(n, dtype=np.int64) if keys is None else np.asarray(keys, dtype=np.int64)
    order = np.argsort(keys, kind="stable")
    x, y, keys = x[order], y[order], keys[order]
    anchor_n = 1 << (n.bit_length() - 1)  # largest power of two <= n
    a_x, a_y = x[:anchor_n], y[:anchor_n]
    a_idx = training_subset(a_y, keys[:anchor_n], max_points, seed)
    digest = _digest(encoding, a_x[a_idx], a_y[a_idx])
    start = cache.get(digest) if cache is not None else None
    if start is None:
        model = make(a_x[a_idx], a_y[a_idx], encoding)
        fit(model, seed=int(rng_for(seed, anchor_n, 0xF17).integers(2**31)))
        start = hyperparameters(model)
        if cache is not None:
            cache.put(digest, start)
        if anchor_n == n:
            return model, a_x[a_idx], a_y[a_idx]
    idx = training_subset(y, keys, max_points, seed)
    model = make(x[idx], y[idx], encoding)
    load_hyperparameters(model, start)
    if anchor_n != n and warm_iterations > 0:  # 0: the anchor's hyperparameters as they are
        fit(model, seed=int(rng_for(seed, n, 0xF17).integers(2**31)), maxiter=warm_iterations)
    model.eval()
    return model, x[idx], y[idx]


class CachedPosterior(Model):
    """A fitted single-output exact GP's posterior with the training-data solve done once.

    ``model.posterior(X)`` (GPyTorch's exact prediction) builds the joint prior over training and
    test points as a lazily evaluated kernel tensor on every call and slices it; its caches save
    the solve but not that machinery, which at tens to hundreds of training points is most of the
    cost of one acquisition evaluation (~4 ms of a 7 ms forward pass at 50 points). Here the
    Cholesky factor ``L`` of ``K + noise I`` (n, n) and ``alpha = (K + noise I)^-1 (y - m)`` (n,)
    are computed once from the model's own kernel, mean and likelihood; a call evaluates only the
    cross-covariance ``k(X, train)`` (b x q x n) and the prior block ``k(X, X)`` (b x q x q; for
    q = 1 and a stationary kernel, the constant prior variance, found once):

        mean = m(X) + k(X, train) alpha,   cov = k(X, X) - V^T V,   V = L^-1 k(train, X)

    and applies the model's outcome transform, as ``model.posterior`` does. The same numbers to
    ~1e-12 (``tests/models/test_gp.py``). ``model`` must be in eval mode with its hyperparameters
    fixed (a fitted model, or one conditioned on observations); observation noise is not added.
    """

    def __init__(self, model: SingleTaskGP) -> None:
        super().__init__()
        model.eval()
        # not a submodule: BoTorch's analytic acquisitions call ``.to(X)`` on their model at every
        # evaluation, which walks all submodules (~1 ms through a mixed GP's kernel tree)
        self._gp = (model,)
        with torch.no_grad(), gpytorch.settings.lazily_evaluate_kernels(False):
            (train_x,) = model.train_inputs  # input-transformed in eval mode
            covar = model.covar_module(train_x).to_dense()
            noise = model.likelihood.noise.expand(train_x.shape[:-1])
            self.chol = psd_safe_cholesky(covar + torch.diag_embed(noise))
            resid = (model.train_targets - model.mean_module(train_x)).unsqueeze(-1)
            self.alpha = torch.cholesky_solve(resid, self.chol).squeeze(-1)
            # k(x, x) of a stationary kernel (RBF, categorical, their sums, products and scales)
            # is one number: kept when it is the same at every training point
            diag = model.covar_module(train_x, diag=True)
            self.prior_var = diag[..., :1] if torch.allclose(diag, diag[..., :1]) else None
        self.train_x = train_x

    @property
    def num_outputs(self) -> int:
        return 1

    @property
    def batch_shape(self) -> torch.Size:
        return torch.Size()

    def posterior(
        self,
        X: Tensor,
        output_indices: list[int] | None = None,
        observation_noise: bool | Tensor = False,
        posterior_transform: Any = None,
        **kwargs: Any,
    ) -> Any:
        """The posterior at ``X`` (batch x q x d), as :meth:`SingleTaskGP.posterior` returns it."""
        if observation_noise is not False:
            raise NotImplementedError("CachedPosterior adds no observation noise")
        (model,) = self._gp
        X = model.transform_inputs(X)
        n = self.train_x.shape[-2]
        with gpytorch.settings.lazily_evaluate_kernels(False):
            cross = model.covar_module(X, self.train_x).to_dense()  # batch x q x n
            if X.shape[-2] == 1 and self.prior_var is not None:
                prior = self.prior_var.expand(*X.shape[:-1], 1)
            else:
                prior = model.covar_module(X).to_dense()  # batch x q x q
        mean = model.mean_module(X) + cross @ self.alpha
        # one triangular solve for all batch x q columns (a batched solve would copy L per batch)
        v = torch.linalg.solve_triangular(self.chol, cross.reshape(-1, n).T, upper=False)
        v = v.T.reshape(cross.shape)  # batch x q x n
        cov = prior - v @ v.transpose(-1, -2)
        posterior: Any = GPyTorchPosterior(MultivariateNormal(mean, cov))
        transform = getattr(model, "outcome_transform", None)
        if transform is not None:
            posterior = transform.untransform_posterior(posterior, X=X)
        if posterior_transform is not None:
            return posterior_transform(posterior=posterior, X=X)
        return posterior

    def mean_and_variance(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """Pointwise posterior mean (n,) and variance (n,) at ``X`` (n x d), in the outcome's
        scale: what an analytic acquisition needs, without the joint covariance or the
        batch-of-one layout (one kernel evaluation of all n points against the training set)."""
        (model,) = self._gp
        X = model.transform_inputs(X)
        with gpytorch.settings.lazily_evaluate_kernels(False):
            cross = model.covar_module(X, self.train_x).to_dense()  # n x N
            prior = model.covar_module(X, diag=True)  # n
        mean = model.mean_module(X) + cross @ self.alpha
        v = torch.linalg.solve_triangular(self.chol, cross.T, upper=False)  # N x n
        variance = (prior - (v * v).sum(dim=0)).clamp_min(0.0)
        transform = getattr(model, "outcome_transform", None)
        if transform is not None:
            m, var = transform.untransform(mean.unsqueeze(-1), variance.unsqueeze(-1))
            mean, variance = m.squeeze(-1), var.squeeze(-1)
        return mean, variance


# -- multi-fidelity: the fidelity as one more input column ---------------------------------------


def fidelity_unit(space: Space, fidelity: float) -> float:
    """A fidelity value on the log scale of the space's fidelity range, in [0, 1]."""
    param = space.fidelity
    assert param is not None, "the space has no fidelity"
    lower, upper = float(param.lower), float(param.upper)
    if upper <= lower:
        return 1.0
    return float(np.clip(math.log(float(fidelity) / lower) / math.log(upper / lower), 0.0, 1.0))


def with_fidelity(encoding: Encoding, u: Array, fidelity: Array) -> Array:
    """Unit vectors ``u`` (n, d) and fidelity values (n,) -> model rows (n, d + 1): model
    coordinates plus :func:`fidelity_unit` as the last column (the multi-fidelity GP's input)."""
    if len(u) == 0:
        return np.empty((0, encoding.dim + 1))
    z = [fidelity_unit(encoding.space, float(f)) for f in fidelity]
    return np.column_stack([encoding.to_model(u), np.asarray(z, dtype=np.float64)])


def build_model_with_fidelity(x: Array, y: Array, encoding: Encoding) -> SingleTaskGP:
    """Like :func:`build_model` for ``x`` (n, d + 1) whose last column is the fidelity.

    No :class:`ImputeInactive` transform: the caller only evaluates points that are already
    imputed (:meth:`Encoding.to_model`), so the model sees the same constants as in training.
    """
    train_x = torch.tensor(x, dtype=DTYPE)
    train_y = -torch.tensor(y, dtype=DTYPE).unsqueeze(-1)
    cat_dims = [j for j, k in encoding.cat_dims.items() if k > 1]
    if cat_dims:
        return MixedSingleTaskGP(train_x, train_y, cat_dims=cat_dims)
    return SingleTaskGP(train_x, train_y)
