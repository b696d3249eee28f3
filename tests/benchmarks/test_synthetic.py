"""Synthetic multi-fidelity functions: optima, exactness at full fidelity, noise, correlation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr

from tunewise.benchmarks import get_benchmark
from tunewise.benchmarks.synthetic import Z_MAX, SyntheticBenchmark, branin, hartmann3, hartmann6

OPTIMA = {"branin": 0.397887, "hartmann3": -3.86278, "hartmann6": -3.32237}


@pytest.mark.parametrize("function", list(OPTIMA))
def test_known_optimum_at_the_known_argmin(function: str) -> None:
    bench = get_benchmark(f"{function}-low")
    assert bench.optimum_is_known and bench.simulated
    assert bench.optimum == pytest.approx(OPTIMA[function], abs=1e-5)
    value = bench.evaluate(bench.argmin, Z_MAX).objective
    assert value == pytest.approx(bench.optimum, abs=1e-5)
    # no uniform sample beats the optimum
    rng = np.random.default_rng(0)
    configs = bench.space().sample_many(rng, 500)
    assert min(bench.evaluate(c, Z_MAX).objective for c in configs) > bench.optimum


def test_branin_has_three_minima_and_hartmann_its_textbook_values() -> None:
    points = np.array([[-math.pi, 12.275], [math.pi, 2.275], [9.42478, 2.475]])
    np.testing.assert_allclose(branin(points), 0.397887, atol=1e-5)
    assert branin(np.array([[-5.0, 0.0]]))[0] == pytest.approx(308.129, abs=1e-3)
    assert hartmann3(np.array([[0.114614, 0.555649, 0.852547]]))[0] == pytest.approx(
        -3.86278, abs=1e-5
    )
    x6 = np.array([[0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573]])
    assert hartmann6(x6)[0] == pytest.approx(-3.32237, abs=1e-5)


def test_full_fidelity_is_exact_and_noise_is_deterministic() -> None:
    bench = get_benchmark("hartmann3-low")
    config = bench.prior_config("medium")
    exact = float(hartmann3(np.array([list(config.values())]))[0])
    assert {bench.evaluate(config, Z_MAX, seed=s).objective for s in range(5)} == {exact}
    low = [bench.evaluate(config, 1, seed=s).objective for s in range(5)]
    assert len(set(low)) == 5 and exact not in low  # biased and noisy, differently per seed
    assert bench.evaluate(config, 1, seed=2) == bench.evaluate(config, 1, seed=2)
    # the curve at z is the objective at each lower fidelity
    curve = bench.evaluate(config, 9, seed=4).learning_curve
    assert [step for step, _ in curve] == list(range(1, 10))
    assert [v for _, v in curve] == [
        bench.evaluate(config, z, seed=4).objective for z in range(1, 10)
    ]


def test_cost_is_the_fidelity_fraction() -> None:
    bench = get_benchmark("branin-medium")
    config = bench.prior_config("good")
    assert [bench.evaluate(config, z).cost for z in (1, 3, 9, 27)] == [1 / 27, 3 / 27, 9 / 27, 1.0]


def _spearman(bench: SyntheticBenchmark, z: int) -> float:
    configs = bench.space().sample_many(np.random.default_rng(0), 200)
    low = [bench.evaluate(c, z).objective for c in configs]
    high = [bench.evaluate(c, Z_MAX).objective for c in configs]
    return float(spearmanr(low, high)[0])


@pytest.mark.parametrize("function", list(OPTIMA))
def test_correlation_levels_order_the_rank_correlation(function: str) -> None:
    rho = {
        level: _spearman(SyntheticBenchmark(function=function, correlation=level), 1)
        for level in ("high", "medium", "low")
    }
    # measured at z = 1: branin 0.99 / 0.82 / 0.06, hartmann3 0.99 / 0.83 / 0.22,
    # hartmann6 0.94 / 0.62 / 0.22
    assert rho["high"] > 0.9
    assert rho["high"] > rho["medium"] + 0.05 > rho["low"] + 0.1
    assert rho["low"] < 0.5


def test_low_correlation_misleads_at_the_lowest_fidelity() -> None:
    bench = get_benchmark("hartmann3-low")
    configs = bench.space().sample_many(np.random.default_rng(1), 2000)
    best_low = min(configs, key=lambda c: bench.evaluate(c, 1).objective)
    assert bench.evaluate(best_low, Z_MAX).objective > bench.optimum + 2.0  # far from optimal


@pytest.mark.parametrize("function", list(OPTIMA))
def test_prior_qualities_are_ordered(function: str) -> None:
    bench = get_benchmark(f"{function}-high")
    value = {
        q: bench.evaluate(bench.prior_config(q), Z_MAX).objective for q in ("good", "medium", "bad")
    }
    assert value["good"] < value["medium"] < value["bad"]
    span = value["bad"] - bench.optimum
    assert value["good"] - bench.optimum < 0.1 * span  # good is much better than bad
    assert value["medium"] - bench.optimum > 0.2 * (value["good"] - bench.optimum)


def test_invalid_inputs_are_named() -> None:
    bench = get_benchmark("branin-high")
    with pytest.raises(ValueError, match=r"fidelity 0 .*\[1, 27\]"):
        bench.evaluate({"x1": 0.0, "x2": 0.0}, 0)
    with pytest.raises(ValueError, match=r"fidelity 2\.5"):
        bench.evaluate({"x1": 0.0, "x2": 0.0}, 2.5)
    with pytest.raises(ValueError, match="lacks 'x2'"):
        bench.evaluate({"x1": 0.0}, 27)
    with pytest.raises(ValueError, match=r"x1=11.0 is outside"):
        bench.evaluate({"x1": 11.0, "x2": 0.0}, 27)
    with pytest.raises(ValueError, match="seed"):
        bench.evaluate({"x1": 0.0, "x2": 0.0}, 3, seed=-1)
    with pytest.raises(ValueError, match="correlation must be one of"):
        SyntheticBenchmark(function="branin", correlation="none")
