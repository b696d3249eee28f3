"""Space <-> dict / JSON / YAML, and human-readable diffs between spaces.

The dict form is ``{name: {"type": "float", "lower": ..., "upper": ..., ...}}`` in parameter order;
defaults (``log: false``, no prior, ``confidence: medium`` without a prior, no ``when``, a
fidelity's ``resumable: true``) are left out, so a space stored before a default existed reads
back equal. Reading is lenient in ways that help people writing YAML by hand (see
:func:`parameter_from_dict`) and strict about anything unknown: an unknown key or type is a
:class:`SpaceError` naming the parameter.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from os import PathLike
from pathlib import Path
from typing import Any

import yaml

from tunewise.nas.diff import diff_grammars
from tunewise.space.architecture import Architecture
from tunewise.space.errors import SpaceError, named
from tunewise.space.parameters import (
    Categorical,
    Condition,
    Constant,
    Fidelity,
    Float,
    Integer,
    Parameter,
)

_TYPES: dict[str, str] = {
    "float": "float",
    "int": "integer",
    "integer": "integer",
    "cat": "categorical",
    "categorical": "categorical",
    "fidelity": "fidelity",
    "constant": "constant",
    "architecture": "architecture",
    "arch": "architecture",
    "grammar": "architecture",
}
_KEYS: dict[str, tuple[str, ...]] = {
    "float": ("lower", "upper", "log", "prior", "confidence", "when"),
    "integer": ("lower", "upper", "log", "prior", "confidence", "when"),
    "categorical": ("choices", "prior", "confidence", "when"),
    "fidelity": ("lower", "upper", "log", "resumable"),
    "constant": ("value",),
    "architecture": ("grammar", "prior", "confidence", "when"),
}
_REQUIRED: dict[str, tuple[str, ...]] = {
    "float": ("lower", "upper"),
    "integer": ("lower", "upper"),
    "categorical": ("choices",),
    "fidelity": ("lower", "upper"),
    "constant": ("value",),
    "architecture": ("grammar",),
}
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")
# Floats that YAML 1.1 (PyYAML) reads as strings: an exponent without a dot, e.g. 1e-5.
_EXPONENT_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+$")


# -- writing -------------------------------------------------------------------------------------


def parameter_to_dict(param: Parameter) -> dict[str, Any]:
    """JSON-safe dict of one parameter, defaults left out."""
    out: dict[str, Any] = {"type": param.type_name}
    if isinstance(param, Architecture):
        out["grammar"] = param.grammar.to_dict()
        if param.prior is not None:
            out["prior"] = param.prior
        if param.confidence != "medium":
            out["confidence"] = param.confidence
        if param.when is not None:
            out["when"] = Condition(param.when).to_dict()
        return out
    if isinstance(param, Constant):
        out["value"] = param.value
        return out
    if isinstance(param, Categorical):
        out["choices"] = list(param.choices)
    else:
        assert isinstance(param, Float | Integer | Fidelity)
        out["lower"], out["upper"] = param.lower, param.upper
        if param.log:
            out["log"] = True
    if isinstance(param, Fidelity) and not param.resumable:
        out["resumable"] = False  # left out when True, so spaces stored before it load equal
    if isinstance(param, Float | Integer | Categorical):
        if param.prior is not None:
            out["prior"] = param.prior
        if param.prior is not None or param.confidence != "medium":
            out["confidence"] = param.confidence
        if param.when is not None:
            out["when"] = Condition(param.when).to_dict()
    return out


def parameters_to_dict(params: Mapping[str, Parameter]) -> dict[str, Any]:
    """JSON-safe dict of all parameters, in order."""
    return {name: parameter_to_dict(param) for name, param in params.items()}


def dump_yaml(data: Mapping[str, Any]) -> str:
    """Block-style YAML in the given key order."""
    return yaml.safe_dump(dict(data), sort_keys=False, allow_unicode=True)


# -- reading -------------------------------------------------------------------------------------


class _Loader(yaml.SafeLoader):
    """A safe loader that also reads ``1e-5`` (no dot) as a float, as YAML 1.2 does."""


_Loader.yaml_implicit_resolvers = {
    key: list(value) for key, value in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789."))


def load_yaml(source: str | PathLike[str]) -> Any:
    """Parse YAML text, or read a file when given a path (a one-line str ending .yaml/.yml)."""
    if isinstance(source, PathLike) or (
        isinstance(source, str)
        and "\n" not in source
        and source.strip().lower().endswith((".yaml", ".yml"))
    ):
        source = Path(source).read_text(encoding="utf-8")
    try:
        return yaml.load(source, Loader=_Loader)
    except yaml.YAMLError as error:
        raise SpaceError(f"invalid YAML for a space: {error}") from None


def _number(value: Any, *, only_exponent: bool = False) -> Any:
    """A numeric string -> int or float (``only_exponent``: just the 1e-5 form); else unchanged."""
    pattern = _EXPONENT_FLOAT if only_exponent else _NUMBER
    if isinstance(value, str) and pattern.match(value.strip()):
        text = value.strip()
        return int(text) if re.fullmatch(r"[-+]?\d+", text) else float(text)
    return value


def _integral(value: Any) -> Any:
    """An integral float (1e3 read as 1000.0) -> int, for integer parameters; else unchanged."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _infer_type(name: str, entry: Mapping[str, Any]) -> str:
    if "grammar" in entry:
        return "architecture"
    if "choices" in entry:
        return "categorical"
    if "value" in entry:
        return "constant"
    if "lower" in entry and "upper" in entry:
        bounds = [_number(entry["lower"]), _number(entry["upper"])]
        is_int = all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
        return "integer" if is_int else "float"
    raise SpaceError(f"parameter {name!r}: missing 'type' (one of {', '.join(_TYPES)})")


