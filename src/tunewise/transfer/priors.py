"""Priors learned from old studies: centred on the mapped incumbent, as wide as the top-k disagree.

The old studies' configurations are projected onto the new space by
:func:`tunewise.transfer.mapping.map_trials`, one study at a time, and ranked best first. A study
with a fidelity contributes the configurations evaluated at the highest fidelity it reached (only
objectives at one fidelity compare; all of them if none of those maps). Its top-k are the best of
those: by default a tenth, at least 3 and at most 10 (:func:`default_top_k`). For every
searchable parameter the new space shares with an old study (:attr:`Mapped.shared`):

- **value**: with one study, the mapped incumbent's value (``ranked[0]``, or the best-ranked
  configuration where a conditional parameter is active). With several studies (the same pipeline
  on other datasets) a robust centre of the per-study incumbents: the median in (log-)unit space
  of the new parameter for numbers (decoded, so integers round), the most frequent choice for
  categoricals (ties go to the choice more frequent among the pooled top-k, then to the earlier
  choice).
- **confidence**: the one of ``low`` / ``medium`` / ``high`` under whose prior the top-k
  configurations (pooled: each study's own top-k) are most likely, with the prior shapes of
  :mod:`tunewise.space.priors`, centred on the learned value. For a number that is the truncated
  normal of sd 0.5 / 0.25 / 0.125 in unit space: away from the bounds, the maximum-likelihood
  choice is ``high`` when the top-k's root-mean-square distance from the centre is below 0.170,
  ``medium`` below 0.340 and ``low`` above (the likelihoods of two normals of sd a < b cross at
  ``sqrt(2 ln(b/a) / (1/a^2 - 1/b^2))``); near a bound the truncated widths are narrower and so
  are the thresholds. Top-k values spread uniformly get ``low`` wherever the centre is. For a
  categorical with k choices the prior choice's probability is w / (w + k - 1) with w = 2 / 4 / 6;
  the top-k's share on the prior choice must exceed 0.74 / 0.83 (two choices), 0.59 / 0.71 (three)
  or 0.50 / 0.61 (four) for ``medium`` / ``high``.
  ``confidence=`` overrides the choice for every learned prior.

Fewer than two top-k values of a parameter cannot show agreement: its prior gets ``low``.
Parameters no old study searched (new ones, or constants there) keep whatever the space had, as
do architecture parameters (their priors are production weights, not a value). Everything
learned is kept in :class:`LearnedPriors` so the log can say where each prior came from.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from tunewise.space import Categorical, Float, Integer, Parameter, Space
from tunewise.space.parameters import scalar_key
from tunewise.space.priors import CATEGORICAL_WEIGHT, CONFIDENCES, NUMERIC_SD, truncnorm_logpdf
from tunewise.transfer.mapping import Mapped, map_trials
from tunewise.transfer.sources import OldStudy
from tunewise.trial import TrialStatus

__all__ = ["LearnedPrior", "LearnedPriors", "default_top_k", "learn_priors", "priors_from"]

_Searchable = Float | Integer | Categorical


@dataclass(frozen=True)
class LearnedPrior:
    """One parameter's learned prior and the evidence behind it.

    ``spread``: for a number, the root-mean-square distance of the top-k values from ``value`` in
    the new space's (log-)unit space (uniform values give about 0.29 around the middle); None for
    a categorical. ``share``: for a categorical, the fraction of the top-k on ``value``; None for
    a number. ``points``: how many top-k values were measured (pooled over ``sources``);
    ``learned_confidence``: the maximum-likelihood choice, which ``confidence`` equals unless
    overridden.
    """

    name: str
    value: Any
    confidence: str
    learned_confidence: str
    spread: float | None
    share: float | None
    points: int
    sources: tuple[str, ...]

    def describe(self) -> str:
        """One line for the log, e.g. ``lr = 0.0003 (high; spread 0.08 over 10 of 'old')``."""
        if self.spread is not None:
            how = f"spread {self.spread:.3g}"
        else:
            how = f"{self.share:.0%} of the top-k agree"
        given = "" if self.confidence == self.learned_confidence else " (given)"
        names = (
            ", ".join(repr(s) for s in self.sources)
            if len(self.sources) <= 3
            else f"{len(self.sources)} studies"
        )
        return (
            f"{self.name} = {self.value!r} ({self.confidence}{given}; {how} over {self.points} "
            f"top configuration(s) of {names})"
        )


@dataclass(frozen=True)
class LearnedPriors:
    """What :func:`learn_priors` made: the new ``space`` and, per parameter, where its prior came
    from. ``unchanged``: searchable parameters of the new space without a learned prior;
    ``skipped``: old-study label -> why none of its configurations mapped."""

    space: Space
    priors: Mapping[str, LearnedPrior]
    unchanged: tuple[str, ...]
    sources: tuple[str, ...]
    top_k: int | None
    skipped: Mapping[str, str] = field(default_factory=dict)

    def describe(self) -> list[str]:
        """Lines for the log: one per learned prior, then the parameters left as they were."""
        lines = [prior.describe() for prior in self.priors.values()]
        if self.unchanged:
            lines.append(f"no prior learned (kept as given): {', '.join(self.unchanged)}")
        lines.extend(f"skipped {label!r}: {why}" for label, why in self.skipped.items())
        return lines


def default_top_k(n_ranked: int) -> int:
    """The best 10% of a study's ranked configurations, at least 3 and at most 10 (all of them
    when there are fewer than 3)."""
    return min(n_ranked, max(3, min(10, math.ceil(0.1 * n_ranked))))


def priors_from(
    sources: Sequence[OldStudy],
    space: Space,
    *,
    top_k: int | None = None,
    confidence: str | None = None,
) -> Space:
    """``space`` with priors learned from the old studies (see :func:`learn_priors`)."""
    return learn_priors(sources, space, top_k=top_k, confidence=confidence).space


def learn_priors(
    sources: Sequence[OldStudy],
    space: Space,
    *,
    top_k: int | None = None,
    confidence: str | None = None,
) -> LearnedPriors:
    """Priors for ``space`` from the ranked, projected configurations of ``sources``.

    ``top_k``: how many of each study's best configurations measure the agreement (default
    :func:`default_top_k` of each study's ranked count). ``confidence``: one of ``low``,
    ``medium``, ``high`` for every learned prior instead of the learned one. Raises
    ``ValueError`` when no source is given, an argument is invalid, or no configuration of any
    source maps onto ``space`` (the mapping's reasons are named).
    """
    if not isinstance(space, Space):
        raise TypeError(f"space must be a tunewise.Space, not {type(space).__name__}")
    if isinstance(sources, OldStudy):
        sources = [sources]
    if not sources:
        raise ValueError("priors_from needs at least one old study; got none")
    wrong = [type(s).__name__ for s in sources if not isinstance(s, OldStudy)]
    if wrong:
        raise TypeError(
            f"sources must be OldStudy objects (tunewise.transfer.load_sources reads roots, "
            f"store URLs, trials files and Results into them), got {', '.join(wrong)}"
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be an integer >= 1 or None, not {top_k!r}")
    if confidence is not None and confidence not in CONFIDENCES:
        raise ValueError(
            f"confidence must be one of {list(CONFIDENCES)} or None, not {confidence!r}"
        )
    mapped: dict[str, Mapped] = {}
    skipped: dict[str, str] = {}
    for index, source in enumerate(sources):
        label = _unique_label(source.label or f"study {index}", mapped, skipped)
        try:
            mapped[label] = _map_top(space, source)
        except ValueError as error:
            skipped[label] = str(error)
    if not mapped:
        reasons = "; ".join(f"{label!r}: {why}" for label, why in skipped.items())
        raise ValueError(f"no configuration of the old studies maps onto the new space ({reasons})")
    learned: dict[str, LearnedPrior] = {}
    params: dict[str, Parameter] = dict(space.parameters)
    for name, param in space.searchable.items():
        prior = _learn_one(name, param, mapped, top_k=top_k)
        if prior is None:
            continue
        if confidence is not None:
            prior = replace(prior, confidence=confidence)
        learned[name] = prior
        params[name] = replace(param, prior=prior.value, confidence=prior.confidence)
    unchanged = tuple(name for name in space.searchable if name not in learned)
    return LearnedPriors(
        space=Space(**params),
        priors=learned,
        unchanged=unchanged,
        sources=tuple(mapped),
        top_k=top_k,
        skipped=skipped,
    )


def _map_top(space: Space, source: OldStudy) -> Mapped:
    """``source``'s configurations at the highest fidelity it reached, mapped onto ``space``;
    all of them when none of those maps (``ValueError`` from the mapping when nothing does).

    Only objectives at one fidelity compare: a Hyperband study evaluates some random
    configurations directly at the maximum fidelity, and the mapping ranks every configuration
    that got there above those that did not, so a top-k over all fidelities would hold those
    random ones and miss the best of the rung below."""
    succeeded = [
        t for t in source.trials if t.status is TrialStatus.SUCCEEDED and t.objective is not None
    ]
    fidelities = [t.fidelity for t in succeeded if t.fidelity is not None]
    if fidelities:
        top = max(fidelities)
        at_top = tuple(t for t in succeeded if t.fidelity == top)
        try:
            return map_trials(space, [replace(source, trials=at_top)])
        except ValueError:
            pass
    return map_trials(space, [source])


def _unique_label(label: str, *taken: Mapping[str, Any]) -> str:
    candidate, n = label, 2
    while any(candidate in t for t in taken):
        candidate, n = f"{label} ({n})", n + 1
    return candidate


def _learn_one(
    name: str, param: _Searchable, mapped: Mapping[str, Mapped], *, top_k: int | None
) -> LearnedPrior | None:
    """The prior of one parameter from the studies that share it, or None when none does."""
    incumbents: list[Any] = []  # each sharing study's best value
    pooled: list[Any] = []  # each sharing study's top-k values
    labels: list[str] = []
    for label, study in mapped.items():
        if name not in study.shared:
            continue
        values = [config[name] for config in study.ranked if name in config]
        if not values:
            continue
        k = default_top_k(len(study.ranked)) if top_k is None else top_k
        top = [config[name] for config in study.ranked[:k] if name in config]
        incumbents.append(values[0])
        pooled.extend(top or values[:1])
        labels.append(label)
    if not incumbents:
        return None
    if isinstance(param, Categorical):
        return _categorical(name, param, incumbents, pooled, tuple(labels))
    return _numeric(name, param, incumbents, pooled, tuple(labels))


def _numeric(
    name: str,
    param: Float | Integer,
    incumbents: list[Any],
    pooled: list[Any],
    labels: tuple[str, ...],
) -> LearnedPrior:
    if len(incumbents) == 1:
        value = incumbents[0]
    else:
        value = param.from_unit(float(np.median([param.to_unit(v) for v in incumbents])))
    centre = param.to_unit(value)
    u = np.array([param.to_unit(v) for v in pooled], dtype=np.float64)
    spread = float(np.sqrt(np.mean((u - centre) ** 2)))
    if len(u) < 2:
        chosen = "low"
    else:
        scores = {c: float(truncnorm_logpdf(u, centre, NUMERIC_SD[c]).sum()) for c in CONFIDENCES}
        chosen = _most_likely(scores)
    return LearnedPrior(name, value, chosen, chosen, spread, None, len(u), labels)


def _categorical(
    name: str, param: Categorical, incumbents: list[Any], pooled: list[Any], labels: tuple[str, ...]
) -> LearnedPrior:
    votes = Counter(param.index(v) for v in incumbents)
    support = Counter(param.index(v) for v in pooled)
    best = max(votes, key=lambda i: (votes[i], support[i], -i))
    value = param.choices[best]
    k = len(param.choices)
    on = sum(1 for v in pooled if scalar_key(v) == scalar_key(value))
    off = len(pooled) - on
    if len(pooled) < 2 or k < 2:
        chosen = "low"
    else:
        scores = {}
        for c in CONFIDENCES:
            p = CATEGORICAL_WEIGHT[c] / (CATEGORICAL_WEIGHT[c] + k - 1)
            scores[c] = on * math.log(p) + off * math.log((1.0 - p) / (k - 1))
        chosen = _most_likely(scores)
    return LearnedPrior(name, value, chosen, chosen, None, on / len(pooled), len(pooled), labels)


def _most_likely(scores: Mapping[str, float]) -> str:
    """The confidence with the highest log-likelihood; ties go to the lower confidence."""
    return max(CONFIDENCES, key=lambda c: (scores[c], -CONFIDENCES.index(c)))
