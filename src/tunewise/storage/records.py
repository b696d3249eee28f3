"""The plain records the store hands out and takes: study settings, totals, limits, claims."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from tunewise.space import Space
from tunewise.trial import Trial

DEVICE_LENGTH = 64
"""The longest accelerator name a trial may record (``device``)."""


@dataclass(frozen=True)
class StudyRecord:
    """A study's identity and settings as stored."""

    id: int
    name: str
    space: Space
    optimizer: Mapping[str, Any]
    seed: int
    budget: Mapping[str, Any]
    settings: Mapping[str, Any]
    created_at: float


@dataclass(frozen=True)
class Totals:
    """Running totals of a study, kept by the store as trials change (O(1) to read).

    ``seq`` is the study's change counter (every change to a trial gives it a larger ``seq``);
    ``next_number`` the number the next new trial gets; ``n_live`` the trials started and not
    crashed away (a crash is counted through its retry); ``n_finished`` the trials succeeded or
    failed; ``cost_spent`` the sum of finished trials' finite costs; ``fidelity_claimed`` and
    ``fidelity_spent`` the full-fidelity units (:func:`tunewise.trial.fidelity_units`) of the
    trials claimed and of those finished.
    """

    seq: int
    next_number: int
    n_live: int
    n_finished: int
    cost_spent: float
    fidelity_claimed: float
    fidelity_spent: float


@dataclass(frozen=True)
class Limits:
    """Budget limits a claim is checked against inside its transaction (None = no limit)."""

    max_trials: int | None = None
    max_cost: float | None = None
    max_fidelity_units: float | None = None

    def exhausted_for_new(self, totals: Totals) -> bool:
        """True when no new trial may be started."""
        return (
            (self.max_trials is not None and totals.n_live >= self.max_trials)
            or (
                self.max_fidelity_units is not None
                and totals.fidelity_claimed >= self.max_fidelity_units - 1e-9
            )
            or self.exhausted_for_pending(totals)
        )

    def exhausted_for_pending(self, totals: Totals) -> bool:
        """True when even queued trials (already counted) may not run."""
        return self.max_cost is not None and totals.cost_spent >= self.max_cost


class ClaimOutcome(Enum):
    CLAIMED = "claimed"
    CONFLICT = "conflict"  # another worker took the slot first: refresh and ask again
    BUDGET = "budget"  # the budget allows no new trial


@dataclass(frozen=True)
class Claim:
    """What a claim did; ``index`` is the position of the claimed suggestion."""

    outcome: ClaimOutcome
    trial: Trial | None = None
    index: int | None = None


def process_table() -> str:
    """Which process table this process's pids belong to: the host's name, and on Linux the
    inode of its pid namespace (``host@4026531836``), so that two containers sharing a host name
    (host networking) never judge each other's pids."""
    try:
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return os.uname().nodename
    return f"{os.uname().nodename}@{namespace}"


def worker_name() -> str:
    """A name for this process that is unique across machines: ``process_table:pid:hex``."""
    return f"{process_table()}:{os.getpid()}:{os.urandom(3).hex()}"
