"""PriorBand (Mallik et al., NeurIPS 2023): Hyperband's brackets + the prior/incumbent ensemble.

New configurations come from :class:`~tunewise.optimizers.priorband_policy.PriorBandPolicy`
(uniform, the user's prior, or a mutated incumbent, in proportions that follow the evidence), and
the prior configuration itself is evaluated first. The bracket schedule is Hyperband's by default,
or successive halving's, ASHA's or asynchronous Hyperband's (``base=``). Every trial records why it
was tried in ``info["sampled_from"]``: ``prior_config``, ``prior``, ``incumbent``, ``random`` or
``promotion``.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tunewise.optimizers.base import Capabilities
from tunewise.optimizers.bracket_optimizer import BracketOptimizer, Schedule
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.priorband_policy import PriorBandPolicy
from tunewise.optimizers.registry import register
from tunewise.optimizers.schedules import AsynchronousSchedule, SynchronousSchedule
from tunewise.trial import History

BASES = ("hyperband", "successive_halving", "asha", "async_hyperband")


@register
class PriorBand(BracketOptimizer):
    """Multi-fidelity search that uses an expert prior and recovers when the prior is wrong."""

    name = "priorband"
    tag = "pb"
    capabilities: ClassVar[Capabilities] = Capabilities(
        priors=True, fidelity=True, requires_fidelity=True
    )

    def __init__(
        self,
        *,
        eta: int = 3,
        early_stopping_rate: int = 0,
        base: str = "hyperband",
        mutation_rate: float = 0.5,
        mutation_std: float = 0.25,
        prior_first: bool = True,
        weighting: str = "geometric",
        split: str = "dynamic",
    ) -> None:
        self.eta = eta
        self.early_stopping_rate = early_stopping_rate
        self.base = base
        self.mutation_rate = mutation_rate
        self.mutation_std = mutation_std
        self.prior_first = prior_first
        self.weighting = weighting
        self.split = split
        self._check()
        if base not in BASES:
            raise ValueError(f"priorband: base must be one of {BASES}, not {base!r}")
        self._policy = PriorBandPolicy(
            eta=eta,
            mutation_rate=mutation_rate,
            mutation_std=mutation_std,
            prior_first=prior_first,
            weighting=weighting,
            split=split,
        )

    def schedule(self, rungs: Rungs) -> Schedule:
        if self.base == "hyperband":
            cycle = tuple(range(rungs.s_max - rungs.esr, -1, -1))
            return SynchronousSchedule(rungs, tag=self.tag, cycle=cycle)
        if self.base == "successive_halving":
            return SynchronousSchedule(rungs, tag=self.tag, cycle=(rungs.s_max - rungs.esr,))
        return AsynchronousSchedule(rungs, tag=self.tag, hyperband=self.base == "async_hyperband")

    def sample(
        self, history: History, *, rungs: Rungs, rung: int, rng: np.random.Generator
    ) -> tuple[dict[str, Any], str]:
        return self._policy.sample(history, rungs=rungs, rung=rung, rng=rng)
