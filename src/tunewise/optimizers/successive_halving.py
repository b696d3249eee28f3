"""Successive halving (Jamieson & Talwalkar 2016): one full-depth bracket after another."""

from __future__ import annotations

from tunewise.optimizers.bracket_optimizer import BracketOptimizer, Schedule
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.registry import register
from tunewise.optimizers.schedules import SynchronousSchedule


@register
class SuccessiveHalving(BracketOptimizer):
    """Start ``n_0`` configurations at the lowest rung; the best 1/eta move up, synchronously."""

    name = "successive_halving"
    tag = "sh"

    def __init__(self, *, eta: int = 3, early_stopping_rate: int = 0) -> None:
        self.eta = eta
        self.early_stopping_rate = early_stopping_rate
        self._check()

    def schedule(self, rungs: Rungs) -> Schedule:
        return SynchronousSchedule(rungs, tag=self.tag, cycle=(rungs.s_max - rungs.esr,))
