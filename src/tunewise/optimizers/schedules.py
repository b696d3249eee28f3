"""Bracket schedules: which rung to fill next, derived from the History alone.

A schedule decides *what* happens next — promote configuration ``c`` to rung ``r``, or start a new
configuration at rung ``r`` — and a sampling policy decides *which* new configuration (uniform for
Hyperband, the prior/incumbent ensemble for PriorBand). Every decision has a slot that names it, so
two workers can never make the same promotion, and all bookkeeping is recomputed from the trials'
slots: no hidden state, and a crashed run resumes by itself.

Slots: ``{tag}:new:{bracket}:{index}`` starts a configuration; ``{tag}:up:{config}:{rung}``
promotes configuration ``config`` (the number of the trial that first evaluated it) to ``rung``;
``{tag}:prior`` is the prior configuration evaluated at the maximum fidelity outside every bracket
(``prior_first_fidelity="max"``), which the schedules leave out of their tables.

The four schedules have names, :data:`BASES`, and :func:`make` builds one by name: the plain bracket
optimizers (:mod:`tunewise.optimizers.hyperband`), PriorBand (``base=``) and BOHB all take their
schedule from here, so the Hyperband cycle (:func:`hyperband_cycle`) is written once.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from tunewise.optimizers.brackets import Rungs
from tunewise.trial import History, Trial, TrialStatus


@dataclass(frozen=True)
class Decision:
    """Start a new configuration at ``rung`` (``previous is None``) or continue ``previous``."""

    slot: str
    rung: int
    bracket: int
    previous: Trial | None = None


@dataclass
class Entry:
    """A live trial of this schedule: its configuration id, rung and bracket."""

    trial: Trial
    config: int
    rung: int
    bracket: int

    @property
    def finished(self) -> bool:
        return self.trial.status.finished

    @property
    def succeeded(self) -> bool:
        return self.trial.status is TrialStatus.SUCCEEDED and self.trial.objective is not None

    @property
    def loss(self) -> float:
        """The objective, +inf for failed trials (never promoted)."""
        objective = self.trial.objective
        if self.trial.status is TrialStatus.SUCCEEDED and objective is not None:
            return objective
        return math.inf


@dataclass
class Table:
    """The schedule's trials grouped by bracket and rung."""

    entries: list[Entry] = field(default_factory=list)
    cells: dict[tuple[int, int], list[Entry]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def of(cls, trials: Iterable[Trial], tag: str, rungs: Rungs) -> Table:
        table = cls()
        bracket_of: dict[int, int] = {}
        pending_promotions: list[tuple[Trial, int, int]] = []
        for trial in trials:
            if trial.slot is None or not trial.slot.startswith(tag + ":"):
                continue  # crashed rows hand their slot to their retry; foreign slots are ignored
            parts = trial.slot.split(":")
            if parts[1:] == ["prior"]:
                continue  # the prior configuration at max fidelity belongs to no bracket
            _, kind, a, b = parts
            if kind == "new":
                bracket_of[trial.number] = int(a)
                rung = rungs.rung_of(trial.fidelity)
                table._add(Entry(trial, trial.number, -1 if rung is None else rung, int(a)))
            else:
                pending_promotions.append((trial, int(a), int(b)))
        for trial, config, rung in pending_promotions:
            table._add(Entry(trial, config, rung, bracket_of.get(config, -1)))
        return table

    def _add(self, entry: Entry) -> None:
        self.entries.append(entry)
        self.cells[(entry.bracket, entry.rung)].append(entry)

    def cell(self, bracket: int, rung: int) -> list[Entry]:
        return self.cells.get((bracket, rung), [])


def ranked(entries: Iterable[Entry]) -> list[Entry]:
    """Best first; ties broken by trial number so every worker ranks alike."""
    return sorted(entries, key=lambda e: (e.loss, e.trial.number))


def new_slot(tag: str, bracket: int, index: int) -> str:
    return f"{tag}:new:{bracket}:{index}"


def promotion_slot(tag: str, config: int, rung: int) -> str:
    return f"{tag}:up:{config}:{rung}"


def prior_slot(tag: str) -> str:
    return f"{tag}:prior"


class SynchronousSchedule:
    """Successive halving brackets run one after the other (Hyperband cycles through them).

    A rung is promoted only when every evaluation in it has finished; then its best
    ``sizes[i+1]`` configurations continue at the next rung. While a bracket waits for its rung to
    finish, idle workers start the next bracket (so no worker waits while work exists).
    ``brackets`` is the cycle of ``s`` values: ``[s_max - esr]`` for successive halving,
    ``[s_max - esr, ..., 0]`` for Hyperband.
    """

    def __init__(self, rungs: Rungs, *, tag: str, cycle: tuple[int, ...]) -> None:
        self.rungs, self.tag, self.cycle = rungs, tag, cycle

    def next(self, history: History, rng: np.random.Generator) -> Decision | None:
        table = Table.of(history, self.tag, self.rungs)
        for b in range(10**9):
            s = self.cycle[b % len(self.cycle)]
            decision = self._in_bracket(table, b, s)
            if decision is not None:
                return decision
            if not any(table.cell(b, r) for r in self.rungs.bracket(s).rungs):
                return None  # an unstarted bracket offered nothing: nothing to do (cannot happen)
        return None  # pragma: no cover

    def _in_bracket(self, table: Table, b: int, s: int) -> Decision | None:
        bracket = self.rungs.bracket(s)
        targets = [bracket.sizes[0]]
        for i in range(len(bracket.rungs) - 1):
            here = table.cell(b, bracket.rungs[i])
            complete = len(here) >= targets[i] and all(e.finished for e in here)
            survivors = sum(e.succeeded for e in here)
            targets.append(
                min(bracket.sizes[i + 1], survivors) if complete else bracket.sizes[i + 1]
            )
            if not complete:
                continue
            above = table.cell(b, bracket.rungs[i + 1])
            if len(above) >= targets[i + 1]:
                continue
            taken = {e.config for e in above}
            for e in ranked(here)[: targets[i + 1]]:
                if e.succeeded and e.config not in taken:
                    rung = bracket.rungs[i + 1]
                    return Decision(promotion_slot(self.tag, e.config, rung), rung, b, e.trial)
        base = table.cell(b, bracket.base)
        if len(base) < bracket.sizes[0]:
            used = {e.trial.slot for e in base}
            index = next(i for i in range(bracket.sizes[0]) if new_slot(self.tag, b, i) not in used)
            return Decision(new_slot(self.tag, b, index), bracket.base, b)
        return None


class AsynchronousSchedule:
    """ASHA (Li et al. 2020): promote as soon as a configuration is in the top 1/eta of its rung.

    On each request, from the second-highest rung down: the candidates are the top
    ``floor(|finished in rung k| / eta)`` configurations of rung k (counting ones already promoted),
    minus those already in rung k+1; the best candidate is promoted. Otherwise a new configuration
    starts at the base rung. With ``brackets > 1`` this is asynchronous Hyperband: each request
    first picks a bracket ``s`` (base rung ``s``) with probability proportional to
    ``eta**(K - s) * (K + 1) / (K - s + 1)`` and takes one ASHA step within it.
    """

    def __init__(self, rungs: Rungs, *, tag: str, hyperband: bool = False) -> None:
        self.rungs, self.tag, self.hyperband = rungs, tag, hyperband

    def bracket_probabilities(self) -> NDArray[np.float64]:
        """``P(s)`` for the brackets ``s = 0..K`` (base rung ``esr + s``), shape (K + 1,)."""
        low, top, eta = self.rungs.esr, self.rungs.s_max, self.rungs.eta
        k = top - low
        weights = np.array(
            [eta ** (k - s) * (k + 1) / (k - s + 1) for s in range(k + 1)], dtype=np.float64
        )
        probabilities: NDArray[np.float64] = weights / weights.sum()
        return probabilities

    def next(self, history: History, rng: np.random.Generator) -> Decision | None:
        table = Table.of(history, self.tag, self.rungs)
        if self.hyperband:
            s = int(rng.choice(len(self.bracket_probabilities()), p=self.bracket_probabilities()))
            base = self.rungs.esr + s
        else:
            base = self.rungs.esr
        bracket = base
        for k in range(self.rungs.s_max - 1, base - 1, -1):
            finished = [e for e in table.cell(bracket, k) if e.finished]
            top = ranked(finished)[: len(finished) // self.rungs.eta]
            taken = {e.config for e in table.cell(bracket, k + 1)}
            for e in top:
                if e.succeeded and e.config not in taken:
                    return Decision(
                        promotion_slot(self.tag, e.config, k + 1), k + 1, bracket, e.trial
                    )
        return Decision(new_slot(self.tag, bracket, history.next_number), base, bracket)


Schedule = SynchronousSchedule | AsynchronousSchedule


def hyperband_cycle(rungs: Rungs) -> tuple[int, ...]:
    """Hyperband's brackets in order, ``s = s_max - esr, ..., 0`` (most aggressive first)."""
    return tuple(range(rungs.s_max - rungs.esr, -1, -1))


def _hyperband(rungs: Rungs, tag: str) -> Schedule:
    return SynchronousSchedule(rungs, tag=tag, cycle=hyperband_cycle(rungs))


def _successive_halving(rungs: Rungs, tag: str) -> Schedule:
    return SynchronousSchedule(rungs, tag=tag, cycle=(rungs.s_max - rungs.esr,))


def _asha(rungs: Rungs, tag: str) -> Schedule:
    return AsynchronousSchedule(rungs, tag=tag)


def _async_hyperband(rungs: Rungs, tag: str) -> Schedule:
    return AsynchronousSchedule(rungs, tag=tag, hyperband=True)


SCHEDULES: Mapping[str, Callable[[Rungs, str], Schedule]] = {
    "hyperband": _hyperband,
    "successive_halving": _successive_halving,
    "asha": _asha,
    "async_hyperband": _async_hyperband,
}
"""The bracket schedules by name: ``SCHEDULES[base](rungs, tag)``."""

BASES: tuple[str, ...] = tuple(SCHEDULES)


def make(base: str, rungs: Rungs, *, tag: str) -> Schedule:
    """The schedule named ``base`` (one of :data:`BASES`) over ``rungs``; ``tag`` prefixes slots."""
    try:
        build = SCHEDULES[base]
    except KeyError:
        raise ValueError(f"base must be one of {BASES}, not {base!r}") from None
    return build(rungs, tag)
