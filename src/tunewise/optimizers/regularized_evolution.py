"""Regularized (aging) evolution (Real et al., AAAI 2019; ALGORITHMS.md §10).

The population is the ``population_size`` most recent trials (by number): the first
``population_size`` are samples (from the prior with ``use_priors`` where the space has one), each
later one is a child. A child's parent wins a tournament: ``sample_size`` members drawn uniformly
from the population, the best succeeded one. The child mutates its parent: an architecture gets one
subtree resampled (:mod:`tunewise.nas.operators`), numbers and categoricals change as PriorBand's
incumbent perturbation does (:mod:`tunewise.optimizers.mutation`), each dimension with
probability 1/d (d = active searchable dimensions and architectures), at least one. The oldest
member leaves as a child enters, not the worst: that is the regularization.

Asynchronous: pending trials (other workers', and earlier suggestions of the same ask) are members
of the population that cannot be parents; failed ones are members that never win. When no
member of the tournament has succeeded the best succeeded member of the population is the parent,
and a sample is drawn while none has. Every trial runs at the maximum fidelity when the space has
one. Each trial records ``sampled_from`` (``"random"``, ``"prior"`` or ``"mutation"``) and, for a
child, ``parent`` (the parent's trial number).

Defaults (``population_size=20``, ``sample_size=5``) follow the values common for budgets of
100–200 evaluations; ``benchmarks/README.md`` shows the effect on NAS-Bench-201.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tunewise.optimizers import mutation
from tunewise.optimizers.base import Capabilities, Optimizer, check_n
from tunewise.optimizers.registry import register
from tunewise.trial import History, Suggestion, Trial, TrialStatus, max_fidelity, rng_for

MUTATION_STD = 0.25
"""Standard deviation of a number's perturbation in unit space (PriorBand's default)."""


@register
class RegularizedEvolution(Optimizer):
    """Aging evolution over any space, architecture parameters included."""

    name = "regularized_evolution"
    capabilities = Capabilities(priors=True, fidelity=False, conditions=True, architectures=True)

    def __init__(
        self, *, population_size: int = 20, sample_size: int = 5, use_priors: bool = True
    ) -> None:
        for label, value, low in (
            ("population_size", population_size, 2),
            ("sample_size", sample_size, 1),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(
                    f"regularized_evolution: {label} must be an integer >= {low}, not {value!r}"
                )
        if sample_size > population_size:
            raise ValueError(
                f"regularized_evolution: sample_size ({sample_size}) must be <= "
                f"population_size ({population_size})"
            )
        if not isinstance(use_priors, bool):
            raise ValueError(
                f"regularized_evolution: use_priors must be True or False, not {use_priors!r}"
            )
        self.population_size = population_size
        self.sample_size = sample_size
        self.use_priors = use_priors

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        check_n(n)
        space = history.space
        fidelity = max_fidelity(space)
        members: list[Trial | None] = [t for t in history if t.status is not TrialStatus.CRASHED]
        out: list[Suggestion] = []
        for k in range(history.next_number, history.next_number + n):
            rng = rng_for(history.seed, k)
            population = members[-self.population_size :]
            parent = (
                self._tournament(population, rng) if len(members) >= self.population_size else None
            )
            if parent is None:
                prior = self.use_priors and space.has_priors
                config = space.sample(rng, use_priors=prior)
                info: dict[str, Any] = {"sampled_from": "prior" if prior else "random"}
            else:
                d = len(space.searchable) + len(space.architectures)
                config = mutation.mutate(
                    space, parent.config, rng, rate=1.0 / max(d, 1), std=MUTATION_STD
                )
                info = {"sampled_from": "mutation", "parent": parent.number}
            out.append(Suggestion(config=config, slot=f"re:{k}", fidelity=fidelity, info=info))
            members.append(None)  # pending in this batch: a member, not a parent
        return out

    def _tournament(self, population: list[Trial | None], rng: np.random.Generator) -> Trial | None:
        """The best succeeded member of a uniform sample of the population; else the best
        succeeded member of the population; None when no member has succeeded."""
        picks = rng.choice(len(population), size=self.sample_size, replace=False)
        for pool in ([population[i] for i in picks], population):
            best = min(
                (t for t in pool if _eligible(t)),
                key=lambda t: (t.objective, t.number),  # type: ignore[union-attr]
                default=None,
            )
            if best is not None:
                return best
        return None


def _eligible(trial: Trial | None) -> bool:
    return (
        trial is not None
        and trial.status is TrialStatus.SUCCEEDED
        and trial.objective is not None
        and math.isfinite(trial.objective)
    )
