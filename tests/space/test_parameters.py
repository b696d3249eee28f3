"""Per-parameter behaviour: unit maps, grids, sampling, prior densities, Fidelity, Condition."""

import math

import numpy as np
import pytest
from scipy import stats

from tunewise.space import (
    Categorical,
    Condition,
    Constant,
    Fidelity,
    Float,
    Integer,
    Parameter,
    SpaceError,
)

N = 4000


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- construction and normalization ------------------------------------------------------------


def test_space_error_is_a_value_error() -> None:
    assert issubclass(SpaceError, ValueError)


def test_all_types_are_parameters() -> None:
    params = [Float(0, 1), Integer(0, 1), Categorical(["a"]), Constant(1), Fidelity(1, 2)]
    assert all(isinstance(p, Parameter) for p in params)


def test_numbers_are_normalized_to_python_types() -> None:
    f = Float(np.int64(1), 10, prior=np.float32(2.0))
    assert f == Float(1.0, 10.0, prior=2.0)
    assert type(f.lower) is float and type(f.upper) is float and type(f.prior) is float
    i = Integer(np.int64(1), np.int32(8), prior=np.int64(3))
    assert (type(i.lower), type(i.upper), type(i.prior)) == (int, int, int)
    assert Categorical(np.array(["a", "b"]).tolist()).choices == ("a", "b")
    assert Categorical([np.int64(1), 2]).choices == (1, 2)


def test_parameters_are_frozen_and_hashable() -> None:
    f = Float(0, 1, when={"opt": "sgd"})
    with pytest.raises(AttributeError):
        f.lower = 2.0  # type: ignore[misc]
    assert hash(f) == hash(Float(0.0, 1.0, when={"opt": ["sgd"]}))
    assert len({Categorical(["a", "b"]), Categorical(("a", "b")), Categorical(["b", "a"])}) == 2


def test_condition_normalizes_single_values_and_is_hashable() -> None:
    c = Condition({"opt": "sgd", "act": ["relu", "gelu"]})
    assert dict(c) == {"opt": ("sgd",), "act": ("relu", "gelu")}
    assert c == Condition({"act": ("relu", "gelu"), "opt": ["sgd"]})
    assert hash(c) == hash(Condition({"act": ("relu", "gelu"), "opt": ["sgd"]}))
    assert c.to_dict() == {"opt": ["sgd"], "act": ["relu", "gelu"]}
    assert Float(0, 1, when={"opt": "sgd"}).when == {"opt": ("sgd",)}


def test_repr_shows_only_what_differs_from_defaults() -> None:
    assert repr(Float(1e-5, 0.1, log=True)) == "Float(1e-05, 0.1, log=True)"
    assert repr(Integer(1, 8, prior=2, confidence="high")) == (
        "Integer(1, 8, prior=2, confidence='high')"
    )
    assert repr(Categorical(["a"], when={"x": "y"})) == "Categorical(('a',), when={'x': ['y']})"
    assert repr(Fidelity(1, 27)) == "Fidelity(1, 27)"
    assert repr(Constant("relu")) == "Constant('relu')"


# -- unit maps -----------------------------------------------------------------------------------


def test_float_unit_map_linear_and_log() -> None:
    lin = Float(2.0, 6.0)
    assert lin.to_unit(3.0) == pytest.approx(0.25)
    assert lin.from_unit(0.25) == pytest.approx(3.0)
    log = Float(1e-4, 1.0, log=True)
    assert log.to_unit(1e-2) == pytest.approx(0.5)
    assert log.from_unit(0.75) == pytest.approx(1e-1)
    assert log.from_unit(1.0) == 1.0 and log.from_unit(0.0) == 1e-4  # exact ends
    assert log.from_unit(1.7) == 1.0 and log.from_unit(-3.0) == 1e-4  # clipped
    assert isinstance(log.from_unit(0.5), float)


