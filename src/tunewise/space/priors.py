"""Prior distributions in (log-)unit space, as in PriorBand (Mallik et al., NeurIPS 2023).

The values are those of NePS v0.12.2, the PriorBand-paper code (ALGORITHMS.md §3, "NePS-old
priors"): a number's prior is a normal truncated to [0, 1], centred on the encoded prior value, with
standard deviation 0.5 / 0.25 / 0.125 of the (log-)range for low / medium / high confidence; a
categorical's prior choice gets weight 2 / 4 / 6 against 1 for every other choice.

The functions here are vectorized over NumPy arrays and draw only from the generator passed in.
Sampling inverts the CDF (``scipy.special.ndtri``), which equals ``scipy.stats.truncnorm`` but
accepts a different centre per draw (PriorBand's incumbent mutation needs that).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr, ndtri

CONFIDENCES: tuple[str, ...] = ("low", "medium", "high")
NUMERIC_SD: dict[str, float] = {"low": 0.5, "medium": 0.25, "high": 0.125}
CATEGORICAL_WEIGHT: dict[str, float] = {"low": 2.0, "medium": 4.0, "high": 6.0}

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)


def _bounds(mean: NDArray[np.float64], sd: float) -> tuple[NDArray[np.float64], ...]:
    return (0.0 - mean) / sd, (1.0 - mean) / sd


def truncnorm_logpdf(u: ArrayLike, mean: ArrayLike, sd: float) -> NDArray[np.float64]:
    """Log density of N(mean, sd) truncated to [0, 1] at ``u`` (any shape; -inf outside [0, 1])."""
    u_arr = np.asarray(u, dtype=np.float64)
    mean_arr = np.asarray(mean, dtype=np.float64)
    a, b = _bounds(mean_arr, sd)
    z = (u_arr - mean_arr) / sd
    log_mass = np.log(ndtr(b) - ndtr(a))
    out = -0.5 * z * z - _LOG_SQRT_2PI - math.log(sd) - log_mass
    return np.where((u_arr >= 0.0) & (u_arr <= 1.0), out, -np.inf)


def truncnorm_sample(
    rng: np.random.Generator, mean: ArrayLike, sd: float, size: int | None = None
) -> NDArray[np.float64]:
    """Draw from N(mean, sd) truncated to [0, 1]; shape ``size`` or that of ``mean``."""
    mean_arr = np.asarray(mean, dtype=np.float64)
    shape = mean_arr.shape if size is None else (size,)
    a, b = _bounds(mean_arr, sd)
    q = rng.uniform(ndtr(a), ndtr(b), size=shape)
    return np.asarray(np.clip(mean_arr + sd * ndtri(q), 0.0, 1.0), dtype=np.float64)


def categorical_probabilities(
    k: int, prior_index: int | None, confidence: str
) -> NDArray[np.float64]:
    """Probabilities of ``k`` choices, shape (k,): uniform without a prior, else weighted."""
    weights = np.ones(k, dtype=np.float64)
    if prior_index is not None:
        weights[prior_index] = CATEGORICAL_WEIGHT[confidence]
    return np.asarray(weights / weights.sum(), dtype=np.float64)
