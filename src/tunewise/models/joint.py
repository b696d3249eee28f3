"""One GP over hyperparameters and architectures: unit-cube columns plus WL feature blocks.

A row of model inputs (``D`` columns) is

    [hyperparameters (d, model coordinates, :class:`tunewise.models.gp.Encoding`)]
    [architecture 1: its WL feature blocks] ... [architecture m: its blocks]
    [the architectures' log prior (1 column, read by piBO only; no kernel looks at it)]

Each architecture parameter becomes Weisfeiler–Lehman feature counts of its compiled graph (or of
its level graphs, ``hierarchical=True``), normalized so that the dot product of two rows is the
normalized WL kernel (:func:`tunewise.models.wl.architecture_features`). The vocabulary is fitted on
the training derivations and the pending ones (so that both have unit norm); candidates are
transformed with it, and labels they have that no training graph has drop out of their rows. The
posterior uses the exact prior variance ``k(x, x)`` of the normalized kernel (one, times the
scale) for a single candidate (:class:`tunewise.models.gp.CachedPosterior`'s constant prior
variance), which is the normalized kernel over the union of both vocabularies: unseen labels only
add to a candidate's own similarity.

A conditional architecture that is inactive in a row gets, in each of its blocks, one extra
"inactive" indicator column set to 1 (all other columns 0): two rows where it is inactive are
identical for its kernel, an active and an inactive one are unrelated.

Kernel (:func:`build_model`): the mixed kernel of the hyperparameter columns (BoTorch's
``MixedSingleTaskGP`` structure: RBF with the dimension-scaled lengthscale prior on numbers,
categorical kernel on choices) times one ``WLKernel`` per architecture on its columns, scaled once.
A product, by default, because in joint NAS + HPO the good hyperparameters depend on the network
(a deeper net wants a smaller learning rate): an additive kernel (``combine="additive"``:
``ScaleKernel(hp) + ScaleKernel(WL)``) assumes they do not, which suits spaces where the
hyperparameters are nuisance settings. An architecture-only space uses ``ScaleKernel(WL)`` alone.

Fitting follows :func:`tunewise.models.gp.fitted_model` (anchored warm starts, ``max_points``): the
anchor's features use a vocabulary fitted on the anchor's own derivations, so the anchor is still a
pure function of its observations and a cache changes nothing but speed.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from botorch.models.gp_regression import SingleTaskGP
from botorch.models.kernels.categorical import CategoricalKernel
from botorch.models.utils.gpytorch_modules import get_covar_module_with_dim_scaled_prior
from gpytorch.kernels import Kernel, ScaleKernel
from numpy.typing import NDArray

from tunewise.models import gp
from tunewise.models.wl import WLKernel, architecture_features
from tunewise.space import Space
from tunewise.trial import rng_for

Array = NDArray[np.float64]
COMBINES = ("product", "additive")


@dataclass
class ArchitectureBlock:
    """The WL features of one architecture parameter: its vocabulary and column layout."""

    name: str
    conditional: bool
    h: int
    hierarchical: bool
    vocabulary: Any = None
    sizes: list[int] = field(default_factory=list)  # per block, indicator column included
    _rows: dict[str, Array] = field(default_factory=dict)  # derivation -> its row, this vocabulary

    @property
    def width(self) -> int:
        return sum(self.sizes)

    def fit(self, space: Space, values: Sequence[str | None]) -> Array:
        """Fit the vocabulary on the active ``values`` and return their rows (n, width)."""
        arch = space.architectures[self.name]
        active = [v for v in values if v is not None]
        if not active:  # nothing to fit on: the default keeps the shapes meaningful
            active = [arch.default]
        _, self.vocabulary, sizes = architecture_features(
            arch.grammar, [arch.parse(v) for v in active], h=self.h, hierarchical=self.hierarchical
        )
        self.sizes = [s + int(self.conditional) for s in sizes]
        self._rows = {}
        return self.transform(space, values)

    def transform(self, space: Space, values: Sequence[str | None]) -> Array:
        """Rows (n, width) of ``values`` (None: inactive) over the fitted vocabulary."""
        out = np.zeros((len(values), self.width))
        new = list(dict.fromkeys(v for v in values if v is not None and v not in self._rows))
        if new:
            arch = space.architectures[self.name]
            feats, _, _ = architecture_features(
                arch.grammar,
                [arch.parse(v) for v in new],  # cached: children made by mutation need no parse
                h=self.h,
                hierarchical=self.hierarchical,
                vocabulary=self.vocabulary,
            )
            rows = np.zeros((len(new), self.width))
            raw_sizes = [s - int(self.conditional) for s in self.sizes]
            start_in, start_out = 0, 0
            for raw, size in zip(raw_sizes, self.sizes, strict=True):
                rows[:, start_out : start_out + raw] = feats[:, start_in : start_in + raw]
                start_in, start_out = start_in + raw, start_out + size
            self._rows.update(zip(new, rows, strict=True))
        for i, v in enumerate(values):
            if v is not None:
                out[i] = self._rows[v]
        if self.conditional:
            inactive = [i for i, v in enumerate(values) if v is None]
            ends = np.cumsum(self.sizes) - 1
            for end in ends:
                out[inactive, end] = 1.0
        return out


@dataclass
class JointFeatures:
    """Model rows of configs: hyperparameter columns, architecture blocks, log-prior column."""

    space: Space
    encoding: gp.Encoding
    blocks: list[ArchitectureBlock]
    with_prior: bool = False

    @classmethod
    def of(
        cls, space: Space, *, h: int = 2, hierarchical: bool = False, with_prior: bool = False
    ) -> JointFeatures:
        """``with_prior``: fill the log-prior column (piBO); else it is 0 (cheaper)."""
        conditional = {name for name in space.architectures if space[name].when is not None}
        blocks = [
            ArchitectureBlock(name, name in conditional, h, hierarchical)
            for name in space.architectures
        ]
        return cls(space, gp.Encoding.of(space), blocks, with_prior and space.has_priors)

    @property
    def dim(self) -> int:
        return self.encoding.dim + sum(b.width for b in self.blocks) + 1

    def offsets(self) -> list[int]:
        """The first column of each architecture block."""
        out, start = [], self.encoding.dim
        for b in self.blocks:
            out.append(start)
            start += b.width
        return out

    def _assemble(self, u: Array, archs: list[Array], log_prior: Array) -> Array:
        n = len(log_prior)
        hp = self.encoding.to_model(u) if self.encoding.dim else np.empty((n, 0))
        return np.column_stack([hp.reshape(n, -1), *archs, log_prior.reshape(n, 1)])

    def fit(self, configs: Sequence[Mapping[str, Any]]) -> Array:
        """Fit every vocabulary on ``configs`` and return their rows (n, dim)."""
        return self._rows(configs, fit=True)

    def transform(self, configs: Sequence[Mapping[str, Any]]) -> Array:
        """Rows (n, dim) of ``configs`` over the fitted vocabularies."""
        return self._rows(configs, fit=False)

    def _rows(self, configs: Sequence[Mapping[str, Any]], *, fit: bool) -> Array:
        n = len(configs)
        u = self.space.encode_many(configs) if n else np.empty((0, self.encoding.dim))
        archs = []
        for b in self.blocks:
            values = [c.get(b.name) for c in configs]
            archs.append(b.fit(self.space, values) if fit else b.transform(self.space, values))
        log_prior = np.zeros(n)
        if self.with_prior:
            log_prior = np.array([architecture_log_prior(self.space, c) for c in configs])
        return self._assemble(u, archs, log_prior)


def architecture_log_prior(space: Space, config: Mapping[str, Any]) -> float:
    """The architectures' part of :meth:`Space.log_prior` (0 without production priors)."""
    return float(
        sum(
            arch.log_prior(config[name])
            for name, arch in space.architectures.items()
            if name in config and arch.has_prior
        )
    )