def test_integer_unit_map_rounds_and_clips() -> None:
    p = Integer(0, 10)
    assert p.to_unit(5) == pytest.approx(0.5)
    assert p.from_unit(0.44) == 4 and p.from_unit(0.46) == 5
    assert p.from_unit(2.0) == 10 and p.from_unit(-1.0) == 0
    assert isinstance(p.from_unit(0.3), int)
    log = Integer(1, 1024, log=True)
    assert log.from_unit(0.5) == 32
    assert log.to_unit(32) == pytest.approx(0.5)


def test_categorical_unit_map_uses_bin_centres() -> None:
    p = Categorical(["a", "b", "c", "d"])
    assert [p.to_unit(c) for c in p.choices] == [0.125, 0.375, 0.625, 0.875]
    assert [p.from_unit(u) for u in (0.0, 0.2499, 0.25, 0.99, 1.0, 1.5)] == list("aabddd")
    with pytest.raises(SpaceError, match="'z' is not among the choices"):
        p.to_unit("z")


def test_categorical_tells_bool_from_int() -> None:
    p = Categorical([1, True, 2.5])
    assert p.index(True) == 1 and p.index(1) == 0 and p.index(1.0) == 0
    assert p.index(np.int64(1)) == 0
    with pytest.raises(SpaceError):
        p.index(False)


# -- grids ---------------------------------------------------------------------------------------


def test_float_grid_is_evenly_spaced_in_unit_space() -> None:
    assert Float(0, 1).grid(5) == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
    assert Float(1e-4, 1, log=True).grid(5) == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert Float(0, 10).grid(1) == [5.0]


def test_integer_grid_gives_distinct_rounded_values() -> None:
    assert Integer(1, 4).grid(10) == [1, 2, 3, 4]
    assert Integer(0, 100).grid(5) == [0, 25, 50, 75, 100]
    assert Integer(1, 1000, log=True).grid(4) == [1, 10, 100, 1000]
    assert all(isinstance(v, int) for v in Integer(1, 1000, log=True).grid(4))


def test_categorical_grid_is_all_choices() -> None:
    assert Categorical(["a", "b", "c"]).grid(1) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="grid size"):
        Float(0, 1).grid(0)


# -- uniform sampling ----------------------------------------------------------------------------


def test_uniform_float_stays_in_bounds_and_covers_the_range() -> None:
    values = np.array(Float(2.0, 3.0).sample(rng(), N))
    assert values.min() >= 2.0 and values.max() <= 3.0
    assert values.min() < 2.01 and values.max() > 2.99
    assert abs(np.mean(values < 2.5) - 0.5) < 0.03


def test_uniform_log_float_is_log_uniform() -> None:
    values = np.array(Float(1e-5, 1e-1, log=True).sample(rng(), N))
    assert values.min() >= 1e-5 and values.max() <= 1e-1
    assert abs(np.mean(values < 1e-3) - 0.5) < 0.03  # geometric mean
    assert abs(np.mean(values < 1e-4) - 0.25) < 0.03


def test_uniform_integer_gives_each_value_equal_probability() -> None:
    values = Integer(1, 4).sample(rng(), N)
    assert all(type(v) is int for v in values)
    freq = np.bincount(values, minlength=5)[1:] / N
    np.testing.assert_allclose(freq, 0.25, atol=0.03)  # the ends are not halved


def test_uniform_log_integer_follows_the_log_width_of_each_value() -> None:
    values = np.array(Integer(1, 8, log=True).sample(rng(), N))
    assert values.min() == 1 and values.max() == 8
    total = math.log(8.5 / 0.5)
    assert abs(np.mean(values == 1) - math.log(1.5 / 0.5) / total) < 0.03
    assert abs(np.mean(values == 8) - math.log(8.5 / 7.5) / total) < 0.02


def test_uniform_categorical() -> None:
    values = Categorical(["a", "b", "c"]).sample(rng(), N)
    for choice in "abc":
        assert abs(values.count(choice) / N - 1 / 3) < 0.03


def test_use_prior_without_a_prior_is_uniform() -> None:
    p = Float(0, 1)
    assert p.sample(rng(3), 10, use_prior=True) == p.sample(rng(3), 10)


# -- prior sampling ------------------------------------------------------------------------------


