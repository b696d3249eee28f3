"""Real training benchmarks: short real runs, continuation, seeds, real seconds as cost."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tunewise.benchmarks import get_benchmark
from tunewise.benchmarks.training import train_cnn
from tunewise.demo import demo_space
from tunewise.runtime.context import TrialContext


def _trial(epochs: int, directory: Path, previous: Path | None = None) -> TrialContext:
    return TrialContext(
        number=0,
        config={},
        fidelity=epochs,
        directory=directory,
        previous_directory=previous,
        previous_fidelity=None,
    )


def test_cnn_continuation_equals_training_from_scratch(tmp_path: Path) -> None:
    config = get_benchmark("cnn-digits").prior_config("good")
    low = train_cnn(config, _trial(1, tmp_path / "a"))
    high = train_cnn(config, _trial(3, tmp_path / "b", previous=tmp_path / "a"))
    scratch = train_cnn(config, _trial(3, tmp_path / "c"))
    assert low["info"]["resumed_from_epoch"] == 0
    assert high["info"]["resumed_from_epoch"] == 1 and high["cost"] == 2
    assert [p[0] for p in high["learning_curve"]] == [2, 3]
    # exact: model, optimizer and generator state travel in the checkpoint; one thread
    assert high["objective"] == scratch["objective"]
    assert high["learning_curve"] == scratch["learning_curve"][1:]
    other_seed = train_cnn(config, _trial(3, tmp_path / "d", previous=tmp_path / "a"), seed=1)
    assert other_seed["info"]["resumed_from_epoch"] == 0  # another seed's checkpoint is not used


def test_cnn_short_real_run_learns_and_bad_prior_does_not() -> None:
    bench = get_benchmark("cnn-digits")
    assert not bench.simulated and not bench.optimum_is_known
    assert 0.0 <= bench.optimum < 0.1
    good = bench.evaluate(bench.prior_config("good"), 3)
    bad = bench.evaluate(bench.prior_config("bad"), 3)
    # measured: good about 0.14 after 3 epochs, bad about 0.88
    assert good.objective < 0.3 < bad.objective
    assert good.cost > 0.0 and [s for s, _ in good.learning_curve] == [1.0, 2.0, 3.0]
    assert bench.evaluate(bench.prior_config("good"), 3).objective == good.objective


def test_objective_trains_for_real_and_continues(tmp_path: Path) -> None:
    bench = get_benchmark("cnn-digits")
    objective = pickle.loads(pickle.dumps(bench.objective(seed=2)))
    config = {**bench.prior_config("good"), "epochs": 2}
    first = objective(config, _trial(1, tmp_path / "a"))
    trial = TrialContext(
        number=1,
        config=config,
        fidelity=2,
        directory=tmp_path / "b",
        previous_directory=tmp_path / "a",
        previous_fidelity=1,
    )
    second = objective(config, trial)
    assert second["info"]["benchmark"] == "cnn-digits"
    assert second["info"]["resumed_from_epoch"] == 1
    assert 0.0 < second["cost"] < 10.0  # real seconds of one epoch
    assert [list(p) for p in trial.learning_curve] == second["learning_curve"]
    assert second["objective"] == bench.evaluate(config, 2, seed=2).objective
    assert first["objective"] != second["objective"]


def test_mlp_is_the_demo_with_seeds(tmp_path: Path) -> None:
    bench = get_benchmark("mlp-digits")
    assert bench.priors == ("none", "good", "bad")
    assert bench.space("good") == demo_space()
    assert not bench.space().has_priors
    good = bench.prior_config("good")
    seed0 = bench.evaluate(good, 2)
    assert seed0.objective == bench.evaluate(good, 2, seed=0).objective
    assert bench.evaluate(good, 2, seed=1).objective != seed0.objective
    bad = bench.evaluate(bench.prior_config("bad"), 2)
    assert bad.objective > seed0.objective + 0.3
    result = bench.objective()(good, _trial(1, tmp_path))
    assert result["info"]["benchmark"] == "mlp-digits" and result["cost"] > 0.0
    assert 0.0 <= bench.optimum < seed0.objective


def test_fidelity_is_checked() -> None:
    with pytest.raises(ValueError, match=r"fidelity 28 .*\[1, 27\]"):
        get_benchmark("cnn-digits").evaluate({}, 28)
