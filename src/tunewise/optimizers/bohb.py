"""BOHB (Falkner et al., ICML 2018): Hyperband's brackets + a per-fidelity KDE model (TPE-style).

New configurations come from the good/bad KDE pair of :mod:`tunewise.models.kde` (Bergstra et al.
2011's TPE ratio), fitted on the evaluations at the **largest** rung fidelity that has enough of
them, whatever rung the new configuration starts at; with probability ``random_fraction``, or while
no fidelity has enough points, they are drawn uniformly. Promotions follow Hyperband's synchronous
brackets. Facts and the HpBandSter defaults: ALGORITHMS.md §2.

HpBandSter stops storing a budget's results once a larger budget has a model; since only the
largest budget's model is ever used, building every fidelity's dataset from the History and taking
the largest one that can be fitted gives the same model without keeping state. The model is refitted
on every ``ask`` (sorting plus one standard deviation per dimension) rather than cached: filling
inactive dimensions draws from the passed ``rng``, and a cache would change the draws.
"""

from __future__ import annotations

import math
import time
from numbers import Real
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from tunewise.models.kde import GoodBadKDE
from tunewise.optimizers.base import Capabilities
from tunewise.optimizers.bracket_optimizer import BracketOptimizer
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.observations import observations as read_observations
from tunewise.optimizers.registry import register
from tunewise.space import Categorical, Space
from tunewise.trial import History


def choices_of(space: Space) -> NDArray[np.int64]:
    """Per unit-cube dimension, shape (d,): the number of choices of a categorical, else 0."""
    return np.array(
        [len(p.choices) if isinstance(p, Categorical) else 0 for p in space.searchable.values()],
        dtype=np.int64,
    )


def observations(
    history: History, rungs: Rungs
) -> dict[int, tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Per rung: the finished trials' unit vectors (n, d) and losses (n,); failures are +inf.

    Every finished trial at a rung fidelity counts, whichever optimizer suggested it.
    """
    obs = read_observations(history)
    rung_of = [rungs.rung_of(f) if math.isfinite(f) else None for f in obs.fidelity.tolist()]
    loss = np.where(np.isnan(obs.y), math.inf, obs.y)
    out = {}
    for rung in dict.fromkeys(r for r in rung_of if r is not None):
        rows = np.array([r == rung for r in rung_of])
        out[rung] = (obs.u[rows], loss[rows])
    return out


def _number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


@register
class BOHB(BracketOptimizer):
    """Hyperband whose new configurations come from a TPE model of the largest fitted fidelity.

    ``prior_first=True`` evaluates the space's prior configuration first, at the lowest rung or,
    with ``prior_first_fidelity="max"``, at the maximum fidelity (see
    :class:`~tunewise.optimizers.bracket_optimizer.BracketOptimizer`); off by default (HpBandSter).
    """

    name = "bohb"
    tag = "bohb"
    base = "hyperband"
    capabilities: ClassVar[Capabilities] = Capabilities(
        priors=False, fidelity=True, requires_fidelity=True
    )

    def __init__(
        self,
        *,
        eta: int = 3,
        early_stopping_rate: int = 0,
        top_n_percent: float = 15,
        num_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3,
        min_bandwidth: float = 1e-3,
        min_points_in_model: int | None = None,
        prior_first: bool = False,
        prior_first_fidelity: str = "min",
    ) -> None:
        self.eta = eta
        self.early_stopping_rate = early_stopping_rate
        self.prior_first = prior_first
        self.prior_first_fidelity = prior_first_fidelity
        self.top_n_percent = top_n_percent
        self.num_samples = num_samples
        self.random_fraction = random_fraction
        self.bandwidth_factor = bandwidth_factor
        self.min_bandwidth = min_bandwidth
        self.min_points_in_model = min_points_in_model
        self._check()
        if not _number(top_n_percent) or not 0 < top_n_percent < 100:
            raise ValueError(f"bohb: top_n_percent must be in (0, 100), not {top_n_percent!r}")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"bohb: num_samples must be an integer >= 1, not {num_samples!r}")
        if not _number(random_fraction) or not 0 <= random_fraction <= 1:
            raise ValueError(f"bohb: random_fraction must be in [0, 1], not {random_fraction!r}")
        if not _number(bandwidth_factor) or bandwidth_factor <= 0:
            raise ValueError(f"bohb: bandwidth_factor must be > 0, not {bandwidth_factor!r}")
        if not _number(min_bandwidth) or min_bandwidth <= 0:
            raise ValueError(f"bohb: min_bandwidth must be > 0, not {min_bandwidth!r}")
        mp = min_points_in_model
        if mp is not None and (isinstance(mp, bool) or not isinstance(mp, int) or mp < 1):
            raise ValueError(
                f"bohb: min_points_in_model must be None (d + 1) or an integer >= 1, not {mp!r}"
            )

    def min_points(self, space: Space) -> int:
        """N_min: ``min_points_in_model``, raised to d + 1 (its lower limit, as in HpBandSter)."""
        d = len(space.dimension_names)
        return max(self.min_points_in_model or 0, d + 1)

    def model(
        self, history: History, rungs: Rungs, rng: np.random.Generator
    ) -> tuple[int, GoodBadKDE] | None:
        """The rung and KDE pair of the largest rung fidelity that can be fitted, or None."""
        data = observations(history, rungs)
        choices = choices_of(history.space)
        for rung in sorted(data, reverse=True):
            x, y = data[rung]
            kde = GoodBadKDE.fit(
                x,
                y,
                choices,
                rng,
                min_points=self.min_points(history.space),
                top_n_percent=self.top_n_percent,
                min_bandwidth=self.min_bandwidth,
            )
            if kde is not None:
                return rung, kde
        return None

    def sample(
        self, history: History, *, rungs: Rungs, rung: int, rng: np.random.Generator
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        space = history.space
        random = {"sampled_from": "random"}
        if not space.dimension_names or rng.random() < self.random_fraction:
            return space.sample(rng), random
        start = time.perf_counter()
        fitted = self.model(history, rungs, rng)
        if fitted is None:
            return space.sample(rng), random
        u = fitted[1].propose(rng, self.num_samples, bandwidth_factor=self.bandwidth_factor)
        if u is None:
            return space.sample(rng), random
        info = {
            "sampled_from": "model",
            "model_rung": fitted[0],
            "model_seconds": round(time.perf_counter() - start, 4),
        }
        return space.decode(u), info
