"""TPE at full fidelity (Bergstra et al. 2011), as the HT-AA experiments run it (Stoll et al. 2020).

The base optimizer HT-AA's transfer methods are measured against ("same optimizer, no transfer"):
the good/bad KDE pair of :mod:`tunewise.models.kde` (BOHB's, without the brackets) on the finished
trials at the maximum fidelity. Facts and defaults: ALGORITHMS.md §5 (hp-transfer/ht_optimizers
``tpe.py``) and §2 (the KDE).

Decisions per suggestion ``k`` (slot ``"tpe:k"``, ``k = history.next_number + i``), each from
``rng_for(seed, k)``:

1. *Initial design* while fewer than ``min_points`` trials (default N_min = 2(d + 1)) have finished
   at the maximum fidelity, or none of them succeeded: a uniform sample, the same one
   ``random_search`` draws for ``k``.
2. Then, with probability ``random_fraction`` (1/3), a uniform sample; otherwise the model:
   ``n_good = max(N_min // 2, floor(top_n_percent * n / 100))`` lowest losses are the good set,
   **all** the others the bad set (failed trials count as +inf, so as bad); ``num_samples``
   candidates drawn around good points, the one with the highest l(x)/g(x) suggested. This split
   is HT-AA's, not :meth:`GoodBadKDE.fit`'s (HpBandSter's BOHB: ``n_bad = max(N_min,
   floor(85 % of n))``, which leaves out the worst point or so); here the KDEs are fitted directly.

Uniform picks record ``info["sampled_from"] == "random"`` (the transfer layer replaces exactly
those), model picks ``"model"``. Pending trials (other workers', and the batch's earlier picks) are
not modelled, as in TPE; but no suggestion repeats a pending or finished configuration
(:func:`~tunewise.trial.config_key`): a model pick that does becomes a uniform one
(``"random (model proposed a known config)"``), and where no untried configuration turns up in
:data:`RETRIES` draws (a small discrete space, exhausted) the suggestion is left out.
"""

from __future__ import annotations

import math
import time
from numbers import Real
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tunewise.models.kde import KDE, GoodBadKDE, fill_inactive
from tunewise.optimizers.base import Capabilities, Optimizer, check_n
from tunewise.optimizers.bohb import choices_of
from tunewise.optimizers.observations import Observations, observations
from tunewise.optimizers.registry import register
from tunewise.space import Space
from tunewise.trial import History, Suggestion, config_key, max_fidelity, rng_for

Array = NDArray[np.float64]
RETRIES = 100
"""Uniform draws tried for an untried configuration before a suggestion is left out."""


