"""The shared vocabulary of tunewise: trials, their status, suggestions and the read-only History.

Plain data, no I/O. Optimizers read a :class:`History` and return :class:`Suggestion` objects; the
store turns suggestions into :class:`Trial` rows. Both sides speak only these types.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, overload

import numpy as np

if TYPE_CHECKING:
    from tunewise.space import Space


class TrialStatus(enum.StrEnum):
    """Where a trial is in its life: pending -> running -> succeeded | failed | crashed."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CRASHED = "crashed"

    @property
    def finished(self) -> bool:
        """True for the states an evaluation ends in (a crash is re-queued, not finished)."""
        return self in (TrialStatus.SUCCEEDED, TrialStatus.FAILED)


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True)
class Trial:
    """One evaluation of a configuration at a fidelity, as recorded in the store.

    ``number`` is dense per study (0, 1, 2, ...). ``slot`` is the optimizer's key for the decision
    that created it (e.g. ``"sample:17"``); no two live trials share a slot. ``previous_trial`` is
    the lower-fidelity trial this one continues from. ``learning_curve`` holds ``(step, value)``
    pairs as reported by the objective. ``device`` names the accelerator it ran on (e.g.
    ``"cuda:0"``), when the runtime assigned one.
    """

    number: int
    config: Mapping[str, Any]
    status: TrialStatus
    fidelity: float | int | None = None
    slot: str | None = None
    objective: float | None = None
    cost: float | None = None
    learning_curve: tuple[tuple[float, float], ...] = ()
    info: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    worker: str | None = None
    previous_trial: int | None = None
    retry_of: int | None = None
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    device: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", _frozen(self.config))
        object.__setattr__(self, "info", _frozen(self.info))
        object.__setattr__(
            self, "learning_curve", tuple((float(s), float(v)) for s, v in self.learning_curve)
        )

    @property
    def finished(self) -> bool:
        return self.status.finished


@dataclass(frozen=True)
class Suggestion:
    """What an optimizer proposes: evaluate ``config`` at ``fidelity``.

    ``slot`` names the decision (``"sample:5"``, ``"promote:12:2"``); the store refuses a slot that
    another worker already claimed, and the worker asks again on a fresher History.
    """

    config: Mapping[str, Any]
    slot: str
    fidelity: float | int | None = None
    previous_trial: int | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "config", _frozen(self.config))
        object.__setattr__(self, "info", _frozen(self.info))


class TrialSequence(Sequence[Trial]):
    """An immutable sequence of trials that shares its storage with later snapshots.

    A study's cache grows by appending trials and changes a few it already holds (a running trial
    finishes). Copying every trial into a new tuple at each change makes a snapshot cost O(n) in
    the study's size; instead, a snapshot keeps a reference to the cache's append-only list
    (``base``, of which it sees the first ``length`` entries, never replaced in place) and a small
    dict of the entries changed since that list was written (``changed``: index -> trial).
    Reading an entry, ``len`` and ``[-1]`` are O(1); iterating is O(n) at C speed.
    """

    __slots__ = ("_base", "_changed", "_length")

    def __init__(
        self, base: Sequence[Trial], length: int, changed: Mapping[int, Trial] | None = None
    ) -> None:
        self._base = base
        self._length = length
        self._changed = dict(changed or {})

    def __len__(self) -> int:
        return self._length

    @overload
    def __getitem__(self, index: int) -> Trial: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[Trial, ...]: ...

    def __getitem__(self, index: int | slice) -> Trial | tuple[Trial, ...]:
        if isinstance(index, slice):
            return tuple(self)[index]
        i = index + self._length if index < 0 else index
        if not 0 <= i < self._length:
            raise IndexError("trial index out of range")
        found = self._changed.get(i)
        return found if found is not None else self._base[i]

    def __iter__(self) -> Iterator[Trial]:
        if not self._changed:
            return itertools.islice(self._base, self._length)
        return self._merged()

    def _merged(self) -> Iterator[Trial]:
        base = iter(self._base)
        position = 0
        for index in sorted(self._changed):
            yield from itertools.islice(base, index - position)
            next(base)
            yield self._changed[index]
            position = index + 1
        yield from itertools.islice(base, self._length - position)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]  # like the tuple of unhashable trials it replaces

    def __repr__(self) -> str:
        return f"TrialSequence({list(self)!r})"