def _hyperparameter_kernel(encoding: gp.Encoding) -> tuple[Kernel | None, bool]:
    """(the mixed kernel of the cube columns or None, whether it carries its own scales)."""
    cat = [j for j, k in encoding.cat_dims.items() if k > 1]
    ignored = {j for j, k in encoding.cat_dims.items() if k <= 1}
    cont = [j for j in range(encoding.dim) if j not in encoding.cat_dims and j not in ignored]
    if cont and cat:
        cont_k = get_covar_module_with_dim_scaled_prior(ard_num_dims=len(cont), active_dims=cont)
        cont_k2 = get_covar_module_with_dim_scaled_prior(ard_num_dims=len(cont), active_dims=cont)
        summed = ScaleKernel(cont_k) + ScaleKernel(
            CategoricalKernel(ard_num_dims=len(cat), active_dims=cat)
        )
        product = ScaleKernel(cont_k2 * CategoricalKernel(ard_num_dims=len(cat), active_dims=cat))
        return summed + product, True
    if cont:
        return get_covar_module_with_dim_scaled_prior(
            ard_num_dims=len(cont), active_dims=cont
        ), False
    if cat:
        return CategoricalKernel(ard_num_dims=len(cat), active_dims=cat), False
    return None, False


def build_model(
    x: Array, y: Array, features: JointFeatures, combine: str = "product"
) -> SingleTaskGP:
    """An unfitted joint GP on rows ``x`` (n, features.dim) and objectives ``y`` (n,)."""
    if combine not in COMBINES:
        raise ValueError(f"combine must be one of {list(COMBINES)}, got {combine!r}")
    wl: Kernel | None = None
    for b, start in zip(features.blocks, features.offsets(), strict=True):
        k = WLKernel(b.sizes, active_dims=list(range(start, start + b.width)))
        wl = k if wl is None else wl * k
    hp, scaled = _hyperparameter_kernel(features.encoding)
    covar: Kernel
    if wl is None:
        raise ValueError("the space has no architecture parameter: use tunewise.models.gp")
    if hp is None:
        covar = ScaleKernel(wl)
    elif combine == "additive":
        covar = (hp if scaled else ScaleKernel(hp)) + ScaleKernel(wl)
    else:
        covar = hp * wl if scaled else ScaleKernel(hp * wl)
    train_x = torch.tensor(x, dtype=gp.DTYPE)
    train_y = -torch.tensor(y, dtype=gp.DTYPE).unsqueeze(-1)
    transform = gp.ImputeInactive(features.encoding) if features.space.has_conditions else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # feature counts are not in the unit cube, by design
        return SingleTaskGP(
            train_x,
            train_y,
            covar_module=covar,
            likelihood=gp.likelihood(),
            input_transform=transform,
        )


