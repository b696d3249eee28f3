"""The transfer layer: each method's suggestions, its stored form, and that it helps."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

import tunewise as tw
from tunewise.optimizers import make
from tunewise.runtime.simulation import simulate
from tunewise.transfer import OldStudy, Transfer, prepare
from tunewise.transfer.fixing import fixed_space
from tunewise.trial import History, Trial, TrialStatus

OLD = tw.Space(
    lr=tw.Float(1e-4, 1e-1, log=True),
    w=tw.Float(0.0, 1.0),
    opt=tw.Categorical(["sgd", "adam"]),
    noise=tw.Float(0.0, 1.0),
)
NEW = tw.Space(
    lr=tw.Float(1e-5, 1e-1, log=True),
    w=tw.Float(0.0, 1.0),
    opt=tw.Categorical(["sgd", "adam", "rmsprop"]),
    noise=tw.Float(0.0, 1.0),
    extra=tw.Float(0.0, 1.0),
)


def loss(config: Mapping[str, Any]) -> float:
    """lr and w matter, noise hardly; the new parameter extra a little (optimum 0.5)."""
    value = (np.log10(config["lr"]) + 2.5) ** 2 + 4 * (config["w"] - 0.3) ** 2
    value += 0.0 if config["opt"] == "adam" else 0.5
    value += 0.01 * config["noise"] + 0.2 * (config.get("extra", 0.5) - 0.5) ** 2
    return float(value)


def old_study(n: int = 60, seed: int = 0) -> OldStudy:
    configs = OLD.sample_many(np.random.default_rng(seed), n)
    trials = tuple(
        Trial(number=i, config=c, status=TrialStatus.SUCCEEDED, objective=loss(c))
        for i, c in enumerate(configs)
    )
    return OldStudy(space=OLD, trials=trials, label="v1")


def evaluate(config: dict[str, Any], trial: tw.TrialContext) -> float:
    return loss(config)


def finished(history: History, number: int, config: Mapping[str, Any], **kw: Any) -> History:
    trial = Trial(
        number=number,
        config=dict(config),
        status=TrialStatus.SUCCEEDED,
        objective=loss(config),
        **kw,
    )
    return History(space=history.space, seed=history.seed, trials=[*history.trials, trial])


def test_best_first_evaluates_the_mapped_old_incumbent_first_then_the_base() -> None:
    source = old_study()
    layer, report = prepare("random_search", space=NEW, sources=[source], method="best_first")
    history = History(space=NEW, seed=3)
    first = layer.ask(history, 2)
    best = report.mapped.ranked[0]
    assert first[0].slot == "transfer:best" and first[0].info["sampled_from"] == "transfer_best"
    assert {k: first[0].config[k] for k in best} == best and "extra" in first[0].config
    assert first[1].slot.startswith("sample:")
    history = finished(history, 0, first[0].config, slot="transfer:best")
    assert all(s.slot != "transfer:best" for s in layer.ask(history, 3))
    assert any("first: the old incumbent" in line for line in report.lines())


def test_model_replaces_random_draws_until_the_new_study_has_enough_results() -> None:
    layer, _ = prepare("random_search", space=NEW, sources=[old_study()], method="model")
    assert isinstance(layer, Transfer)
    phase = 2 * (len(NEW.dimension_names) + 1)
    history = History(space=NEW, seed=0)
    sources = []
    for number in range(phase + 10):
        (suggestion,) = layer.ask(history, 1)
        sources.append(suggestion.info["sampled_from"])
        history = finished(history, number, suggestion.config, slot=suggestion.slot)
    early, late = sources[:phase], sources[phase:]
    assert early.count("transfer_model") >= phase // 2  # a third stays uniform on average
    assert set(late) == {"random"}  # the base optimizer's own draws from then on


def test_model_samples_concentrate_where_the_old_study_was_good() -> None:
    layer, _ = prepare(
        "random_search", space=NEW, sources=[old_study(200)], method="model", random_fraction=0.0
    )
    history = History(space=NEW, seed=1)
    suggestions = layer.ask(history, 12)
    lrs = np.log10([s.config["lr"] for s in suggestions])
    uniform = np.log10([c["lr"] for c in NEW.sample_many(np.random.default_rng(0), 12)])
    assert np.median(np.abs(lrs + 2.5)) < 0.5 * np.median(np.abs(uniform + 2.5))
    assert len({s.config["lr"] for s in suggestions}) == 12
    for s in suggestions:
        NEW.validate_config(s.config)


def test_only_new_fixes_the_shared_parameters_at_the_old_incumbent() -> None:
    layer, report = prepare("random_search", space=NEW, sources=[old_study()], method="only_new")
    best = report.mapped.ranked[0]
    assert report.fixed == {k: best[k] for k in ("lr", "w", "opt", "noise")}
    for suggestion in layer.ask(History(space=NEW, seed=0), 5):
        NEW.validate_config(suggestion.config)
        assert {k: suggestion.config[k] for k in report.fixed} == report.fixed
    with pytest.raises(ValueError, match="adds no parameter"):
        prepare("random_search", space=OLD, sources=[old_study()], method="only_new")


def test_drop_unimportant_fixes_what_mattered_little_in_the_old_study() -> None:
    _, report = prepare(
        "random_search", space=NEW, sources=[old_study(120)], method="drop_unimportant"
    )
    assert "noise" in report.fixed and "lr" not in report.fixed
    assert report.importance["lr"] > report.importance["noise"]
    too_few = old_study(5)
    with pytest.raises(ValueError, match="importance needs at least 10"):
        prepare("random_search", space=NEW, sources=[too_few], method="drop_unimportant")


def test_the_layer_is_stored_as_a_spec_and_rebuilt_the_same() -> None:
    layer, _ = prepare("bayesian_optimization", space=NEW, sources=[old_study()], method="model")
    spec = layer.spec()
    assert spec["name"] == "transfer" and spec["base"]["name"] == "bayesian_optimization"
    rebuilt = make(spec)
    assert rebuilt == layer
    history = History(space=NEW, seed=5)
    assert rebuilt.ask(history, 2) == layer.ask(history, 2)


def test_bad_methods_and_options_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="transfer must be one of best_first, model"):
        prepare("random_search", space=NEW, sources=[old_study()], method="warm")
    with pytest.raises(ValueError, match="cannot search architecture"):
        grammar_space = tw.Space(
            arch=tw.Architecture(
                tw.Grammar(
                    {"C": ["Cell E"], "E": ["a", "b"]},
                    "C",
                    topologies={"Cell": 1},
                    primitives=["a", "b"],
                )
            )
        )
        prepare("bohb", space=grammar_space, sources=[old_study()], method="model")


def test_fixed_space_decides_conditions_on_fixed_parents() -> None:
    space = tw.Space(
        opt=tw.Categorical(["sgd", "adam"]),
        momentum=tw.Float(0.0, 0.9, when={"opt": "sgd"}),
        kind=tw.Categorical(["heavy", "nesterov"], when={"opt": "sgd"}),
        dampening=tw.Float(0.0, 0.5, when={"kind": "heavy"}),
        beta=tw.Float(0.5, 0.99, when={"opt": "adam"}),
        sched=tw.Categorical(["cos", "step"]),
        gamma=tw.Float(0.1, 0.9, when={"sched": "step"}),
    )
    fixed = fixed_space(space, {"opt": "adam", "gamma": 0.5})
    assert set(fixed) == {"opt", "beta", "sched", "gamma"}
    assert fixed["opt"] == tw.Constant("adam") and fixed["beta"].when is None
    assert fixed["gamma"] == tw.Categorical([0.5], when={"sched": ["step"]})
    config = fixed.sample(np.random.default_rng(0))
    space.validate_config(config)


def shifted(config: Mapping[str, Any]) -> float:
    """The new task: the old optimum moved a little (lr 10^-2.3, w 0.35)."""
    moved = dict(config, lr=config["lr"] * 10**0.2, w=config["w"] - 0.05)
    return loss(moved)


@pytest.mark.parametrize("base", ["random_search", "bayesian_optimization"])
def test_every_method_reaches_a_good_loss_sooner_than_the_base_alone(base: str) -> None:
    """Old study on ``loss``; the new study on a shifted version, with an extra parameter: the
    best of the first 8 evaluations (median of 3 seeds) is lower with every method."""
    reached: dict[str, float] = {}
    source = old_study(80)
    methods = (None, "best_first", "model", "best_first+model", "only_new", "drop_unimportant")
    for method in methods:
        optimizer = (
            make(base)
            if method is None
            else prepare(base, space=NEW, sources=[source], method=method)[0]
        )
        bests = []
        for seed in range(3):
            events = simulate(
                lambda c, t: shifted(c), NEW, optimizer=optimizer, seed=seed, fidelity_units=8
            )
            bests.append(min(e.objective for e in events if e.objective is not None))
        reached[str(method)] = float(np.median(bests))
    for method, value in reached.items():
        if method != "None":
            assert value < 0.5 * reached["None"], reached


def test_works_over_a_bracket_optimizer_with_a_fidelity() -> None:
    old = replace_space(OLD, epochs=tw.Fidelity(1, 9))
    new = replace_space(NEW, epochs=tw.Fidelity(1, 9))
    source = old_study()
    source = OldStudy(
        space=old,
        trials=tuple(replace(t, fidelity=9) for t in source.trials),
        label="v1",
    )
    layer, _ = prepare("hyperband", space=new, sources=[source], method="best_first+model")
    events = simulate(lambda c, t: loss(c), new, optimizer=layer, seed=0, fidelity_units=5)
    assert events[0].fidelity == 9 and events[0].number == 0  # the old incumbent, at full fidelity
    plain = simulate(
        lambda c, t: loss(c), new, optimizer=make("hyperband"), seed=0, fidelity_units=5
    )
    low = [e for e in events if e.fidelity == 1]
    plain_low = [e for e in plain if e.fidelity == 1]
    assert np.median([e.objective for e in low]) < np.median([e.objective for e in plain_low])


def replace_space(space: tw.Space, **extra: tw.Parameter) -> tw.Space:
    return tw.Space(**{**space.parameters, **extra})
