"""Hyperband (Li et al. 2017): successive halving brackets from aggressive to full fidelity."""

from __future__ import annotations

from tunewise.optimizers.bracket_optimizer import BracketOptimizer, Schedule
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.registry import register
from tunewise.optimizers.schedules import SynchronousSchedule


@register
class Hyperband(BracketOptimizer):
    """Cycle through brackets s = s_max..0 (``s_max - early_stopping_rate`` at most)."""

    name = "hyperband"
    tag = "hb"

    def __init__(self, *, eta: int = 3, early_stopping_rate: int = 0) -> None:
        self.eta = eta
        self.early_stopping_rate = early_stopping_rate
        self._check()

    def schedule(self, rungs: Rungs) -> Schedule:
        cycle = tuple(range(rungs.s_max - rungs.esr, -1, -1))
        return SynchronousSchedule(rungs, tag=self.tag, cycle=cycle)
