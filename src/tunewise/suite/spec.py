"""Parse the suite's command-line specs: algorithms (``label=name:key=value,...``) and budgets."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from tunewise.suite.baselines import make_algorithm


@dataclass(frozen=True)
class AlgorithmSpec:
    """An optimizer with its parameters, and the label it gets in result tables."""

    label: str
    optimizer: dict[str, Any]

    def to_json(self) -> str:
        return json.dumps({"label": self.label, "optimizer": self.optimizer}, sort_keys=True)


def parse_algorithm(text: str) -> AlgorithmSpec:
    """Parse ``name``, ``name:key=value,...`` or ``label=name:key=value,...``.

    For example ``RS+prior=random_search:use_priors=true``. Without a label the optimizer's name
    is used, followed by its parameters if any.
    """
    label, sep, rest = text.partition("=")
    if not sep or ":" in label:  # no label given ("name" or "name:key=value")
        label, rest = "", text
    name, _, params_text = rest.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, params_text.split(",")):
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise ValueError(
                f"algorithm {text!r}: parameters must look like key=value, not {item!r}"
            )
        params[key.strip()] = yaml.safe_load(value)
    optimizer = {"name": name.strip(), **params}
    make_algorithm(optimizer)  # unknown names and parameters fail here, before any run starts
    if not label:
        label = name + (
            "(" + ",".join(f"{k}={v}" for k, v in params.items()) + ")" if params else ""
        )
    return AlgorithmSpec(label=label, optimizer=optimizer)


def parse_budget(text: str | float) -> float:
    """``20x`` (or ``20``): the cost of 20 full-fidelity evaluations."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*x?\s*", str(text))
    if match is None or float(match.group(1)) <= 0:
        raise ValueError(
            f"budget {text!r}: expected a positive number of full evaluations, e.g. 20x"
        )
    return float(match.group(1))
