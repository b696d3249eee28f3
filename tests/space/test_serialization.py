"""Space <-> dict / JSON / YAML, the human conveniences of YAML, and diffs."""

import json
from pathlib import Path
from typing import Any

import pytest

from tunewise.space import (
    Categorical,
    Constant,
    Fidelity,
    Float,
    Integer,
    Space,
    SpaceError,
)


def design_space() -> Space:
    return Space(
        lr=Float(1e-5, 1e-1, log=True, prior=3e-4, confidence="high"),
        weight_decay=Float(1e-6, 1e-1, log=True),
        width=Integer(16, 512, log=True, prior=128),
        optimizer=Categorical(["adamw", "sgd"], prior="adamw", confidence="medium"),
        momentum=Float(0.0, 0.99, when={"optimizer": "sgd"}),
        epochs=Fidelity(1, 27),
        batch_size=Constant(128),
        flags=Categorical([True, 1, 2.5, "x"], confidence="low"),
    )


def test_to_dict_form() -> None:
    assert design_space().to_dict() == {
        "lr": {
            "type": "float",
            "lower": 1e-5,
            "upper": 0.1,
            "log": True,
            "prior": 0.0003,
            "confidence": "high",
        },
        "weight_decay": {"type": "float", "lower": 1e-6, "upper": 0.1, "log": True},
        "width": {
            "type": "integer",
            "lower": 16,
            "upper": 512,
            "log": True,
            "prior": 128,
            "confidence": "medium",
        },
        "optimizer": {
            "type": "categorical",
            "choices": ["adamw", "sgd"],
            "prior": "adamw",
            "confidence": "medium",
        },
        "momentum": {"type": "float", "lower": 0.0, "upper": 0.99, "when": {"optimizer": ["sgd"]}},
        "epochs": {"type": "fidelity", "lower": 1, "upper": 27},
        "batch_size": {"type": "constant", "value": 128},
        "flags": {"type": "categorical", "choices": [True, 1, 2.5, "x"], "confidence": "low"},
    }


def test_json_round_trip_is_equal_and_stable() -> None:
    space = design_space()
    text = space.to_json()
    assert json.loads(text) == space.to_dict()
    assert list(json.loads(text)) == list(space.parameters)  # order kept, not sorted
    again = Space.from_json(text)
    assert again == space and again.to_json() == text
    assert design_space().to_json() == text
    assert again["epochs"].is_integer
    assert Space.from_json(Space(e=Fidelity(0.1, 1.0)).to_json())["e"] == Fidelity(0.1, 1.0)
    assert not Space.from_json(Space(e=Fidelity(1.0, 9.0)).to_json())["e"].is_integer


def test_a_fidelity_that_is_not_resumable_round_trips_and_older_spaces_load_as_resumable() -> None:
    subset = Space(x=Float(0.0, 1.0), fraction=Fidelity(0.05, 1.0, log=True, resumable=False))
    assert subset.to_dict()["fraction"] == {
        "type": "fidelity",
        "lower": 0.05,
        "upper": 1.0,
        "log": True,
        "resumable": False,
    }
    again = Space.from_json(subset.to_json())
    assert again == subset and not again["fraction"].resumable
    assert Space.from_yaml(subset.to_yaml()) == subset
    hand = "fraction: {type: fidelity, lower: 0.05, upper: 1.0, log: true, resumable: false}"
    assert Space.from_yaml(hand)["fraction"] == subset["fraction"]
    # the default is left out, so a space stored before the field existed reads back equal
    epochs = Space(x=Float(0.0, 1.0), epochs=Fidelity(1, 27))
    assert "resumable" not in epochs.to_dict()["epochs"]
    stored = '{"x": {"type": "float", "lower": 0.0, "upper": 1.0}, '
    stored += '"epochs": {"type": "fidelity", "lower": 1, "upper": 27}}'
    old = Space.from_json(stored)
    assert old == epochs and old["epochs"].resumable and old.diff(epochs) == []
    with pytest.raises(SpaceError, match="parameter 'e': resumable must be True or False"):
        Space.from_dict({"e": {"type": "fidelity", "lower": 1, "upper": 9, "resumable": "yes"}})


def test_from_dict_round_trip() -> None:
    space = design_space()
    assert Space.from_dict(space.to_dict()) == space
    assert Space.from_dict(Space().to_dict()) == Space()


