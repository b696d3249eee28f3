"""Every multi-fidelity optimizer over a data-subset fidelity: a float fraction on a log scale
whose higher rungs retrain from scratch (``resumable=False``)."""

from __future__ import annotations

from typing import Any

import pytest

import tunewise as tw
from tests.optimizers import loop
from tunewise import optimizers
from tunewise.optimizers.brackets import Rungs
from tunewise.trial import Trial, fidelity_units

FRACTION = tw.Fidelity(0.05, 1.0, log=True, resumable=False)
SPACE = tw.Space(
    x=tw.Float(0.0, 1.0, prior=0.3),
    lr=tw.Float(1e-4, 1e-1, log=True, prior=1e-2),
    fraction=FRACTION,
)
LADDER = (1 / 9, 1 / 3, 1.0)  # eta = 3 from the top; 1/27 would be below 0.05

MULTI_FIDELITY: list[Any] = [
    "successive_halving",
    "hyperband",
    "asha",
    "async_hyperband",
    "bohb",
    "priorband",
    pytest.param(
        {"name": "priorband", "model_based": True, "initial_design_size": 1},
        id="priorband-model_based",
        marks=pytest.mark.slow,  # a GP fit per new configuration
    ),
]


def loss(config: dict[str, Any], fraction: float) -> float:
    """Lower with more data, best at x = 0.3 and lr = 1e-2."""
    return (config["x"] - 0.3) ** 2 + (config["lr"] - 1e-2) ** 2 + 0.05 / fraction


def run(spec: Any, n: int = 60) -> list[Trial]:
    return loop.run_sequentially(optimizers.make(spec), space=SPACE, loss=loss, n=n, seed=0)


def test_the_ladder_of_the_fraction() -> None:
    assert Rungs.of(FRACTION, eta=3).fidelities == pytest.approx(LADDER, rel=1e-12)


@pytest.mark.parametrize("spec", MULTI_FIDELITY)
def test_fractions_are_floats_on_the_ladder_and_promotions_climb_it(spec: Any) -> None:
    trials = run(spec)
    ladder = Rungs.of(FRACTION, eta=3).fidelities
    by_number = {t.number: t for t in trials}
    for t in trials:
        assert type(t.fidelity) is float and t.fidelity in ladder, t.fidelity
        SPACE.validate_config({**t.config, "fraction": t.fidelity})
        if t.previous_trial is not None:
            previous = by_number[t.previous_trial]
            assert dict(previous.config) == dict(t.config)
            assert ladder.index(t.fidelity) == ladder.index(previous.fidelity) + 1
    assert {t.fidelity for t in trials} == set(ladder), "some rung was never reached"
    assert any(t.previous_trial is not None for t in trials), "nothing was promoted"
    if isinstance(spec, dict) or spec == "bohb":
        assert any(t.info.get("sampled_from") == "model" for t in trials), "the model never ran"


@pytest.mark.parametrize("spec", ["hyperband", "priorband"])
def test_a_fraction_inside_narrow_float_bounds_stays_inside_them(spec: str) -> None:
    """With bounds (0.1, 0.9) the lowest rung, 0.9 * 3**-2, must not fall an ulp below 0.1."""
    space = tw.Space(x=tw.Float(0.0, 1.0, prior=0.3), fraction=tw.Fidelity(0.1, 0.9))
    trials = loop.run_sequentially(
        optimizers.make(spec), space=space, loss=lambda c, f: (c["x"] - 0.3) ** 2 + 0.05 / f, n=30
    )
    assert min(t.fidelity for t in trials) == 0.1
    for t in trials:
        space.validate_config({**t.config, "fraction": t.fidelity})


def test_priorband_waits_for_a_whole_bracket_of_retraining_before_the_incumbent() -> None:
    """PriorBand turns on incumbent sampling once the fidelity spent reaches one successive
    halving bracket's cost; without resuming a bracket costs sum n_i f_i (27 + 9 x 3 + 3 x 9 +
    27 at 1..27, 4 full evaluations), not the 3 of resumed training."""
    trials = run("priorband", n=80)
    space = SPACE
    by_number = {t.number: t for t in trials}
    first = next(i for i, t in enumerate(trials) if t.info.get("sampled_from") == "incumbent")
    spent = sum(
        fidelity_units(
            space,
            t.fidelity,
            None if t.previous_trial is None else by_number[t.previous_trial].fidelity,
        )
        for t in trials[:first]
    )
    bracket = Rungs.of(FRACTION, eta=3).bracket_cost(2)
    assert bracket == pytest.approx(9 / 9 + 3 / 3 + 1.0)  # 9 at 1/9, 3 at 1/3, 1 at 1
    assert spent >= bracket - 1e-9