def _expected_sd(centre: float, sd: float) -> float:
    return stats.truncnorm((0 - centre) / sd, (1 - centre) / sd, loc=centre, scale=sd).std()


@pytest.mark.parametrize(("confidence", "sd"), [("low", 0.5), ("medium", 0.25), ("high", 0.125)])
def test_prior_sample_sd_matches_the_truncated_normal(confidence: str, sd: float) -> None:
    p = Float(1e-5, 1e-1, log=True, prior=3e-4, confidence=confidence)
    u = np.array([p.to_unit(v) for v in p.sample(rng(), N, use_prior=True)])
    centre = p.to_unit(3e-4)
    assert u.min() >= 0.0 and u.max() <= 1.0
    assert u.std() == pytest.approx(_expected_sd(centre, sd), rel=0.06)


def test_prior_samples_concentrate_near_the_prior_tighter_with_confidence() -> None:
    spreads = []
    for confidence in ("low", "medium", "high"):
        values = np.array(
            Float(0, 10, prior=7, confidence=confidence).sample(rng(), N, use_prior=True)
        )
        spreads.append(np.mean(np.abs(values - 7)))
    assert spreads[0] > spreads[1] > spreads[2]
    assert abs(np.median(values) - 7) < 0.2  # high confidence: centred on the prior
    assert np.mean(np.abs(values - 7) < 10 * 0.125) > 0.6  # within one sd of the prior


def test_integer_prior_samples_are_ints_near_the_prior() -> None:
    p = Integer(16, 512, log=True, prior=128, confidence="high")
    values = np.array(p.sample(rng(), N, use_prior=True))
    assert values.dtype.kind == "i" and values.min() >= 16 and values.max() <= 512
    assert np.mean(np.abs(np.log2(values) - 7)) < 1.0


@pytest.mark.parametrize(("confidence", "weight"), [("low", 2), ("medium", 4), ("high", 6)])
def test_categorical_prior_mass(confidence: str, weight: int) -> None:
    p = Categorical(["a", "b", "c", "d"], prior="c", confidence=confidence)
    values = p.sample(rng(), N, use_prior=True)
    assert values.count("c") / N == pytest.approx(weight / (weight + 3), abs=0.03)
    np.testing.assert_allclose(p.probabilities[2], weight / (weight + 3))


# -- prior densities -----------------------------------------------------------------------------


def test_log_prior_is_zero_without_a_prior() -> None:
    assert Float(0, 1).log_prior(0.3) == 0.0
    assert Integer(0, 9).log_prior(3) == 0.0
    assert Categorical(["a", "b"]).log_prior("b") == 0.0


def test_log_prior_is_higher_at_the_prior_than_far_away() -> None:
    p = Float(1e-5, 1e-1, log=True, prior=3e-4)
    assert p.log_prior(3e-4) > p.log_prior(1e-2) > p.log_prior(1e-1)
    q = Categorical(["a", "b", "c"], prior="b")
    assert q.log_prior("b") > q.log_prior("a") == q.log_prior("c")


def test_log_prior_matches_scipy_truncnorm_in_unit_space() -> None:
    p = Float(1e-4, 1.0, log=True, prior=1e-2, confidence="high")
    oracle = stats.truncnorm(-0.5 / 0.125, 0.5 / 0.125, loc=0.5, scale=0.125)
    assert p.log_prior(1e-3) == pytest.approx(oracle.logpdf(0.25))


@pytest.mark.parametrize("confidence", ["low", "medium", "high"])
def test_float_prior_density_integrates_to_one(confidence: str) -> None:
    p = Float(-3.0, 5.0, prior=4.0, confidence=confidence)
    x = np.linspace(-3.0, 5.0, 4001)
    density = np.exp([p.log_prior(v) for v in x]) / (5.0 - -3.0)  # per unit of x
    assert np.trapezoid(density, x) == pytest.approx(1.0, abs=1e-3)
    u = np.linspace(0.0, 1.0, 4001)
    assert np.trapezoid(np.exp(p.log_prior_unit(u)), u) == pytest.approx(1.0, abs=1e-3)


