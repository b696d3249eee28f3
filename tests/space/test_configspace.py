"""Space <-> ConfigSpace: real ConfigurationSpaces, sampled on both sides."""

from __future__ import annotations

import math

import ConfigSpace as CS  # the test extra installs it
import numpy as np
import pytest

import tunewise as tw
from tunewise.space.configspace import FIDELITY_KEY

SPACE = tw.Space(
    lr=tw.Float(1e-5, 1e-1, log=True, prior=3e-4, confidence="high"),
    dropout=tw.Float(0.0, 0.5, prior=0.1, confidence="low"),
    plain=tw.Float(-1.0, 1.0),
    width=tw.Integer(16, 512, log=True, prior=128),
    layers=tw.Integer(1, 8, prior=3, confidence="high"),
    batch=tw.Integer(8, 64),
    optimizer=tw.Categorical(["adamw", "sgd", "rmsprop"], prior="adamw", confidence="medium"),
    momentum=tw.Float(0.0, 0.99, when={"optimizer": ["sgd", "rmsprop"]}),
    nesterov=tw.Categorical([True, False], when={"optimizer": "sgd"}),
    activation=tw.Categorical(["relu", "gelu"]),
    seed=tw.Constant(7),
    epochs=tw.Fidelity(1, 27),
)


def test_a_round_trip_keeps_every_parameter_prior_and_condition() -> None:
    back = tw.Space.from_configspace(SPACE.to_configspace())
    assert back == SPACE
    assert back.diff(SPACE) == []
    for name in ("lr", "dropout", "width", "layers", "optimizer"):
        assert back[name].prior == SPACE[name].prior  # type: ignore[attr-defined]
        assert back[name].confidence == SPACE[name].confidence  # type: ignore[attr-defined]


def test_a_round_trip_keeps_a_fidelity_that_is_not_resumable() -> None:
    subset = tw.Space(x=tw.Float(0.0, 1.0), fraction=tw.Fidelity(0.05, 1.0, resumable=False))
    assert tw.Space.from_configspace(subset.to_configspace()) == subset
    cs = SPACE.to_configspace()
    del cs.meta[FIDELITY_KEY]["resumable"]  # metadata written before the field existed
    assert tw.Space.from_configspace(cs)["epochs"].resumable


def test_the_converted_kinds_and_distributions() -> None:
    cs = SPACE.to_configspace()
    assert isinstance(cs["plain"], CS.UniformFloatHyperparameter)
    assert isinstance(cs["batch"], CS.UniformIntegerHyperparameter)
    # a linear prior is ConfigSpace's normal with the same unit-space width
    dropout = cs["dropout"]
    assert isinstance(dropout, CS.NormalFloatHyperparameter)
    assert (dropout.mu, dropout.sigma) == (0.1, pytest.approx(0.5 * 0.5))
    layers = cs["layers"]
    assert isinstance(layers, CS.NormalIntegerHyperparameter)
    assert (layers.mu, layers.sigma, layers.default_value) == (3, pytest.approx(0.125 * 7), 3)
    # a log-scale prior is a log-uniform with the prior as default
    lr = cs["lr"]
    assert isinstance(lr, CS.UniformFloatHyperparameter) and lr.log
    assert lr.default_value == pytest.approx(3e-4)
    optimizer = cs["optimizer"]
    assert optimizer.default_value == "adamw"
    assert list(optimizer.weights) == [4.0, 1.0, 1.0]
    assert isinstance(cs["seed"], CS.Constant) and cs["seed"].value == 7
    assert "epochs" not in cs and cs.meta[FIDELITY_KEY]["upper"] == 27
    conditions = {str(c.child.name): c for c in cs.conditions}
    assert isinstance(conditions["momentum"], CS.InCondition)
    assert isinstance(conditions["nesterov"], CS.EqualsCondition)


def test_a_normal_prior_has_the_same_density_on_both_sides() -> None:
    dropout = SPACE["dropout"]
    hp = SPACE.to_configspace()["dropout"]
    values = np.array([0.0, 0.05, 0.1, 0.3, 0.5])
    ours = np.array([math.exp(dropout.log_prior(v)) for v in values])  # type: ignore[attr-defined]
    theirs = hp.pdf_values(values)  # both densities are over the unit interval
    assert theirs == pytest.approx(ours, rel=1e-6)


def test_configspace_samples_are_valid_tunewise_configs() -> None:
    cs = SPACE.to_configspace(seed=1)
    seen = set()
    for configuration in cs.sample_configuration(200):
        config = dict(configuration)
        SPACE.validate_config(config)
        seen.add(config["optimizer"])
    assert seen == {"adamw", "sgd", "rmsprop"}


def test_tunewise_samples_are_valid_configspace_configurations() -> None:
    cs = SPACE.to_configspace()
    rng = np.random.default_rng(0)
    for use_priors in (False, True):
        for _ in range(100):
            config = SPACE.sample(rng, use_priors=use_priors)
            CS.Configuration(cs, values=config).check_valid_configuration()


