"""The storage contract: what the runtime, the CLI and a read-only dashboard may rely on.

Three abstract classes, in the manner of Optuna's ``BaseStorage``: callers type against them, a
new backend implements them, and ``tests/storage/test_conformance.py`` checks every backend
against them. The SQL implementation (SQLite and PostgreSQL behind one code path) is
:class:`tunewise.storage.Store` and the study handles it opens.

- :class:`TrialStore`: one store of many studies; opens and creates studies.
- :class:`StudyReader`: one study, read only (what a dashboard or ``tunewise status`` needs).
- :class:`StudyHandle`: one study as one worker sees and changes it: claims, queued
  configurations, heartbeats, finishes, releases and crash recovery.

Guarantees common to every method:

- **Processes and machines.** Any number of processes (on one machine for SQLite, on many for
  PostgreSQL) may use one study at once, each with its own handle. A handle is not shared
  between threads, except that a heartbeat thread may call :meth:`StudyHandle.heartbeat`,
  :meth:`StudyReader.running_heartbeats` and :meth:`StudyHandle.recover_silent` on the handle
  its worker uses.
- **Atomic operations.** Each writing method is one transaction: it happens entirely or not
  at all, and what it returns was committed.
- **Transient faults are retried.** A lost connection, a restarting server, a serialization
  failure or deadlock, a busy SQLite file: the operation is rolled back and run again with
  backoff, up to the store's :attr:`TrialStore.retry` deadline, then
  :class:`~tunewise.storage.StorageError` is raised. Operations that may have committed before
  a reply was lost (:meth:`StudyHandle.claim`, :meth:`StudyHandle.claim_pending`,
  :meth:`StudyHandle.finish`) recognise their own commit when run again, so nothing is
  recorded twice. Faults that waiting cannot fix (bad credentials, a missing database, a
  constraint or SQL error) are raised at once.
- **Snapshots.** Every :class:`~tunewise.trial.Trial` and :class:`~tunewise.trial.History`
  handed out is immutable and never changes afterwards, whatever happens to the study.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from tunewise.space import Space
from tunewise.storage.records import Claim, Limits, StudyRecord, Totals
from tunewise.storage.retry import RetryPolicy
from tunewise.trial import History, Suggestion, Trial, TrialStatus

__all__ = ["StudyHandle", "StudyReader", "TrialStore"]


class TrialStore(abc.ABC):
    """A connection to one store holding many studies.

    Opening a store fails fast with a :class:`~tunewise.storage.StorageError` that says what to
    fix (malformed URL, server unreachable, bad credentials, missing database) and a
    :class:`~tunewise.storage.SchemaVersionError` for a store of another schema version: at
    that point a fault is almost always a mistake. Once open, every method retries transient
    faults under :attr:`retry`. A store is closed with :meth:`close` (or by leaving a ``with``
    block); the handles it opened must not be used afterwards.
    """

    url: str
    """The store's URL (its password included: never show it; see ``safe_url``)."""
    retry: RetryPolicy
    """How long operations ride through transient faults; ``retry.max_delay`` is the longest
    wait between two attempts, which an observer of heartbeats allows as grace."""

    @abc.abstractmethod
    def study_names(self) -> list[str]:
        """The names of the store's studies, oldest first."""

    @abc.abstractmethod
    def open_study(self, name: str) -> StudyRecord:
        """The stored record of study ``name``.

        Raises:
            StudyNotFoundError: no study has that name (the message names the ones there are).
        """

    @abc.abstractmethod
    def create_or_open_study(
        self,
        name: str,
        *,
        space: Space,
        optimizer: Mapping[str, Any],
        seed: int,
        budget: Mapping[str, Any],
        settings: Mapping[str, Any],
        check_seed: bool = False,
    ) -> StudyRecord:
        """Create study ``name``, or open it after checking its space and optimizer are unchanged.

        Safe when many processes call it at once: exactly one creates the study. An existing
        study keeps its seed (``check_seed=True``: it must equal ``seed``); its budget and
        settings are replaced by the given ones (running again with a larger budget continues
        the study).

        Raises:
            StudyMismatchError: the study exists with another space (the message lists what
                changed), another optimizer specification or, with ``check_seed``, another
                seed. Nothing stored is changed.
        """

    @abc.abstractmethod
    def study(self, name: str) -> StudyHandle:
        """A new handle on study ``name``, with an empty cache (call ``refresh`` to read it).

        Raises:
            StudyNotFoundError: no study has that name.
        """

    @abc.abstractmethod
    def close(self) -> None:
        """Release the store's connections."""

    def __enter__(self) -> TrialStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class StudyReader(abc.ABC):
    """One study, read only, through a cache of its trials local to this handle.

    :meth:`refresh` reads from the store what changed since this handle's last read — its cost
    grows with the changes, not with the study's size, and it never misses a committed change
    — and the other reads answer from the cache as of that refresh (and this handle's own
    writes). Trial numbers are dense per study (0, 1, 2, ...) and never reused.
    """

    @property
    @abc.abstractmethod
    def record(self) -> StudyRecord:
        """The study's identity and settings, as when the handle was opened."""

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def space(self) -> Space:
        return self.record.space

    @abc.abstractmethod
    def refresh(self) -> int:
        """Read the trials changed since the last refresh into the cache; returns how many."""

    @abc.abstractmethod
    def trials(self) -> list[Trial]:
        """The cached trials, ordered by number."""

    @abc.abstractmethod
    def trial(self, number: int) -> Trial | None:
        """The cached trial ``number``; None if it has not been read yet."""

    @abc.abstractmethod
    def pending_trials(self) -> list[Trial]:
        """The cached trials that are running or queued (``pending``)."""

    @abc.abstractmethod
    def history(self) -> History:
        """A read-only snapshot of the cached trials, for optimizers.

        The same object is returned until the cache changes; building a new one costs
        O(changes), not O(trials). Later changes never show through an earlier snapshot.
        """

    @abc.abstractmethod
    def totals(self) -> Totals:
        """The study's running totals as stored now (one read, O(1) in the study's size)."""

    @abc.abstractmethod
    def budget(self) -> dict[str, Any]:
        """The study's budget as stored now (the latest ``run`` may have changed it)."""

    @abc.abstractmethod
    def running_heartbeats(self) -> dict[int, float | None]:
        """The stored heartbeat value of each running trial, by number (None: it has none).

        One cheap read, for an observer that judges silence by what it sees change
        (:class:`~tunewise.runtime.staleness.SilenceWatch`), never by the values as times.
        """