@dataclass(frozen=True)
class History:
    """A read-only snapshot of a study: its space, its seed and its trials ordered by number.

    Optimizers derive every decision from a History (and the seed), so any worker can ask and a
    crashed run resumes by itself. ``trials`` is a tuple, or a :class:`TrialSequence` (the
    store's cheap snapshot); both are read-only.
    """

    space: Space
    seed: int
    trials: Sequence[Trial] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.trials, tuple | TrialSequence):
            object.__setattr__(self, "trials", tuple(self.trials))

    def __len__(self) -> int:
        return len(self.trials)

    def __iter__(self) -> Iterator[Trial]:
        return iter(self.trials)

    @property
    def next_number(self) -> int:
        """The number the next inserted trial would get if nobody else inserts first."""
        return self.trials[-1].number + 1 if self.trials else 0

    def with_status(self, *statuses: TrialStatus) -> list[Trial]:
        return [t for t in self.trials if t.status in statuses]

    @property
    def finished(self) -> list[Trial]:
        return self.with_status(TrialStatus.SUCCEEDED, TrialStatus.FAILED)

    @property
    def succeeded(self) -> list[Trial]:
        return self.with_status(TrialStatus.SUCCEEDED)

    @property
    def pending(self) -> list[Trial]:
        """Trials claimed or queued but without a result yet (running or pending)."""
        return self.with_status(TrialStatus.RUNNING, TrialStatus.PENDING)

    def slots(self) -> set[str]:
        """Slots of live trials (crashed rows give their slot to their retry)."""
        return {t.slot for t in self.trials if t.slot is not None}

    def best(self, fidelity: float | int | None = None) -> Trial | None:
        """The succeeded trial with the lowest objective, optionally only at ``fidelity``."""
        candidates = [
            t
            for t in self.succeeded
            if t.objective is not None
            and math.isfinite(t.objective)
            and (fidelity is None or t.fidelity == fidelity)
        ]
        return min(candidates, key=lambda t: (t.objective, t.number)) if candidates else None


def incumbent(trials: Iterable[Trial]) -> Trial | None:
    """The best succeeded trial at the highest fidelity any succeeded trial reached.

    Objectives at a low fidelity are not comparable with full ones, so a multi-fidelity study's
    incumbent is taken among its highest-fidelity results (ties: the lower number).
    """
    best: Trial | None = None
    for t in trials:
        if t.status is not TrialStatus.SUCCEEDED or t.objective is None:
            continue
        if not math.isfinite(t.objective):
            continue
        if best is None:
            best = t
            continue
        f, g = t.fidelity, best.fidelity
        higher = f is not None and (g is None or f > g)
        same = f == g
        if higher or (same and (t.objective, t.number) < (best.objective, best.number)):
            best = t
    return best


def config_key(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A hashable identity of a configuration: its sorted ``(name, repr(value))`` pairs.

    The one test of "already tried" for optimizers and models (a derivation string, a float and
    a categorical compare by their values' reprs, so ``0.1`` and ``0.1`` match, ``1`` and ``1.0``
    do not, as they do not in a stored config)."""
    return tuple(sorted((k, repr(v)) for k, v in dict(config).items()))


def trials_by_number(trials: Sequence[Trial]) -> dict[int, Trial]:
    return {t.number: t for t in trials}


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """The generator for one decision, derived from the study seed and the decision's keys.

    Deriving instead of carrying an RNG makes a seeded study reproducible with one worker and
    keeps workers that ask concurrently from drawing the same numbers for different slots. Used by
    optimizers (one generator per suggestion) and by models (seeded subsets and fits) alike.
    """
    return np.random.default_rng([int(seed), *(int(k) for k in keys)])


def max_fidelity(space: Space) -> float | int | None:
    """The fidelity a full evaluation runs at (None for a space without fidelity)."""
    return space.fidelity.upper if space.fidelity is not None else None


def fidelity_units(
    space: Space, fidelity: float | int | None, previous_fidelity: float | int | None = None
) -> float:
    """The budget one evaluation adds, in full-fidelity units: the one count of tunewise.

    One evaluation at the space's maximum fidelity counts 1; a continuation of a trial at
    ``previous_fidelity`` counts only what it adds, ``(fidelity - previous_fidelity) / max``
    (never below 0), unless the fidelity is not ``resumable`` (a data subset the model is
    retrained on): then it counts its whole ``fidelity / max``
    (:meth:`tunewise.space.Fidelity.units`). Without a fidelity in the space (or on the trial)
    an evaluation counts 1. The store's budget counters, the simulated runtime, the analysis'
    budget axis and PriorBand's bracket accounting all use this function.
    """
    if space.fidelity is None or fidelity is None:
        return 1.0
    return space.fidelity.units(fidelity, previous_fidelity)


def used_fidelity(space: Space, trial: Trial) -> float | int | None:
    """The fidelity a recorded trial's budget counts: its own, or the step early stopping ended it
    at (``info["stopped_at"]`` of a trial with ``info["stopped_early"]``) when that is short of
    its fidelity and the fidelity is ``resumable`` (epochs: the steps are its units). The store
    refunds the same difference when the trial is recorded; the analysis' budget axis and
    PriorBand's fidelity spent read it here."""
    fidelity = trial.fidelity
    stopped = trial.info.get("stopped_at") if trial.info.get("stopped_early") else None
    if (
        stopped is None
        or fidelity is None
        or space.fidelity is None
        or not space.fidelity.resumable
        or not float(stopped) < float(fidelity)
    ):
        return fidelity
    return float(stopped)