def test_yaml_round_trip() -> None:
    space = design_space()
    text = space.to_yaml()
    assert "lr:\n  type: float\n" in text
    assert Space.from_yaml(text) == space


def test_yaml_for_humans() -> None:
    text = """
lr:
  type: Float
  lower: 1e-5
  upper: 1E-1
  log: true
  prior: 3e-4
  confidence: high
width: {type: INT, lower: 16, upper: 1e3}
optimizer: {type: cat, choices: [adamw, sgd], prior: adamw}
momentum: {type: float, lower: 0, upper: 0.99, when: {optimizer: sgd}}
epochs: {type: fidelity, lower: 1, upper: 27}
batch_size: 128
activation: relu
eps: 1e-8
dropout: {lower: 0, upper: 0.5}
layers: {lower: 1, upper: 4}
norm: [batch, layer]
scale: {choices: [1e-3, 1e-2]}
"""
    space = Space.from_yaml(text)
    assert space == Space(
        lr=Float(1e-5, 1e-1, log=True, prior=3e-4, confidence="high"),
        width=Integer(16, 1000),
        optimizer=Categorical(["adamw", "sgd"], prior="adamw"),
        momentum=Float(0.0, 0.99, when={"optimizer": ["sgd"]}),
        epochs=Fidelity(1, 27),
        batch_size=Constant(128),
        activation=Constant("relu"),
        eps=Constant(1e-8),
        dropout=Float(0.0, 0.5),
        layers=Integer(1, 4),
        norm=Categorical(["batch", "layer"]),
        scale=Categorical([1e-3, 1e-2]),
    )
    assert type(space["width"].upper) is int


def test_numeric_strings_are_coerced_in_dicts() -> None:
    # as produced by yaml.safe_load, which reads 1e-5 as a string
    space = Space.from_dict(
        {
            "lr": {"type": "float", "lower": "1e-5", "upper": "0.1", "prior": "3e-4"},
            "n": {"type": "integer", "lower": "1", "upper": "1e3"},
            "eps": {"type": "constant", "value": "1e-8"},
            "name": {"type": "constant", "value": "0.5"},  # not exponent form: a string
            "e": {"type": "fidelity", "lower": "1", "upper": "27"},
        }
    )
    assert space["lr"] == Float(1e-5, 0.1, prior=3e-4)
    assert space["n"] == Integer(1, 1000) and type(space["n"].upper) is int
    assert space.constants == {"eps": 1e-8, "name": "0.5"}
    assert space["e"].is_integer


def test_from_yaml_reads_files(tmp_path: Path) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(design_space().to_yaml(), encoding="utf-8")
    assert Space.from_yaml(path) == design_space()
    assert Space.from_yaml(str(path)) == design_space()


BAD_DICTS: list[tuple[Any, str]] = [
    ({"lr": {"type": "float", "lower": 0, "upper": 1, "lowr": 0}}, r"parameter 'lr': unknown key"),
    ({"lr": {"type": "floaty", "lower": 0, "upper": 1}}, r"parameter 'lr': unknown type 'floaty'"),
    ({"lr": {"type": 3, "lower": 0, "upper": 1}}, r"parameter 'lr': unknown type 3"),
    ({"lr": {"lower": 0}}, r"parameter 'lr': missing 'type'"),
    ({"lr": {"type": "float", "lower": 0}}, r"parameter 'lr': missing 'upper' for a float"),
    ({"o": {"type": "cat"}}, r"parameter 'o': missing 'choices' for a categorical"),
    ({"c": {"type": "constant"}}, r"parameter 'c': missing 'value'"),
    (
        {"e": {"type": "fidelity", "lower": 1, "upper": 9, "when": {"o": "a"}}},
        r"parameter 'e': a fidelity cannot have a condition",
    ),
    (
        {"c": {"type": "constant", "value": 1, "when": {"o": "a"}}},
        r"parameter 'c': a constant cannot have a condition",
    ),
    ({"e": {"type": "fidelity", "lower": 1, "upper": 9, "prior": 3}}, r"parameter 'e': unknown"),
    ({"lr": {"type": "float", "lower": 1, "upper": 0.5}}, r"parameter 'lr': lower \(1.0\) must"),
    ({"lr": {"type": "float", "lower": "abc", "upper": 1}}, r"parameter 'lr': lower must be a"),
    ({"n": {"type": "int", "lower": 1.5, "upper": 3}}, r"parameter 'n': lower must be an integer"),
    ({"x": {1, 2}}, r"parameter 'x': expected a mapping"),
    ({1: {"type": "float", "lower": 0, "upper": 1}}, r"parameter names must be non-empty strings"),
    ([1, 2], r"a space must be a mapping"),
]


