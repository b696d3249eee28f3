"""One registry of optimizers with declared capabilities, instead of if/elif factories."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from tunewise.optimizers.base import Optimizer

_REGISTRY: dict[str, type[Optimizer]] = {}

OptimizerType = TypeVar("OptimizerType", bound=type[Optimizer])


def register(cls: OptimizerType) -> OptimizerType:
    """Class decorator: make an optimizer available under its ``name``."""
    name = cls.name
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ValueError(f"two optimizers registered as {name!r}")
    _REGISTRY[name] = cls
    return cls


def names() -> list[str]:
    """The optimizers a user can name (layers such as the transfer layer are built, not named)."""
    return sorted(name for name, cls in _REGISTRY.items() if cls.listed)


def get(name: str) -> type[Optimizer]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; known optimizers: {', '.join(names())}"
        ) from None


def make(spec: str | Mapping[str, Any] | Optimizer) -> Optimizer:
    """An optimizer from a name, a stored spec ``{"name": ..., **params}``, or an instance."""
    if isinstance(spec, Optimizer):
        return spec
    if isinstance(spec, str):
        return get(spec)()
    if isinstance(spec, Mapping):
        params = dict(spec)
        name = params.pop("name", None)
        if not isinstance(name, str):
            raise ValueError(f"an optimizer spec needs a 'name', got {dict(spec)!r}")
        return construct(get(name), params)
    raise TypeError(f"optimizer must be a name, a spec dict or an Optimizer, not {type(spec)}")


def construct(cls: type[Optimizer], params: Mapping[str, Any]) -> Optimizer:
    """``cls(**params)``, naming any parameter ``cls`` does not take."""
    unknown = set(params) - set(cls._param_names())
    if unknown:
        raise ValueError(
            f"optimizer {cls.name!r} has no parameter(s) {sorted(unknown)}; "
            f"it takes {cls._param_names()}"
        )
    return cls(**params)
