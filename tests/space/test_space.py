"""Space: validation, views, conditions, sampling, priors, unit-cube encoding, configs."""

import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tunewise.space import (
    Categorical,
    Constant,
    Fidelity,
    Float,
    Integer,
    Parameter,
    Space,
    SpaceError,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def mixed_space() -> Space:
    """Priors, a fidelity, a constant and two levels of conditions."""
    return Space(
        lr=Float(1e-5, 1e-1, log=True, prior=3e-4, confidence="high"),
        width=Integer(16, 512, log=True, prior=128),
        optimizer=Categorical(["adamw", "sgd", "rmsprop"], prior="adamw"),
        momentum=Float(0.0, 0.99, when={"optimizer": ["sgd", "rmsprop"]}),
        nesterov=Categorical([True, False], when={"optimizer": "sgd"}),
        dampening=Float(0.0, 0.5, when={"nesterov": False}),
        epochs=Fidelity(1, 27),
        batch_size=Constant(128),
        layers=Integer(1, 4),
    )


# -- validation ----------------------------------------------------------------------------------

INVALID: list[tuple[Callable[[], dict[str, Any]], str]] = [
    (lambda: {"lr": Float(0.1, 0.01)}, r"parameter 'lr': lower \(0.1\) must be < upper \(0.01\)"),
    (lambda: {"lr": Float(0.1, 0.1)}, r"parameter 'lr': lower \(0.1\) must be < upper"),
    (lambda: {"n": Integer(5, 1)}, r"parameter 'n': lower \(5\) must be < upper \(1\)"),
    (lambda: {"lr": Float(0, 1, log=True)}, r"parameter 'lr': log=True needs lower > 0"),
    (lambda: {"n": Integer(-1, 8, log=True)}, r"parameter 'n': log=True needs lower > 0"),
    (lambda: {"lr": Float(0, 1, prior=2.0)}, r"parameter 'lr': prior \(2.0\) must lie within"),
    (lambda: {"n": Integer(0, 9, prior=10)}, r"parameter 'n': prior \(10\) must lie within"),
    (lambda: {"o": Categorical(["a", "b"], prior="c")}, r"parameter 'o': prior 'c' is not among"),
    (lambda: {"o": Categorical([])}, r"parameter 'o': choices must not be empty"),
    (lambda: {"o": Categorical(["a", "a"])}, r"parameter 'o': choices must be distinct; 'a'"),
    (lambda: {"o": Categorical([1, 1.0])}, r"parameter 'o': choices must be distinct"),
    (lambda: {"o": Categorical("ab")}, r"parameter 'o': choices must be a list"),
    (lambda: {"o": Categorical([[1], [2]])}, r"parameter 'o': choices must be str, int"),
    (lambda: {"o": Categorical([1.0, float("nan")])}, r"parameter 'o': choices must be finite"),
    (lambda: {"lr": Float(0, 1, confidence="hi")}, r"parameter 'lr': confidence must be one of"),
    (lambda: {"o": Categorical(["a"], confidence=3)}, r"parameter 'o': confidence must be one"),
    (lambda: {"lr": Float(0, 1, log="yes")}, r"parameter 'lr': log must be True or False"),
    (lambda: {"n": Integer(1.5, 10)}, r"parameter 'n': lower must be an integer, got 1.5"),
    (lambda: {"n": Integer(1, 10.0)}, r"parameter 'n': upper must be an integer, got 10.0"),
    (lambda: {"n": Integer(1, 10, prior=2.5)}, r"parameter 'n': prior must be an integer"),
    (lambda: {"n": Integer(True, 10)}, r"parameter 'n': lower must be an integer, got True"),
    (lambda: {"lr": Float("0.1", 1)}, r"parameter 'lr': lower must be a number, got '0.1'"),
    (lambda: {"lr": Float(0, None)}, r"parameter 'lr': upper must be a number, got None"),
    (lambda: {"lr": Float(0, float("inf"))}, r"parameter 'lr': upper must be a number, got inf"),
    (lambda: {"lr": Float(0, 1, prior="x")}, r"parameter 'lr': prior must be a number"),
    (lambda: {"lr": 0.1}, r"parameter 'lr': expected a Float, Integer, Categorical, Architecture,"),
    (lambda: {"c": Constant([1, 2])}, r"parameter 'c': a constant must be str, int"),
    (lambda: {"c": Constant(float("nan"))}, r"parameter 'c': a constant must be finite"),
    (lambda: {"e": Fidelity(0, 10)}, r"parameter 'e': a fidelity needs lower > 0"),
    (lambda: {"e": Fidelity(10, 10)}, r"parameter 'e': lower \(10\) must be < upper \(10\)"),
    (lambda: {"e": Fidelity("1", 10)}, r"parameter 'e': lower must be a number"),
    (
        lambda: {"e": Fidelity(0.1, 1.0, resumable="no")},
        r"parameter 'e': resumable must be True or False, got 'no'",
    ),
    (
        lambda: {"e": Fidelity(1, 10), "f": Fidelity(1, 5)},
        r"parameter 'f': a space has at most one fidelity, and 'e' is one already",
    ),
    (
        lambda: {"m": Float(0, 1, when={"optimiser": "sgd"})},
        r"parameter 'm': condition on unknown parameter 'optimiser'",
    ),
    (
        lambda: {"x": Float(0, 1), "m": Float(0, 1, when={"x": 0.5})},
        r"parameter 'm': condition on 'x', which is a float; conditions can only name categorical",
    ),
    (
        lambda: {"e": Fidelity(1, 9), "m": Float(0, 1, when={"e": 3})},
        r"parameter 'm': condition on 'e', which is a fidelity",
    ),
    (
        lambda: {"c": Constant("sgd"), "m": Float(0, 1, when={"c": "sgd"})},
        r"parameter 'm': condition on 'c', which is a constant",
    ),
    (
        lambda: {"o": Categorical(["adam", "sgd"]), "m": Float(0, 1, when={"o": ["sgd", "rms"]})},
        r"parameter 'm': condition value 'rms' is not among the choices of 'o'",
    ),
    (
        lambda: {"o": Categorical([1, 2]), "m": Float(0, 1, when={"o": True})},
        r"parameter 'm': condition value True is not among the choices of 'o'",
    ),
    (lambda: {"m": Float(0, 1, when={})}, r"parameter 'm': when must name at least one parent"),
    (lambda: {"m": Float(0, 1, when="sgd")}, r"parameter 'm': when must be a mapping"),
    (
        lambda: {"o": Categorical(["a"]), "m": Float(0, 1, when={"o": []})},
        r"parameter 'm': when: no values given for parent 'o'",
    ),
    (
        lambda: {
            "a": Categorical(["x", "y"], when={"b": "x"}),
            "b": Categorical(["x", "y"], when={"a": "x"}),
        },
        r"parameter 'a': conditions form a cycle: a -> b -> a",
    ),
    (
        lambda: {"a": Categorical(["x", "y"], when={"a": "x"})},
        r"parameter 'a': conditions form a cycle: a -> a",
    ),
]


@pytest.mark.parametrize(("build", "message"), INVALID)
def test_invalid_spaces_raise_naming_the_parameter(
    build: Callable[[], dict[str, Any]], message: str
) -> None:
    with pytest.raises(SpaceError, match=message):
        Space(**build())


def test_empty_parameter_name_is_rejected() -> None:
    with pytest.raises(SpaceError, match="non-empty"):
        Space(**{"": Float(0, 1)})


def test_valid_edge_cases_are_accepted() -> None:
    space = Space(
        one=Categorical(["only"]),
        flags=Categorical([1, True, "1"]),
        p=Float(0, 1, prior=1.0),
        child=Float(0, 1, when={"flags": [True, "1"]}),
    )
    assert len(space) == 4


# -- views ---------------------------------------------------------------------------------------


def test_views() -> None:
    space = mixed_space()
    assert list(space.parameters) == [
        "lr", "width", "optimizer", "momentum", "nesterov", "dampening", "epochs", "batch_size",
        "layers",
    ]  # fmt: skip
    assert space.fidelity_name == "epochs" and space.fidelity == Fidelity(1, 27)
    assert list(space.searchable) == [
        "lr", "width", "optimizer", "momentum", "nesterov", "dampening", "layers",
    ]  # fmt: skip
    assert space.dimension_names == tuple(space.searchable)
    assert space.constants == {"batch_size": 128}
    assert space.has_priors and space.has_conditions
    assert len(space) == 9 and "lr" in space and "foo" not in space
    assert space["width"] == Integer(16, 512, log=True, prior=128)
    assert list(space) == list(space.parameters)


def test_plain_space_has_no_priors_conditions_or_fidelity() -> None:
    space = Space(x=Float(0, 1), c=Constant("a"), o=Categorical(["a", "b"]))
    assert not space.has_priors and not space.has_conditions
    assert space.fidelity is None and space.fidelity_name is None
    assert Space().sample(rng()) == {} and len(Space()) == 0


def test_space_is_immutable() -> None:
    space = mixed_space()
    with pytest.raises(AttributeError, match="immutable"):
        space.foo = 1  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        space.parameters["lr"] = Float(0, 1)  # type: ignore[index]
    space.searchable.pop("lr")
    space.constants.clear()
    assert "lr" in space.searchable and space.constants == {"batch_size": 128}


def test_equality_hash_pickle_and_repr() -> None:
    a, b = mixed_space(), mixed_space()
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a != Space(x=Float(0, 1)) and a != "space"
    assert Space(o=Categorical([0, 1])) != Space(o=Categorical([False, True]))
    assert Space(e=Fidelity(1, 27)) != Space(e=Fidelity(1.0, 27.0))
    assert pickle.loads(pickle.dumps(a)) == a
    text = repr(a)
    assert text.startswith("Space(\n") and "    lr=Float(1e-05, 0.1, log=True" in text
    assert "nesterov=Categorical((True, False), when={'optimizer': ['sgd']})" in text
    assert repr(Space()) == "Space()"


# -- conditions ----------------------------------------------------------------------------------


def test_is_active_follows_nested_conditions() -> None:
    space = mixed_space()
    sgd = {"optimizer": "sgd", "nesterov": False}
    assert space.is_active("momentum", sgd) and space.is_active("dampening", sgd)
    assert space.is_active("lr", {}) and space.is_active("batch_size", {})
    assert not space.is_active("momentum", {"optimizer": "adamw"})
    assert space.is_active("momentum", {"optimizer": "rmsprop"})
    # dampening needs nesterov active, not just nesterov=False in the dict
    assert not space.is_active("dampening", {"optimizer": "rmsprop", "nesterov": False})
    assert not space.is_active("momentum", {})
    assert not space.is_active("momentum", {"optimizer": ["sgd"]})  # unhashable: no match
    with pytest.raises(SpaceError, match="unknown parameter 'foo'"):
        space.is_active("foo", {})


# -- sampling ------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_priors", [False, True])
def test_samples_are_valid_configs(use_priors: bool) -> None:
    space = mixed_space()
    configs = space.sample_many(rng(), 300, use_priors=use_priors)
    for config in configs:
        space.validate_config(config)
        assert "epochs" not in config and config["batch_size"] == 128
        assert type(config["lr"]) is float and type(config["width"]) is int
        assert type(config["layers"]) is int
        assert ("momentum" in config) == (config["optimizer"] != "adamw")
        assert ("nesterov" in config) == (config["optimizer"] == "sgd")
        assert ("dampening" in config) == (config.get("nesterov") is False)
    assert {c["optimizer"] for c in configs} == {"adamw", "sgd", "rmsprop"}
    assert {type(c["nesterov"]) for c in configs if "nesterov" in c} == {bool}
    assert list(configs[0]) == [n for n in space.parameters if n in configs[0]]  # space order


def test_sampling_is_reproducible_and_uses_only_the_given_rng() -> None:
    space = mixed_space()
    np.random.seed(123)
    expected_global = np.random.random()
    np.random.seed(123)
    first = space.sample_many(rng(7), 20)
    assert np.random.random() == expected_global  # global state untouched
    assert space.sample_many(rng(7), 20) == first
    assert space.sample_many(rng(8), 20) != first
    assert space.sample(rng(7), use_priors=True) == space.sample(rng(7), use_priors=True)
    assert space.sample(rng(7)) != space.sample(rng(8))


def test_sample_rejects_anything_but_a_generator() -> None:
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        mixed_space().sample(0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"numpy\.random\.Generator"):
        mixed_space().sample(np.random.RandomState(0))  # type: ignore[arg-type]


def test_prior_sampling_only_changes_dimensions_with_priors() -> None:
    space = Space(a=Float(0, 1, prior=0.9, confidence="high"), b=Float(0, 1))
    configs = space.sample_many(rng(), 2000, use_priors=True)
    a = np.array([c["a"] for c in configs])
    b = np.array([c["b"] for c in configs])
    assert np.mean(np.abs(a - 0.9) < 0.2) > 0.8
    assert abs(np.mean(b < 0.5) - 0.5) < 0.04


# -- priors --------------------------------------------------------------------------------------


def test_prior_config() -> None:
    space = mixed_space()
    assert space.prior_config() == {
        "lr": 3e-4,
        "width": 128,
        "optimizer": "adamw",
        "batch_size": 128,
        "layers": 3,  # middle of [1, 4] rounded half up
    }
    plain = Space(
        lr=Float(1e-4, 1e-2, log=True),
        opt=Categorical(["sgd", "adam"]),
        m=Float(0, 1, when={"opt": "sgd"}),
    )
    assert plain.prior_config() == pytest.approx({"lr": 1e-3, "opt": "sgd", "m": 0.5})


def test_log_prior_sums_active_dimensions() -> None:
    space = mixed_space()
    config = {"lr": 1e-3, "width": 64, "optimizer": "sgd", "momentum": 0.9, "nesterov": True}
    config |= {"batch_size": 128, "layers": 2}
    expected = sum(
        space[name].log_prior(config[name]) for name in ("lr", "width", "optimizer")
    )  # momentum, nesterov and layers have no prior: 0
    assert space.log_prior(config) == pytest.approx(expected)
    assert space.log_prior(space.prior_config()) > space.log_prior(config)
    assert Space(x=Float(0, 1), o=Categorical(["a", "b"])).log_prior({"x": 0.3, "o": "b"}) == 0.0


def test_log_prior_ignores_inactive_and_rejects_missing() -> None:
    space = Space(
        opt=Categorical(["a", "b"]),
        m=Float(0, 1, prior=0.5, when={"opt": "b"}),
    )
    assert space.log_prior({"opt": "a", "m": 0.0}) == 0.0
    assert space.log_prior({"opt": "b", "m": 0.5}) > 0.0
    with pytest.raises(SpaceError, match="parameter 'm': missing"):
        space.log_prior({"opt": "b"})
    with pytest.raises(SpaceError, match="parameter 'opt'"):
        Space(opt=Categorical(["a"], prior="a")).log_prior({"opt": "z"})


def test_log_prior_unit_matches_log_prior_of_encoded_configs() -> None:
    space = mixed_space()
    configs = space.sample_many(rng(), 50)
    u = space.encode_many(configs)
    np.testing.assert_allclose(space.log_prior_unit(u), [space.log_prior(c) for c in configs])
    assert space.log_prior_unit(u[0]) == pytest.approx(space.log_prior(configs[0]))


def test_log_prior_unit_ignores_inactive_dimensions_even_when_filled() -> None:
    space = Space(opt=Categorical(["a", "b"]), m=Float(0, 1, prior=0.5, when={"opt": "b"}))
    assert space.log_prior_unit(np.array([0.25, 0.0])) == 0.0  # opt=a: m inactive
    assert space.log_prior_unit(np.array([0.75, 0.0])) < 0.0


def test_with_priors_centres_the_prior_on_a_config() -> None:
    space = mixed_space()
    incumbent = {"lr": 1e-2, "width": 32, "optimizer": "sgd", "momentum": 0.5, "nesterov": True}
    moved = space.with_priors(incumbent | {"batch_size": 128, "layers": 2}, confidence="low")
    assert moved["lr"] == Float(1e-5, 1e-1, log=True, prior=1e-2, confidence="low")
    assert moved["dampening"].prior is None  # not in the config: unchanged
    assert moved.prior_config()["optimizer"] == "sgd"
    kept = space.with_priors({"lr": 1e-2})
    assert kept["lr"].confidence == "high" and kept["width"] == space["width"]


# -- unit-cube encoding --------------------------------------------------------------------------


def test_encode_values() -> None:
    space = mixed_space()
    config = {"lr": 1e-3, "width": 512, "optimizer": "rmsprop", "momentum": 0.495}
    config |= {"batch_size": 128, "layers": 1}
    u = space.encode(config)
    assert u.shape == (7,) and u.dtype == np.float64
    np.testing.assert_allclose(u[[0, 1, 2, 3, 6]], [0.5, 1.0, 2.5 / 3, 0.5, 0.0])
    assert np.isnan(u[4]) and np.isnan(u[5])  # nesterov, dampening inactive


def test_encode_errors_name_the_parameter() -> None:
    space = mixed_space()
    good = space.prior_config()
    with pytest.raises(SpaceError, match="parameter 'lr': missing"):
        space.encode({k: v for k, v in good.items() if k != "lr"})
    with pytest.raises(SpaceError, match="parameter 'width': expected an integer"):
        space.encode(good | {"width": 3.5})
    with pytest.raises(SpaceError, match="parameter 'optimizer': 'adam' is not among"):
        space.encode(good | {"optimizer": "adam"})


def test_encode_decode_round_trip_with_conditions() -> None:
    space = mixed_space()
    configs = [*space.sample_many(rng(), 200), space.prior_config()]
    u = space.encode_many(configs)
    assert u.shape == (201, 7)
    for config, row in zip(configs, u, strict=True):
        decoded = space.decode(row)
        assert decoded.keys() == config.keys()
        for name, value in config.items():
            if isinstance(value, float):
                assert decoded[name] == pytest.approx(value, rel=1e-12, abs=1e-15)
            else:
                assert decoded[name] == value and type(decoded[name]) is type(value)
        inactive = [j for j, n in enumerate(space.dimension_names) if n not in config]
        assert np.all(np.isnan(row[inactive])) and not np.any(np.isnan(np.delete(row, inactive)))


def test_decode_of_random_unit_vectors_gives_valid_configs() -> None:
    space = mixed_space()
    u = rng(1).uniform(-0.2, 1.2, size=(500, len(space.dimension_names)))  # clipped on decode
    configs = space.decode_many(u)
    for config in configs:
        space.validate_config(config)
    assert {"momentum" in c for c in configs} == {True, False}


def test_decode_drops_inactive_dimensions_and_their_nans() -> None:
    space = mixed_space()
    u = np.array([0.5, 0.5, 0.1, np.nan, 0.3, np.nan, 0.0])
    assert space.decode(u) == {
        "lr": pytest.approx(1e-3),
        "width": 91,
        "optimizer": "adamw",
        "batch_size": 128,
        "layers": 1,
    }
    # nesterov=True (0.3 -> bin 0) leaves dampening inactive although its value is given
    config = space.decode(np.array([0.5, 0.5, 0.5, 0.2, 0.3, 0.4, 1.0]))
    assert config["nesterov"] is True and "dampening" not in config


def test_decode_rejects_bad_shapes_and_nan_on_active_dimensions() -> None:
    space = mixed_space()
    with pytest.raises(SpaceError, match=r"shape \(7,\)"):
        space.decode(np.zeros(6))
    with pytest.raises(SpaceError, match="parameter 'lr': active but its unit value is NaN"):
        space.decode(np.array([np.nan, 0.5, 0.1, 0.5, 0.5, 0.5, 0.5]))


def test_active_mask_agrees_with_decode() -> None:
    space = mixed_space()
    u = rng(2).uniform(size=(300, len(space.dimension_names)))
    mask = space.active_mask(u)
    expected = ~np.isnan(space.encode_many(space.decode_many(u)))
    np.testing.assert_array_equal(mask, expected)
    u[:, 2] = np.nan  # no optimizer: its children are inactive too
    assert not space.active_mask(u)[:, 2:6].any()


# -- validate_config -----------------------------------------------------------------------------


BAD_CONFIGS: list[tuple[dict[str, Any], str]] = [
    ({"foo": 1}, r"unknown parameter 'foo'"),
    ({"lr": 0.5}, r"parameter 'lr': value 0.5 is outside \[1e-05, 0.1\]"),
    ({"lr": "0.001"}, r"parameter 'lr': expected a number, got '0.001'"),
    ({"lr": float("nan")}, r"parameter 'lr': expected a number"),
    ({"width": 64.0}, r"parameter 'width': expected an integer, got 64.0"),
    ({"width": True}, r"parameter 'width': expected an integer, got True"),
    ({"width": 1024}, r"parameter 'width': value 1024 is outside \[16, 512\]"),
    ({"optimizer": "adam"}, r"parameter 'optimizer': 'adam' is not among the choices"),
    ({"batch_size": 64}, r"parameter 'batch_size': must equal the constant 128, got 64"),
    ({"epochs": 30}, r"parameter 'epochs': fidelity 30 is outside \[1, 27\]"),
    ({"epochs": 2.5}, r"parameter 'epochs': expected an integer fidelity"),
    ({"momentum": 0.9}, r"parameter 'momentum': present but inactive \(needs optimizer in"),
    ({"optimizer": "sgd"}, r"parameter 'momentum': missing \(active parameter\)"),
]


@pytest.mark.parametrize(("change", "message"), BAD_CONFIGS)
def test_validate_config_errors_name_the_parameter(change: dict[str, Any], message: str) -> None:
    space = mixed_space()
    config = space.prior_config() | change
    with pytest.raises(SpaceError, match=message):
        space.validate_config(config)


def test_validate_config_missing_entries() -> None:
    space = mixed_space()
    good = space.prior_config()
    for name, kind in (("lr", "active parameter"), ("batch_size", "constant")):
        config = {k: v for k, v in good.items() if k != name}
        with pytest.raises(SpaceError, match=rf"parameter '{name}': missing \({kind}\)"):
            space.validate_config(config)
    with pytest.raises(SpaceError, match="must be a mapping"):
        space.validate_config([("lr", 1e-3)])  # type: ignore[arg-type]


def test_validate_config_accepts_valid_variants() -> None:
    space = mixed_space()
    config = space.prior_config()
    space.validate_config(config)
    space.validate_config(config | {"epochs": 27})  # the fidelity may ride along
    space.validate_config(config | {"width": np.int64(64), "lr": np.float32(1e-3)})
    space.validate_config(config | {"lr": 1e-5})  # bounds are inclusive
    space.validate_config(
        config | {"optimizer": "sgd", "momentum": 0.0, "nesterov": False, "dampening": 0.5}
    )


def test_parameter_base_class_is_not_a_parameter_type() -> None:
    with pytest.raises(SpaceError, match="parameter 'x': expected a Float"):
        Space(x=Parameter())
