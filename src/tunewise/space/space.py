"""The search space: validated parameters, conditions, sampling, priors and unit-cube encoding.

A configuration (``config``) is a plain dict: every *active* searchable parameter plus the
constants, never the fidelity (that travels separately with a trial). A conditional parameter is
active when each parent it names in ``when`` is active and takes one of the listed values.

The unit-cube encoding covers :attr:`Space.dimension_names` (the searchable parameters, in order):
shape (d,) per config, (n, d) for many; an inactive dimension is NaN.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from os import PathLike
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from numpy.typing import NDArray

from tunewise.space import serialization
from tunewise.space.architecture import Architecture
from tunewise.space.errors import SpaceError, named
from tunewise.space.parameters import (
    Categorical,
    Constant,
    Fidelity,
    Float,
    Integer,
    Parameter,
    scalar_key,
)

if TYPE_CHECKING:
    from ConfigSpace import ConfigurationSpace

_SEARCHABLE = (Float, Integer, Categorical)
_KINDS = (Float, Integer, Categorical, Architecture, Constant, Fidelity)


def _check_rng(rng: Any) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(
            "rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )


class Space:
    """An immutable, validated search space: ``Space(name=Parameter, ...)`` in keyword order.

    Construction raises :class:`SpaceError` naming the parameter for invalid bounds, priors,
    choices, conditions (unknown, non-categorical or constant parent, values not among the
    parent's choices, cycles) and for more than one :class:`Fidelity`.
    """

    __slots__ = (
        "_architectures",
        "_conditions",
        "_constants",
        "_fidelity_name",
        "_json",
        "_order",
        "_params",
        "_searchable",
    )
    _params: dict[str, Parameter]
    _searchable: dict[str, Float | Integer | Categorical]
    _architectures: dict[str, Architecture]
    _constants: dict[str, Any]
    _fidelity_name: str | None
    _conditions: dict[str, tuple[tuple[str, frozenset[Any]], ...]]
    _order: tuple[str, ...]
    _json: str | None

    def __init__(self, **parameters: Parameter) -> None:
        fidelity_name: str | None = None
        for name, param in parameters.items():
            if not name:
                raise SpaceError("parameter names must be non-empty strings")
            if not isinstance(param, _KINDS):
                raise SpaceError(
                    f"parameter {name!r}: expected a Float, Integer, Categorical, Architecture, "
                    f"Constant or Fidelity, got {type(param).__name__} {param!r}"
                )
            try:
                param._check()
            except SpaceError as error:
                raise named(name, error) from None
            if isinstance(param, Fidelity):
                if fidelity_name is not None:
                    raise SpaceError(
                        f"parameter {name!r}: a space has at most one fidelity, "
                        f"and {fidelity_name!r} is one already"
                    )
                fidelity_name = name
        setattr_ = object.__setattr__
        setattr_(self, "_params", dict(parameters))
        setattr_(self, "_fidelity_name", fidelity_name)
        constants = {n: p.value for n, p in parameters.items() if isinstance(p, Constant)}
        setattr_(self, "_constants", constants)
        setattr_(
            self,
            "_searchable",
            {n: p for n, p in parameters.items() if isinstance(p, _SEARCHABLE)},
        )
        setattr_(
            self,
            "_architectures",
            {n: p for n, p in parameters.items() if isinstance(p, Architecture)},
        )
        setattr_(self, "_conditions", self._check_conditions())
        setattr_(self, "_order", self._topological_order())
        setattr_(self, "_json", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Space is immutable; build a new one")

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (list(self._params.items()),))

    # -- validation of conditions --------------------------------------------------------------

    def _check_conditions(self) -> dict[str, tuple[tuple[str, frozenset[Any]], ...]]:
        """Per conditional parameter: (parent, allowed value keys) pairs."""
        conditions = {}
        for name, param in self._params.items():
            if param.when is None:
                continue
            pairs = []
            for parent, values in param.when.items():
                if parent not in self._params:
                    raise SpaceError(
                        f"parameter {name!r}: condition on unknown parameter {parent!r}"
                    )
                parent_param = self._params[parent]
                if not isinstance(parent_param, Categorical):
                    kind = parent_param.type_name
                    raise SpaceError(
                        f"parameter {name!r}: condition on {parent!r}, which is a {kind}; "
                        "conditions can only name categorical parameters"
                    )
                for value in values:
                    if not parent_param.contains(value):
                        raise SpaceError(
                            f"parameter {name!r}: condition value {value!r} is not among the "
                            f"choices of {parent!r}: {list(parent_param.choices)}"
                        )
                pairs.append((parent, frozenset(scalar_key(v) for v in values)))
            conditions[name] = tuple(pairs)
        return conditions

    def _topological_order(self) -> tuple[str, ...]:
        """Parameter names with every parent before its children; raises on a cycle."""
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(name: str, path: list[str]) -> None:
            if state.get(name) == "done":
                return
            if state.get(name) == "visiting":
                cycle = " -> ".join([*path[path.index(name) :], name])
                raise SpaceError(f"parameter {name!r}: conditions form a cycle: {cycle}")
            state[name] = "visiting"
            for parent, _ in self._conditions.get(name, ()):
                visit(parent, [*path, name])
            state[name] = "done"
            order.append(name)

        for name in self._params:
            visit(name, [])
        return tuple(order)

    # -- views ---------------------------------------------------------------------------------

    @property
    def parameters(self) -> Mapping[str, Parameter]:
        """All parameters in order (read-only)."""
        return MappingProxyType(self._params)

    @property
    def fidelity_name(self) -> str | None:
        """Name of the fidelity parameter, or None."""
        return self._fidelity_name

    @property
    def fidelity(self) -> Fidelity | None:
        """The fidelity parameter, or None."""
        if self._fidelity_name is None:
            return None
        return cast(Fidelity, self._params[self._fidelity_name])

    @property
    def searchable(self) -> dict[str, Float | Integer | Categorical]:
        """The dimensions optimizers search: everything but the fidelity and constants."""
        return dict(self._searchable)

    @property
    def architectures(self) -> dict[str, Architecture]:
        """The architecture parameters (searched, but not part of the unit-cube encoding)."""
        return dict(self._architectures)

    @property
    def dimension_names(self) -> tuple[str, ...]:
        """Names of the unit-cube dimensions, in order (= the keys of :attr:`searchable`)."""
        return tuple(self._searchable)

    @property
    def constants(self) -> dict[str, Any]:
        """Constant name -> value."""
        return dict(self._constants)

    @property
    def has_priors(self) -> bool:
        """Whether any searchable parameter or architecture has a prior."""
        return any(p.prior is not None for p in self._searchable.values()) or any(
            a.has_prior for a in self._architectures.values()
        )

    @property
    def has_conditions(self) -> bool:
        """Whether any parameter is conditional."""
        return bool(self._conditions)

    def __len__(self) -> int:
        return len(self._params)

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __getitem__(self, name: str) -> Parameter:
        return self._params[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __repr__(self) -> str:
        if not self._params:
            return "Space()"
        lines = "".join(f"    {name}={param!r},\n" for name, param in self._params.items())
        return f"Space(\n{lines})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Space):
            return NotImplemented
        return self.to_json() == other.to_json()

    def __hash__(self) -> int:
        return hash(self.to_json())

    # -- conditions ----------------------------------------------------------------------------

    def _active(self, config: Mapping[str, Any]) -> dict[str, bool]:
        """Activity of every parameter given the parent values in ``config``."""
        if not self._conditions:  # nothing is conditional: everything is active
            return dict.fromkeys(self._order, True)
        active: dict[str, bool] = {}
        for name in self._order:
            active[name] = all(
                active[parent] and parent in config and _key(config[parent]) in allowed
                for parent, allowed in self._conditions.get(name, ())
            )
        return active

    def is_active(self, name: str, config: Mapping[str, Any]) -> bool:
        """Whether ``name`` is active given the parent values in ``config``."""
        if name not in self._params:
            raise SpaceError(f"unknown parameter {name!r}")
        return self._active(config)[name]

    def _finish(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """A config from searchable ``values``: drop inactive ones, add constants, keep order."""
        active = self._active(values)
        return {
            name: self._constants[name] if name in self._constants else values[name]
            for name in self._params
            if name in self._constants or (name != self._fidelity_name and active[name])
        }

    # -- sampling and priors -------------------------------------------------------------------

    def sample(self, rng: np.random.Generator, *, use_priors: bool = False) -> dict[str, Any]:
        """One config: uniform, or from the priors of the parameters that have one."""
        return self.sample_many(rng, 1, use_priors=use_priors)[0]

    def sample_many(
        self, rng: np.random.Generator, n: int, *, use_priors: bool = False
    ) -> list[dict[str, Any]]:
        """``n`` configs drawn independently (see :meth:`sample`); only ``rng`` is used."""
        _check_rng(rng)
        columns: dict[str, list[Any]] = {
            name: param.sample(rng, n, use_prior=use_priors)
            for name, param in self._searchable.items()
        }
        for name, arch in self._architectures.items():
            columns[name] = arch.sample(rng, n, use_prior=use_priors)
        return [self._finish({name: col[i] for name, col in columns.items()}) for i in range(n)]

    def complete(
        self, values: Mapping[str, Any], rng: np.random.Generator, *, use_priors: bool = False
    ) -> dict[str, Any]:
        """A config that takes ``values`` for the parameters they name and samples the rest.

        What a partial configuration (an old study's values mapped onto this space) needs to
        become a full one: every searchable or architecture parameter not in ``values`` is drawn
        (uniformly, or from its prior), then inactive ones are dropped as in :meth:`sample`.
        The caller passes legal values; :meth:`validate_config` checks the result.
        """
        _check_rng(rng)
        drawn: dict[str, Any] = {}
        for name, param in [*self._searchable.items(), *self._architectures.items()]:
            drawn[name] = (
                values[name] if name in values else param.sample(rng, 1, use_prior=use_priors)[0]
            )
        return self._finish(drawn)

    def prior_config(self) -> dict[str, Any]:
        """The prior's mode: each prior value, else the middle of the (log-)range / first choice."""
        values = {name: param.default for name, param in self._searchable.items()}
        values.update({name: arch.default for name, arch in self._architectures.items()})
        return self._finish(values)

    def log_prior(self, config: Mapping[str, Any]) -> float:
        """Log prior density of ``config`` in (log-)unit space, summed over active dimensions.

        A dimension without a prior is uniform on [0, 1] and contributes 0; a categorical
        contributes ``log(k * p(choice))`` (its density on the unit cube), so the result is a
        proper log-density on the unit cube. Integers use the continuous density at their value.
        """
        active = self._active(config)
        total = 0.0
        for name, param in [*self._searchable.items(), *self._architectures.items()]:
            if not active[name]:
                continue
            if name not in config:
                raise SpaceError(f"parameter {name!r}: missing from the config but active")
            try:
                total += param.log_prior(config[name])
            except SpaceError as error:
                raise named(name, error) from None
        return total

    def log_prior_unit(self, u: NDArray[np.float64]) -> NDArray[np.float64] | float:
        """Vectorized :meth:`log_prior` on unit vectors: shape (d,) -> float, (n, d) -> (n,).

        Dimensions that are NaN or inactive (per :meth:`active_mask`) contribute 0.
        """
        arr = np.asarray(u, dtype=np.float64)
        rows = np.atleast_2d(arr)
        mask = self.active_mask(rows)
        total = np.zeros(rows.shape[0])
        for j, param in enumerate(self._searchable.values()):
            col = np.where(mask[:, j], rows[:, j], 0.5)
            total += np.where(mask[:, j], param.log_prior_unit(col), 0.0)
        return float(total[0]) if arr.ndim == 1 else total

    def with_priors(self, config: Mapping[str, Any], *, confidence: str | None = None) -> Space:
        """A copy whose priors sit at ``config``'s values (e.g. PriorBand's incumbent prior).

        Searchable parameters missing from ``config`` keep their prior. ``confidence`` overrides
        every changed parameter's confidence; by default each keeps its own.
        """
        params: dict[str, Parameter] = {}
        for name, param in self._params.items():
            if isinstance(param, (*_SEARCHABLE, Architecture)) and name in config:
                conf = param.confidence if confidence is None else confidence
                param = replace(param, prior=config[name], confidence=conf)
            params[name] = param
        return Space(**params)

    # -- unit-cube encoding --------------------------------------------------------------------

    def encode(self, config: Mapping[str, Any]) -> NDArray[np.float64]:
        """``config`` -> unit vector, shape (d,); inactive or missing conditional dims are NaN."""
        active = self._active(config)
        out = np.full(len(self._searchable), np.nan)
        for j, (name, param) in enumerate(self._searchable.items()):
            if name not in config:
                if name not in self._conditions:
                    raise SpaceError(f"parameter {name!r}: missing from the config")
                continue
            if not active[name]:
                continue
            problem = param._value_problem(config[name])
            if problem is not None:
                raise SpaceError(f"parameter {name!r}: {problem}")
            out[j] = param.to_unit(config[name])
        return out

    def encode_many(self, configs: Sequence[Mapping[str, Any]]) -> NDArray[np.float64]:
        """Configs -> unit vectors, shape (n, d)."""
        out = np.empty((len(configs), len(self._searchable)))
        for i, config in enumerate(configs):
            out[i] = self.encode(config)
        return out

    def decode(
        self, u: NDArray[np.float64], *, architectures: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Unit vector, shape (d,) -> config: clip to [0, 1], round integers, pick choices, drop
        dimensions whose condition fails (NaN allowed there), add constants.

        ``architectures``: the values of the architecture parameters, which the unit cube does not
        hold; needed for each one that is active (inactive ones are dropped).
        """
        arr = np.asarray(u, dtype=np.float64)
        names = self.dimension_names
        if arr.shape != (len(names),):
            raise SpaceError(f"expected a unit vector of shape ({len(names)},), got {arr.shape}")
        values = {
            name: param.from_unit(arr[j])
            for j, (name, param) in enumerate(self._searchable.items())
            if not np.isnan(arr[j])
        }
        values.update(architectures or {})
        active = self._active(values)
        for name in names:
            if active[name] and name not in values:
                raise SpaceError(f"parameter {name!r}: active but its unit value is NaN")
        for name in self._architectures:
            if active[name] and name not in values:
                raise SpaceError(f"parameter {name!r}: an active architecture needs its value")
        return self._finish(values)

    def decode_many(self, u: NDArray[np.float64]) -> list[dict[str, Any]]:
        """Unit vectors, shape (n, d) -> configs."""
        return [self.decode(row) for row in np.asarray(u, dtype=np.float64)]

    def active_mask(self, u: NDArray[np.float64]) -> NDArray[np.bool_]:
        """Which dimensions are active for unit vectors ``u`` of shape (n, d): bool (n, d).

        Parents are decoded from their columns; a NaN dimension is inactive.
        """
        rows = np.atleast_2d(np.asarray(u, dtype=np.float64))
        columns = {name: j for j, name in enumerate(self.dimension_names)}
        mask = ~np.isnan(rows)
        searchable = self._searchable
        for name in self._order:
            if name not in self._conditions or name not in columns:  # architectures: no column
                continue
            j = columns[name]
            for parent, allowed in self._conditions[name]:
                p = columns[parent]
                parent_param = searchable[parent]
                # validated at construction: a condition's parent is categorical
                assert isinstance(parent_param, Categorical)
                indices = parent_param._indices(np.nan_to_num(rows[:, p]))
                ok = np.array([scalar_key(c) in allowed for c in parent_param.choices])
                mask[:, j] &= mask[:, p] & ok[indices]
        return mask

    # -- configs -------------------------------------------------------------------------------

    def validate_config(self, config: Mapping[str, Any]) -> None:
        """Raise :class:`SpaceError` naming the parameter unless ``config`` is valid.

        Checks: no unknown keys; values of the right type within bounds / among the choices
        (Integer takes Python or NumPy ints only); constants present and equal; every active
        parameter present and no inactive one. A fidelity key is allowed if within its bounds.
        """
        if not isinstance(config, Mapping):
            raise SpaceError(f"a config must be a mapping, got {type(config).__name__}")
        for name, value in config.items():
            if name not in self._params:
                raise SpaceError(f"unknown parameter {name!r} (known: {list(self._params)})")
            problem = self._params[name]._value_problem(value)
            if problem is not None:
                raise SpaceError(f"parameter {name!r}: {problem}")
        active = self._active(config)
        for name, param in self._params.items():
            if name == self._fidelity_name:
                continue
            if active[name] and name not in config:
                kind = "constant" if isinstance(param, Constant) else "active parameter"
                raise SpaceError(f"parameter {name!r}: missing ({kind})")
            if not active[name] and name in config:
                raise SpaceError(
                    f"parameter {name!r}: present but inactive (needs {_fmt_when(param)})"
                )

    # -- serialization -------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict form, ``{name: {"type": ..., ...}}`` in parameter order."""
        return serialization.parameters_to_dict(self._params)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Space:
        """Inverse of :meth:`to_dict`; also accepts the human conveniences of :meth:`from_yaml`."""
        return cls(**serialization.parameters_from_dict(data))

    def to_json(self) -> str:
        """Stable JSON text (same space -> same string), in parameter order."""
        text = self._json
        if text is None:
            text = json.dumps(self.to_dict(), allow_nan=False)
            object.__setattr__(self, "_json", text)
        return text

    @classmethod
    def from_json(cls, text: str) -> Space:
        """Inverse of :meth:`to_json`."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise SpaceError(f"invalid JSON for a space: {error}") from None
        return cls.from_dict(data)

    def to_yaml(self) -> str:
        """YAML text of :meth:`to_dict`."""
        return serialization.dump_yaml(self.to_dict())

    @classmethod
    def from_yaml(cls, source: str | PathLike[str]) -> Space:
        """A space from YAML text or a ``.yaml``/``.yml`` file path.

        Beyond the dict form: a bare scalar is a :class:`Constant`, a bare list a
        :class:`Categorical`; type names are case-insensitive (``int``/``integer``, ``float``,
        ``cat``/``categorical``, ``fidelity``, ``constant``); a missing type is inferred from the
        keys; ``1e-5`` is read as a number.
        """
        return cls.from_dict(serialization.load_yaml(source))

    def to_configspace(self, *, seed: int | None = None) -> ConfigurationSpace:
        """This space as a ``ConfigSpace.ConfigurationSpace`` (the ``configspace`` extra); see
        :mod:`tunewise.space.configspace` for what maps to what."""
        from tunewise.space.configspace import to_configspace

        return to_configspace(self, seed=seed)

    @classmethod
    def from_configspace(
        cls, configuration_space: ConfigurationSpace, *, defaults_as_priors: bool = False
    ) -> Space:
        """A space from a ``ConfigSpace.ConfigurationSpace`` (the ``configspace`` extra); see
        :func:`tunewise.space.configspace.from_configspace`."""
        from tunewise.space.configspace import from_configspace

        return from_configspace(configuration_space, defaults_as_priors=defaults_as_priors)

    def diff(self, other: Space) -> list[str]:
        """Human-readable differences from ``self`` to ``other``; empty when equal."""
        return serialization.diff_parameters(self._params, other._params)


def _key(value: Any) -> Any:
    """``scalar_key(value)``, or None for an unhashable value (which matches no condition)."""
    key = scalar_key(value)
    try:
        hash(key)
    except TypeError:
        return None
    return key


def _fmt_when(param: Parameter) -> str:
    assert param.when is not None
    return " and ".join(f"{parent} in {list(values)}" for parent, values in param.when.items())


def _rebuild(items: list[tuple[str, Parameter]]) -> Space:
    return Space(**dict(items))
