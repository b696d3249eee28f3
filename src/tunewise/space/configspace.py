"""Convert between a tunewise :class:`Space` and a ``ConfigSpace.ConfigurationSpace``.

ConfigSpace is the space format of SMAC, DEHB, HpBandSter and the HPOBench/YAHPO benchmarks, so
this lets a space move between tunewise and those tools. It is an optional extra
(``pip install 'tunewise[configspace]'``), imported only when a conversion runs.

What maps to what (``to_configspace`` / ``from_configspace``):

- ``Float``/``Integer`` <-> ``UniformFloat``/``UniformInteger`` (bounds, ``log``).
- A prior on a linear-scale number <-> ``NormalFloat``/``NormalInteger``: tunewise's prior is a
  normal truncated to the range in unit space, centred on the prior with standard deviation
  0.5 / 0.25 / 0.125 of the range (low / medium / high confidence), which is exactly ConfigSpace's
  normal with ``mu = prior`` and ``sigma = sd * (upper - lower)``. Read back, a ``sigma`` is
  given the confidence whose width is nearest (on a log scale). A ``BetaFloat``/``BetaInteger``
  becomes a prior at its default (the beta's mode) with the confidence nearest its spread.
- A prior on a log-scale number is written as a log-uniform parameter whose ``default_value`` is
  the prior: ConfigSpace's log-scale normal scales ``sigma`` in a way that is not a width in
  log space, so no normal corresponds.
- ``Categorical`` <-> ``Categorical``; a prior choice <-> ``weights`` of 2 / 4 / 6 for it and 1
  for the others (and ``default_value``). Other weights have no counterpart (error).
  An ``OrdinalHyperparameter`` becomes a ``Categorical`` of its sequence (the order is dropped).
- ``Constant`` <-> ``Constant``.
- ``when=`` <-> ``EqualsCondition`` (one value), ``InCondition`` (several), an
  ``AndConjunction`` of those for several parents. Other conditions (``OrConjunction``,
  not-equal, less/greater-than) and forbidden clauses have no counterpart: ``SpaceError``.
- The ``Fidelity`` is not a hyperparameter in ConfigSpace (SMAC and DEHB take the budget
  range separately): it is left out of the hyperparameters and kept in the
  ``ConfigurationSpace``'s ``meta`` under ``"tunewise_fidelity"``, from which
  ``from_configspace`` restores it (with the parameters' order, which ConfigSpace sorts by
  name, under ``"tunewise_order"``). An ``Architecture`` has no counterpart: ``SpaceError``.

Each converted hyperparameter also carries tunewise's prior and confidence in its ``meta``
(``{"tunewise": {...}}``), so a space survives a round trip exactly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunewise.space.architecture import Architecture
from tunewise.space.errors import SpaceError
from tunewise.space.parameters import (
    Categorical,
    Constant,
    Fidelity,
    Float,
    Integer,
    Parameter,
)
from tunewise.space.priors import CATEGORICAL_WEIGHT, CONFIDENCES, NUMERIC_SD

if TYPE_CHECKING:
    import ConfigSpace

    from tunewise.space.space import Space

INSTALL_HINT = "converting to and from ConfigSpace needs `pip install 'tunewise[configspace]'`"
META_KEY = "tunewise"
FIDELITY_KEY = "tunewise_fidelity"
ORDER_KEY = "tunewise_order"


def _configspace() -> Any:
    try:
        import ConfigSpace
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from error
    return ConfigSpace


# -- tunewise -> ConfigSpace ----------------------------------------------------------------------


def to_configspace(space: Space, *, seed: int | None = None) -> ConfigSpace.ConfigurationSpace:
    """The ConfigurationSpace of ``space`` (``seed`` seeds its sampler); see the module notes."""
    cs = _configspace()
    meta: dict[str, Any] = {ORDER_KEY: list(space.parameters)}  # ConfigSpace sorts by name
    fidelity = space.fidelity
    if fidelity is not None:
        meta[FIDELITY_KEY] = {
            "name": space.fidelity_name,
            "lower": fidelity.lower,
            "upper": fidelity.upper,
            "log": fidelity.log,
            "resumable": fidelity.resumable,
        }
    result = cs.ConfigurationSpace(seed=seed, meta=meta)
    hyperparameters = []
    for name, param in space.parameters.items():
        if isinstance(param, Fidelity):
            continue
        if isinstance(param, Architecture):
            raise SpaceError(
                f"parameter {name!r}: an architecture (grammar) parameter has no ConfigSpace "
                "counterpart"
            )
        hyperparameters.append(_hyperparameter(cs, name, param))
    result.add(hyperparameters)
    result.add([_condition(cs, result, name, p) for name, p in _conditional(space)])
    configuration_space: ConfigSpace.ConfigurationSpace = result
    return configuration_space


def _conditional(space: Space) -> list[tuple[str, Parameter]]:
    return [(n, p) for n, p in space.parameters.items() if p.when is not None]


def _hyperparameter(cs: Any, name: str, param: Parameter) -> Any:
    if isinstance(param, Constant):
        if param.value is None:
            raise SpaceError(f"parameter {name!r}: ConfigSpace has no constant None")
        return cs.Constant(name, param.value)
    if isinstance(param, Categorical):
        return _categorical(cs, name, param)
    assert isinstance(param, Float | Integer)
    return _numeric(cs, name, param)


def _numeric(cs: Any, name: str, param: Float | Integer) -> Any:
    integer = isinstance(param, Integer)
    bounds = {"lower": param.lower, "upper": param.upper, "log": param.log}
    if param.prior is None:
        kind = cs.UniformIntegerHyperparameter if integer else cs.UniformFloatHyperparameter
        return kind(name, **bounds)
    meta = {META_KEY: {"prior": param.prior, "confidence": param.confidence}}
    if param.log:  # no ConfigSpace normal corresponds (see the module notes)
        kind = cs.UniformIntegerHyperparameter if integer else cs.UniformFloatHyperparameter
        return kind(name, default_value=param.prior, meta=meta, **bounds)
    sigma = param.sd * (param.upper - param.lower)
    kind = cs.NormalIntegerHyperparameter if integer else cs.NormalFloatHyperparameter
    return kind(name, mu=param.prior, sigma=sigma, default_value=param.prior, meta=meta, **bounds)


def _categorical(cs: Any, name: str, param: Categorical) -> Any:
    choices = list(param.choices)
    if param.prior is None:
        return cs.CategoricalHyperparameter(name, choices)
    weights = [float(w) for w in param.probabilities / param.probabilities.min()]
    meta = {META_KEY: {"prior": param.prior, "confidence": param.confidence}}
    return cs.CategoricalHyperparameter(
        name, choices, default_value=param.prior, weights=weights, meta=meta
    )


def _condition(cs: Any, result: Any, name: str, param: Parameter) -> Any:
    assert param.when is not None
    child = result[name]
    parts = []
    for parent, values in param.when.items():
        if len(values) == 1:
            parts.append(cs.EqualsCondition(child, result[parent], values[0]))
        else:
            parts.append(cs.InCondition(child, result[parent], list(values)))
    return parts[0] if len(parts) == 1 else cs.AndConjunction(*parts)


# -- ConfigSpace -> tunewise ----------------------------------------------------------------------


def from_configspace(
    configuration_space: ConfigSpace.ConfigurationSpace, *, defaults_as_priors: bool = False
) -> Space:
    """The tunewise Space of a ConfigurationSpace; see the module notes for what maps to what.

    ConfigSpace gives every hyperparameter a default, so a default becomes a prior (at medium
    confidence) only with ``defaults_as_priors=True``; normal and beta hyperparameters and the
    weights of categoricals are priors whatever it is set to. Raises :class:`SpaceError` naming
    the hyperparameter for what has no tunewise counterpart.
    """
    from tunewise.space.space import Space

    cs = _configspace()
    if not isinstance(configuration_space, cs.ConfigurationSpace):
        raise TypeError(
            "from_configspace needs a ConfigSpace.ConfigurationSpace, "
            f"not {type(configuration_space).__name__}"
        )
    if configuration_space.forbidden_clauses:
        clause = configuration_space.forbidden_clauses[0]
        names = sorted(_forbidden_names(clause))
        raise SpaceError(
            f"hyperparameter(s) {', '.join(map(repr, names))}: forbidden clause {clause} has no "
            "tunewise counterpart (a tunewise space has no forbidden combinations; return a "
            "failed trial or a penalty from evaluate instead)"
        )
    conditions = _conditions(cs, configuration_space)
    parameters: dict[str, Parameter] = {}
    for hp in configuration_space.values():
        parameters[hp.name] = _parameter(cs, hp, defaults_as_priors, conditions.get(hp.name))
    meta = configuration_space.meta if isinstance(configuration_space.meta, Mapping) else {}
    fidelity = meta.get(FIDELITY_KEY)
    if isinstance(fidelity, Mapping):
        parameters[str(fidelity["name"])] = Fidelity(
            fidelity["lower"],
            fidelity["upper"],
            log=bool(fidelity["log"]),
            resumable=bool(fidelity.get("resumable", True)),  # absent in older metadata
        )
    order = meta.get(ORDER_KEY)
    if isinstance(order, list) and sorted(order) == sorted(parameters):
        parameters = {name: parameters[name] for name in order}  # the order it was written in
    return Space(**parameters)


def _forbidden_names(clause: Any) -> set[str]:
    names: set[str] = set()
    for attr in ("hyperparameter", "left", "right"):
        hp = getattr(clause, attr, None)
        if hp is not None:
            names.add(hp.name)
    for component in getattr(clause, "components", ()):
        names |= _forbidden_names(component)
    return names


def _conditions(cs: Any, space: Any) -> dict[str, dict[str, list[Any]]]:
    """child name -> tunewise ``when`` (parent -> allowed values)."""
    found: dict[str, dict[str, list[Any]]] = {}
    for condition in space.conditions:
        parts = condition.components if isinstance(condition, cs.AndConjunction) else [condition]
        for part in parts:
            child = part.child.name if hasattr(part, "child") else "?"
            if isinstance(part, cs.EqualsCondition):
                values = [part.value]
            elif isinstance(part, cs.InCondition):
                values = list(part.values)
            else:
                raise SpaceError(
                    f"hyperparameter {child!r}: condition {part} has no tunewise counterpart "
                    "(tunewise's when= allows equals / in conditions on categoricals, joined "
                    "by and)"
                )
            when = found.setdefault(part.child.name, {})
            if part.parent.name in when:
                raise SpaceError(
                    f"hyperparameter {child!r}: two conditions on {part.parent.name!r} have no "
                    "tunewise counterpart"
                )
            when[part.parent.name] = [_plain(v) for v in values]
    return found


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


def _parameter(
    cs: Any, hp: Any, defaults_as_priors: bool, when: dict[str, list[Any]] | None
) -> Parameter:
    name = hp.name
    stored = (hp.meta or {}).get(META_KEY, {}) if isinstance(hp.meta, Mapping) else {}
    try:
        if isinstance(hp, cs.Constant):
            if when is not None:
                raise SpaceError("a constant cannot be conditional in tunewise")
            return Constant(_plain(hp.value))
        if isinstance(hp, cs.CategoricalHyperparameter):
            return _to_categorical(hp, defaults_as_priors, stored, when)
        if isinstance(hp, cs.OrdinalHyperparameter):
            choices = [_plain(v) for v in hp.sequence]
            prior = _plain(hp.default_value) if defaults_as_priors else None
            return Categorical(choices, prior=prior, when=when)
        numeric = (
            cs.UniformFloatHyperparameter,
            cs.UniformIntegerHyperparameter,
            cs.NormalFloatHyperparameter,
            cs.NormalIntegerHyperparameter,
            cs.BetaFloatHyperparameter,
            cs.BetaIntegerHyperparameter,
        )
        if isinstance(hp, numeric):
            return _to_numeric(cs, hp, defaults_as_priors, stored, when)
    except SpaceError as error:
        raise SpaceError(f"hyperparameter {name!r}: {error}") from None
    raise SpaceError(f"hyperparameter {name!r}: {type(hp).__name__} has no tunewise counterpart")


def _to_numeric(
    cs: Any, hp: Any, defaults_as_priors: bool, stored: Mapping[str, Any], when: Any
) -> Parameter:
    integer = isinstance(
        hp,
        cs.UniformIntegerHyperparameter
        | cs.NormalIntegerHyperparameter
        | cs.BetaIntegerHyperparameter,
    )
    lower, upper, log = hp.lower, hp.upper, bool(hp.log)
    cast = int if integer else float
    prior: Any = None
    confidence = "medium"
    if "prior" in stored:
        prior, confidence = stored["prior"], str(stored.get("confidence", "medium"))
    elif isinstance(hp, cs.NormalFloatHyperparameter | cs.NormalIntegerHyperparameter):
        if not lower <= hp.mu <= upper:
            raise SpaceError(f"mu ({hp.mu}) outside [{lower}, {upper}] has no counterpart")
        prior = round(hp.mu) if integer else hp.mu
        unit_sd = float(hp._transformer.vectorize_size(float(hp.sigma)))
        confidence = _nearest_confidence(unit_sd)
    elif isinstance(hp, cs.BetaFloatHyperparameter | cs.BetaIntegerHyperparameter):
        a, b = float(hp.alpha), float(hp.beta)
        prior = hp.default_value
        confidence = _nearest_confidence(math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1))))
    elif defaults_as_priors:
        prior = hp.default_value
    if prior is not None:
        prior = cast(prior)
    if integer:
        return Integer(
            int(lower), int(upper), log=log, prior=prior, confidence=confidence, when=when
        )
    return Float(float(lower), float(upper), log=log, prior=prior, confidence=confidence, when=when)


def _nearest_confidence(unit_sd: float) -> str:
    """The confidence whose unit-space width is nearest ``unit_sd`` (by ratio)."""
    if not unit_sd > 0:
        raise SpaceError(f"a prior width of {unit_sd} has no counterpart")
    return min(CONFIDENCES, key=lambda c: abs(math.log(unit_sd / NUMERIC_SD[c])))


def _to_categorical(
    hp: Any, defaults_as_priors: bool, stored: Mapping[str, Any], when: Any
) -> Categorical:
    choices = [_plain(c) for c in hp.choices]
    if "prior" in stored:
        confidence = str(stored.get("confidence", "medium"))
        return Categorical(choices, prior=stored["prior"], confidence=confidence, when=when)
    weights = None if hp.weights is None else [float(w) for w in hp.weights]
    if weights is None or len(set(weights)) == 1:
        prior = _plain(hp.default_value) if defaults_as_priors else None
        return Categorical(choices, prior=prior, when=when)
    top = max(weights)
    rest = {w for w in weights if w != top}
    if weights.count(top) != 1 or len(rest) != 1:
        raise SpaceError(
            f"weights {weights} have no counterpart: a tunewise prior favours one choice "
            "and weighs the others equally"
        )
    ratio = top / rest.pop()
    confidence = min(CONFIDENCES, key=lambda c: abs(math.log(ratio / CATEGORICAL_WEIGHT[c])))
    return Categorical(choices, prior=choices[weights.index(top)], confidence=confidence, when=when)
