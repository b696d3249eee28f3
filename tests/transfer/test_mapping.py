"""Mapping old trials onto a changed space: every case of HT-AA's intersection and projection."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pytest

import tunewise as tw
from tunewise.transfer import OldStudy, map_trials
from tunewise.trial import Trial, TrialStatus


def old_study(
    space: tw.Space,
    configs: Sequence[Mapping[str, Any]],
    objective: Callable[[Mapping[str, Any]], float],
    *,
    label: str = "old",
    fidelity: float | int | None = None,
) -> OldStudy:
    trials = tuple(
        Trial(
            number=i,
            config=dict(c),
            status=TrialStatus.SUCCEEDED,
            objective=objective(c),
            fidelity=fidelity,
        )
        for i, c in enumerate(configs)
    )
    return OldStudy(space=space, trials=trials, label=label)


def sampled(space: tw.Space, n: int, objective: Callable[[Mapping[str, Any]], float]) -> OldStudy:
    return old_study(space, space.sample_many(np.random.default_rng(0), n), objective)


def lr_loss(config: Mapping[str, Any]) -> float:
    return float(abs(np.log10(config["lr"]) + 2.0))


def test_a_narrowed_range_discards_old_values_outside_it_and_keeps_the_ranking() -> None:
    old = tw.Space(lr=tw.Float(1e-5, 1.0, log=True))
    new = tw.Space(lr=tw.Float(1e-3, 1e-1, log=True))
    source = sampled(old, 60, lr_loss)
    mapped = map_trials(new, [source])
    inside = sorted(
        (lr_loss(t.config), t.config["lr"]) for t in source.trials if 1e-3 <= t.config["lr"] <= 1e-1
    )
    assert [c["lr"] for c in mapped.ranked] == [lr for _, lr in inside]
    assert list(mapped.objectives) == sorted(mapped.objectives)
    assert sum(mapped.discarded.values()) == 60 - len(inside) > 0
    assert "lr outside the shared range [0.001, 0.1]" in " ".join(mapped.discarded)
    assert mapped.shared["lr"] == tw.Float(1e-3, 1e-1, log=True)


def test_a_widened_range_keeps_every_old_value_and_shares_the_old_range() -> None:
    old = tw.Space(lr=tw.Float(1e-3, 1e-1, log=True))
    new = tw.Space(lr=tw.Float(1e-5, 1.0, log=True))
    mapped = map_trials(new, [sampled(old, 20, lr_loss)])
    assert len(mapped.ranked) == 20 and not mapped.discarded
    assert mapped.shared["lr"] == tw.Float(1e-3, 1e-1, log=True)
    assert mapped.new == ()


def test_disjoint_ranges_make_the_parameter_new_and_say_so() -> None:
    old = tw.Space(lr=tw.Float(1e-5, 1e-4, log=True), width=tw.Integer(8, 64))
    new = tw.Space(lr=tw.Float(1e-2, 1.0, log=True), width=tw.Integer(8, 64))
    mapped = map_trials(new, [sampled(old, 10, lambda c: float(c["width"]))])
    assert list(mapped.shared) == ["width"] and mapped.new == ("lr",)
    assert any("do not overlap" in note for note in mapped.notes)
    filled = mapped.filled(0, np.random.default_rng(1))
    new.validate_config(filled)
    assert filled["width"] == mapped.ranked[0]["width"]


def test_changed_categorical_choices_share_the_common_ones() -> None:
    old = tw.Space(opt=tw.Categorical(["sgd", "adam", "rmsprop"]))
    new = tw.Space(opt=tw.Categorical(["adam", "sgd", "lamb"]))
    score = {"rmsprop": 0.0, "adam": 1.0, "sgd": 2.0}
    configs = [{"opt": o} for o in ["rmsprop", "adam", "sgd", "rmsprop"]]
    mapped = map_trials(new, [old_study(old, configs, lambda c: score[c["opt"]])])
    assert mapped.shared["opt"] == tw.Categorical(["adam", "sgd"])
    assert mapped.ranked == ({"opt": "adam"}, {"opt": "sgd"})
    # the two rmsprop trials are one configuration
    assert mapped.discarded == {"with opt outside the shared choices ['adam', 'sgd']": 1}


def test_added_parameters_are_filled_and_removed_ones_dropped() -> None:
    old = tw.Space(lr=tw.Float(1e-4, 1e-1, log=True), dropout=tw.Float(0.0, 0.5))
    new = tw.Space(lr=tw.Float(1e-4, 1e-1, log=True), width=tw.Integer(16, 256))
    mapped = map_trials(new, [sampled(old, 10, lr_loss)])
    assert mapped.new == ("width",) and mapped.dropped == ("dropout",)
    assert all(set(c) == {"lr"} for c in mapped.ranked)
    a, b = (mapped.filled(0, np.random.default_rng(s)) for s in (1, 2))
    assert a["lr"] == b["lr"] == mapped.ranked[0]["lr"] and a["width"] != b["width"]
    new.validate_config(a)


def test_an_old_constant_that_is_legal_in_the_new_space_keeps_its_value() -> None:
    old = tw.Space(lr=tw.Float(1e-4, 1e-1, log=True), batch=tw.Constant(64), act=tw.Constant("x"))
    new = tw.Space(
        lr=tw.Float(1e-4, 1e-1, log=True),
        batch=tw.Integer(16, 256),
        act=tw.Categorical(["relu", "gelu"]),
    )
    mapped = map_trials(new, [sampled(old, 5, lr_loss)])
    assert mapped.new == ("batch", "act") and mapped.carried == ("batch",)
    assert all(c["batch"] == 64 and "act" not in c for c in mapped.ranked)


def test_conditions_drop_values_inactive_under_their_mapped_parent() -> None:
    old = tw.Space(
        opt=tw.Categorical(["sgd", "adam"]),
        momentum=tw.Float(0.0, 0.99, when={"opt": "sgd"}),
        beta=tw.Float(0.5, 0.999, when={"opt": "adam"}),
    )
    # momentum now belongs to adam only; beta's parent is gone from the new space
    new = tw.Space(
        opt=tw.Categorical(["sgd", "adam"]),
        momentum=tw.Float(0.0, 0.99, when={"opt": "adam"}),
        family=tw.Categorical(["a", "b"]),
        beta=tw.Float(0.5, 0.999, when={"family": "a"}),
    )
    mapped = map_trials(new, [sampled(old, 30, lambda c: float(c["opt"] == "adam"))])
    for config in mapped.ranked:
        assert "momentum" not in config  # sgd's momentum is inactive under sgd now
        assert ("beta" in config) == (config["opt"] == "adam")  # kept: its parent is filled
    rng = np.random.default_rng(0)
    for i in range(len(mapped.ranked)):
        new.validate_config(mapped.filled(i, rng))
    shared = mapped.shared_space()
    assert shared["beta"].when is None  # the clause on the unshared parent is gone
    assert set(shared) == {"opt", "momentum", "beta"}


def test_ranking_puts_the_highest_fidelity_first_and_skips_failures() -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 9))
    trials = (
        Trial(number=0, config={"x": 0.1}, status=TrialStatus.SUCCEEDED, objective=0.1, fidelity=1),
        Trial(number=1, config={"x": 0.2}, status=TrialStatus.SUCCEEDED, objective=0.9, fidelity=9),
        Trial(number=2, config={"x": 0.1}, status=TrialStatus.SUCCEEDED, objective=0.5, fidelity=3),
        Trial(number=3, config={"x": 0.3}, status=TrialStatus.FAILED, error="boom", fidelity=9),
        Trial(number=4, config={"x": 0.4}, status=TrialStatus.SUCCEEDED, objective=0.8, fidelity=3),
    )
    mapped = map_trials(space, [OldStudy(space=space, trials=trials, label="hb")])
    assert [c["x"] for c in mapped.ranked] == [0.2, 0.1, 0.4]
    assert mapped.objectives == (0.9, 0.5, 0.8)


def test_several_old_studies_are_merged_by_their_own_ranks() -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0))
    a = old_study(space, [{"x": 0.1}, {"x": 0.2}], lambda c: c["x"], label="a")
    b = old_study(
        space, [{"x": 0.5}, {"x": 0.6}, {"x": 0.7}, {"x": 0.8}], lambda c: 10 * c["x"], label="b"
    )
    mapped = map_trials(space, [a, b])
    assert [c["x"] for c in mapped.ranked] == [0.1, 0.5, 0.6, 0.2, 0.7, 0.8]
    assert mapped.sources == ("a", "b")


def test_architectures_carry_over_where_the_new_grammar_accepts_them() -> None:
    small = ["none", "skip", "conv3x3"]
    large = [*small, "avgpool3x3"]

    def cell(ops: list[str]) -> tw.Grammar:
        return tw.Grammar(
            {"C": ["Cell E E E"], "E": ops}, "C", topologies={"Cell": 3}, primitives=ops
        )

    old = tw.Space(arch=tw.Architecture(cell(small)))
    new = tw.Space(arch=tw.Architecture(cell(large)), lr=tw.Float(1e-3, 1e-1, log=True))
    mapped = map_trials(new, [sampled(old, 10, lambda c: float(len(c["arch"])))])
    assert len(mapped.ranked) == mapped.old_configs and not mapped.discarded
    assert mapped.new == ("lr",)
    new.validate_config(mapped.filled(0, np.random.default_rng(0)))
    shrunk = map_trials(old, [sampled(new, 40, lambda c: 0.0)])  # the other way round
    assert shrunk.discarded and all("avgpool3x3" not in c["arch"] for c in shrunk.ranked)


@pytest.mark.parametrize(
    ("old", "new", "trials", "message"),
    [
        (
            tw.Space(a=tw.Float(0.0, 1.0)),
            tw.Space(b=tw.Float(0.0, 1.0)),
            "sampled",
            "shares no searchable parameter with the old studies (old: a; new: b)",
        ),
        (tw.Space(a=tw.Float(0.0, 1.0)), tw.Space(a=tw.Float(0.0, 1.0)), "failed", "no succeeded"),
        (
            tw.Space(a=tw.Categorical(["x", "y"])),
            tw.Space(a=tw.Categorical(["y", "z"])),
            "x only",
            "none of the old configurations is legal in the new space (1 with a outside",
        ),
        (
            tw.Space(a=tw.Categorical(["x", "y"])),
            tw.Space(a=tw.Float(0.0, 1.0)),
            "x only",
            "a Categorical before and a Float now",
        ),
    ],
)
def test_nothing_to_map_is_a_clear_error(
    old: tw.Space, new: tw.Space, trials: str, message: str
) -> None:
    if trials == "sampled":
        source = sampled(old, 5, lambda c: 0.0)
    elif trials == "failed":
        source = OldStudy(
            space=old,
            trials=(Trial(number=0, config={"a": 0.5}, status=TrialStatus.FAILED, error="x"),),
            label="old",
        )
    else:
        source = old_study(old, [{"a": "x"}], lambda c: 0.0)
    with pytest.raises(ValueError, match="transfer") as raised:
        map_trials(new, [source])
    assert message in str(raised.value)
