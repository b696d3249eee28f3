"""Ask-and-tell: ``tw.Study`` for users who own their training loop (or work in a notebook).

``study.ask()`` claims a trial exactly as a worker of ``tw.run`` does (the same :class:`Worker`
claim, so queued trials come first and the same store guarantees hold) and hands back the
:class:`TrialContext` an objective would get; the caller evaluates it and ``study.tell``\\ s the
result, which is recorded as a returned value is. Trials asked and not yet told are kept alive by
heartbeats from this process, so they are recovered like a dead worker's once it is gone.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunewise.optimizers import Optimizer
from tunewise.optimizers import make as make_optimizer
from tunewise.optimizers.auto import choose as choose_optimizer
from tunewise.runtime import outcome as outcomes
from tunewise.runtime.budget import Budget, StoredBudget
from tunewise.runtime.context import TrialContext, objective_config
from tunewise.runtime.early_stopping import EarlyStopping, TrialJudge, early_stopping_from
from tunewise.runtime.heartbeat import Heartbeat
from tunewise.runtime.paths import default_study_name, trial_directory
from tunewise.runtime.result import Result
from tunewise.runtime.signals import signals_deferred, stop_signals_raise
from tunewise.runtime.worker import Settings, Worker
from tunewise.space import Space
from tunewise.storage import StudyHandle, StudyMismatchError, StudyNotFoundError, worker_name
from tunewise.storage.locations import open_store, open_study
from tunewise.trial import Trial, TrialStatus

_MISSING: Any = object()
"""``tell``'s value when none is given (None is a value: an invalid one, recorded failed)."""


class BudgetSpent(RuntimeError):
    """``enqueue`` was refused: the study's budget allows no new trial."""


@dataclass
class _Open:
    """A trial asked and not yet told: what the caller holds, the claim, and its heartbeat."""

    context: TrialContext
    trial: Trial
    beat: Heartbeat
    started: float
    judge: TrialJudge | None = None