def test_categorical_log_prior_is_a_density_on_the_unit_interval() -> None:
    p = Categorical(["a", "b", "c"], prior="a", confidence="high")
    assert p.log_prior("a") == pytest.approx(math.log(3 * 6 / 8))
    # each choice owns a bin of width 1/3: the density integrates to one
    assert sum(math.exp(p.log_prior(c)) / 3 for c in p.choices) == pytest.approx(1.0)
    u = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(p.log_prior_unit(u), [p.log_prior(c) for c in "abc"])


def test_default_is_prior_or_middle() -> None:
    assert Float(1e-4, 1, log=True).default == pytest.approx(1e-2)
    assert Float(1e-4, 1, log=True, prior=0.5).default == 0.5
    assert Integer(1, 4).default == 3  # 2.5 rounds half up
    assert Categorical(["x", "y"]).default == "x"
    assert Categorical(["x", "y"], prior="y").default == "y"


# -- contains, Constant, Fidelity ----------------------------------------------------------------


def test_contains_checks_type_and_bounds() -> None:
    assert Float(0, 1).contains(1) and Float(0, 1).contains(np.float32(0.5))
    assert not Float(0, 1).contains(1.5) and not Float(0, 1).contains("0.5")
    assert not Float(0, 1).contains(True) and not Float(0, 1).contains(math.nan)
    assert Integer(0, 5).contains(np.int64(3)) and not Integer(0, 5).contains(3.0)
    assert not Integer(0, 5).contains(False)
    assert Categorical(["a", 1]).contains(1.0) and not Categorical(["a", 1]).contains(True)
    assert Constant(3).contains(3) and not Constant(3).contains(4)
    assert not Constant(True).contains(1)


def test_fidelity_integer_or_float() -> None:
    assert Fidelity(1, 27).is_integer
    assert Fidelity(np.int64(1), np.int64(27)).is_integer
    f = Fidelity(1, 27.0)
    assert not f.is_integer and f.lower == 1.0 and type(f.lower) is float
    assert not Fidelity(0.1, 1.0).is_integer


def test_fidelity_clip_and_contains() -> None:
    f = Fidelity(1, 27)
    assert f.clip(0) == 1 and f.clip(100) == 27 and f.clip(3.4) == 3
    assert type(f.clip(3.6)) is int and f.clip(3.6) == 4
    assert f.contains(3) and f.contains(3.0) and not f.contains(3.5)
    assert not f.contains(0) and not f.contains(28) and not f.contains("3")
    g = Fidelity(0.1, 1.0)
    assert g.clip(2) == 1.0 and g.clip(0.35) == 0.35 and g.contains(0.35)
    assert not g.contains(0.05)


def test_fidelity_units_count_a_continuation_by_what_it_adds_unless_not_resumable() -> None:
    epochs = Fidelity(1, 27)
    assert epochs.resumable
    assert epochs.units(27) == 1.0 and epochs.units(9) == pytest.approx(1 / 3)
    assert epochs.units(9, previous=3) == pytest.approx(6 / 27)  # resumes: the 6 epochs added
    assert epochs.units(3, previous=9) == 0.0  # never below 0
    subset = Fidelity(0.05, 1.0, log=True, resumable=False)
    assert subset.units(1.0, previous=1 / 3) == 1.0  # retrained on all the data: a whole run
    assert subset.units(1 / 3, previous=1 / 9) == pytest.approx(1 / 3)
    assert subset.units(0.5) == pytest.approx(Fidelity(0.05, 1.0).units(0.5))
    assert repr(subset) == "Fidelity(0.05, 1.0, log=True, resumable=False)"
    assert subset != Fidelity(0.05, 1.0, log=True)


def test_fidelity_unit_map() -> None:
    f = Fidelity(1, 81, log=True)
    assert f.to_unit(9) == pytest.approx(0.5)
    assert f.from_unit(0.5) == 9 and f.from_unit(1.0) == 81
    assert Fidelity(0.5, 1.5).from_unit(0.5) == pytest.approx(1.0)
