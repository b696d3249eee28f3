"""The registry and the shared Benchmark behaviour (priors, spaces, the objective wrapper)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from tunewise.benchmarks import (
    Benchmark,
    BenchmarkObjective,
    Evaluation,
    benchmark_names,
    get_benchmark,
)
from tunewise.benchmarks.synthetic import SyntheticBenchmark
from tunewise.runtime.context import TrialContext
from tunewise.space import Fidelity, Space


def test_names_cover_every_family() -> None:
    names = benchmark_names()
    assert len(names) == len(set(names)) == 9 + 34 + 6 + 4 + 4
    for function in ("branin", "hartmann3", "hartmann6"):
        for level in ("high", "medium", "low"):
            assert f"{function}-{level}" in names
    assert "lcbench-189906" in names and "lcbench-3945" in names
    assert {"nb201-cifar10", "nb201-imagenet16", "nb201-cifar100-flat"} <= set(names)
    assert {"mlp-digits", "cnn-digits", "mlp-digits-subset"} <= set(names)


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown benchmark 'brannin'.*branin-high.*mlp-digits"):
        get_benchmark("brannin")
    with pytest.raises(ValueError, match="invalid arguments"):
        get_benchmark("branin-high", data_dir="x")


@pytest.mark.parametrize(
    "name", ["branin-low", "hartmann6-medium", "mlp-digits", "cnn-digits", "mlp-digits-subset"]
)
def test_priors_and_spaces(name: str) -> None:
    bench = get_benchmark(name)
    assert isinstance(bench, Benchmark) and bench.name == name
    assert bench.priors[0] == "none" and {"good", "bad"} <= set(bench.priors)
    assert not bench.space().has_priors and bench.space("none") == bench.space()
    assert bench.space().fidelity is not None
    for quality in bench.priors[1:]:
        config = bench.prior_config(quality)
        space = bench.space(quality)
        space.validate_config(config)
        assert space.prior_config() == config
    with pytest.raises(ValueError, match=r"no prior 'great'.*good.*bad"):
        bench.prior_config("great")
    with pytest.raises(ValueError, match="no prior configuration 'none'"):
        bench.prior_config("none")
    with pytest.raises(ValueError, match="no prior"):
        bench.space("great")


def test_prior_confidence_is_medium_unless_asked() -> None:
    bench = get_benchmark("hartmann3-high")
    assert {p.confidence for p in bench.space("good").searchable.values()} == {"medium"}
    assert {p.confidence for p in bench.space("bad", confidence="high").searchable.values()} == {
        "high"
    }


def _trial(fidelity: int, tmp: Path, previous: int | None = None) -> TrialContext:
    return TrialContext(
        number=1,
        config={},
        fidelity=fidelity,
        directory=tmp,
        previous_fidelity=previous,
        previous_directory=tmp if previous else None,
    )


def test_objective_charges_the_increment_when_continuing(tmp_path: Path) -> None:
    bench = get_benchmark("hartmann6-medium")
    objective = bench.objective(seed=3)
    assert isinstance(objective, BenchmarkObjective)
    config = bench.prior_config("medium")
    full = objective(config, _trial(9, tmp_path))
    cont = objective({**config, "z": 9}, _trial(9, tmp_path, previous=3))
    expected = bench.evaluate(config, 9, seed=3)
    assert full["objective"] == cont["objective"] == expected.objective
    assert full["cost"] == pytest.approx(9 / 27) and cont["cost"] == pytest.approx(6 / 27)
    assert [p[0] for p in full["learning_curve"]] == list(range(1, 10))
    assert [p[0] for p in cont["learning_curve"]] == list(range(4, 10))
    assert cont["info"]["benchmark"] == "hartmann6-medium"
    assert set(full) == {"objective", "cost", "learning_curve", "info"}


class _Retrained(SyntheticBenchmark):
    """Hartmann-6 whose fidelity is not resumable: a higher fidelity is a new run."""

    def _build_space(self) -> Space:
        params = dict(super()._build_space().parameters)
        params["z"] = Fidelity(1, 27, resumable=False)
        return Space(**params)


def test_objective_charges_the_whole_run_when_the_fidelity_is_not_resumable(
    tmp_path: Path,
) -> None:
    bench = _Retrained(function="hartmann6", correlation="medium")
    objective = bench.objective(seed=3)
    config = bench.prior_config("medium")
    cont = objective({**config, "z": 9}, _trial(9, tmp_path, previous=3))
    assert cont["cost"] == pytest.approx(9 / 27)  # not the 6 / 27 of a resumed run
    assert [p[0] for p in cont["learning_curve"]] == list(range(1, 10))
    assert cont["objective"] == bench.evaluate(config, 9, seed=3).objective


def test_objective_pickles_and_defaults_to_max_fidelity(tmp_path: Path) -> None:
    bench = get_benchmark("branin-low")
    objective = pickle.loads(pickle.dumps(bench.objective(seed=1)))
    trial = TrialContext(number=0, config={}, fidelity=None, directory=tmp_path)
    result = objective(bench.prior_config("good"), trial)
    assert result["objective"] == bench.evaluate(bench.prior_config("good"), 27).objective
    assert result["cost"] == 1.0


def test_evaluation_is_a_frozen_value() -> None:
    e = Evaluation(0.5, 1.0)
    assert e.learning_curve == ()
    with pytest.raises(AttributeError):
        e.objective = 1.0  # type: ignore[misc]
