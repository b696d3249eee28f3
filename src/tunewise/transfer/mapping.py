"""Old trials -> the new space (HT-AA, Stoll et al. 2020; ALGORITHMS.md §5).

The new space splits into the *intersection* (parameters searchable in the new space and in an
old one: a numeric range narrowed to ``[max(lows), min(highs)]``, a categorical to the shared
choices; an empty intersection makes the parameter new) and the *new* parameters. Each old
configuration is projected onto the intersection (old-only parameters dropped), discarded if a
value is now illegal, and ranked as the old study ranked it (best first). An old constant whose
value is legal in the new space keeps its value: the old trials ran with it. Conditions are
respected: a value inactive under its (mapped) parents is dropped. Filling the new parameters is
left to :meth:`Mapped.filled`, with the caller's RNG.

Ranking: an old configuration's result is its objective at the highest fidelity it reached;
configurations that reached a higher fidelity rank above those that did not (low-fidelity
objectives are not comparable with full ones). Several old studies are merged by each
configuration's rank within its own study, divided by that study's count.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, cast

import numpy as np

from tunewise.space import Architecture, Categorical, Constant, Float, Integer, Parameter, Space
from tunewise.space.parameters import Condition, scalar_key
from tunewise.transfer.sources import OldStudy
from tunewise.trial import Trial, TrialStatus, config_key

Numeric = Float | Integer


@dataclass(frozen=True)
class Mapped:
    """The old studies as seen from the new space; see the module docstring."""

    space: Space
    shared: Mapping[str, Parameter]
    new: tuple[str, ...]
    dropped: tuple[str, ...]
    ranked: tuple[dict[str, Any], ...]
    objectives: tuple[float, ...]
    discarded: Mapping[str, int]
    sources: tuple[str, ...]
    old_trials: int
    old_configs: int
    carried: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def filled(self, index: int, rng: np.random.Generator) -> dict[str, Any]:
        """``ranked[index]`` completed to a config of the new space (the rest drawn uniformly)."""
        return self.space.complete(self.ranked[index], rng)

    def shared_space(self) -> Space:
        """A space of the shared parameters only: conditions on parents outside it are dropped,
        a child that can never be active in it is left out."""
        params: dict[str, Parameter] = {}
        for name in self.space:
            if name not in self.shared:
                continue
            param = self.shared[name]
            when = _restricted_when(param.when, self.shared)
            if when is False:
                continue
            params[name] = replace(cast(Any, param), when=when)
        # a child whose parent was left out can never be active either
        while True:
            gone = [n for n, p in params.items() if p.when and any(q not in params for q in p.when)]
            if not gone:
                return Space(**params)
            for n in gone:
                del params[n]

    def to_stored(self) -> dict[str, Any]:
        """The JSON form kept with the new study (what ``tunewise status`` shows)."""
        return {
            "sources": list(self.sources),
            "old_trials": self.old_trials,
            "old_configs": self.old_configs,
            "mapped": len(self.ranked),
            "shared": list(self.shared),
            "new": list(self.new),
            "dropped": list(self.dropped),
            "carried": list(self.carried),
            "discarded": dict(self.discarded),
            "notes": list(self.notes),
        }


def map_trials(space: Space, sources: Sequence[OldStudy]) -> Mapped:
    """Project every old study's succeeded configurations onto ``space``; see the module.

    Raises:
        ValueError: no old study given, none has a succeeded trial, the spaces share no
            parameter, or no old configuration is legal in the new space (the message says
            which values were out of range and how often).
    """
    if not sources:
        raise ValueError("transfer: no old study given")
    shared, notes = _intersection(space, sources)
    candidates = [*space.searchable, *space.architectures]
    new = tuple(n for n in candidates if n not in shared)
    old_names = {n for s in sources for n in (*s.space.searchable, *s.space.architectures)}
    dropped = tuple(sorted(old_names - set(space.parameters)))
    discarded: Counter[str] = Counter()
    scored: list[tuple[float, int, dict[str, Any], float]] = []
    carried: set[str] = set()
    old_trials = old_configs = 0
    for order, source in enumerate(sources):
        ranking = _ranking(source.trials)
        old_trials += len(source.trials)
        old_configs += len(ranking)
        for rank, (config, objective) in enumerate(ranking):
            projected, reason = _project(space, source.space, shared, new, config)
            if projected is None:
                discarded[reason] += 1
                continue
            carried.update(n for n in new if n in projected)
            scored.append((rank / len(ranking), order, projected, objective))
    if not any(_ranking(s.trials) for s in sources):
        raise ValueError(
            f"transfer: the old studies ({', '.join(s.label for s in sources)}) have no "
            "succeeded trial to learn from"
        )
    if not shared and not carried:
        old = sorted(old_names)
        raise ValueError(
            "transfer: nothing can be mapped: the new space shares no searchable parameter "
            f"with the old studies (old: {', '.join(old) or 'none'}; new: "
            f"{', '.join(candidates) or 'none'}){_joined(notes)}"
        )
    scored.sort(key=lambda item: (item[0], item[1]))
    ranked: list[dict[str, Any]] = []
    objectives: list[float] = []
    seen: set[tuple[tuple[str, str], ...]] = set()
    for _, _, projected, objective in scored:
        key = config_key(projected)
        if key in seen:
            continue
        seen.add(key)
        ranked.append(projected)
        objectives.append(objective)
    if not ranked:
        reasons = "; ".join(f"{count} {reason}" for reason, count in discarded.items())
        raise ValueError(
            f"transfer: none of the old configurations is legal in the new space ({reasons})"
        )
    return Mapped(
        space=space,
        shared=shared,
        new=new,
        dropped=dropped,
        ranked=tuple(ranked),
        objectives=tuple(objectives),
        discarded=dict(discarded),
        sources=tuple(s.label for s in sources),
        old_trials=old_trials,
        old_configs=old_configs,
        carried=tuple(n for n in new if n in carried),
        notes=tuple(notes),
    )


def _joined(notes: Sequence[str]) -> str:
    return f"; {'; '.join(notes)}" if notes else ""


def _intersection(
    space: Space, sources: Sequence[OldStudy]
) -> tuple[dict[str, Parameter], list[str]]:
    """Each new parameter narrowed to what every old space that searches it allows."""
    shared: dict[str, Parameter] = {}
    notes: list[str] = []
    params = {**space.searchable, **space.architectures}
    for name, param in params.items():
        narrowed: Parameter | None = param
        seen = False
        for source in sources:
            old = source.space.parameters.get(name)
            if old is None or isinstance(old, Constant):
                continue
            seen = True
            if narrowed is None:
                break
            narrowed, note = _narrow(name, narrowed, old)
            if note:
                notes.append(note)
        if seen and narrowed is not None:
            shared[name] = narrowed
    return shared, notes


def _narrow(name: str, new: Parameter, old: Parameter) -> tuple[Parameter | None, str | None]:
    """``new`` restricted to ``old``'s values, or None (then the parameter counts as new)."""
    if isinstance(new, Float | Integer) and isinstance(old, Float | Integer):
        lower, upper = max(new.lower, old.lower), min(new.upper, old.upper)
        if isinstance(new, Integer):
            lower, upper = math.ceil(lower), math.floor(upper)
        if lower >= upper:
            return None, (
                f"{name}: ranges [{new.lower}, {new.upper}] and old [{old.lower}, {old.upper}] "
                "do not overlap, so it counts as new"
            )
        prior = new.prior if new.prior is not None and lower <= new.prior <= upper else None
        narrowed: Parameter = replace(cast(Any, new), lower=lower, upper=upper, prior=prior)
        return narrowed, None
    if isinstance(new, Categorical) and isinstance(old, Categorical):
        old_keys = {scalar_key(c) for c in old.choices}
        choices = tuple(c for c in new.choices if scalar_key(c) in old_keys)
        if not choices:
            return None, f"{name}: no choice in common with the old study, so it counts as new"
        kept = new.prior if new.prior is not None and new.prior in choices else None
        return replace(new, choices=choices, prior=kept), None
    if isinstance(new, Architecture) and isinstance(old, Architecture):
        return new, None  # an old derivation is kept where the new grammar accepts it
    return None, (
        f"{name}: a {type(old).__name__} before and a {type(new).__name__} now, so it counts as new"
    )


