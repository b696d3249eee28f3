"""The parameter types of a search space and their per-dimension maths.

Each parameter knows its unit-cube map (``to_unit`` / ``from_unit``, in log space when
``log=True``), how to sample itself uniformly or from its prior, its prior log-density in unit
space, and a grid.

Parameters are frozen dataclasses that store their arguments (numbers normalized to Python types)
and are validated when placed in a :class:`~tunewise.space.Space`, so that every error message can
name the parameter (``"parameter 'lr': lower (0.1) must be < upper (0.01)"``). Their methods assume
a validated parameter.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, MISSING, dataclass, fields, is_dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from tunewise.space.errors import SpaceError
from tunewise.space.priors import (
    CONFIDENCES,
    NUMERIC_SD,
    categorical_probabilities,
    truncnorm_logpdf,
    truncnorm_sample,
)

Scalar = str | int | float | bool
"""A value a categorical choice or a constant may take (constants also allow ``None``)."""


def _py(value: Any) -> Any:
    """NumPy scalars -> the equal Python scalar; anything else unchanged."""
    return value.item() if isinstance(value, np.generic) else value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def scalar_key(value: Any) -> tuple[str, Any]:
    """A key under which ``True`` differs from ``1`` but ``1`` equals ``1.0`` (choice matching)."""
    value = _py(value)
    if isinstance(value, bool):
        return ("bool", value)
    if _is_number(value):
        return ("number", value)
    return (type(value).__name__, value)


class Condition(Mapping[str, tuple[Any, ...]]):
    """An immutable, hashable ``when`` clause: parent name -> allowed values; all must hold.

    Built from ``{"optimizer": "sgd"}`` or ``{"optimizer": ["sgd", "rmsprop"]}``; a single value
    becomes a one-element tuple.
    """

    __slots__ = ("_items",)

    def __init__(self, when: Mapping[Any, Any]) -> None:
        self._items: dict[Any, tuple[Any, ...]] = {
            parent: tuple(_py(v) for v in values)
            if isinstance(values, list | tuple)
            else (_py(values),)
            for parent, values in when.items()
        }

    def __getitem__(self, key: str) -> tuple[Any, ...]:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __repr__(self) -> str:
        return repr({k: list(v) for k, v in self._items.items()})

    def to_dict(self) -> dict[str, list[Any]]:
        """JSON-safe form: parent -> list of values."""
        return {k: list(v) for k, v in self._items.items()}


def _condition(when: Any) -> Any:
    return Condition(when) if isinstance(when, Mapping) else when


def _check_confidence(confidence: Any) -> None:
    if confidence not in CONFIDENCES:
        allowed = ", ".join(repr(c) for c in CONFIDENCES)
        raise SpaceError(f"confidence must be one of {allowed}, got {confidence!r}")


def _check_when(when: Any) -> None:
    if when is None:
        return
    if not isinstance(when, Condition):
        raise SpaceError(f"when must be a mapping like {{'optimizer': ['sgd']}}, got {when!r}")
    if not when:
        raise SpaceError("when must name at least one parent parameter")
    for parent, values in when.items():
        if not isinstance(parent, str):
            raise SpaceError(f"when: parent names must be strings, got {parent!r}")
        if not values:
            raise SpaceError(f"when: no values given for parent {parent!r}")


def _to_unit(x: Any, lower: float, upper: float, log: bool) -> Any:
    if log:
        return (np.log(x) - math.log(lower)) / (math.log(upper) - math.log(lower))
    return (np.asarray(x, dtype=np.float64) - lower) / (upper - lower)


def _from_unit(u: Any, lower: float, upper: float, log: bool) -> NDArray[np.float64]:
    u = np.clip(np.asarray(u, dtype=np.float64), 0.0, 1.0)
    if log:
        x = np.exp(math.log(lower) + u * (math.log(upper) - math.log(lower)))
    else:
        x = lower + u * (upper - lower)
    # exact ends: exp(log(lower)) may miss lower by an ulp
    return np.where(u <= 0.0, lower, np.where(u >= 1.0, upper, np.clip(x, lower, upper)))


def _round_clip(x: NDArray[np.float64], lower: int, upper: int) -> NDArray[np.float64]:
    return np.clip(np.floor(x + 0.5), lower, upper)


class Parameter:
    """Base class of all parameter types (``Float``, ``Integer``, ``Categorical``, ``Constant``,
    ``Fidelity``); concrete ones are frozen dataclasses."""

    type_name: ClassVar[str]
    when: Condition | Mapping[str, Any] | None = None  # a Mapping becomes a Condition

    def _check(self) -> None:
        """Raise :class:`SpaceError` (without the name, the Space adds it) when invalid."""
        raise NotImplementedError

    def _value_problem(self, value: Any) -> str | None:
        """Why ``value`` is not a valid value of this parameter, or None when it is."""
        raise NotImplementedError

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is a valid value (right type, within bounds / among choices)."""
        return self._value_problem(value) is None

    def __repr__(self) -> str:
        if not is_dataclass(self):
            return f"{type(self).__name__}()"
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if not f.kw_only:
                parts.append(repr(value))
            elif f.default is MISSING or value != f.default:
                parts.append(f"{f.name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class _Numeric(Parameter):
    """Shared behaviour of Float and Integer: bounds, log scale, truncated-normal prior."""

    lower: Any
    upper: Any
    log: bool
    prior: Any
    confidence: str
    _integer: ClassVar[bool] = False

    def _check(self) -> None:
        kind = "an integer" if self._integer else "a number"
        accept = _is_int if self._integer else _is_number
        for attr in ("lower", "upper"):
            value = getattr(self, attr)
            if not accept(value) or not math.isfinite(value):
                raise SpaceError(f"{attr} must be {kind}, got {value!r}")
        if self.lower >= self.upper:
            raise SpaceError(f"lower ({self.lower}) must be < upper ({self.upper})")
        if not isinstance(self.log, bool):
            raise SpaceError(f"log must be True or False, got {self.log!r}")
        if self.log and self.lower <= 0:
            raise SpaceError(f"log=True needs lower > 0, got lower={self.lower}")
        if self.prior is not None:
            if not accept(self.prior) or not math.isfinite(self.prior):
                raise SpaceError(f"prior must be {kind}, got {self.prior!r}")
            if not self.lower <= self.prior <= self.upper:
                raise SpaceError(
                    f"prior ({self.prior}) must lie within [{self.lower}, {self.upper}]"
                )
        _check_confidence(self.confidence)
        _check_when(self.when)

    def _value_problem(self, value: Any) -> str | None:
        value = _py(value)
        if self._integer and not _is_int(value):
            return f"expected an integer, got {value!r}"
        if not _is_number(value) or not math.isfinite(value):
            return f"expected a number, got {value!r}"
        if not self.lower <= value <= self.upper:
            return f"value {value!r} is outside [{self.lower}, {self.upper}]"
        return None

    @property
    def sd(self) -> float:
        """Standard deviation of the prior in unit space (0.5 / 0.25 / 0.125 by confidence)."""
        return NUMERIC_SD[self.confidence]

    def to_unit(self, value: float) -> float:
        """Map a value to [0, 1]: ``(x - lower) / (upper - lower)``, on logs when ``log``."""
        # scalar math: numpy's ufuncs on one Python number cost ~10x more (encoding hot path)
        lower, upper = float(self.lower), float(self.upper)
        if self.log:
            return (math.log(value) - math.log(lower)) / (math.log(upper) - math.log(lower))
        return (float(value) - lower) / (upper - lower)

    def _from_unit_array(self, u: Any) -> NDArray[np.float64]:
        x = _from_unit(u, self.lower, self.upper, self.log)
        return _round_clip(x, self.lower, self.upper) if self._integer else x

    def _python(self, x: float) -> Any:
        return int(x) if self._integer else float(x)

    def from_unit(self, u: float) -> Any:
        """Inverse of :meth:`to_unit`; ``u`` is clipped to [0, 1], integers are rounded."""
        return self._python(float(self._from_unit_array(u)))

    @property
    def default(self) -> Any:
        """The prior if given, else the middle of the (log-)range (rounded for integers)."""
        return self.prior if self.prior is not None else self.from_unit(0.5)

    def sample(self, rng: np.random.Generator, size: int, *, use_prior: bool = False) -> list[Any]:
        """Draw ``size`` values: from the prior when ``use_prior`` and one is set, else uniformly.

        Uniform floats are uniform in (log-)space. Uniform integers give every integer the same
        probability (log: each integer the log-width of [k - 0.5, k + 0.5]). Prior draws come from
        the truncated normal in unit space and are decoded (rounded for integers), as in NePS.
        """
        if use_prior and self.prior is not None:
            u = truncnorm_sample(rng, self.to_unit(self.prior), self.sd, size)
            x = self._from_unit_array(u)
        elif not self._integer:
            x = self._from_unit_array(rng.uniform(0.0, 1.0, size))
        elif not self.log:
            x = rng.integers(self.lower, self.upper, size, endpoint=True).astype(np.float64)
        else:
            x = np.exp(rng.uniform(math.log(self.lower - 0.5), math.log(self.upper + 0.5), size))
            x = _round_clip(x, self.lower, self.upper)
        return [self._python(v) for v in x]

    def log_prior(self, value: float) -> float:
        """Log prior density at ``value`` in unit space; 0.0 (uniform) without a prior."""
        return float(self.log_prior_unit(np.asarray(self.to_unit(value))))

    def log_prior_unit(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Log prior density at unit values ``u`` (any shape); zeros without a prior."""
        u = np.asarray(u, dtype=np.float64)
        if self.prior is None:
            return np.where((u >= 0.0) & (u <= 1.0), 0.0, -np.inf)
        return truncnorm_logpdf(u, self.to_unit(self.prior), self.sd)

    def grid(self, n: int) -> list[Any]:
        """Up to ``n`` distinct values evenly spaced in (log-)unit space, ends included.

        ``n == 1`` gives the middle. Integers give the distinct rounded values (maybe fewer).
        """
        if n < 1:
            raise ValueError(f"grid size must be >= 1, got {n}")
        u = np.array([0.5]) if n == 1 else np.linspace(0.0, 1.0, n)
        return list(dict.fromkeys(self._python(v) for v in self._from_unit_array(u)))


@dataclass(frozen=True, repr=False)
class Float(_Numeric):
    """A real number in [lower, upper], optionally on a log scale, with an optional prior."""

    lower: float
    upper: float
    _: KW_ONLY
    log: bool = False
    prior: float | None = None
    confidence: str = "medium"
    when: Condition | Mapping[str, Any] | None = None  # a Mapping becomes a Condition
    type_name: ClassVar[str] = "float"

    def __post_init__(self) -> None:
        for attr in ("lower", "upper", "prior"):
            value = _py(getattr(self, attr))
            object.__setattr__(self, attr, float(value) if _is_number(value) else value)
        object.__setattr__(self, "when", _condition(self.when))


@dataclass(frozen=True, repr=False)
class Integer(_Numeric):
    """An integer in [lower, upper], optionally on a log scale, with an optional prior.

    It shares the continuous unit map of :class:`Float` and rounds to the nearest integer on decode.
    """

    lower: int
    upper: int
    _: KW_ONLY
    log: bool = False
    prior: int | None = None
    confidence: str = "medium"
    when: Condition | Mapping[str, Any] | None = None  # a Mapping becomes a Condition
    type_name: ClassVar[str] = "integer"
    _integer: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for attr in ("lower", "upper", "prior"):
            object.__setattr__(self, attr, _py(getattr(self, attr)))
        object.__setattr__(self, "when", _condition(self.when))


@dataclass(frozen=True, repr=False)
class Categorical(Parameter):
    """One of a fixed tuple of choices (str / int / float / bool), with an optional prior choice.

    Unit encoding: choice ``i`` of ``k`` -> ``(i + 0.5) / k``; decode takes
    ``min(floor(u * k), k - 1)``.
    """

    choices: Sequence[Scalar]  # stored as a tuple
    _: KW_ONLY
    prior: Scalar | None = None
    confidence: str = "medium"
    when: Condition | Mapping[str, Any] | None = None  # a Mapping becomes a Condition
    type_name: ClassVar[str] = "categorical"

    def __post_init__(self) -> None:
        choices = self.choices
        if isinstance(choices, list | tuple):
            choices = tuple(_py(c) for c in choices)
        object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "prior", _py(self.prior))
        object.__setattr__(self, "when", _condition(self.when))

    def _check(self) -> None:
        if not isinstance(self.choices, tuple):
            raise SpaceError(f"choices must be a list of values, got {self.choices!r}")
        if not self.choices:
            raise SpaceError("choices must not be empty")
        seen: set[tuple[str, Any]] = set()
        for choice in self.choices:
            if not isinstance(choice, str | int | float):
                raise SpaceError(f"choices must be str, int, float or bool, got {choice!r}")
            if isinstance(choice, float) and not math.isfinite(choice):
                raise SpaceError(f"choices must be finite, got {choice!r}")
            if scalar_key(choice) in seen:
                raise SpaceError(f"choices must be distinct; {choice!r} appears twice")
            seen.add(scalar_key(choice))
        if self.prior is not None and scalar_key(self.prior) not in seen:
            raise SpaceError(f"prior {self.prior!r} is not among the choices {list(self.choices)}")
        _check_confidence(self.confidence)
        _check_when(self.when)

    @cached_property
    def _positions(self) -> dict[tuple[str, Any], int]:
        return {scalar_key(c): i for i, c in enumerate(self.choices)}

    def index(self, value: Any) -> int:
        """Position of ``value`` among the choices (``True`` does not match ``1``)."""
        try:
            return self._positions[scalar_key(value)]
        except (KeyError, TypeError):
            raise SpaceError(f"{value!r} is not among the choices {list(self.choices)}") from None

    def _value_problem(self, value: Any) -> str | None:
        try:
            self.index(value)
        except SpaceError as error:
            return str(error)
        return None

    @property
    def probabilities(self) -> NDArray[np.float64]:
        """Prior probability of each choice, shape (k,); uniform without a prior."""
        prior_index = None if self.prior is None else self.index(self.prior)
        return categorical_probabilities(len(self.choices), prior_index, self.confidence)

    def to_unit(self, value: Scalar) -> float:
        """``(index + 0.5) / k``: the centre of the choice's bin in [0, 1]."""
        return (self.index(value) + 0.5) / len(self.choices)

    def _indices(self, u: Any) -> NDArray[np.int64]:
        k = len(self.choices)
        return np.asarray(np.minimum(np.floor(np.clip(u, 0.0, 1.0) * k), k - 1), dtype=np.int64)

    def from_unit(self, u: float) -> Scalar:
        """The choice whose bin contains ``u`` (clipped to [0, 1])."""
        return self.choices[int(self._indices(u))]

    @property
    def default(self) -> Scalar:
        """The prior choice if given, else the first choice."""
        return self.prior if self.prior is not None else self.choices[0]

    def sample(self, rng: np.random.Generator, size: int, *, use_prior: bool = False) -> list[Any]:
        """Draw ``size`` choices: prior-weighted when ``use_prior`` and a prior is set."""
        k = len(self.choices)
        if use_prior and self.prior is not None:
            indices = rng.choice(k, size=size, p=self.probabilities)
        else:
            indices = rng.integers(0, k, size)
        return [self.choices[i] for i in indices]

    def log_prior(self, value: Scalar) -> float:
        """Log prior density in unit space: ``log(k * p(value))``; 0.0 without a prior.

        A choice owns a bin of width 1/k, so its density there is k times its probability; this
        makes a uniform categorical contribute 0, like a uniform number.
        """
        if self.prior is None:
            return 0.0
        return math.log(len(self.choices) * self.probabilities[self.index(value)])

    def log_prior_unit(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        """Log prior density at unit values ``u`` (any shape)."""
        u = np.asarray(u, dtype=np.float64)
        inside = (u >= 0.0) & (u <= 1.0)
        if self.prior is None:
            return np.where(inside, 0.0, -np.inf)
        logs = np.log(len(self.choices) * self.probabilities)
        return np.where(inside, logs[self._indices(np.nan_to_num(u))], -np.inf)

    def grid(self, n: int) -> list[Scalar]:
        """All choices, whatever ``n`` (a categorical grid cannot be thinned evenly)."""
        if n < 1:
            raise ValueError(f"grid size must be >= 1, got {n}")
        return list(self.choices)


@dataclass(frozen=True, repr=False)
class Constant(Parameter):
    """A fixed value passed to every configuration (str, int, float, bool or None); not searched."""

    value: Scalar | None
    type_name: ClassVar[str] = "constant"

    def __post_init__(self) -> None:
        object.__setattr__(self, "value", _py(self.value))

    def _check(self) -> None:
        value = self.value
        if value is not None and not isinstance(value, str | int | float):
            raise SpaceError(f"a constant must be str, int, float, bool or None, got {value!r}")
        if isinstance(value, float) and not math.isfinite(value):
            raise SpaceError(f"a constant must be finite, got {value!r}")

    def _value_problem(self, value: Any) -> str | None:
        if scalar_key(value) != scalar_key(self.value):
            return f"must equal the constant {self.value!r}, got {value!r}"
        return None


@dataclass(frozen=True, repr=False)
class Fidelity(Parameter):
    """The budget axis (epochs, data fraction): integer when both bounds are ints, else float.

    At most one per space; it is never part of a sampled configuration. ``lower`` must be > 0.

    ``resumable`` says whether a run at a higher fidelity continues the lower one's work. True
    (the default) for epochs: a promotion from 3 to 9 epochs resumes from the 3-epoch checkpoint
    (``trial.previous_directory``) and costs the 6 epochs it adds. False for a fraction of the
    training data that the model is retrained on: a promotion from 1/3 to all the data costs the
    whole new run, so the budget counts its full fidelity (:meth:`units`). Optimizers schedule
    both alike; only what a continuation counts differs.
    """

    lower: int | float
    upper: int | float
    _: KW_ONLY
    log: bool = False
    resumable: bool = True
    type_name: ClassVar[str] = "fidelity"

    def __post_init__(self) -> None:
        lower, upper = _py(self.lower), _py(self.upper)
        if _is_number(lower) and _is_number(upper) and not (_is_int(lower) and _is_int(upper)):
            lower, upper = float(lower), float(upper)
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    @property
    def is_integer(self) -> bool:
        """True when both bounds are ints: fidelity values are then ints too."""
        return _is_int(self.lower) and _is_int(self.upper)

    def _check(self) -> None:
        for attr in ("lower", "upper"):
            value = getattr(self, attr)
            if not _is_number(value) or not math.isfinite(value):
                raise SpaceError(f"{attr} must be a number, got {value!r}")
        if self.lower <= 0:
            raise SpaceError(f"a fidelity needs lower > 0, got lower={self.lower}")
        if self.lower >= self.upper:
            raise SpaceError(f"lower ({self.lower}) must be < upper ({self.upper})")
        if not isinstance(self.log, bool):
            raise SpaceError(f"log must be True or False, got {self.log!r}")
        if not isinstance(self.resumable, bool):
            raise SpaceError(f"resumable must be True or False, got {self.resumable!r}")

    def _value_problem(self, value: Any) -> str | None:
        value = _py(value)
        if not _is_number(value) or not math.isfinite(value):
            return f"expected a number, got {value!r}"
        if self.is_integer and not float(value).is_integer():
            return f"expected an integer fidelity, got {value!r}"
        if not self.lower <= value <= self.upper:
            return f"fidelity {value!r} is outside [{self.lower}, {self.upper}]"
        return None

    def clip(self, value: float) -> int | float:
        """``value`` clipped to [lower, upper]; rounded to an int for an integer fidelity."""
        clipped = min(max(value, self.lower), self.upper)
        return math.floor(clipped + 0.5) if self.is_integer else float(clipped)

    def to_unit(self, value: float) -> float:
        """Map a fidelity to [0, 1], on logs when ``log``."""
        return float(_to_unit(value, self.lower, self.upper, self.log))

    def from_unit(self, u: float) -> int | float:
        """Inverse of :meth:`to_unit`, rounded for an integer fidelity."""
        return self.clip(float(_from_unit(u, self.lower, self.upper, self.log)))

    def units(self, value: float, previous: float | None = None) -> float:
        """The budget an evaluation at ``value`` adds, in full-fidelity evaluations.

        ``value / upper`` from scratch. A continuation of a run at ``previous`` adds
        ``(value - previous) / upper`` (never below 0) when the fidelity is ``resumable``, and
        the whole ``value / upper`` when it is not (the run starts again). This is the rule
        behind :func:`tunewise.trial.fidelity_units`, the count every budget uses.
        """
        start = 0.0 if previous is None or not self.resumable else float(previous)
        return max(float(value) - start, 0.0) / float(self.upper)
