"""Budgets: how much a study may spend, counted from the store so all workers respect them."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

from tunewise.storage import Limits, Totals


@dataclass(frozen=True)
class Budget:
    """When to stop: ``evaluations``, summed ``cost``, ``seconds`` or ``fidelity_units`` spent.

    Any combination; the first limit reached stops new trials (running ones finish). ``cost`` is
    what the objective reports as ``cost`` (default: its wall-clock seconds). ``seconds`` counts
    from the start of this ``run`` call. ``fidelity_units`` is fidelity-normalized: the cost of
    that many full-fidelity evaluations, where a trial at fidelity f counts f / max and a
    promotion counts only the fidelity it adds (the budget axis of the PriorBand paper).
    Crashed-and-retried trials count once.
    """

    evaluations: int | None = None
    cost: float | None = None
    seconds: float | None = None
    fidelity_units: float | None = None

    def __post_init__(self) -> None:
        if self.evaluations is not None and (
            isinstance(self.evaluations, bool)
            or not isinstance(self.evaluations, int)
            or self.evaluations < 1
        ):
            raise ValueError(
                f"Budget: evaluations must be a positive integer, not {self.evaluations!r}"
            )
        for name in ("cost", "seconds", "fidelity_units"):
            value = getattr(self, name)
            if value is not None and (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not math.isfinite(value)
                or value <= 0
            ):
                raise ValueError(f"Budget: {name} must be a positive number, not {value!r}")

    @property
    def unlimited(self) -> bool:
        return (
            self.evaluations is None
            and self.cost is None
            and self.seconds is None
            and self.fidelity_units is None
        )

    def to_stored(self, *, started_at: float | None = None) -> dict[str, Any]:
        """The JSON form stored with the study; ``seconds`` becomes an absolute deadline."""
        started = time.time() if started_at is None else started_at
        return {
            "evaluations": self.evaluations,
            "cost": self.cost,
            "seconds": self.seconds,
            "fidelity_units": self.fidelity_units,
            "deadline": None if self.seconds is None else started + self.seconds,
        }


@dataclass(frozen=True)
class StoredBudget:
    """A budget as read back from the store by any worker."""

    evaluations: int | None = None
    cost: float | None = None
    deadline: float | None = None
    fidelity_units: float | None = None

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> StoredBudget:
        return cls(
            evaluations=data.get("evaluations"),
            cost=data.get("cost"),
            deadline=data.get("deadline"),
            fidelity_units=data.get("fidelity_units"),
        )

    @property
    def limits(self) -> Limits:
        return Limits(
            max_trials=self.evaluations,
            max_cost=self.cost,
            max_fidelity_units=self.fidelity_units,
        )

    def past_deadline(self, now: float | None = None) -> bool:
        return self.deadline is not None and (time.time() if now is None else now) >= self.deadline

    def done(self, totals: Totals) -> bool:
        """True when the finished trials alone exhaust the budget: nobody needs to wait."""
        return (
            (self.evaluations is not None and totals.n_finished >= self.evaluations)
            or (self.cost is not None and totals.cost_spent >= self.cost)
            or (
                self.fidelity_units is not None
                and totals.fidelity_spent >= self.fidelity_units - 1e-9
            )
            or self.past_deadline()
        )