class StudyHandle(StudyReader):
    """One study as one worker changes it: the lifecycle of a trial.

    - **Slots.** Every suggestion has a slot (e.g. "config 17 at rung 2"). No two live trials
      of a study share a slot, and a slot once taken stays taken: a crashed trial hands its
      slot to its retry. :meth:`claim` checks the slot at the moment it inserts the trial and
      answers ``CONFLICT`` if another worker took it, without waiting: the optimizer's ``ask``
      (possibly slow) runs before, on a snapshot, and the worker refreshes and asks again.
    - **Budget.** A claim is refused (``BUDGET``) when the :class:`Limits` it is given are
      exhausted by the totals at the moment of the claim, counted by all workers together.
    - **Exactly once.** A trial is finished once; a finished trial never changes again (a
      crashed trial may still be finished by its late worker, see :meth:`finish`). Its cost
      and fidelity units are added to the totals once.
    - **Ownership.** A running trial belongs to the worker that claimed it; heartbeats,
      finish and release name that worker.
    - **Crashes.** A running trial whose worker died — known to a supervisor
      (:meth:`recover_worker`) or judged by the silence of its heartbeat
      (:meth:`recover_silent`, :meth:`recover_stale`) — is marked ``crashed`` (its slot
      cleared) and re-queued as a new ``pending`` trial with the same config, fidelity and
      slot, or marked ``failed`` once it has crashed ``max_retries + 1`` times. A crash is not
      counted as a live trial: its retry is.
    - **Changes are seen.** Every change gets a place in the study's change order, and a
      :meth:`refresh` by any handle returns every committed change after its last read.
    """

    @property
    @abc.abstractmethod
    def store(self) -> TrialStore:
        """The store this handle was opened from."""

    @abc.abstractmethod
    def claim(
        self,
        suggestions: Suggestion | Sequence[Suggestion],
        *,
        worker: str,
        limits: Limits,
        device: str | None = None,
    ) -> Claim:
        """Start the first of ``suggestions`` whose slot is free as a ``running`` trial of
        ``worker``, if ``limits`` allow a new trial; ``Claim.index`` says which suggestion.

        The trial gets the next dense number and adds
        :func:`~tunewise.trial.fidelity_units` to the claimed fidelity. ``device`` names the
        accelerator it will run on. A refused claim writes nothing: ``CONFLICT`` when every
        slot is taken, ``BUDGET`` when the limits allow no new trial. Run again after a lost
        reply, a claim finds its own committed trial (a running trial of ``worker`` in the slot,
        with the same config) and returns it.

        Raises:
            ValueError: no suggestions, suggestions with the same slot, or a ``device`` name
                longer than :data:`~tunewise.storage.records.DEVICE_LENGTH`.
        """

    @abc.abstractmethod
    def claim_pending(
        self, *, worker: str, limits: Limits, device: str | None = None
    ) -> Trial | None:
        """Start the oldest queued trial (a re-queued crash or interruption) for ``worker``.

        None when nothing is queued or when ``limits`` forbid even queued trials (cost spent).
        Queued trials were counted when first claimed, so the trial and fidelity limits do not
        apply. Run again after a lost reply, it returns the trial its first run started.

        Raises:
            ValueError: a ``device`` name longer than ``DEVICE_LENGTH``.
        """

    @abc.abstractmethod
    def enqueue(
        self,
        config: Mapping[str, Any],
        *,
        fidelity: float | int | None,
        limits: Limits,
        info: Mapping[str, Any] | None = None,
    ) -> Trial | None:
        """Queue ``config`` at ``fidelity`` as a ``pending`` trial, to run before anything the
        optimizer suggests (:meth:`claim_pending` starts the oldest queued trial first).

        It is counted at once, like a claim: it gets the next dense number, is a live trial and
        adds its :func:`~tunewise.trial.fidelity_units`; its slot is its own (``enqueued:...``),
        which no optimizer suggests. None, writing nothing, when ``limits`` allow no new trial.
        Run again after a lost reply, it returns the trial its first run queued.

        Raises:
            SpaceError: ``config`` is not a configuration of the study's space (the message
                names the parameter), or ``fidelity`` is outside the space's fidelity, or given
                for a space without one, or missing for a space with one.
        """

    @abc.abstractmethod
    def heartbeat(
        self, number: int, *, worker: str, learning_curve: list[tuple[float, float]] | None = None
    ) -> bool:
        """Mark ``worker``'s running trial alive (and store its learning curve so far).

        False, changing nothing, when the trial is no longer ``worker``'s running trial (it was
        declared dead, released or finished): the worker should stop working on it.
        """

    @abc.abstractmethod
    def finish(
        self,
        number: int,
        *,
        worker: str,
        status: TrialStatus,
        objective: float | None = None,
        cost: float | None = None,
        learning_curve: Iterable[tuple[float, float]] = (),
        info: Mapping[str, Any] | None = None,
        error: str | None = None,
        fidelity_used: float | None = None,
    ) -> Trial:
        """Record the result of ``worker``'s trial, exactly once, and return the stored trial.

        ``info`` is merged over the notes the optimizer attached at the claim.
        ``fidelity_used`` (full-fidelity units) is what the trial used when it stopped short of
        its fidelity (early stopping): it is counted as spent instead of what the claim counted,
        and the difference goes back to the claimed total (so the budget buys more trials);
        None, or more than was claimed, counts what was claimed. The same result
        by the same worker again (a retry after a lost reply) returns the stored trial and
        counts nothing twice. A trial declared dead (crashed) while its worker still ran gets
        the result anyway — it is real — and its queued retry stays a separate trial.

        Raises:
            ValueError: ``status`` is not ``succeeded`` or ``failed``.
            StorageError: the trial is already finished with another result or by another
                worker.
        """

    @abc.abstractmethod
    def release(self, number: int, *, worker: str, reason: str) -> bool:
        """Put ``worker``'s running trial back in the queue (Ctrl-C, SIGTERM) to run later,
        keeping its number and slot. False, changing nothing, if it is not ``worker``'s
        running trial."""

    @abc.abstractmethod
    def recover_stale(self, *, stale_after: float, max_retries: int) -> list[int]:
        """Crash the running trials whose stored heartbeat is older than ``stale_after`` seconds
        by this machine's clock (see the class docstring for what a crash does).

        Compares clocks of different machines; prefer :meth:`recover_silent`. Returns the
        numbers of the trials crashed.
        """

    @abc.abstractmethod
    def recover_silent(
        self,
        observed: Mapping[int, float | None],
        *,
        max_retries: int,
        silent_for: float | None = None,
    ) -> list[int]:
        """Crash the running trials whose heartbeat still holds the value an observer saw
        unchanged (``observed``: number -> value from :meth:`running_heartbeats`) for
        ``silent_for`` seconds.

        Compare-and-set, in one transaction: a trial that beat since, finished or was
        re-queued is left alone, so calling it twice crashes nothing twice. Returns the numbers
        of the trials crashed.
        """

    @abc.abstractmethod
    def recover_worker(self, worker: str, *, max_retries: int, reason: str) -> list[int]:
        """Crash the running trials of ``worker``, known to be dead, right now.

        For a supervisor that saw the worker's process die; ``reason`` says how (e.g. "exited
        with signal SIGKILL") and goes into each trial's error. Returns their numbers.
        """
