"""One handle's cache of a study's trials, read incrementally and handed out as snapshots."""

from __future__ import annotations

from tunewise.space import Space
from tunewise.trial import History, Trial, TrialSequence, TrialStatus

COMPACT_AFTER = 64
"""Changed trials the cache holds beside its list before it rewrites the list."""


class TrialCache:
    """The trials of one study, indexed by number (numbers are dense), as one handle read them.

    An append-only list whose entries are never replaced in place, plus the entries changed since
    the list was written. A :class:`History` shares the list and copies the small dict, so a
    snapshot costs O(changes), not O(trials); the dict is folded into a new list (snapshots keep
    the old one) once it holds :data:`COMPACT_AFTER` entries. ``seq`` is the largest change
    counter read from the store: the next read asks only for what changed after it.
    """

    def __init__(self, space: Space, seed: int) -> None:
        self._space = space
        self._seed = seed
        self._base: list[Trial | None] = []
        self._changed: dict[int, Trial] = {}
        self._gaps = 0  # numbers not read yet (another worker's claim we have not seen)
        self._open: dict[int, Trial] = {}  # running or pending, for the worker's quick checks
        self._history: History | None = None
        self.seq = 0

    def get(self, number: int) -> Trial | None:
        """Trial ``number``; None if not read yet."""
        found = self._changed.get(number)
        if found is not None:
            return found
        return self._base[number] if 0 <= number < len(self._base) else None

    def trials(self) -> list[Trial]:
        """The cached trials, ordered by number."""
        return [t for t in self._snapshot() if t is not None]

    def open_trials(self) -> list[Trial]:
        """The cached trials that are running or queued."""
        return list(self._open.values())

    def history(self) -> History:
        """A snapshot for optimizers, rebuilt only after a change, in O(changes)."""
        if self._history is None:
            trials = self._snapshot()
            self._history = History(
                space=self._space,
                seed=self._seed,
                trials=trials if self._gaps == 0 else tuple(t for t in trials if t is not None),
            )
        return self._history

    def put(self, trial: Trial) -> None:
        """Store ``trial`` (new or changed); an unchanged trial keeps the current History."""
        number = trial.number
        base = self._base
        if number >= len(base):
            self._gaps += number - len(base)
            base.extend([None] * (number - len(base)))
            base.append(trial)
        else:
            current = self.get(number)
            if current == trial:
                return  # e.g. the refresh after our own finish: the History stays valid
            if current is None:
                self._gaps -= 1
            self._changed[number] = trial
            if len(self._changed) >= COMPACT_AFTER:
                self._compact()
        if trial.status in (TrialStatus.RUNNING, TrialStatus.PENDING):
            self._open[number] = trial
        else:
            self._open.pop(number, None)
        self._history = None

    def _snapshot(self) -> TrialSequence:
        # With gaps the list holds None entries; History then gets a filtered tuple instead.
        return TrialSequence(self._base, len(self._base), self._changed)  # type: ignore[arg-type]

    def _compact(self) -> None:
        base = self._base.copy()
        for number, trial in self._changed.items():
            base[number] = trial
        self._base, self._changed = base, {}
