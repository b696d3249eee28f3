"""The evolutionary acquisition optimizer over derivations (constants of Schrodi et al. 2023)."""

from __future__ import annotations

import numpy as np

import tunewise as tw
from tunewise.models import evolution
from tunewise.nas.grammars import nb201_cell

SPACE = tw.Space(cell=tw.Architecture(nb201_cell()), lr=tw.Float(0.0, 1.0))
BEST_CELL = "Cell(" + ", ".join(["nor_conv_3x3"] * 6) + ")"


def fitness(configs: list[dict]) -> np.ndarray:
    return np.array([c["cell"].count("nor_conv_3x3") - abs(c["lr"] - 0.3) for c in configs])


def test_finds_the_optimum_of_a_known_fitness_and_avoids_taken_configs() -> None:
    found = evolution.maximize(fitness, SPACE, best=[], rng=np.random.default_rng(0), taken=set())
    assert found.config["cell"] == BEST_CELL
    assert abs(found.config["lr"] - 0.3) < 0.2  # coarse: the caller refines the cube part
    assert 10 <= found.generations <= 50
    again = evolution.maximize(
        fitness, SPACE, best=[], rng=np.random.default_rng(0), taken={evolution.key(found.config)}
    )
    assert evolution.key(again.config) != evolution.key(found.config)


def test_same_rng_same_result_and_a_flat_fitness_stops_after_ten_generations() -> None:
    runs = [
        evolution.maximize(fitness, SPACE, best=[], rng=np.random.default_rng(5), taken=set())
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    flat = evolution.maximize(
        lambda cs: np.zeros(len(cs)), SPACE, best=[], rng=np.random.default_rng(5), taken=set()
    )
    assert flat.generations == 10


def test_the_best_evaluated_configs_seed_the_population() -> None:
    seeds = [{"cell": BEST_CELL, "lr": 0.3}]
    calls: list[list[dict]] = []

    def recording(configs: list[dict]) -> np.ndarray:
        calls.append(configs)
        return fitness(configs)

    evolution.maximize(recording, SPACE, best=seeds, rng=np.random.default_rng(1), taken=set())
    assert seeds[0] in calls[0]
    assert len(calls[0]) == evolution.Settings().population_size
