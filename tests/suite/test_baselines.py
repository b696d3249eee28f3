"""Optuna's samplers as suite baselines: they learn from the History, and stay unregistered."""

from __future__ import annotations

import numpy as np
import pytest

import tunewise as tw
from tests.optimizers.loop import run_sequentially
from tunewise.optimizers import names
from tunewise.suite import parse_algorithm, plan, run_job
from tunewise.suite.baselines import OptunaSampler, make_algorithm
from tunewise.trial import History, Trial, TrialStatus

# Optuna is a test dependency (pyproject.toml): a missing one is an error, not a skip.

SPACE = tw.Space(
    x=tw.Float(-5.0, 10.0),
    y=tw.Float(1e-3, 1.0, log=True),
    n=tw.Integer(1, 8),
    kind=tw.Categorical(["a", "b", "c"]),
    fixed=tw.Constant(7),
)


def loss(config: dict, _fidelity: float | None) -> float:
    penalty = {"a": 0.0, "b": 1.0, "c": 2.0}[config["kind"]]
    return (config["x"] - 2.0) ** 2 + np.log10(config["y"]) ** 2 + (config["n"] - 5) ** 2 + penalty


@pytest.mark.parametrize("sampler", ["tpe", "gp"])
def test_the_model_samplers_learn_from_the_history(sampler: str) -> None:
    trials = run_sequentially(OptunaSampler(sampler=sampler), space=SPACE, loss=loss, n=40)
    values = [t.objective for t in trials]
    assert all(t.config["fixed"] == 7 for t in trials)
    assert all(SPACE.validate_config(t.config) is None for t in trials)
    # After their 10 random start-up trials both samplers should exploit what they were told.
    assert np.median(values[-10:]) < 0.25 * np.median(values[:10])
    assert min(values) < 1.5


def test_running_trials_are_seen_so_a_batch_spreads_out() -> None:
    done = run_sequentially(OptunaSampler(sampler="tpe"), space=SPACE, loss=loss, n=15)
    running = Trial(
        number=len(done),
        config=done[0].config,
        status=TrialStatus.RUNNING,
        slot="optuna:15",
    )
    history = History(space=SPACE, seed=0, trials=(*done, running))
    batch = OptunaSampler(sampler="tpe").ask(history, 3)
    assert [s.slot for s in batch] == ["optuna:16", "optuna:17", "optuna:18"]
    assert len({tuple(sorted(s.config.items())) for s in batch}) == 3


def test_baselines_are_for_the_suite_only() -> None:
    assert "optuna" not in names()
    spec = parse_algorithm("GP=optuna:sampler=gp")
    assert spec.optimizer == {"name": "optuna", "sampler": "gp"}
    assert make_algorithm(spec.optimizer) == OptunaSampler(sampler="gp")
    with pytest.raises(ValueError, match="sampler must be one of"):
        parse_algorithm("optuna:sampler=cmaes")
    with pytest.raises(ValueError, match="has no parameter"):
        parse_algorithm("optuna:seed=3")
    conditional = tw.Space(a=tw.Categorical(["u", "v"]), b=tw.Float(0, 1, when={"a": "v"}))
    with pytest.raises(ValueError, match="conditional"):
        OptunaSampler().check_space(conditional)


def test_a_suite_run_with_an_optuna_baseline() -> None:
    job = plan(
        algorithms=[parse_algorithm("TPE=optuna:sampler=tpe")],
        benchmarks=["branin-high"],
        priors=["none"],
        seeds=1,
        budget=12,
        step=1.0,
    )[0]
    table = run_job(job)
    assert list(table["budget"]) == [float(b) for b in range(1, 13)]
    assert (table["algorithm"] == "TPE").all()
    assert table["value"].is_monotonic_decreasing
