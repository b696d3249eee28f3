"""ASHA (Li et al. 2020): asynchronous successive halving, no worker ever waits."""

from __future__ import annotations

from tunewise.optimizers.bracket_optimizer import BracketOptimizer, Schedule
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.registry import register
from tunewise.optimizers.schedules import AsynchronousSchedule


@register
class ASHA(BracketOptimizer):
    """Promote a configuration once it is in the top 1/eta of its rung; else start a new one."""

    name = "asha"
    tag = "asha"

    def __init__(self, *, eta: int = 3, early_stopping_rate: int = 0) -> None:
        self.eta = eta
        self.early_stopping_rate = early_stopping_rate
        self._check()

    def schedule(self, rungs: Rungs) -> Schedule:
        return AsynchronousSchedule(rungs, tag=self.tag)
