"""nas-digits: a hierarchical architecture space trained for real on the 8x8 digits."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from tests.benchmarks.test_training import _trial
from tunewise.benchmarks import get_benchmark
from tunewise.benchmarks.nas_digits import NASDigitsBenchmark, train_nas
from tunewise.space import Architecture


def test_space_has_an_architecture_with_many_derivations_and_two_hyperparameters() -> None:
    bench = get_benchmark("nas-digits")
    assert isinstance(bench, NASDigitsBenchmark)
    space = bench.space()
    arch = space.parameters["architecture"]
    assert isinstance(arch, Architecture) and not arch.has_prior
    assert arch.count() > 10**15
    assert set(space.parameters) == {"architecture", "lr", "channels", "epochs"}
    assert (bench.fidelity.lower, bench.fidelity.upper) == (1, 27)
    assert not bench.simulated and not bench.optimum_is_known and 0.0 < bench.optimum < 0.05


def test_priors_are_production_priors_and_numeric_centres() -> None:
    bench = get_benchmark("nas-digits")
    assert bench.priors == ("none", "good", "bad")
    good, bad = bench.space("good"), bench.space("bad")
    for space, quality in ((good, "good"), (bad, "bad")):
        arch = space.parameters["architecture"]
        assert isinstance(arch, Architecture) and arch.grammar.priors and arch.prior is None
        config = bench.prior_config(quality)
        assert arch.default == config["architecture"]  # the prior configuration is the mode
        assert space.prior_config()["lr"] == pytest.approx(config["lr"])
    assert "conv3x3" in bench.prior_config("good")["architecture"]
    assert "conv" not in bench.prior_config("bad")["architecture"]
    # good-prior samples hold far more convolutions than bad-prior ones
    rng = np.random.default_rng(0)
    convs = {
        name: np.mean(
            [c["architecture"].count("conv") for c in s.sample_many(rng, 200, use_priors=True)]
        )
        for name, s in (("good", good), ("bad", bad))
    }
    assert convs["good"] > 3 * convs["bad"]
    with pytest.raises(ValueError, match="good, bad"):
        bench.space("medium")


def test_sampled_architectures_build_and_train_one_epoch_quickly(tmp_path: Path) -> None:
    bench = get_benchmark("nas-digits")
    rng = np.random.default_rng(0)
    configs = [
        *bench.space().sample_many(rng, 10),
        *bench.space("good").sample_many(rng, 5, use_priors=True),
        *bench.space("bad").sample_many(rng, 5, use_priors=True),
    ]
    start = time.perf_counter()
    for i, config in enumerate(configs):
        result = train_nas(config, _trial(1, tmp_path / str(i)))
        assert 0.0 <= result["objective"] <= 1.0
        assert (tmp_path / str(i) / "checkpoint.pt").exists()
    assert time.perf_counter() - start < 30.0  # measured: about 0.2 s an epoch


@pytest.mark.slow
def test_fifty_sampled_architectures_build_and_train_at_the_largest_width(tmp_path: Path) -> None:
    bench = get_benchmark("nas-digits")
    rng = np.random.default_rng(1)
    configs = [
        *bench.space().sample_many(rng, 30),
        *bench.space("good").sample_many(rng, 10, use_priors=True),
        *bench.space("bad").sample_many(rng, 10, use_priors=True),
    ]
    for config in configs:
        start = time.perf_counter()
        evaluation = bench.evaluate({**config, "channels": 16}, 1)
        assert 0.0 <= evaluation.objective <= 1.0
        assert time.perf_counter() - start < 5.0


def test_continuation_equals_training_from_scratch(tmp_path: Path) -> None:
    config = get_benchmark("nas-digits").prior_config("good")
    config["channels"] = 8
    low = train_nas(config, _trial(1, tmp_path / "a"))
    high = train_nas(config, _trial(3, tmp_path / "b", previous=tmp_path / "a"))
    scratch = train_nas(config, _trial(3, tmp_path / "c"))
    assert low["info"]["resumed_from_epoch"] == 0
    assert high["info"]["resumed_from_epoch"] == 1 and high["cost"] == 2
    # exact: model (with BatchNorm statistics), optimizer and shuffling state are checkpointed
    assert high["objective"] == scratch["objective"]
    assert high["learning_curve"] == scratch["learning_curve"][1:]
    assert train_nas(config, _trial(1, tmp_path / "d"))["objective"] == low["objective"]


def test_objective_continues_a_promoted_trial(tmp_path: Path) -> None:
    bench = get_benchmark("nas-digits")
    objective = bench.objective(seed=1)
    config = {**bench.prior_config("good"), "channels": 4, "epochs": 2}
    objective(config, _trial(1, tmp_path / "a"))
    second = objective(config, _trial(2, tmp_path / "b", previous=tmp_path / "a"))
    assert second["info"]["benchmark"] == "nas-digits"
    assert second["info"]["resumed_from_epoch"] == 1
    assert second["objective"] == bench.evaluate(config, 2, seed=1).objective


@pytest.mark.slow
def test_good_prior_beats_bad_prior_on_average() -> None:
    bench = get_benchmark("nas-digits")
    means = {}
    for quality in ("good", "bad"):
        configs = bench.space(quality).sample_many(np.random.default_rng(1), 6, use_priors=True)
        means[quality] = np.mean([bench.evaluate(c, 2).objective for c in configs])
    assert means["good"] < means["bad"] - 0.2
