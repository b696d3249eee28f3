"""Which hyperparameters mattered in a study: PED-ANOVA and fANOVA on its finished trials.

- **PED-ANOVA** (Watanabe et al. 2023, "PED-ANOVA: Efficiently quantifying hyperparameter
  importance in arbitrary subspaces", IJCAI): a parameter matters as much as the top-γ
  configurations' 1-D marginal density differs from all configurations' one. Both densities are
  Parzen estimators on a grid of the unit interval; the importance is their Pearson divergence
  ``sum_g p_top(g)^2 / p_all(g) - 1``; no model is fitted.
- **fANOVA** (Hutter et al. 2014, "An efficient approach for assessing hyperparameter
  importance", ICML): a random forest (scikit-learn) is fitted on (unit-cube config, loss); for
  each tree, the variance of a parameter's marginal of the tree's prediction, as a fraction of
  the prediction's total variance, is computed *exactly* over the tree's leaf boxes (uniform
  measure on the unit cube); the fractions are averaged over the trees.

Both work in the space's unit-cube encoding (:meth:`tunewise.space.Space.encode`), so a
log-scaled parameter is measured on its log scale, and a categorical choice owns the bin
``[i/k, (i+1)/k)`` (PED-ANOVA uses its choice counts). Architecture parameters (derivation
strings, nearly all distinct) are **excluded**: they have no unit-cube dimension, and treating
thousands of distinct strings as categories would measure noise. An inactive conditional
parameter is left out of PED-ANOVA's densities and has zero measure in fANOVA's marginals.
Importances are normalized to sum to 1 (fANOVA's main-effect fractions before normalization
leave out interactions).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from tunewise.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from tunewise.space import Space

METHODS = ("ped_anova", "fanova")
GRID = 100
"""Grid points PED-ANOVA evaluates a numeric parameter's densities on."""
MIN_TOP = 5
"""PED-ANOVA's top set holds at least this many configurations (at most half of them)."""
INACTIVE = -0.5
"""Where fANOVA's forest sees an inactive conditional parameter: outside the unit interval."""