def _real(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool) and math.isfinite(value)


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def fit_good_bad(
    x: Array,
    y: Array,
    choices: NDArray[np.int64],
    rng: np.random.Generator,
    *,
    min_points: int,
    top_n_percent: float,
    min_bandwidth: float,
) -> GoodBadKDE | None:
    """HT-AA's TPE split of ``x`` (n, d; NaN = inactive) by loss ``y`` (n,; NaN/inf = failed).

    Good: the ``max(min_points // 2, floor(top_n_percent * n / 100))`` lowest losses (ties by row
    order); bad: the rest. None when ``n < min_points`` or either set is empty. Inactive values are
    filled per set from ``rng`` (:func:`~tunewise.models.kde.fill_inactive`).
    """
    n = x.shape[0]
    if n < min_points:
        return None
    n_good = max(min_points // 2, math.floor(top_n_percent * n / 100))
    if not 0 < n_good < n:
        return None
    loss = np.where(np.isfinite(y), y, math.inf)
    order = np.argsort(loss, kind="stable")
    good, bad = x[order[:n_good]], x[order[n_good:]]
    return GoodBadKDE(
        good=KDE.fit(fill_inactive(good, choices, rng), choices, min_bandwidth=min_bandwidth),
        bad=KDE.fit(fill_inactive(bad, choices, rng), choices, min_bandwidth=min_bandwidth),
    )


@register
class TPE(Optimizer):
    """Tree-structured Parzen estimator at the maximum fidelity; see the module docstring.

    ``min_points``: N_min, the finished trials before the model is used (None: 2(d + 1)); the good
    set has at least half of it. ``top_n_percent``: the good set's share beyond that.
    ``num_samples``: candidates drawn from the good KDE per model pick. ``random_fraction``: the
    share of uniform picks once the model exists. ``bandwidth_factor``: candidates' spread, in good
    KDE bandwidths. ``min_bandwidth``: the KDEs' lowest bandwidth (unit-cube units).
    """

    name = "tpe"
    capabilities = Capabilities(priors=False, fidelity=False, conditions=True, architectures=False)

    def __init__(
        self,
        *,
        min_points: int | None = None,
        top_n_percent: float = 15,
        num_samples: int = 64,
        random_fraction: float = 1 / 3,
        bandwidth_factor: float = 3,
        min_bandwidth: float = 1e-3,
    ) -> None:
        if min_points is not None and (not _integer(min_points) or min_points < 2):
            raise ValueError(
                f"tpe: min_points must be None (2(d + 1)) or an integer >= 2 (a good and a bad "
                f"point), not {min_points!r}"
            )
        if not _real(top_n_percent) or not 0 < top_n_percent < 100:
            raise ValueError(f"tpe: top_n_percent must be in (0, 100), not {top_n_percent!r}")
        if not _integer(num_samples) or num_samples < 1:
            raise ValueError(f"tpe: num_samples must be an integer >= 1, not {num_samples!r}")
        if not _real(random_fraction) or not 0 <= random_fraction <= 1:
            raise ValueError(f"tpe: random_fraction must be in [0, 1], not {random_fraction!r}")
        if not _real(bandwidth_factor) or bandwidth_factor <= 0:
            raise ValueError(f"tpe: bandwidth_factor must be > 0, not {bandwidth_factor!r}")
        if not _real(min_bandwidth) or min_bandwidth <= 0:
            raise ValueError(f"tpe: min_bandwidth must be > 0, not {min_bandwidth!r}")
        self.min_points = min_points
        self.top_n_percent = top_n_percent
        self.num_samples = num_samples
        self.random_fraction = random_fraction
        self.bandwidth_factor = bandwidth_factor
        self.min_bandwidth = min_bandwidth

    def n_min(self, space: Space) -> int:
        """N_min: ``min_points``, or 2(d + 1) for a space with d dimensions (HT-AA's TPE)."""
        return self.min_points or 2 * (len(space.dimension_names) + 1)

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        check_n(n)
        space = history.space
        self.check_space(space)
        fidelity = max_fidelity(space)
        obs = observations(history).at_fidelity(fidelity)  # failed ones included (y NaN)
        taken = {config_key(t.config) for t in history.trials}
        use_model = (
            len(obs) >= self.n_min(space)
            and bool(np.isfinite(obs.y).any())
            and bool(space.dimension_names)
        )
        suggestions = []
        for k in range(history.next_number, history.next_number + n):
            rng = rng_for(history.seed, k)
            picked = self._model_pick(space, obs, rng) if use_model else None
            if picked is None:
                config: dict[str, Any] | None = space.sample(rng)
                info: dict[str, Any] = {"sampled_from": "random"}
            else:
                config, info = picked
            if config is not None and config_key(config) in taken:
                if info["sampled_from"] == "model":
                    info = {**info, "sampled_from": "random (model proposed a known config)"}
                config = self._untried(space, rng_for(history.seed, k, 0xD0), taken)
            if config is None:
                continue
            taken.add(config_key(config))
            suggestions.append(
                Suggestion(config=config, slot=f"tpe:{k}", fidelity=fidelity, info=info)
            )
        return suggestions

    def _model_pick(
        self, space: Space, obs: Observations, rng: np.random.Generator
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """The model's config and ``info`` for one suggestion, or None for a uniform pick (the
        random fraction, or no candidate with a finite score)."""
        if rng.random() < self.random_fraction:
            return None
        start = time.perf_counter()
        kde = fit_good_bad(
            obs.u,
            obs.y,
            choices_of(space),
            rng,
            min_points=self.n_min(space),
            top_n_percent=self.top_n_percent,
            min_bandwidth=self.min_bandwidth,
        )
        if kde is None:
            return None
        u = kde.propose(rng, self.num_samples, bandwidth_factor=self.bandwidth_factor)
        if u is None:
            return None
        info = {
            "sampled_from": "model",
            "model_seconds": round(time.perf_counter() - start, 4),
            "train_points": len(obs),
        }
        return space.decode(u), info

    @staticmethod
    def _untried(space: Space, rng: np.random.Generator, taken: set[Any]) -> dict[str, Any] | None:
        """A uniform sample not in ``taken``, or None after :data:`RETRIES` draws."""
        for _ in range(RETRIES):
            config = space.sample(rng)
            if config_key(config) not in taken:
                return config
        return None
