"""Parameter importance (:mod:`tunewise.analysis.importance`): PED-ANOVA and fANOVA."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

import tunewise as tw
from tunewise.analysis.importance import (
    fanova,
    importance,
    leaf_boxes,
    parzen_grid,
    ped_anova,
    top_count,
    tree_fractions,
)
from tunewise.trial import Trial, TrialStatus

METHODS = ("ped_anova", "fanova")


def study(
    space: tw.Space,
    loss: Callable[[dict[str, Any], np.random.Generator], float],
    n: int,
    seed: int,
    **fields: Any,
) -> list[Trial]:
    rng = np.random.default_rng(seed)
    return [
        Trial(number=i, config=c, status=TrialStatus.SUCCEEDED, objective=loss(c, rng), **fields)
        for i, c in enumerate(space.sample_many(rng, n))
    ]


SPACE = tw.Space(
    x=tw.Float(0.0, 1.0),
    y=tw.Float(1e-3, 1.0, log=True),
    z=tw.Float(0.0, 1.0),
    act=tw.Categorical(["relu", "tanh", "gelu"]),
)


def dominant_x(config: dict[str, Any], rng: np.random.Generator) -> float:
    """x dominates, y (on its log scale) matters a little, z and act not at all."""
    y = np.log10(config["y"]) / 3 + 1  # y's unit position
    return float(10 * (config["x"] - 0.3) ** 2 + 0.3 * y + 0.01 * rng.normal())


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_dominant_parameter_ranks_first_and_irrelevant_ones_last(method, seed) -> None:
    trials = study(SPACE, dominant_x, 200, seed)
    imp = importance(trials, SPACE, method=method)
    assert set(imp) == {"x", "y", "z", "act"}
    assert sum(imp.values()) == pytest.approx(1.0) and min(imp.values()) >= 0
    assert max(imp, key=imp.__getitem__) == "x" and imp["x"] > 0.5
    assert imp["y"] > imp["z"] and imp["y"] > imp["act"]


def test_shuffling_the_losses_destroys_the_importance() -> None:
    """The ranking is a property of the data: with losses permuted, x is no longer dominant."""
    trials = study(SPACE, dominant_x, 200, 0)
    losses = np.random.default_rng(5).permutation([t.objective for t in trials])
    shuffled = [
        Trial(number=t.number, config=t.config, status=t.status, objective=float(v))
        for t, v in zip(trials, losses, strict=True)
    ]
    for method in METHODS:
        assert importance(trials, SPACE, method=method)["x"] > 0.5
        assert importance(shuffled, SPACE, method=method)["x"] < 0.5


@pytest.mark.parametrize("method", METHODS)
def test_a_categorical_and_a_log_scaled_parameter_can_dominate(method) -> None:
    def by_choice(config: dict[str, Any], rng: np.random.Generator) -> float:
        return {"relu": 0.0, "tanh": 1.0, "gelu": 2.0}[config["act"]] + 0.01 * rng.normal()

    def by_log_lr(config: dict[str, Any], rng: np.random.Generator) -> float:
        # optimum at 1e-2.5 on a log scale: a linear encoding would see it squeezed near 0
        return float((np.log10(config["y"]) + 2.5) ** 2 + 0.01 * rng.normal())

    for loss, name in ((by_choice, "act"), (by_log_lr, "y")):
        imp = importance(study(SPACE, loss, 120, 3), SPACE, method=method)
        assert max(imp, key=imp.__getitem__) == name and imp[name] > 0.5


@pytest.mark.parametrize("method", METHODS)
def test_an_inactive_conditional_parameter_is_handled(method) -> None:
    space = tw.Space(
        opt=tw.Categorical(["sgd", "adam"]),
        momentum=tw.Float(0.0, 1.0, when={"opt": "sgd"}),
        x=tw.Float(0.0, 1.0),
    )

    def loss(config: dict[str, Any], rng: np.random.Generator) -> float:
        if config["opt"] == "adam":  # momentum inactive (NaN in the encoding)
            return float(0.4 + 0.01 * rng.normal())
        return float(5 * (config["momentum"] - 0.9) ** 2 + 0.01 * rng.normal())

    imp = importance(study(space, loss, 150, 4), space, method=method)
    assert imp["momentum"] > 0.2 and imp["momentum"] > 10 * imp["x"]


def test_architectures_are_excluded() -> None:
    from tunewise.nas import grammars

    cell = grammars.nb201_cell()
    space = tw.Space(cell=tw.Architecture(cell), x=tw.Float(0.0, 1.0), z=tw.Float(0.0, 1.0))
    trials = study(space, lambda c, rng: float((c["x"] - 0.5) ** 2), 40, 0)
    for method in METHODS:
        imp = importance(trials, space, method=method)
        assert set(imp) == {"x", "z"} and imp["x"] > imp["z"]


def test_the_highest_fidelity_with_enough_trials_is_used() -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0), z=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 9))
    # at fidelity 1 only z matters; at 3 only x; 9 has too few trials to be used
    low = study(space, lambda c, rng: float(c["z"]), 40, 0, fidelity=1)
    high = study(space, lambda c, rng: float((c["x"] - 0.5) ** 2), 40, 1, fidelity=3)
    top = study(space, lambda c, rng: float(c["z"]), 8, 2, fidelity=9)
    for method in METHODS:
        assert importance([*low, *high, *top], space, method=method)["x"] > 0.8
        assert importance([*low, *top], space, method=method)["z"] > 0.8
        # no fidelity has 50 succeeded trials: all 88 are pooled, as if they had none
        pooled = importance([*low, *high, *top], space, method=method, min_trials=50)
        flat = [replace(t, fidelity=None) for t in [*low, *high, *top]]
        assert pooled == importance(flat, space, method=method, min_trials=50)
        assert pooled != importance([*low, *high], space, method=method, min_trials=50)


def test_too_few_trials_and_a_bad_method_raise_clear_errors() -> None:
    trials = study(SPACE, dominant_x, 9, 0)
    failed = Trial(number=99, config=trials[0].config, status=TrialStatus.FAILED)
    with pytest.raises(ValueError, match="at least 10 succeeded trials; this study has 9"):
        importance([*trials, failed], SPACE)
    with pytest.raises(ValueError, match="method must be one of ped_anova, fanova"):
        importance(study(SPACE, dominant_x, 20, 0), SPACE, method="shap")


def test_a_constant_loss_has_no_importance() -> None:
    trials = study(SPACE, lambda c, rng: 1.0, 30, 0)
    assert set(importance(trials, SPACE, method="fanova").values()) == {0.0}


def test_ped_anova_building_blocks() -> None:
    assert top_count(200, 0.1) == 20 and top_count(20, 0.1) == 5 and top_count(6, 0.1) == 3
    grid = (np.arange(100) + 0.5) / 100
    p = parzen_grid(np.array([0.2, 0.21, 0.25]), grid)
    assert p.sum() == pytest.approx(1.0) and p.min() > 0 and abs(grid[p.argmax()] - 0.22) < 0.03
    x = np.random.default_rng(0).uniform(size=(100, 2))
    # the top set is the lowest losses: losses sorted by column 0, so it sits at one end
    out = ped_anova(x, x[:, 0], categorical=[0, 0])
    assert out[0] > 10 * out[1]


def test_fanova_marginals_are_exact_on_an_additive_tree() -> None:
    """A tree splitting x0 at 0.5 (values 0 / 1), then x1 at 0.25: the variance splits
    exactly as the additive function's; interactions would leave the fractions short of 1."""
    from sklearn.tree import DecisionTreeRegressor

    x = np.array([[0.1, 0.1], [0.1, 0.9], [0.9, 0.1], [0.9, 0.9]])
    y = np.array([0.0, 0.5, 1.0, 1.5])  # y = x0-step + 0.5 * x1-step: additive
    tree = DecisionTreeRegressor().fit(x, y)
    lower, upper, value = leaf_boxes(tree, 2)
    assert np.prod(upper - lower, axis=1).sum() == pytest.approx(1.0)
    fractions = tree_fractions(lower, upper, value)
    # splits at 0.5 on both: Var = 0.25 (x0) + 0.0625 (x1), no interaction
    assert fractions == pytest.approx([0.25 / 0.3125, 0.0625 / 0.3125])
    forest = fanova(x, y, rng=np.random.default_rng(0), n_trees=8)
    assert forest.shape == (2,) and forest[0] > forest[1]
