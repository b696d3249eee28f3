"""Local perturbation of a configuration: PriorBand's incumbent mutation, evolution's mutation.

Each active searchable dimension mutates with probability ``rate``. In the unit cube: a number gets
a normal centred on its value, sd ``std``, truncated to [0, 1] (integers round on decode); a
categorical a different choice, uniformly; an architecture one subtree resampled under its depth
limits (:meth:`tunewise.space.Architecture.mutate`, ALGORITHMS.md §7). Dimensions the mutation
activates are drawn uniformly; those it deactivates are dropped. The draw is repeated until the
child differs from the parent, at most :data:`MAX_TRIES` times.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tunewise.space import Categorical, Space
from tunewise.space.priors import truncnorm_sample

MAX_TRIES = 50
"""Mutations are redrawn until the child differs from the parent, at most this often."""


def mutate(
    space: Space,
    config: Mapping[str, Any],
    rng: np.random.Generator,
    *,
    rate: float,
    std: float,
) -> dict[str, Any]:
    """A child of ``config`` (see the module docstring); all randomness from ``rng``."""
    base = space.encode(config)
    archs = {name: config[name] for name in space.architectures if name in config}
    parent = space.decode(base, architectures=archs)
    child = parent
    for _ in range(MAX_TRIES):
        child = _once(space, base, archs, rng, rate=rate, std=std)
        if child != parent:
            break
    return child


def _once(
    space: Space,
    base: NDArray[np.float64],
    archs: Mapping[str, str],
    rng: np.random.Generator,
    *,
    rate: float,
    std: float,
) -> dict[str, Any]:
    u = base.copy()
    flips = rng.random(len(u)) < rate
    for j, param in enumerate(space.searchable.values()):
        if not flips[j] or np.isnan(u[j]):
            continue
        if isinstance(param, Categorical):
            k = len(param.choices)
            if k > 1:
                current = param.index(param.from_unit(u[j]))
                u[j] = ((current + int(rng.integers(1, k))) % k + 0.5) / k
        else:
            u[j] = float(truncnorm_sample(rng, u[j], std))
    # dims inactive in the parent: a uniform value, used only if the mutation activated them
    fill = rng.random(len(u))
    children: dict[str, str] = {}
    for name, arch in space.architectures.items():
        if name not in archs:
            children[name] = arch.sample(rng, 1)[0]
            continue
        mutated = arch.mutate(archs[name], rng) if rng.random() < rate else None
        children[name] = archs[name] if mutated is None else mutated
    return space.decode(np.where(np.isnan(u), fill, u), architectures=children)
