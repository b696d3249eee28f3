"""Asynchronous Hyperband (Li et al. 2020): ASHA brackets of every depth, drawn at random."""

from __future__ import annotations

from tunewise.optimizers.bracket_optimizer import BracketOptimizer, Schedule
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.registry import register
from tunewise.optimizers.schedules import AsynchronousSchedule


@register
class AsyncHyperband(BracketOptimizer):
    """Each request picks a bracket (base rung s) as Hyperband would weight it, then runs ASHA."""

    name = "async_hyperband"
    tag = "ahb"

    def __init__(self, *, eta: int = 3, early_stopping_rate: int = 0) -> None:
        self.eta = eta
        self.early_stopping_rate = early_stopping_rate
        self._check()

    def schedule(self, rungs: Rungs) -> Schedule:
        return AsynchronousSchedule(rungs, tag=self.tag, hyperband=True)