class Study:
    """A study whose evaluations the caller runs: ``ask`` a trial, train, ``tell`` the result.

    The arguments mean what they mean for ``tw.run``: results go to ``<root>/tunewise.db`` (or
    the ``storage`` URL) under the study ``study`` (default: the root folder's name), trial
    folders under ``root``; ``optimizer="auto"`` chooses as ``tw.run`` does, and the study is
    stored the same way, so ``tw.run``, ``tunewise worker`` and ``tunewise status`` work on it
    too (and resuming with another space, optimizer or seed is refused). Two differences, for
    opening a study that exists: ``space=None`` takes the stored space (and, with
    ``optimizer="auto"``, the stored optimizer), and ``budget=None`` keeps the stored budget
    (unlimited for a new study). With ``storage`` and no ``root``, name the ``study``; trial
    folders then go under ``./<study>/`` when first used.

    Trials asked and not told are kept alive by a heartbeat thread every
    ``heartbeat_interval`` seconds, and the same thread recovers trials of other workers of the
    study that went silent for ``stale_after`` seconds (re-queued, up to ``max_retries``
    times). :meth:`close` (or leaving a ``with`` block) stops it and re-queues untold trials.
    Its methods may be called from several threads (one trial trained in each, say).
    ``early_stopping`` (``"median"``, ``"model"`` or a :class:`~tunewise.EarlyStopping`) judges
    what an asked trial reports, as in ``tw.run``: ``trial.report`` returns True once it should
    stop, and a trial told after that is recorded as stopped early. It is stored with the study
    (replacing the stored one), so workers attached later apply it too.
    ``transfer_from`` and ``transfer`` start a new study from earlier ones, as in ``tw.run``;
    what carried over is in ``study.transfer_notes`` (and the ``tunewise`` logger).
    """

    def __init__(
        self,
        *,
        root: str | os.PathLike[str] | None = None,
        storage: str | None = None,
        study: str | None = None,
        space: Space | None = None,
        optimizer: str | Mapping[str, Any] | Optimizer = "auto",
        seed: int | None = None,
        budget: Budget | int | None = None,
        max_retries: int = 2,
        heartbeat_interval: float = 10.0,
        stale_after: float = 60.0,
        early_stopping: str | EarlyStopping | None = None,
        transfer_from: Any = None,
        transfer: str = "best_first+model",
    ) -> None:
        if space is not None and not isinstance(space, Space):
            raise TypeError(f"space must be a tunewise.Space, not {type(space).__name__}")
        if root is None and storage is None:
            raise ValueError("give root= (a folder) or storage= (a store URL or SQLite path)")
        if root is None and study is None:
            raise ValueError("with storage= and no root=, name the study with study=")
        if isinstance(budget, int) and not isinstance(budget, bool):
            budget = Budget(evaluations=budget)
        if budget is not None and not isinstance(budget, Budget):
            raise TypeError(
                f"budget must be a tunewise.Budget or an int, not {type(budget).__name__}"
            )
        settings = Settings(
            max_retries=max_retries,
            heartbeat_interval=heartbeat_interval,
            stale_after=stale_after,
            early_stopping=early_stopping_from(early_stopping),
        )
        if root is not None:
            self.root = Path(root).expanduser().resolve()
            if self.root.exists() and not self.root.is_dir():
                raise ValueError(f"root={str(root)!r} is a file; give a folder for the study")
            self.root.mkdir(parents=True, exist_ok=True)
            name = study or default_study_name(self.root)
        else:
            assert study is not None
            self.root, name = Path.cwd() / study, study
        self._root_given, self._storage = root is not None, storage
        self._store = open_store(root=self.root if root is not None else None, storage=storage)
        try:
            self._handle, chosen = self._create_or_open(
                name, space, optimizer, seed, budget, settings, (transfer_from, transfer)
            )
        except BaseException:
            self._store.close()
            raise
        self.worker = worker_name()
        # Told results are recorded, never raised: a stored on_error="raise" is tw.run's.
        self._worker = Worker(
            study=self._handle,
            evaluate=_evaluated_by_the_caller,
            optimizer=chosen,
            settings=dataclasses.replace(self._settings, on_error="record"),
            root=self.root,
            name=self.worker,
        )
        self._open: dict[int, _Open] = {}
        self._told: dict[int, Trial] = {}
        self._closed = False
        self._lock = threading.RLock()
        # Watches the study's running trials for silent ones (dead workers, or dead Studies).
        self._watch = Heartbeat(
            self._handle,
            worker=self.worker,
            interval=self._settings.heartbeat_interval,
            stale_after=self._settings.stale_after,
            max_retries=self._settings.max_retries,
        )

    def _create_or_open(
        self,
        name: str,
        space: Space | None,
        optimizer: str | Mapping[str, Any] | Optimizer,
        seed: int | None,
        budget: Budget | None,
        settings: Settings,
        transfer: tuple[Any, str],
    ) -> tuple[StudyHandle, Optimizer]:
        """Store the study as ``tw.run`` does (or check it against the stored one)."""
        existing = self._store.open_study(name) if name in self._store.study_names() else None
        if existing is not None and seed is not None and existing.seed != seed:
            raise _seed_mismatch(name, existing.seed, seed)  # before anything is written
        if space is None:
            if existing is None:
                raise StudyNotFoundError(f"no study {name!r} to open; give space= to create it")
            space = existing.space
        if optimizer != "auto":
            chosen = make_optimizer(optimizer)
        elif existing is not None and space == existing.space:
            chosen = make_optimizer(existing.optimizer)  # auto: what the study was given
        else:
            chosen = choose_optimizer(space)
        chosen.check_space(space)
        if chosen.name != "transfer":  # auto on a stored transfer study: that layer already
            from tunewise.transfer.start import transfer_layer

            self.transfer_notes: list[str]
            chosen, self.transfer_notes = transfer_layer(
                chosen,
                space=space,
                transfer_from=transfer[0],
                method=transfer[1],
                stored=existing.optimizer if existing is not None else None,
            )
        if existing is not None:
            stored = Settings.from_stored(existing.settings)  # keeps tw.run's objective path
            settings = dataclasses.replace(
                stored,
                max_retries=settings.max_retries,
                heartbeat_interval=settings.heartbeat_interval,
                stale_after=settings.stale_after,
                early_stopping=settings.early_stopping,
            )
        self._settings = settings
        self._store.create_or_open_study(
            name,
            space=space,
            optimizer=chosen.spec(),
            seed=seed if seed is not None else secrets.randbelow(2**31),
            budget=(
                budget.to_stored()
                if budget is not None
                else existing.budget
                if existing is not None
                else Budget().to_stored()
            ),
            settings=settings.to_stored(),
            check_seed=seed is not None,  # created by another process meanwhile
        )
        handle = self._store.study(name)
        handle.refresh()
        return handle, chosen

    # -- what the study is ---------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._handle.name

    @property
    def space(self) -> Space:
        return self._handle.space

    @property
    def open_trials(self) -> list[TrialContext]:
        """The trials this Study asked and has not told yet, by number."""
        with self._lock:
            return [self._open[n].context for n in sorted(self._open)]

    def trials(self) -> list[Trial]:
        """The study's trials as stored now (every worker's), by number."""
        with self._lock:
            self._check_usable()
            self._handle.refresh()
            return self._handle.trials()

    def result(self) -> Result:
        """The study's results so far, as ``tw.load`` gives them (a new handle on the store)."""
        handle = open_study(
            root=self.root if self._root_given else None, storage=self._storage, study=self.name
        )
        return Result(handle, self.root)

    load = result

    # -- ask -----------------------------------------------------------------------------------

    def ask(self, *, timeout: float | None = None) -> TrialContext | None:
        """The next trial to evaluate, or None when the study has nothing more to start.

        A queued trial (``enqueue``, or a crashed one's retry) comes first, then the optimizer's
        suggestion. None when the budget is spent or claimed (by this Study's open trials too:
        tell them, then ask again), or when the optimizer has nothing to suggest and no trial
        of another worker is running. While other workers' trials run (one may finish or
        crash and be retried) it waits, up to ``timeout`` seconds (None: as long as they run).
        """
        delay, waited = 0.005, 0.0
        while True:
            with self._lock:  # not held while waiting: other threads may tell meanwhile
                self._check_usable()
                trial, done = self._claim_once()
            if trial is not None:
                return trial
            if done or (timeout is not None and waited >= timeout):
                return None
            time.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)

    def _claim_once(self) -> tuple[TrialContext | None, bool]:
        """A claimed trial, or None and whether there is nothing to wait for."""
        budget = StoredBudget.from_stored(self._handle.budget())
        if budget.past_deadline():
            return None, True
        with stop_signals_raise():  # Ctrl-C during the claim gives the trial back
            self._handle.refresh()
            trial = self._worker.claim(budget.limits)
        if trial is not None:
            return self._opened(trial), False
        return None, self._nothing_to_wait_for(budget)

    def _nothing_to_wait_for(self, budget: StoredBudget) -> bool:
        if budget.done(self._handle.totals()):
            return True
        others = [t for t in self._handle.pending_trials() if t.number not in self._open]
        return not others

    def _opened(self, trial: Trial) -> TrialContext:
        beat = Heartbeat(
            self._handle, worker=self.worker, interval=self._settings.heartbeat_interval
        )
        beat.track(trial.number)
        judge = self._worker.judge(trial)
        previous = trial.previous_trial
        context = TrialContext(
            number=trial.number,
            config=objective_config(trial, self.space.fidelity_name),
            fidelity=trial.fidelity,
            directory=trial_directory(self.root, self.name, trial.number),
            previous_directory=(
                trial_directory(self.root, self.name, previous) if previous is not None else None
            ),
            previous_trial=previous,
            previous_fidelity=self._worker.previous_fidelity(trial),
            study=self.name,
            worker=self.worker,
            on_report=beat.set_curve,
            judge=self._locked(judge) if judge is not None else None,
        )
        self._open[trial.number] = _Open(context, trial, beat, time.perf_counter(), judge)
        return context

    def _locked(self, judge: TrialJudge) -> Callable[[list[tuple[float, float]]], bool]:
        """``judge`` run under this Study's lock: it refreshes the handle the other threads use."""

        def judged(curve: list[tuple[float, float]]) -> bool:
            with self._lock:
                return False if self._closed else judge(curve)

        return judged

    # -- tell ----------------------------------------------------------------------------------

    def tell(
        self,
        trial: TrialContext | int,
        value: Any = _MISSING,
        *,
        error: BaseException | str | None = None,
    ) -> Trial:
        """Record the result of an asked ``trial``; returns the stored trial.

        ``value`` follows an objective's convention: a float, or a dict with ``objective`` and
        optional ``cost`` (default: seconds since ``ask``), ``learning_curve`` (default: what
        ``trial.report`` received) and ``info``. A NaN or a value of the wrong kind is recorded
        as a failed trial with the reason, as ``tw.run`` does. ``error=`` (an exception or a
        text) records the trial failed with it instead.

        Raises:
            TypeError: neither a value nor ``error=`` given, or both (nothing is recorded).
            ValueError: ``trial`` is not open in this Study: told already, or asked by another
                Study (nothing is recorded, and the open trials stay open).
        """
        with self._lock:
            return self._tell(trial, value, error)

    def _tell(
        self, trial: TrialContext | int, value: Any, error: BaseException | str | None
    ) -> Trial:
        entry = self._entry(trial)
        if (value is _MISSING) == (error is None):
            raise TypeError(
                "tell needs the trial's value (a float or a dict) or error=, and not both"
            )
        elapsed = time.perf_counter() - entry.started
        curve = entry.context.learning_curve
        if isinstance(error, BaseException):
            outcome = outcomes.from_exception(error, elapsed=elapsed, curve=curve)
        elif error is not None:
            text = str(error).strip() or "failed (tell gave no reason)"
            outcome = outcomes.Outcome(
                TrialStatus.FAILED, cost=elapsed, learning_curve=curve, error=text
            )
        else:
            outcome = outcomes.from_return(value, elapsed=elapsed, curve=curve)
            if outcome.error is not None:
                told = outcome.error.replace("evaluate returned", "tell was given", 1)
                outcome = dataclasses.replace(outcome, error=told)
        outcome = dataclasses.replace(outcome, stop_seen=entry.context.stop_seen)
        entry.beat.recording()
        with signals_deferred():
            recorded = self._worker.record(entry.trial, outcome, judge=entry.judge)
            entry.beat.stop()
            del self._open[entry.trial.number]
            self._told[entry.trial.number] = recorded
        return recorded

    def fail(self, trial: TrialContext | int, error: BaseException | str) -> Trial:
        """Record an asked ``trial`` as failed with ``error`` (an exception or a text)."""
        return self.tell(trial, error=error)

    def _entry(self, trial: TrialContext | int) -> _Open:
        self._check_usable()
        if isinstance(trial, bool) or not isinstance(trial, TrialContext | int):
            raise TypeError(
                f"tell takes a trial from ask() (or its number), not {type(trial).__name__}"
            )
        number = trial if isinstance(trial, int) else trial.number
        foreign = isinstance(trial, TrialContext) and trial.study != self.name
        entry = self._open.get(number)
        if not foreign and entry is not None and (trial is entry.context or trial == number):
            return entry
        told = self._told.get(number)
        if not foreign and told is not None:
            raise ValueError(
                f"trial {number} of study {self.name!r} was told already ({told.status}"
                + (f", objective {told.objective:g}" if told.objective is not None else "")
                + "); a trial is told once"
            )
        where = (
            f"study {trial.study!r}"
            if isinstance(trial, TrialContext) and foreign
            else "another Study"
        )
        raise ValueError(
            f"trial {number} is not open in this Study of {self.name!r} (asked by {where}?); "
            "tell a trial this Study's ask() returned"
        )

    # -- enqueue -------------------------------------------------------------------------------

    def enqueue(self, config: Mapping[str, Any], fidelity: float | int | None = None) -> Trial:
        """Have ``config`` evaluated before anything the optimizer suggests, by ``ask`` or by
        any worker of the study (``tw.run``, ``tunewise worker``); returns the queued trial.

        ``fidelity`` defaults to the space's maximum (or is taken from ``config`` under the
        fidelity's name). The trial counts against the budget now, as a claimed one does.

        Raises:
            SpaceError: ``config`` is not valid in the space (the message names the parameter).
            BudgetSpent: the budget allows no new trial.
        """
        with self._lock:
            self._check_usable()
            return self._enqueue(config, fidelity)

    def _enqueue(self, config: Mapping[str, Any], fidelity: float | int | None) -> Trial:
        if not isinstance(config, Mapping):
            raise TypeError(f"enqueue takes a config dict, not {type(config).__name__}")
        config, name = dict(config), self.space.fidelity_name
        if name is not None and name in config:
            given = config.pop(name)
            if fidelity is not None and fidelity != given:
                raise ValueError(f"config[{name!r}]={given!r} but fidelity={fidelity!r}")
            fidelity = given
        fidelity_parameter = self.space.fidelity
        if fidelity is None and fidelity_parameter is not None:
            fidelity = fidelity_parameter.upper
        budget = StoredBudget.from_stored(self._handle.budget())
        with signals_deferred():
            trial = self._handle.enqueue(
                config, fidelity=fidelity, limits=budget.limits, info={"sampled_from": "enqueued"}
            )
        if trial is None:
            raise BudgetSpent(
                f"study {self.name!r}: the budget allows no new trial, so {config} cannot be "
                "queued; open the study with a larger budget="
            )
        return trial

    # -- closing -------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop the heartbeats, re-queue the trials asked and not told (another ask or worker
        runs them), and close the store. Closing twice does nothing."""
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self._watch.stop()
            for entry in list(self._open.values()):
                entry.beat.stop()
                with signals_deferred():
                    self._handle.release(
                        entry.trial.number,
                        worker=self.worker,
                        reason="its Study was closed before it was told",
                    )
            self._open.clear()
        finally:
            self._store.close()

    def __enter__(self) -> Study:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError(f"this Study of {self.name!r} is closed")

    def __repr__(self) -> str:
        return f"Study(name={self.name!r}, root='{self.root}', open_trials={sorted(self._open)})"


def _seed_mismatch(name: str, stored: int, given: int) -> StudyMismatchError:
    return StudyMismatchError(
        f"study {name!r} was created with seed {stored}, not {given}; open it with the same "
        "seed (or none), or use a new root (or study name)"
    )


def _evaluated_by_the_caller(config: dict[str, Any], trial: TrialContext) -> Any:
    """The Worker's objective, never called: ask-and-tell trials are evaluated by the caller."""
    raise RuntimeError("ask-and-tell trials are evaluated by the caller, not by a worker")