def importance(
    trials: Sequence[Trial],
    space: Space,
    *,
    method: str = "ped_anova",
    min_trials: int = 10,
    gamma: float = 0.1,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Importance of each searched parameter (the fidelity and architectures excluded).

    Computed on the succeeded trials at the highest fidelity that has at least ``min_trials``
    of them (else on all succeeded trials); values are non-negative and sum to 1 when any is
    positive. ``gamma`` is PED-ANOVA's top quantile; ``rng`` seeds fANOVA's forest.
    Raises ``ValueError`` when fewer than ``min_trials`` trials succeeded or ``method`` is unknown.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if min_trials < 2:
        raise ValueError(f"min_trials must be >= 2, not {min_trials!r}")
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma must be in (0, 1), not {gamma!r}")
    chosen = _trials_for_importance(trials, min_trials=min_trials)
    names = list(space.dimension_names)
    if not names:
        return {}
    x = space.encode_many([t.config for t in chosen])
    y = np.array([float(t.objective) for t in chosen if t.objective is not None])
    if method == "ped_anova":
        sizes = [_choices(space, name) for name in names]
        raw = ped_anova(x, y, categorical=sizes, gamma=gamma)
    else:
        raw = fanova(x, y, rng=rng if rng is not None else np.random.default_rng(0))
    return _normalized(dict(zip(names, raw.tolist(), strict=True)))


def _choices(space: Space, name: str) -> int:
    """The number of choices of a categorical parameter; 0 for a number."""
    param = space.searchable[name]
    choices = getattr(param, "choices", None)
    return 0 if choices is None else len(choices)


def _trials_for_importance(trials: Sequence[Trial], *, min_trials: int) -> list[Trial]:
    """Succeeded, finite trials at the highest fidelity with ``min_trials`` of them, else all."""
    ok = [
        t
        for t in trials
        if t.status is TrialStatus.SUCCEEDED
        and t.objective is not None
        and math.isfinite(t.objective)
    ]
    if len(ok) < min_trials:
        raise ValueError(
            f"parameter importance needs at least {min_trials} succeeded trials; "
            f"this study has {len(ok)}"
        )
    counts: dict[float, int] = {}
    for t in ok:
        if t.fidelity is not None:
            counts[float(t.fidelity)] = counts.get(float(t.fidelity), 0) + 1
    enough = [f for f, n in counts.items() if n >= min_trials]
    if not enough:
        return ok
    top = max(enough)
    return [t for t in ok if t.fidelity is not None and float(t.fidelity) == top]


def _normalized(values: dict[str, float]) -> dict[str, float]:
    clean = {k: max(float(v), 0.0) if math.isfinite(v) else 0.0 for k, v in values.items()}
    total = sum(clean.values())
    return {k: v / total for k, v in clean.items()} if total > 0 else clean


# -- PED-ANOVA ---------------------------------------------------------------------------------


def top_count(n: int, gamma: float) -> int:
    """Size of PED-ANOVA's top set among ``n``: ``ceil(gamma * n)``, at least ``MIN_TOP``
    (or half of ``n``, whichever is smaller), so a small study's top set is not one point."""
    return max(math.ceil(gamma * n), min(MIN_TOP, n // 2), 1)


def parzen_grid(values: NDArray[np.float64], grid: NDArray[np.float64]) -> NDArray[np.float64]:
    """A 1-D Parzen density of unit-interval ``values`` (n,) as probabilities on ``grid`` (G,).

    Gaussian kernels with Scott's bandwidth (at least one grid step) plus one uniform
    pseudo-observation, the prior weight of TPE's estimators: the density is positive on the
    whole grid, so the divergence below is finite. Sums to 1, shape (G,).
    """
    n = len(values)
    step = 1.0 / len(grid)
    spread = float(np.std(values)) if n > 1 else 1.0
    bandwidth = max(1.06 * spread * n ** (-0.2), step)
    kernels = np.exp(-0.5 * ((grid[:, None] - values[None, :]) / bandwidth) ** 2)
    kernels /= kernels.sum(axis=0, keepdims=True)
    mass = kernels.sum(axis=1) + 1.0 / len(grid)
    return np.asarray(mass / mass.sum(), dtype=np.float64)


def _counts(values: NDArray[np.float64], k: int) -> NDArray[np.float64]:
    """Choice probabilities from unit codes ``(i + 0.5) / k``, with one uniform pseudo-count."""
    index = np.minimum(np.floor(values * k), k - 1).astype(np.int64)
    mass = np.bincount(index, minlength=k).astype(np.float64) + 1.0 / k
    return np.asarray(mass / mass.sum(), dtype=np.float64)


def pearson_divergence(p: NDArray[np.float64], q: NDArray[np.float64]) -> float:
    """``sum p^2 / q - 1``: the Pearson chi^2 divergence of distribution ``p`` from ``q``."""
    return float(np.sum(p**2 / q) - 1.0)


def ped_anova(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    *,
    categorical: Sequence[int],
    gamma: float = 0.1,
) -> NDArray[np.float64]:
    """Unnormalized PED-ANOVA importances, shape (d,), from unit-cube ``x`` (n, d) and losses
    ``y`` (n,).

    ``categorical[j]`` is the number of choices of dimension ``j`` (0 for a number). The top set
    is the :func:`top_count` lowest losses. NaN entries (inactive) are left out of both sets.
    """
    n, d = x.shape
    order = np.argsort(y, kind="stable")
    top = np.zeros(n, dtype=bool)
    top[order[: top_count(n, gamma)]] = True
    grid = (np.arange(GRID) + 0.5) / GRID
    out = np.zeros(d)
    for j in range(d):
        column = x[:, j]
        active = ~np.isnan(column)
        local, full = column[active & top], column[active]
        if len(local) < 2:
            continue
        k = categorical[j]
        if k:
            out[j] = pearson_divergence(_counts(local, k), _counts(full, k))
        else:
            out[j] = pearson_divergence(parzen_grid(local, grid), parzen_grid(full, grid))
    return out


# -- fANOVA ------------------------------------------------------------------------------------


def leaf_boxes(
    tree: object, d: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """The leaves of a fitted scikit-learn regression tree as boxes in the unit cube.

    Returns ``(lower, upper, value)`` of shapes (L, d), (L, d), (L,): leaf ``l`` predicts
    ``value[l]`` on the box ``prod_j [lower[l, j], upper[l, j]]``, clipped to [0, 1] (a box
    outside the cube, e.g. the inactive side of a conditional split, has zero width).
    """
    t = tree.tree_  # type: ignore[attr-defined]
    left, right = t.children_left, t.children_right
    feature, cut = t.feature, np.clip(t.threshold, 0.0, 1.0)
    lower, upper = np.zeros((t.node_count, d)), np.ones((t.node_count, d))
    frontier = np.array([0])
    while frontier.size:  # one depth level at a time: children inherit and narrow the box
        inner = frontier[left[frontier] != -1]
        j, a, b = feature[inner], left[inner], right[inner]
        lower[a], upper[a] = lower[inner], upper[inner]
        lower[b], upper[b] = lower[inner], upper[inner]
        upper[a, j] = np.minimum(upper[inner, j], cut[inner])
        lower[b, j] = np.maximum(lower[inner, j], cut[inner])
        frontier = np.concatenate([a, b])
    leaves = left == -1
    low, high = lower[leaves], upper[leaves]
    values = t.value.reshape(t.node_count, -1)[leaves, 0]
    return low, np.maximum(high, low), np.asarray(values, dtype=np.float64)


def tree_fractions(
    lower: NDArray[np.float64], upper: NDArray[np.float64], value: NDArray[np.float64]
) -> NDArray[np.float64]:
    """Per dimension, the variance of the tree's 1-D marginal over its total variance, (d,).

    The marginal ``a_j(x_j) = sum_l value_l * prod_{k != j} width_lk * [x_j in box_l]`` is
    piecewise constant between the boxes' edges on ``j``; a sweep over the sorted edges gives
    it exactly in O(L log L). A constant tree has no variance and gets zeros.
    """
    width = upper - lower
    volume = np.prod(width, axis=1)
    mean = float(np.sum(value * volume))
    total = float(np.sum(volume * (value - mean) ** 2))
    d = lower.shape[1]
    out = np.zeros(d)
    if total <= 1e-12 * max(1.0, mean**2):
        return out
    for j in range(d):
        others = np.prod(np.delete(width, j, axis=1), axis=1)
        weight = value * others
        edges = np.unique(np.concatenate([lower[:, j], upper[:, j], [0.0, 1.0]]))
        delta = np.zeros(len(edges))
        np.add.at(delta, np.searchsorted(edges, lower[:, j]), weight)
        np.add.at(delta, np.searchsorted(edges, upper[:, j]), -weight)
        marginal = np.cumsum(delta)[:-1]
        out[j] = float(np.sum(np.diff(edges) * (marginal - mean) ** 2)) / total
    return out


def fanova(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    *,
    rng: np.random.Generator,
    n_trees: int = 64,
    min_samples_leaf: int = 1,
) -> NDArray[np.float64]:
    """Main-effect variance fractions, shape (d,), of a random forest fitted on unit-cube
    ``x`` (n, d) and losses ``y`` (n,), averaged over its trees (exact, see
    :func:`tree_fractions`). Inactive (NaN) entries are fed to the forest as ``INACTIVE``."""
    from sklearn.ensemble import RandomForestRegressor

    forest = RandomForestRegressor(
        n_estimators=n_trees,
        min_samples_leaf=min_samples_leaf,
        max_features=1.0,
        random_state=int(rng.integers(2**31 - 1)),
    )
    features = np.where(np.isnan(x), INACTIVE, x)
    forest.fit(features, y)
    d = x.shape[1]
    fractions = [tree_fractions(*leaf_boxes(tree, d)) for tree in forest.estimators_]
    return np.asarray(np.mean(fractions, axis=0), dtype=np.float64)
