"""PriorBand end to end: the prior configuration first, recorded decisions, a prior's effect."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

import tunewise as tw
from tunewise import optimizers
from tunewise.suite import parse_algorithm
from tunewise.suite.runner import Job, run_job

SPACE = tw.Space(
    x=tw.Float(0.0, 1.0, prior=0.25, confidence="medium"),
    opt=tw.Categorical(["adam", "sgd"], prior="adam"),
    epochs=tw.Fidelity(1, 27),
)


def objective(config, trial):
    penalty = 0.0 if config["opt"] == "adam" else 0.2
    return (config["x"] - 0.3) ** 2 + penalty + 0.5 / trial.fidelity


@pytest.mark.parametrize("base", ["hyperband", "successive_halving", "asha", "async_hyperband"])
def test_prior_configuration_first_and_every_decision_recorded(tmp_path, base) -> None:
    result = tw.run(
        objective,
        SPACE,
        root=tmp_path / base,
        optimizer={"name": "priorband", "base": base},
        budget=tw.Budget(fidelity_units=8),
        seed=0,
        progress=False,
    )
    first = result.trial_list[0]
    assert dict(first.config) == {"x": 0.25, "opt": "adam"}
    assert first.info["sampled_from"] == "prior_config"
    if base != "async_hyperband":  # there the first bracket (and its base rung) is drawn at random
        assert first.fidelity == 1
    sources = Counter(t.info["sampled_from"] for t in result.trial_list)
    assert sources["prior_config"] == 1
    assert set(sources) <= {"prior_config", "prior", "incumbent", "random", "promotion"}
    assert sources["promotion"] > 0 and sources["prior"] > 0


def test_auto_uses_priorband_for_a_space_with_priors_and_a_fidelity(tmp_path) -> None:
    result = tw.run(objective, SPACE, root=tmp_path / "auto", budget=5, progress=False)
    assert result._study.record.optimizer["name"] == "priorband"


def _values(algorithm: str, prior: str, budget: float, seeds: int = 10) -> list[float]:
    """The incumbent's full-fidelity value after ``budget`` full-fidelity evaluations, per seed."""
    spec = parse_algorithm(algorithm)
    values = []
    for seed in range(seeds):
        frame = run_job(Job(spec, "hartmann3-high", prior, seed, budget, step=budget))
        values.append(float(frame["value"].iloc[-1]))
    return values


@pytest.mark.slow
def test_good_prior_makes_priorband_better_than_hyperband_with_the_prior_first() -> None:
    """Evaluating the good prior's configuration once explains Hyperband's early deficit (4x); what
    PriorBand adds beyond it is sampling around the prior and the incumbent. Hyperband with the
    prior first stays at the prior configuration's value (-3.822; optimum -3.863) over 20
    evaluations' worth; PriorBand improves on it in about half the seeds and is never worse
    (measured: better in 5 of 10, by 0.0055 on average)."""
    pb = np.array(_values("priorband", "good", 20))
    hb_first = np.array(_values("hyperband:prior_first=true", "good", 20))
    better, worse = int(np.sum(pb < hb_first - 1e-4)), int(np.sum(pb > hb_first + 1e-4))
    assert better >= 3 and worse <= 1, (pb, hb_first)
    assert pb.mean() < hb_first.mean() - 0.002, (pb, hb_first)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match="base must be one of"):
        optimizers.PriorBand(base="bohb")
    with pytest.raises(ValueError, match="mutation_rate"):
        optimizers.PriorBand(mutation_rate=2.0)


def test_prior_first_is_validated_by_the_bracket_optimizer() -> None:
    with pytest.raises(ValueError, match="priorband: prior_first must be True or False"):
        optimizers.PriorBand(prior_first="yes")
