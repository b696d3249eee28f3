"""BOHB's good/bad kernel density estimators (Falkner et al. 2018, after TPE, Bergstra et al. 2011).

Everything lives in the unit-cube encoding of :class:`~tunewise.space.Space`: a row of shape (d,),
a dataset of shape (n, d). ``choices[j]`` describes dimension ``j``: 0 for a continuous or integer
dimension (Gaussian kernel in unit space), ``k >= 2`` for a categorical with ``k`` choices, encoded
``(index + 0.5) / k`` (Aitchison–Aitken kernel on the index). Facts and constants: ALGORITHMS.md §2.

Bandwidths follow statsmodels' ``KDEMultivariate(bw="normal_reference")``:
``1.06 * std * n ** (-1 / (4 + d))`` per dimension (population std, on the index for
categoricals), clipped below at ``min_bandwidth``. Categorical bandwidths are also clipped above at
``(k - 1) / k``, where the Aitchison–Aitken kernel becomes uniform; past it the kernel would favour
the *other* choices (or turn negative), which statsmodels allows and we do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp, ndtr, ndtri

Array = NDArray[np.float64]

#: densities are floored here before the ratio is taken (HpBandSter's constant)
DENSITY_FLOOR = 1e-32


def _codes(u: Array, k: int) -> NDArray[np.int64]:
    """Category indices of unit values ``u`` for a categorical with ``k`` choices."""
    return np.minimum(np.floor(np.clip(u, 0.0, 1.0) * k), k - 1).astype(np.int64)


def fill_inactive(x: Array, choices: NDArray[np.int64], rng: np.random.Generator) -> Array:
    """Fill NaN (inactive) entries of ``x`` (n, d): a random row's value where the dimension is
    active, else a uniform draw (a choice's bin centre for categoricals). Returns a copy."""
    x = np.array(x, dtype=np.float64, copy=True)
    for j in range(x.shape[1]):
        missing = np.isnan(x[:, j])
        if not missing.any():
            continue
        present = x[~missing, j]
        m = int(missing.sum())
        if present.size:
            x[missing, j] = present[rng.integers(present.size, size=m)]
        elif choices[j]:
            x[missing, j] = (rng.integers(choices[j], size=m) + 0.5) / choices[j]
        else:
            x[missing, j] = rng.random(m)
    return x


def normal_reference_bandwidth(
    x: Array, choices: NDArray[np.int64], *, min_bandwidth: float = 1e-3
) -> Array:
    """Per-dimension bandwidths, shape (d,), for data ``x`` of shape (n, d) without NaN."""
    n, d = x.shape
    values = np.array(x, dtype=np.float64, copy=True)
    for j in np.flatnonzero(choices):
        values[:, j] = _codes(values[:, j], int(choices[j]))
    bw: Array = np.maximum(1.06 * values.std(axis=0) * n ** (-1.0 / (4 + d)), min_bandwidth)
    categorical = choices > 0
    upper = (choices[categorical] - 1) / choices[categorical]
    bw[categorical] = np.minimum(bw[categorical], np.maximum(upper, min_bandwidth))
    return bw


@dataclass(frozen=True)
class KDE:
    """A product-kernel density over unit vectors.

    ``data`` (n, d) without NaN, ``choices`` (d,) as in the module docstring, ``bandwidth`` (d,).
    The Gaussian kernels are not truncated to [0, 1] (as in statsmodels), so the density integrates
    to 1 over the real line, and sums to 1 over a categorical's choices.
    """

    data: Array
    choices: NDArray[np.int64]
    bandwidth: Array

    @classmethod
    def fit(cls, data: Array, choices: NDArray[np.int64], *, min_bandwidth: float = 1e-3) -> KDE:
        data = np.asarray(data, dtype=np.float64)
        if data.ndim != 2 or data.shape[0] < 1 or np.isnan(data).any():
            raise ValueError(f"KDE.fit needs an (n >= 1, d) array without NaN, got {data.shape}")
        choices = np.asarray(choices, dtype=np.int64)
        bandwidth = normal_reference_bandwidth(data, choices, min_bandwidth=min_bandwidth)
        return cls(data=data, choices=choices, bandwidth=bandwidth)

    def log_pdf(self, x: Array) -> Array:
        """Log density at ``x``: shape (m, d) -> (m,)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        n = self.data.shape[0]
        total = np.zeros((x.shape[0], n))  # log kernel product, per query and data point
        for j, k in enumerate(self.choices):
            h = self.bandwidth[j]
            if k:
                same = _codes(x[:, j], int(k))[:, None] == _codes(self.data[:, j], int(k))[None]
                total += np.where(same, math.log1p(-h), math.log(h / (k - 1)))
            else:
                z = (x[:, j, None] - self.data[None, :, j]) / h
                total += -0.5 * z * z - math.log(h * math.sqrt(2 * math.pi))
        log_density: Array = logsumexp(total, axis=1) - math.log(n)
        return log_density

    def pdf(self, x: Array) -> Array:
        """Density at ``x``: shape (m, d) -> (m,)."""
        return np.exp(self.log_pdf(x))


@dataclass(frozen=True)
class GoodBadKDE:
    """TPE's pair of densities: ``good`` (l(x), the best points) and ``bad`` (g(x), the rest).

    Candidates are drawn around good points and ranked by ``g(x) / l(x)`` (lower is better).
    """

    good: KDE
    bad: KDE

    @classmethod
    def fit(
        cls,
        x: Array,
        y: Array,
        choices: NDArray[np.int64],
        rng: np.random.Generator,
        *,
        min_points: int,
        top_n_percent: float = 15,
        min_bandwidth: float = 1e-3,
    ) -> GoodBadKDE | None:
        """Split ``x`` (n, d; NaN = inactive) by loss ``y`` (n,; inf for failures), or None.

        ``n_good = max(min_points, floor(top_n_percent * n / 100))`` lowest losses are good, the
        next ``n_bad = max(min_points, floor((100 - top_n_percent) * n / 100))`` bad; None when
        ``n < min_points`` or either set has ``<= d`` rows. Inactive values are filled per set.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        n, d = x.shape
        if n < min_points:
            return None
        n_good = max(min_points, math.floor(top_n_percent * n / 100))
        n_bad = max(min_points, math.floor((100 - top_n_percent) * n / 100))
        order = np.argsort(np.where(np.isnan(y), np.inf, y), kind="stable")
        good, bad = x[order[:n_good]], x[order[n_good : n_good + n_bad]]
        if good.shape[0] <= d or bad.shape[0] <= d:
            return None
        choices = np.asarray(choices, dtype=np.int64)
        return cls(
            good=KDE.fit(fill_inactive(good, choices, rng), choices, min_bandwidth=min_bandwidth),
            bad=KDE.fit(fill_inactive(bad, choices, rng), choices, min_bandwidth=min_bandwidth),
        )

    def score(self, x: Array) -> Array:
        """``log(max(g, 1e-32) / max(l, 1e-32))`` at ``x`` (m, d) -> (m,); lower is better."""
        floor = math.log(DENSITY_FLOOR)
        return np.maximum(self.bad.log_pdf(x), floor) - np.maximum(self.good.log_pdf(x), floor)

    def candidates(
        self, rng: np.random.Generator, num_samples: int, *, bandwidth_factor: float = 3.0
    ) -> Array:
        """``num_samples`` unit vectors (num_samples, d), each drawn around a random good point.

        Continuous dimensions: a normal truncated to [0, 1] with sd ``bandwidth_factor * bw``.
        Categoricals: keep the point's choice with probability ``1 - bw``, else draw uniformly.
        """
        data, choices, bw = self.good.data, self.good.choices, self.good.bandwidth
        centres = data[rng.integers(data.shape[0], size=num_samples)]
        out = np.empty_like(centres)
        for j, k in enumerate(choices):
            mu = centres[:, j]
            if k:
                keep = rng.random(num_samples) < 1 - bw[j]
                other = (rng.integers(k, size=num_samples) + 0.5) / k
                out[:, j] = np.where(keep, (_codes(mu, int(k)) + 0.5) / k, other)
            else:
                sd = bandwidth_factor * bw[j]
                lo, hi = ndtr((0.0 - mu) / sd), ndtr((1.0 - mu) / sd)
                p = lo + rng.random(num_samples) * (hi - lo)
                out[:, j] = np.clip(mu + sd * ndtri(p), 0.0, 1.0)
        return out

    def propose(
        self, rng: np.random.Generator, num_samples: int, *, bandwidth_factor: float = 3.0
    ) -> Array | None:
        """The candidate minimising :meth:`score`, shape (d,); None if no score is finite."""
        candidates = self.candidates(rng, num_samples, bandwidth_factor=bandwidth_factor)
        scores = self.score(candidates)
        if not np.isfinite(scores).any():
            return None
        best: Array = candidates[int(np.nanargmin(np.where(np.isfinite(scores), scores, np.nan)))]
        return best
