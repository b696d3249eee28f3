"""The LCBench surrogate (YAHPO Gym ONNX model); without the data: skipped, in CI failed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from tests.requirements import unavailable
from tunewise.benchmarks import get_benchmark
from tunewise.benchmarks.lcbench import (
    ENV_VAR,
    TASK_IDS,
    LCBenchBenchmark,
    default_data_dir,
    resolve_data_dir,
)
from tunewise.runtime.context import TrialContext
from tunewise.space import Fidelity, Float, Integer


def _data_dir() -> Path:
    try:
        return resolve_data_dir()
    except FileNotFoundError as exc:
        unavailable(f"LCBench data absent: {exc}")


@pytest.fixture(scope="module")
def bench() -> LCBenchBenchmark:
    _data_dir()
    return LCBenchBenchmark(task_id="189906")


def test_missing_data_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path))
    bench = get_benchmark("lcbench-189906")  # naming it needs no data
    with pytest.raises(FileNotFoundError, match=rf"no model.onnx in {tmp_path}.*{ENV_VAR}"):
        bench.space()
    with pytest.raises(FileNotFoundError, match="data_dir argument"):
        LCBenchBenchmark(task_id=3945, data_dir=tmp_path / "nowhere").evaluate({}, 1)
    assert default_data_dir().parts[-3:] == ("shared", "data", "lcbench")
    with pytest.raises(ValueError, match="task_id must be one of"):
        LCBenchBenchmark(task_id="42")


def test_environment_variable_points_at_the_data(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _data_dir()
    monkeypatch.setenv(ENV_VAR, str(data))
    assert resolve_data_dir() == data.resolve()


def test_task_ids_are_the_surrogates(bench: LCBenchBenchmark) -> None:
    space = json.loads((_data_dir() / "config_space.json").read_text())
    assert list(TASK_IDS) == space["hyperparameters"][0]["choices"]


def test_space_respects_types_and_log_scales(bench: LCBenchBenchmark) -> None:
    space = bench.space()
    assert space.fidelity == Fidelity(1, 52) and space.fidelity_name == "epoch"
    assert "OpenML_task_id" not in space
    assert space["batch_size"] == Integer(16, 512, log=True)
    assert space["max_units"] == Integer(64, 1024, log=True)
    assert space["num_layers"] == Integer(1, 5)
    assert isinstance(space["learning_rate"], Float) and space["learning_rate"].log
    assert not space["weight_decay"].log and not space["momentum"].log  # type: ignore[union-attr]


def test_check_values_of_the_good_prior(bench: LCBenchBenchmark) -> None:
    good = bench.prior_config("good")
    at52 = bench.evaluate(good, 52)
    assert at52.objective == pytest.approx(1 - 0.9086, abs=1e-3)
    assert bench.evaluate(good, 1).objective == pytest.approx(1 - 0.2168, abs=1e-3)
    assert [s for s, _ in at52.learning_curve] == list(range(1, 53))
    assert at52.learning_curve[-1][1] == at52.objective
    assert at52.cost > bench.evaluate(good, 26).cost > bench.evaluate(good, 1).cost > 0
    assert bench.evaluate(good, 52, seed=7) == at52  # deterministic; no noise to seed


def test_priors_of_known_quality(bench: LCBenchBenchmark) -> None:
    assert bench.priors == ("none", "good", "medium", "bad", "at25", "gpt")
    value = {q: bench.evaluate(bench.prior_config(q), 52).objective for q in bench.priors[1:]}
    # measured: good 0.091, at25 0.163, gpt 0.156, medium (perturbed) 0.199, bad 0.891
    assert value["good"] < value["at25"] < value["medium"] < value["bad"]
    assert bench.optimum <= value["good"] and not bench.optimum_is_known
    assert bench.simulated and bench.optimum > 0.0
    assert get_benchmark("lcbench-3945").priors == ("none", "at25")


def test_medium_prior_is_the_file_perturbed_deterministically(bench: LCBenchBenchmark) -> None:
    raw = LCBenchBenchmark(task_id="189906", medium_perturbation=0.0).prior_config("medium")
    assert raw["max_units"] == 1010 and raw["batch_size"] == 16  # the file's values
    medium = bench.prior_config("medium")
    assert medium != raw
    assert medium == LCBenchBenchmark(task_id="189906").prior_config("medium")
    bench.space("medium").validate_config(medium)
    shifts = bench.space().encode(medium) - bench.space().encode(raw)
    assert 0.05 < np.abs(shifts).mean() < 0.5  # moved by about the 0.25 perturbation


def test_every_task_evaluates_its_at25_prior() -> None:
    _data_dir()
    for task in TASK_IDS:
        bench = get_benchmark(f"lcbench-{task}")
        result = bench.evaluate(bench.prior_config("at25"), 52)
        assert 0.0 < result.objective < 1.0 and result.cost > 0.0


def test_evaluate_many_matches_evaluate(bench: LCBenchBenchmark) -> None:
    configs = bench.space().sample_many(np.random.default_rng(0), 20)
    many = bench.evaluate_many(configs, 13)
    curves = bench.evaluate_many(configs, 13, learning_curve=True)
    for config, fast, full in zip(configs, many, curves, strict=True):
        one = bench.evaluate(config, 13)
        assert fast.objective == pytest.approx(one.objective, abs=1e-5)
        assert fast.cost == pytest.approx(one.cost, rel=1e-5) and fast.learning_curve == ()
        np.testing.assert_allclose(full.learning_curve, one.learning_curve, atol=1e-5)
    assert bench.evaluate_many([], 3) == []
    with pytest.raises(ValueError, match="missing 'max_dropout'"):
        bench.evaluate_many([{k: v for k, v in configs[0].items() if k != "max_dropout"}], 3)


def test_objective_charges_surrogate_seconds_incrementally(
    bench: LCBenchBenchmark, tmp_path: Path
) -> None:
    good = bench.prior_config("good")
    trial = TrialContext(
        number=1, config=good, fidelity=12, directory=tmp_path, previous_fidelity=4
    )
    result = bench.objective()(good, trial)
    expected = bench.evaluate(good, 12).cost - bench.evaluate(good, 4).cost
    assert result["cost"] == pytest.approx(expected)
    assert [p[0] for p in result["learning_curve"]] == list(range(5, 13))


def test_a_single_evaluate_is_fast(bench: LCBenchBenchmark) -> None:
    good = bench.prior_config("good")
    bench.evaluate(good, 52)
    start = time.perf_counter()
    for _ in range(50):
        bench.evaluate(good, 52)
    per_call = (time.perf_counter() - start) / 50
    assert per_call < 0.02  # measured about 1 ms at epoch 52 (0.3 ms at epoch 1)