def parameter_from_dict(name: str, entry: Any) -> Parameter:
    """One parameter from its dict form, with conveniences for hand-written YAML/JSON.

    A bare scalar is a Constant and a bare list a Categorical; type names are case-insensitive and
    may be inferred (``choices`` -> categorical, ``value`` -> constant, int bounds -> integer,
    else float); numeric strings are numbers in ``lower``/``upper``/``prior`` of numbers, and
    ``1e-5``-style strings are numbers in a constant's value; integral floats become ints for
    integer parameters. The parameter is validated later, by the Space.
    """
    if isinstance(entry, list):
        return Categorical(entry)
    if not isinstance(entry, Mapping):
        if entry is None or isinstance(entry, str | int | float):
            return Constant(_number(entry, only_exponent=True))
        raise SpaceError(f"parameter {name!r}: expected a mapping, got {entry!r}")
    if "type" in entry:
        raw = entry["type"]
        kind = _TYPES.get(raw.strip().lower()) if isinstance(raw, str) else None
        if kind is None:
            raise SpaceError(
                f"parameter {name!r}: unknown type {raw!r} (one of {', '.join(_TYPES)})"
            )
    else:
        kind = _infer_type(name, entry)
    fields = {key: value for key, value in entry.items() if key != "type"}
    for key in fields:
        if key == "when" and kind in ("fidelity", "constant"):
            raise SpaceError(f"parameter {name!r}: a {kind} cannot have a condition ('when')")
        if key not in _KEYS[kind]:
            allowed = ", ".join(_KEYS[kind])
            raise SpaceError(f"parameter {name!r}: unknown key {key!r} for a {kind} ({allowed})")
    for key in _REQUIRED[kind]:
        if key not in fields:
            raise SpaceError(f"parameter {name!r}: missing {key!r} for a {kind}")
    if kind in ("float", "integer", "fidelity"):
        for key in ("lower", "upper", "prior"):
            if key in fields:
                fields[key] = _number(fields[key])
                if kind == "integer":
                    fields[key] = _integral(fields[key])
    if kind == "constant":
        return Constant(_number(fields["value"], only_exponent=True))
    if kind == "architecture":
        try:
            return Architecture(fields.pop("grammar"), **fields)
        except SpaceError as error:
            raise named(name, error) from None
    if kind == "fidelity":
        return Fidelity(fields.pop("lower"), fields.pop("upper"), **fields)
    if kind == "categorical":
        return Categorical(fields.pop("choices"), **fields)
    cls = Float if kind == "float" else Integer
    return cls(fields.pop("lower"), fields.pop("upper"), **fields)


def parameters_from_dict(data: Any) -> dict[str, Parameter]:
    """All parameters from the dict form, in order."""
    if not isinstance(data, Mapping):
        raise SpaceError(f"a space must be a mapping of parameter names, got {type(data).__name__}")
    params = {}
    for name, entry in data.items():
        if not isinstance(name, str) or not name:
            raise SpaceError(f"parameter names must be non-empty strings, got {name!r}")
        params[name] = parameter_from_dict(name, entry)
    return params


# -- diff ----------------------------------------------------------------------------------------


def _fields(param: Parameter) -> dict[str, Any]:
    """Every attribute that matters for equality, defaults included, JSON-safe."""
    out = parameter_to_dict(param)
    del out["type"]
    if isinstance(param, Float | Integer | Categorical):
        out.setdefault("prior", None)
        out.setdefault("confidence", param.confidence)
        out.setdefault("when", None)
    if isinstance(param, Float | Integer | Fidelity):
        out.setdefault("log", False)
    if isinstance(param, Fidelity):
        out.setdefault("resumable", True)
    return out


def _fmt(value: Any) -> str:
    return repr(value)


def diff_parameters(old: Mapping[str, Parameter], new: Mapping[str, Parameter]) -> list[str]:
    """Human-readable differences from ``old`` to ``new``: removed, changed, added, reordered."""
    messages = []
    for name, before in old.items():
        if name not in new:
            messages.append(f"parameter {name!r} was removed")
            continue
        after = new[name]
        if before.type_name != after.type_name:
            messages.append(
                f"parameter {name!r}: type changed from {before.type_name} to {after.type_name}"
            )
            continue
        if isinstance(before, Architecture) and isinstance(after, Architecture):
            changes = diff_grammars(before.grammar, after.grammar)
            for key in ("prior", "confidence", "when"):
                was, now = getattr(before, key), getattr(after, key)
                if was != now:
                    changes.append(f"{key} changed from {_fmt(was)} to {_fmt(now)}")
            messages.extend(f"parameter {name!r}: {change}" for change in changes)
            continue
        fields_before, fields_after = _fields(before), _fields(after)
        for key, value in fields_before.items():
            # Compare JSON texts: they tell True from 1 and 1 from 1.0.
            if json.dumps(value) != json.dumps(fields_after[key]):
                messages.append(
                    f"parameter {name!r}: {key} changed from {_fmt(value)} "
                    f"to {_fmt(fields_after[key])}"
                )
    messages.extend(f"parameter {name!r} was added" for name in new if name not in old)
    common_old = [name for name in old if name in new]
    common_new = [name for name in new if name in old]
    if common_old != common_new:
        messages.append(f"parameter order changed from {common_old} to {common_new}")
    return messages
