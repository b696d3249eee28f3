"""Synthetic multi-fidelity functions: Branin, Hartmann-3, Hartmann-6 with biased, noisy fidelities.

The full-fidelity functions are the standard ones (Dixon & Szegö, 1978; definitions and optima as in
Surjanovic & Bingham's Virtual Library of Simulation Experiments). Their cheap fidelities follow the
idea of Kandasamy et al. (2017, "Multi-fidelity Bayesian optimisation with continuous
approximations", the multi-fidelity Hartmann/Branin): a low fidelity is the same function distorted
by a smooth bias that vanishes at the top fidelity. The bias here is our own construction, chosen so
that one dial sets how *misleading* the low fidelities are. With an integer fidelity
``z in [1, Z]`` (``Z = 27``; eta = 3 rungs 1/3/9/27) and ``s = 1 - z / Z``::

    objective(x, z) = (1 - w s) f(x) + w s f(m(x)) + sigma s S eps_z

- ``m`` is a reflection that moves the optimum into a poor region (the decoy): ``x -> 1 - x`` for
  Hartmann, ``x2 -> 15 - x2`` for Branin. Blending in ``f(m(x))`` shifts the low-fidelity optimum
  from ``x*`` towards ``m(x*)``; with ``w s > 0.5`` it sits at the decoy.
- ``S`` is the spread of ``f`` (its standard deviation under uniform sampling, so that ``sigma`` is
  comparable across functions), ``eps_z ~ N(0, 1)`` drawn from a NumPy generator seeded by
  ``(seed, sha256 of the config)``: the z-th of ``Z`` draws, so the noise is deterministic given
  ``(config, z, seed)`` and independent across fidelities.
- At ``z = Z`` (``s = 0``) the objective is exactly ``f(x)``, noise-free.

The correlation level is the name suffix (values measured by the tests: Spearman rank correlation
between ``z = 1`` and ``z = Z`` over 200 uniform configs):

========  ======  =======  ===========================================================
level     ``w``   ``sigma`` low fidelities ...
========  ======  =======  ===========================================================
high      0.05    0.02     rank configs almost like the full fidelity
medium    0.25    0.10     are informative but distorted
low       0.60    0.20     are misleading: at z = 1 and 3 the decoy region looks best
========  ======  =======  ===========================================================

Cost model: ``cost(z) = z / Z``: one full-fidelity evaluation costs 1.0, linear in the fidelity
(like epochs), nothing else.

Priors (PriorBand's qualities, Mallik et al. 2023), fixed points stated below with their ``f``:
``good`` near the argmin, ``medium`` moderately off (inside the best ~10-20 % of the space),
``bad`` the worst corner of the domain.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tunewise.benchmarks.base import Benchmark, Evaluation, check_seed
from tunewise.space import Fidelity, Float, Space

__all__ = [
    "CORRELATIONS",
    "FUNCTIONS",
    "Z_MAX",
    "SyntheticBenchmark",
    "branin",
    "hartmann3",
    "hartmann6",
]

Z_MAX = 27
"""Top fidelity of the synthetic functions (fidelity range 1..27)."""

CORRELATIONS: dict[str, tuple[float, float]] = {
    "high": (0.05, 0.02),
    "medium": (0.25, 0.10),
    "low": (0.60, 0.20),
}
"""Correlation level -> ``(w, sigma)``: decoy weight and noise level at ``s = 1``."""

Array = NDArray[np.float64]


def branin(x: Array) -> Array:
    """Branin on ``x`` of shape (n, 2) (``x1 in [-5, 10], x2 in [0, 15]``) -> shape (n,).

    ``a (x2 - b x1^2 + c x1 - r)^2 + s (1 - t) cos(x1) + s`` with ``a = 1, b = 5.1 / (4 pi^2),
    c = 5 / pi, r = 6, s = 10, t = 1 / (8 pi)``; minimum 0.397887 at (-pi, 12.275), (pi, 2.275)
    and (9.42478, 2.475).
    """
    x1, x2 = x[:, 0], x[:, 1]
    b, c, t = 5.1 / (4.0 * math.pi**2), 5.0 / math.pi, 1.0 / (8.0 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6.0) ** 2 + 10.0 * (1.0 - t) * np.cos(x1) + 10.0


_H_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])
_H3_A = np.array([[3.0, 10, 30], [0.1, 10, 35], [3.0, 10, 30], [0.1, 10, 35]])
_H3_P = 1e-4 * np.array(
    [[3689, 1170, 2673], [4699, 4387, 7470], [1091, 8732, 5547], [381, 5743, 8828]]
)
_H6_A = np.array(
    [
        [10, 3, 17, 3.5, 1.7, 8],
        [0.05, 10, 17, 0.1, 8, 14],
        [3, 3.5, 1.7, 10, 17, 8],
        [17, 8, 0.05, 10, 0.1, 14],
    ]
)
_H6_P = 1e-4 * np.array(
    [
        [1312, 1696, 5569, 124, 8283, 5886],
        [2329, 4135, 8307, 3736, 1004, 9991],
        [2348, 1451, 3522, 2883, 3047, 6650],
        [4047, 8828, 8732, 5743, 1091, 381],
    ]
)


def _hartmann(x: Array, a: Array, p: Array) -> Array:
    """``-sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2)``; ``x`` (n, d), ``a``/``p`` (4, d)."""
    terms = _H_ALPHA * np.exp(-((x[:, None, :] - p) ** 2 * a).sum(axis=-1))
    return np.asarray(-terms.sum(axis=-1), dtype=np.float64)


def hartmann3(x: Array) -> Array:
    """Hartmann-3 on ``x`` of shape (n, 3) in [0, 1]^3 -> (n,); minimum -3.86278 at
    (0.114614, 0.555649, 0.852547)."""
    return _hartmann(x, _H3_A, _H3_P)


def hartmann6(x: Array) -> Array:
    """Hartmann-6 on ``x`` of shape (n, 6) in [0, 1]^6 -> (n,); minimum -3.32237 at
    (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)."""
    return _hartmann(x, _H6_A, _H6_P)


@dataclass(frozen=True)
class _Function:
    """A test function with its domain, optimum, decoy reflection, spread and priors."""

    f: Callable[[Array], Array]
    lower: tuple[float, ...]
    upper: tuple[float, ...]
    argmin: tuple[float, ...]
    optimum: float
    spread: float  # sd of f under uniform sampling (20k draws), rounded
    decoy: Callable[[Array], Array]
    priors: dict[str, tuple[float, ...]]


def _flip_all(x: Array) -> Array:
    return 1.0 - x


def _flip_x2(x: Array) -> Array:
    return np.stack([x[:, 0], 15.0 - x[:, 1]], axis=1)


FUNCTIONS: dict[str, _Function] = {
    "branin": _Function(
        f=branin,
        lower=(-5.0, 0.0),
        upper=(10.0, 15.0),
        argmin=(math.pi, 2.275),
        optimum=0.397887357729738,
        spread=50.7,
        decoy=_flip_x2,
        # f: good 0.637, medium 14.46, bad 308.13 (the maximum over the domain)
        priors={"good": (3.3, 2.5), "medium": (4.5, 4.0), "bad": (-5.0, 0.0)},
    ),
    "hartmann3": _Function(
        f=hartmann3,
        lower=(0.0,) * 3,
        upper=(1.0,) * 3,
        argmin=(0.114614, 0.555649, 0.852547),
        optimum=-3.86278214782076,
        spread=0.949,
        decoy=_flip_all,
        # f: good -3.822, medium -2.203, bad -0.00004
        priors={
            "good": (0.13, 0.54, 0.87),
            "medium": (0.25, 0.45, 0.7),
            "bad": (1.0, 1.0, 0.0),
        },
    ),
    "hartmann6": _Function(
        f=hartmann6,
        lower=(0.0,) * 6,
        upper=(1.0,) * 6,
        argmin=(0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573),
        optimum=-3.32236801141551,
        spread=0.384,
        decoy=_flip_all,
        # f: good -3.291, medium -1.446, bad -0.00000003
        priors={
            "good": (0.22, 0.17, 0.46, 0.29, 0.3, 0.64),
            "medium": (0.35, 0.3, 0.35, 0.4, 0.45, 0.5),
            "bad": (1.0, 1.0, 0.0, 1.0, 1.0, 1.0),
        },
    ),
}
"""The synthetic test functions by name."""


def _config_hash(values: list[float]) -> int:
    """A stable 64-bit hash of the config values (Python's ``hash`` is salted per process)."""
    blob = json.dumps(values).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big")


class SyntheticBenchmark(Benchmark):
    """A synthetic multi-fidelity function, named ``<function>-<correlation>`` (``branin-high``).

    Parameters ``x1 .. xd`` (floats on the function's domain) and the fidelity ``z`` in 1..27; see
    the module docstring for the objective, noise and cost formulas.
    """

    def __init__(self, *, function: str, correlation: str) -> None:
        if function not in FUNCTIONS:
            raise ValueError(f"function must be one of {sorted(FUNCTIONS)}, got {function!r}")
        if correlation not in CORRELATIONS:
            raise ValueError(
                f"correlation must be one of {list(CORRELATIONS)}, got {correlation!r}"
            )
        self.function = function
        self.correlation = correlation
        self.name = f"{function}-{correlation}"

    @property
    def _fn(self) -> _Function:
        return FUNCTIONS[self.function]

    @property
    def _names(self) -> list[str]:
        return [f"x{i + 1}" for i in range(len(self._fn.lower))]

    def _build_space(self) -> Space:
        fn = self._fn
        params: dict[str, Any] = {
            name: Float(lo, hi)
            for name, lo, hi in zip(self._names, fn.lower, fn.upper, strict=True)
        }
        return Space(**params, z=Fidelity(1, Z_MAX))

    def _prior_configs(self) -> dict[str, dict[str, Any]]:
        return {
            quality: dict(zip(self._names, point, strict=True))
            for quality, point in self._fn.priors.items()
        }

    @property
    def optimum(self) -> float:
        """The function's global minimum (the objective at full fidelity is exactly ``f``)."""
        return self._fn.optimum

    @property
    def optimum_is_known(self) -> bool:
        return True

    @property
    def simulated(self) -> bool:
        return True

    @property
    def argmin(self) -> dict[str, float]:
        """A global minimizer of ``f`` (Branin has three; this is one)."""
        return dict(zip(self._names, self._fn.argmin, strict=True))

    def _point(self, config: Mapping[str, Any]) -> list[float]:
        fn, values = self._fn, []
        for name, lo, hi in zip(self._names, fn.lower, fn.upper, strict=True):
            if name not in config:
                raise ValueError(f"benchmark {self.name!r}: config lacks {name!r}")
            value = float(config[name])
            if not lo <= value <= hi:
                raise ValueError(
                    f"benchmark {self.name!r}: {name}={value!r} is outside [{lo}, {hi}]"
                )
            values.append(value)
        return values

    def evaluate(
        self, config: Mapping[str, Any], fidelity: float | int, *, seed: int = 0
    ) -> Evaluation:
        """``objective(x, z)`` (module docstring), ``cost = z / 27``, and the curve at 1..z."""
        z = int(self._check_fidelity(fidelity))
        check_seed(seed)
        fn = self._fn
        values = self._point(config)
        x = np.array([values])
        f = float(fn.f(x)[0])
        w, sigma = CORRELATIONS[self.correlation]
        g = float(fn.f(fn.decoy(x))[0])
        rng = np.random.default_rng([seed, _config_hash(values)])
        eps = sigma * fn.spread * rng.standard_normal(Z_MAX)
        curve = self._curve(f, w * (g - f), eps, z)
        return Evaluation(curve[-1][1], z / Z_MAX, curve)

    @staticmethod
    def _curve(
        f: float, bias: float, eps: NDArray[np.float64], z: int
    ) -> tuple[tuple[float, float], ...]:
        """Objective at fidelities 1..z: ``f + s (bias + eps_k)``, exactly ``f`` at ``Z``."""
        points = []
        for k in range(1, z + 1):
            s = 1.0 - k / Z_MAX
            value = f if k == Z_MAX else f + s * (bias + float(eps[k - 1]))
            points.append((float(k), value))
        return tuple(points)