@pytest.mark.parametrize(("data", "message"), BAD_DICTS)
def test_bad_dicts_raise_naming_the_parameter(data: Any, message: str) -> None:
    with pytest.raises(SpaceError, match=message):
        Space.from_dict(data)


def test_bad_text_raises_space_errors() -> None:
    with pytest.raises(SpaceError, match="invalid JSON"):
        Space.from_json("{")
    with pytest.raises(SpaceError, match="invalid YAML"):
        Space.from_yaml("a: [1, 2\nb: c")
    with pytest.raises(SpaceError, match="a space must be a mapping"):
        Space.from_yaml("- 1\n- 2\n")
    with pytest.raises(SpaceError, match=r"parameter 'lr': unknown key 'upp'"):
        Space.from_yaml("lr: {type: float, lower: 0, upp: 1}")


# -- diff ----------------------------------------------------------------------------------------


def test_diff_is_empty_for_equal_spaces() -> None:
    assert design_space().diff(design_space()) == []
    assert design_space().diff(Space.from_json(design_space().to_json())) == []


def _diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return Space(**old).diff(Space(**new))


def test_diff_added_and_removed() -> None:
    assert _diff({"lr": Float(0, 1)}, {"dropout": Float(0, 1)}) == [
        "parameter 'lr' was removed",
        "parameter 'dropout' was added",
    ]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (Float(0, 0.1), Float(0, 0.5), "parameter 'p': upper changed from 0.1 to 0.5"),
        (Float(0.1, 1), Float(0.2, 1), "parameter 'p': lower changed from 0.1 to 0.2"),
        (Integer(1, 8), Float(1, 8), "parameter 'p': type changed from integer to float"),
        (Float(1, 8), Float(1, 8, log=True), "parameter 'p': log changed from False to True"),
        (Float(0, 1), Float(0, 1, prior=0.5), "parameter 'p': prior changed from None to 0.5"),
        (
            Float(0, 1, prior=0.5),
            Float(0, 1, prior=0.5, confidence="high"),
            "parameter 'p': confidence changed from 'medium' to 'high'",
        ),
        (
            Categorical(["a", "b"]),
            Categorical(["a", "b", "c"]),
            "parameter 'p': choices changed from ['a', 'b'] to ['a', 'b', 'c']",
        ),
        (
            Categorical([0, 1]),
            Categorical([False, True]),
            "parameter 'p': choices changed from [0, 1] to [False, True]",
        ),
        (
            Categorical(["a", "b"], prior="a"),
            Categorical(["a", "b"], prior="b"),
            "parameter 'p': prior changed from 'a' to 'b'",
        ),
        (Constant(128), Constant(256), "parameter 'p': value changed from 128 to 256"),
        (Fidelity(1, 27), Fidelity(1, 81), "parameter 'p': upper changed from 27 to 81"),
        (Fidelity(1, 27), Constant(27), "parameter 'p': type changed from fidelity to constant"),
        (
            Fidelity(0.05, 1.0, log=True),
            Fidelity(0.05, 1.0, log=True, resumable=False),
            "parameter 'p': resumable changed from True to False",
        ),
    ],
)
def test_diff_reports_each_kind_of_change(old: Any, new: Any, message: str) -> None:
    assert _diff({"p": old}, {"p": new}) == [message]


def test_diff_reports_condition_and_order_changes() -> None:
    o = Categorical(["a", "b", "c"])
    old = {"o": o, "m": Float(0, 1, when={"o": "b"})}
    new = {"m": Float(0, 1, when={"o": ["b", "c"]}), "o": o}
    assert _diff(old, new) == [
        "parameter 'm': when changed from {'o': ['b']} to {'o': ['b', 'c']}",
        "parameter order changed from ['o', 'm'] to ['m', 'o']",
    ]
    assert _diff({"o": o, "m": Float(0, 1)}, old) == [
        "parameter 'm': when changed from None to {'o': ['b']}"
    ]