def _ranking(trials: Sequence[Trial]) -> list[tuple[dict[str, Any], float]]:
    """Succeeded configurations, best first: highest fidelity reached, then objective there."""
    best: dict[tuple[tuple[str, str], ...], tuple[float, float, int, dict[str, Any]]] = {}
    for trial in trials:
        if trial.status is not TrialStatus.SUCCEEDED or trial.objective is None:
            continue
        if not math.isfinite(trial.objective):
            continue
        fidelity = -math.inf if trial.fidelity is None else float(trial.fidelity)
        entry = (-fidelity, trial.objective, trial.number, dict(trial.config))
        key = config_key(trial.config)
        if key not in best or entry[:3] < best[key][:3]:
            best[key] = entry
    ordered = sorted(best.values(), key=lambda e: e[:3])
    return [(config, objective) for _, objective, _, config in ordered]


def _project(
    space: Space,
    old_space: Space,
    shared: Mapping[str, Parameter],
    new: Sequence[str],
    config: Mapping[str, Any],
) -> tuple[dict[str, Any] | None, str]:
    """The old config's legal values in the new space, or None and why it was discarded."""
    projected: dict[str, Any] = {}
    for name, param in shared.items():
        if name not in config:
            continue
        value = config[name]
        if not param.contains(value):
            return None, f"with {name} outside the shared {_domain(param)}"
        projected[name] = value
    for name in new:  # an old constant the trials ran with, where the new space allows it
        old = old_space.parameters.get(name)
        if isinstance(old, Constant) and space[name].contains(old.value):
            projected[name] = old.value
    for name in list(projected):
        when = space[name].when
        if when and all(p in projected for p in when) and not space.is_active(name, projected):
            del projected[name]
    return projected, ""


def _domain(param: Parameter) -> str:
    if isinstance(param, Float | Integer):
        return f"range [{param.lower}, {param.upper}]"
    if isinstance(param, Categorical):
        return f"choices {list(param.choices)}"
    return "grammar"


def _restricted_when(
    when: Condition | Mapping[str, Any] | None, shared: Mapping[str, Parameter]
) -> Mapping[str, Any] | bool | None:
    """``when`` without clauses on parents outside ``shared`` (False: never active there)."""
    if not when:
        return None
    kept: dict[str, list[Any]] = {}
    for parent, values in when.items():
        parent_param = shared.get(parent)
        if parent_param is None:
            continue
        if isinstance(parent_param, Categorical):
            allowed = {scalar_key(c) for c in parent_param.choices}
            values = [v for v in values if scalar_key(v) in allowed]
            if not values:
                return False
        kept[parent] = list(values)
    return kept or None
