"""An in-memory ask -> evaluate -> record loop with one worker, for optimizer tests.

Trials keep the suggestion's ``info`` exactly as the store does, so optimizers that read their own
notes back (PriorBand's ``sampled_from``) behave as in a real run.
"""

from __future__ import annotations

from collections.abc import Callable

import tunewise as tw
from tunewise.optimizers import Optimizer
from tunewise.trial import History, Suggestion, Trial, TrialStatus


def run_sequentially(
    optimizer: Optimizer,
    *,
    space: tw.Space,
    loss: Callable[[dict, float], float],
    n: int = 60,
    seed: int = 0,
    fail: Callable[[int, Suggestion], bool] = lambda number, suggestion: False,
) -> list[Trial]:
    """Up to ``n`` trials; ``fail(number, suggestion)`` marks a trial failed instead of scored."""
    trials: list[Trial] = []
    for _ in range(n):
        history = History(space=space, seed=seed, trials=tuple(trials))
        suggestions = optimizer.ask(history, 1)
        if not suggestions:
            break
        (s,) = suggestions
        failed = fail(history.next_number, s)
        trials.append(
            Trial(
                number=history.next_number,
                config=s.config,
                status=TrialStatus.FAILED if failed else TrialStatus.SUCCEEDED,
                fidelity=s.fidelity,
                slot=s.slot,
                objective=None if failed else loss(dict(s.config), s.fidelity),
                previous_trial=s.previous_trial,
                info=s.info,
            )
        )
    return trials