def test_a_space_written_in_configspace_converts() -> None:
    cs = CS.ConfigurationSpace(seed=0)
    kernel = CS.CategoricalHyperparameter("kernel", ["rbf", "poly", "linear"], default_value="rbf")
    degree = CS.UniformIntegerHyperparameter("degree", 2, 5)
    gamma = CS.UniformFloatHyperparameter("gamma", 1e-4, 1.0, log=True, default_value=0.01)
    c = CS.NormalFloatHyperparameter("C", mu=5.0, sigma=2.5, lower=0.0, upper=10.0)
    shrink = CS.BetaFloatHyperparameter("shrink", alpha=10.0, beta=10.0, lower=0.0, upper=1.0)
    level = CS.OrdinalHyperparameter("level", ["low", "mid", "high"], default_value="mid")
    # ConfigSpace scales a log-scale sigma to |log(lower + sigma)| / log-range: 0.25 here
    lr = CS.NormalFloatHyperparameter(
        "lr", mu=1e-3, sigma=10 - 1e-5, lower=1e-5, upper=0.1, log=True
    )
    cs.add([kernel, degree, gamma, c, shrink, level, lr])
    cs.add(
        [
            CS.EqualsCondition(degree, kernel, "poly"),
            CS.InCondition(gamma, kernel, ["rbf", "poly"]),
        ]
    )
    space = tw.Space.from_configspace(cs)
    assert space["kernel"] == tw.Categorical(["rbf", "poly", "linear"])
    assert space["degree"] == tw.Integer(2, 5, when={"kernel": "poly"})
    assert space["gamma"] == tw.Float(1e-4, 1.0, log=True, when={"kernel": ["rbf", "poly"]})
    assert space["C"] == tw.Float(0.0, 10.0, prior=5.0, confidence="medium")  # sigma/range=0.25
    shrink_prior = space["shrink"]
    assert shrink_prior.prior == pytest.approx(0.5)  # type: ignore[attr-defined]
    assert shrink_prior.confidence == "high"  # type: ignore[attr-defined]  # beta(10, 10): sd 0.11
    assert space["level"] == tw.Categorical(["low", "mid", "high"])
    assert space["lr"] == tw.Float(1e-5, 0.1, log=True, prior=1e-3, confidence="medium")
    with_defaults = tw.Space.from_configspace(cs, defaults_as_priors=True)
    assert with_defaults["kernel"].prior == "rbf"  # type: ignore[attr-defined]
    assert with_defaults["gamma"].prior == pytest.approx(0.01)  # type: ignore[attr-defined]
    rng = np.random.default_rng(0)
    for _ in range(50):
        config = space.sample(rng, use_priors=True)
        CS.Configuration(cs, values=config).check_valid_configuration()


def test_categorical_weights_become_a_prior_where_they_correspond() -> None:
    cs = CS.ConfigurationSpace()
    cs.add(CS.CategoricalHyperparameter("act", ["relu", "tanh", "gelu"], weights=[1, 6, 1]))
    assert tw.Space.from_configspace(cs)["act"] == tw.Categorical(
        ["relu", "tanh", "gelu"], prior="tanh", confidence="high"
    )
    odd = CS.ConfigurationSpace()
    odd.add(CS.CategoricalHyperparameter("act", ["relu", "tanh", "gelu"], weights=[1, 2, 3]))
    with pytest.raises(tw.SpaceError, match="hyperparameter 'act': weights"):
        tw.Space.from_configspace(odd)


def test_what_has_no_counterpart_is_a_clear_error() -> None:
    cs = CS.ConfigurationSpace()
    a = CS.CategoricalHyperparameter("a", ["x", "y"])
    b = CS.UniformFloatHyperparameter("b", 0.0, 1.0)
    cs.add([a, b])
    cs.add(CS.ForbiddenEqualsClause(a, "y"))
    with pytest.raises(tw.SpaceError, match="hyperparameter\\(s\\) 'a': forbidden clause"):
        tw.Space.from_configspace(cs)

    cs = CS.ConfigurationSpace()
    a = CS.CategoricalHyperparameter("a", ["x", "y", "z"])
    b = CS.UniformFloatHyperparameter("b", 0.0, 1.0)
    cs.add([a, b])
    cs.add(CS.NotEqualsCondition(b, a, "x"))
    with pytest.raises(tw.SpaceError, match="hyperparameter 'b': condition"):
        tw.Space.from_configspace(cs)

    cs = CS.ConfigurationSpace()
    a = CS.UniformFloatHyperparameter("a", 0.0, 1.0)
    b = CS.UniformFloatHyperparameter("b", 0.0, 1.0)
    cs.add([a, b])
    cs.add(CS.GreaterThanCondition(b, a, 0.5))
    with pytest.raises(tw.SpaceError, match="hyperparameter 'b'"):
        tw.Space.from_configspace(cs)

    grammar = tw.Grammar(
        {"S": ["Pair A A"], "A": ["x", "y"]}, "S", topologies={"Pair": 2}, primitives=["x", "y"]
    )
    with pytest.raises(tw.SpaceError, match="parameter 'arch': an architecture"):
        tw.Space(arch=tw.Architecture(grammar)).to_configspace()

    with pytest.raises(TypeError, match="ConfigurationSpace"):
        tw.Space.from_configspace({"a": (0, 1)})  # type: ignore[arg-type]


def test_a_space_without_a_fidelity_stays_without_one() -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0))
    cs = space.to_configspace()
    assert FIDELITY_KEY not in cs.meta
    assert tw.Space.from_configspace(cs) == space


def test_a_missing_configspace_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "ConfigSpace", None)
    with pytest.raises(ImportError, match=r"pip install 'tunewise\[configspace\]'"):
        SPACE.to_configspace()


def test_the_docs_example_runs() -> None:
    from pathlib import Path

    docs = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
    section = docs.read_text().split("## ConfigSpace", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, str(docs), "exec"), {})
