"""Maximize an acquisition over configs with architectures: evolution of derivations.

The evolutionary acquisition optimizer of Schrodi et al. (2023) (constants from their
``optimize.py``): a population of ``population_size`` = 200 configs, the ``n_best`` = 10 best
evaluated ones plus samples (from the prior when the caller asks, as piBO does); each generation
makes ``population_size`` children, each from a parent won in a tournament (a uniform sample of
``tournament`` = 20% of the population, the fittest wins) by crossover (probability 0.5; of which
half self-crossover, the parent crossed with itself) or else subtree mutation
(:meth:`tunewise.space.Architecture.crossover` / ``mutate``). The population then keeps the
``population_size`` fittest of parents and children. At least 10 generations, at most 50, stopping
after 10 once the best fitness has not changed for 5.

The hyperparameter part of a child is its (first) parent's unit vector with a Gaussian
perturbation, sd ``hp_sigma`` of the unit range, truncated to [0, 1]; a categorical is redrawn
with probability ``hp_sigma * 2``; dimensions the child activates are drawn uniformly. The caller
then refines the winner's hyperparameters with the architecture fixed (the continuous/categorical
optimizer of :mod:`tunewise.models.acquisition`).

All randomness comes from the ``rng`` passed in; the fitness of each distinct config is computed
once (``score`` takes a batch of configs and returns their fitness, higher is better).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tunewise.space import Categorical, Space
from tunewise.space.priors import truncnorm_sample
from tunewise.trial import config_key

Config = dict[str, Any]
Score = Callable[[list[Config]], NDArray[np.float64]]


@dataclass(frozen=True)
class Settings:
    """The constants of the module docstring."""

    population_size: int = 200
    n_best: int = 10
    tournament: float = 0.2
    p_crossover: float = 0.5
    p_self: float = 0.5
    min_generations: int = 10
    max_generations: int = 50
    patience: int = 5
    hp_sigma: float = 0.05


@dataclass(frozen=True)
class Result:
    """The fittest config not in ``taken``, its fitness, and how many generations ran."""

    config: Config
    value: float
    generations: int


key = config_key  # the optimizers' "taken" test (tunewise.trial.config_key)


def maximize(
    score: Score,
    space: Space,
    *,
    best: Sequence[Mapping[str, Any]],
    rng: np.random.Generator,
    taken: set[Any],
    use_priors: bool = False,
    settings: Settings = Settings(),
) -> Result:
    """Evolve configs of ``space`` for the fittest one not in ``taken`` (keys of :func:`key`).

    ``best``: the evaluated configs to seed the population with, best first (the first
    ``settings.n_best`` are used).
    """
    s = settings
    fitness: dict[Any, float] = {}
    known: dict[Any, Config] = {}

    def evaluate(configs: list[Config]) -> None:
        new = [c for c in configs if key(c) not in fitness]
        unique = list({key(c): c for c in new}.values())
        known.update((key(c), c) for c in unique)
        if unique:
            values = score(unique)
            for c, v in zip(unique, values, strict=True):
                fitness[key(c)] = float(v) if math.isfinite(float(v)) else -math.inf

    configs = [dict(c) for c in best[: s.n_best]]
    configs += space.sample_many(
        rng, s.population_size - len(configs), use_priors=use_priors and space.has_priors
    )
    evaluate(configs)
    population = _fittest(configs, fitness, s.population_size)
    best_value, stale, generation = -math.inf, 0, 0
    while generation < s.max_generations:
        generation += 1
        values = np.array([fitness[k] for k, _ in population])
        children = [_child(space, population, values, rng, s) for _ in range(s.population_size)]
        evaluate(children)
        population = _fittest([c for _, c in population] + children, fitness, s.population_size)
        top = fitness[population[0][0]]
        stale = stale + 1 if top <= best_value else 0
        best_value = max(best_value, top)
        if generation >= s.min_generations and stale >= s.patience:
            break
    free = [(v, k) for k, v in fitness.items() if k not in taken]
    if not free:
        fallback = space.sample(rng, use_priors=use_priors and space.has_priors)
        return Result(config=fallback, value=-math.inf, generations=generation)
    value, winner = max(free, key=lambda pair: pair[0])
    return Result(config=dict(known[winner]), value=value, generations=generation)


Member = tuple[Any, Config]  # (key, config)


def _fittest(configs: list[Config], fitness: dict[Any, float], size: int) -> list[Member]:
    """The ``size`` fittest distinct configs with their keys, fittest first (ties: first seen)."""
    unique = list({key(c): c for c in configs}.items())
    unique.sort(key=lambda member: -fitness[member[0]])
    return unique[:size]


def _tournament(
    population: list[Member], values: NDArray[np.float64], rng: np.random.Generator, s: Settings
) -> Config:
    size = min(max(1, round(s.tournament * len(population))), len(population))
    picks = rng.choice(len(population), size=size, replace=False)
    return population[int(picks[int(np.argmax(values[picks]))])][1]


def _child(
    space: Space,
    population: list[Member],
    values: NDArray[np.float64],
    rng: np.random.Generator,
    s: Settings,
) -> Config:
    parent = _tournament(population, values, rng, s)
    other = None
    if rng.random() < s.p_crossover:
        other = parent if rng.random() < s.p_self else _tournament(population, values, rng, s)
    archs: dict[str, str] = {}
    for name, arch in space.architectures.items():
        value = parent.get(name)
        if value is None:
            archs[name] = arch.sample(rng, 1)[0]  # used only if the child activates it
            continue
        child = None
        if other is not None and other.get(name) is not None:
            child = arch.crossover(value, other[name], rng)
        if child is None:
            child = arch.mutate(value, rng)
        archs[name] = value if child is None else child
    return space.decode(_perturb(space, space.encode(parent), rng, s), architectures=archs)


def _perturb(
    space: Space, u: NDArray[np.float64], rng: np.random.Generator, s: Settings
) -> NDArray[np.float64]:
    out = u.copy()
    for j, param in enumerate(space.searchable.values()):
        if np.isnan(out[j]):
            out[j] = rng.random()
        elif isinstance(param, Categorical):
            if rng.random() < 2 * s.hp_sigma:
                out[j] = rng.random()
        else:
            out[j] = float(truncnorm_sample(rng, out[j], s.hp_sigma))
    return out