def fitted_model(
    configs: Sequence[Mapping[str, Any]],
    y: Array,
    features: JointFeatures,
    *,
    keys: NDArray[np.int64],
    pending: Sequence[Mapping[str, Any]] = (),
    seed: int,
    max_points: int = 300,
    warm_iterations: int = 20,
    combine: str = "product",
    cache: gp.FitCache | None = None,
) -> tuple[SingleTaskGP, Array, Array, Array]:
    """The joint GP on ``configs`` (n, ordered as ``keys``) and finite objectives ``y`` (n,).

    Returns (model, training rows (m, D), their objectives (m,), pending rows (p, D)), with the
    vocabularies of ``features`` fitted on the training and ``pending`` configs; the anchored warm
    start of :func:`tunewise.models.gp.fitted_model`.
    """
    order = np.argsort(keys, kind="stable")
    configs = [configs[i] for i in order]
    y, keys = y[order], keys[order]
    n = len(y)
    anchor_n = 1 << (n.bit_length() - 1)
    a_idx = gp.training_subset(y[:anchor_n], keys[:anchor_n], max_points, seed)
    a_configs = [configs[i] for i in a_idx]
    a_x = features.fit(a_configs)
    a_y = y[:anchor_n][a_idx]
    h = hashlib.sha1(features.space.to_json().encode() + combine.encode())
    h.update(np.ascontiguousarray(a_x).tobytes())
    h.update(np.ascontiguousarray(a_y).tobytes())
    digest = h.hexdigest()
    start = cache.get(digest) if cache is not None else None
    if start is None:
        anchor = build_model(a_x, a_y, features, combine)
        gp.fit(anchor, seed=int(rng_for(seed, anchor_n, 0xF17).integers(2**31)))
        start = gp.hyperparameters(anchor)
        if cache is not None:
            cache.put(digest, start)
    idx = gp.training_subset(y, keys, max_points, seed)
    rows = features.fit([configs[i] for i in idx] + list(pending))
    x, pending_x = rows[: len(idx)], rows[len(idx) :]
    model = build_model(x, y[idx], features, combine)
    gp.load_hyperparameters(model, start)
    if anchor_n != n:
        gp.fit(model, seed=int(rng_for(seed, n, 0xF17).integers(2**31)), maxiter=warm_iterations)
    model.eval()
    return model, x, y[idx], pending_x


class JointLogPrior(torch.nn.Module):
    """piBO's log pi on joint rows: the cube prior (:class:`LogPrior`) plus the last column."""

    def __init__(self, cube: torch.nn.Module) -> None:
        super().__init__()
        self.cube = cube

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        total: torch.Tensor = self.cube(X) + X[..., -1]
        return total
