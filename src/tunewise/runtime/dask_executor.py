"""Workers as Dask tasks: the same worker loop on a Dask cluster, all sharing one store.

Each of ``workers`` tasks runs :class:`~tunewise.runtime.worker.Worker` against the store's URL
and writes trial folders under ``root``, so both must be reachable from every Dask worker:
PostgreSQL (or a SQLite file on a filesystem all workers share) and a shared ``root``. A task
checks this when it starts and fails with a message saying which.

The client supervises as the local supervisor does. When a Dask worker dies mid-task, Dask runs
the task again elsewhere; the new run marks the trial of the old one crashed at once (tasks name
their workers ``<task>@<host>:<pid>``, so a task knows its predecessors) and goes on. When Dask
gives up on a task (``KilledWorker``, after ``distributed.scheduler.allowed-failures`` deaths) or
loses it, the client recovers its trial and submits a replacement, up to the same limit as for
local processes. On Ctrl-C or SIGTERM the client sets a Dask ``Event`` that the tasks watch: they
stop between trials, an evaluation running in a child process (``trial_timeout``, GPU tasks) is
killed and re-queued, and the trial of an evaluation running in a Dask worker's thread, which
cannot be interrupted, is re-queued by the client (the task drops its result when it ends).
"""

# distributed ships type hints (py.typed) but leaves LocalCluster, Client, Event and Future's
# methods unannotated; calling them is this module's job.
# mypy: disallow-untyped-calls=False
from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import make_url

from tunewise.runtime.attach import attached
from tunewise.runtime.devices import check_devices, device_environment
from tunewise.runtime.local import WorkerDiedError, WorkerJob, first_failure
from tunewise.runtime.progress import Reporter
from tunewise.runtime.signals import (
    Interrupted,
    raise_if_stop_requested,
    signals_deferred,
    stop_signals_raise,
)
from tunewise.runtime.worker import Settings, TrialFailed
from tunewise.storage import StudyHandle
from tunewise.trial import TrialStatus

if TYPE_CHECKING:
    from distributed import Client, Future

logger = logging.getLogger("tunewise")

STOP_POLL = 0.5  # how often a task looks at the stop event (seconds)
STOP_GRACE = 3.0  # how long the client waits for tasks whose evaluations run in children


def run_dask(
    *,
    workers: int,
    job: WorkerJob,
    study: StudyHandle,
    reporter: Reporter,
    settings: Settings,
    devices: list[str] | None = None,
    client: Client | None = None,
    address: str | None = None,
    poll_interval: float = 0.25,
) -> None:
    """Run ``workers`` worker tasks on a Dask cluster and supervise them until all have ended.

    The cluster is ``client``'s, or the scheduler at ``address``, or else a
    ``LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)`` started here and
    closed afterwards. With ``devices``, task ``i`` evaluates on GPU ``devices[i]`` of the
    machine it runs on.
    """
    from distributed import Client, LocalCluster

    owned: list[Any] = []
    try:
        if client is None:
            if address is None:
                with _terminal_interrupts_ignored():  # Ctrl-C is the client's to handle
                    cluster = LocalCluster(
                        n_workers=workers,
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=None,
                    )
                owned.append(cluster)
                client = Client(cluster)
            else:
                client = Client(address)
            owned.insert(0, client)
        _Supervisor(client=client, job=job, study=study, settings=settings, devices=devices).run(
            workers=workers, reporter=reporter, poll_interval=poll_interval
        )
    finally:
        with signals_deferred():
            for resource in owned:
                resource.close()


@contextlib.contextmanager
def _terminal_interrupts_ignored() -> Iterator[None]:
    """Start processes that ignore SIGINT (the disposition survives exec, and Python keeps it).

    A Ctrl-C in the terminal reaches the whole process group; the LocalCluster's processes would
    die mid-task with tracebacks, while the client stops them in order and re-queues trials.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class _Task:
    base: str  # the task's name; its workers are named f"{base}@{host}:{pid}"
    slot: int


class _Supervisor:
    """Submits the worker tasks, watches them, replaces lost ones, stops them on request."""

    def __init__(
        self,
        *,
        client: Client,
        job: WorkerJob,
        study: StudyHandle,
        settings: Settings,
        devices: list[str] | None,
    ) -> None:
        from distributed import Event

        self.client = client
        self.job = job
        self.study = study
        self.settings = settings
        self.devices = devices
        self.run_id = uuid.uuid4().hex[:8]
        self.stop_name = f"tunewise-stop-{self.run_id}"
        self.stop_event = Event(self.stop_name, client=client)
        self.tasks: dict[Future[Any], _Task] = {}
        self.all_bases: list[str] = []
        self._submitted = 0

    def run(self, *, workers: int, reporter: Reporter, poll_interval: float) -> None:
        from distributed import KilledWorker

        replacements_left = workers * (self.settings.max_retries + 1)
        for slot in range(workers):
            self._submit(slot)
        try:
            with stop_signals_raise():
                while self.tasks:
                    time.sleep(poll_interval)
                    raise_if_stop_requested()
                    self.study.refresh()
                    reporter.update(self.study.trials)
                    for future, task in list(self.tasks.items()):
                        status = future.status
                        if status == "pending":  # queued or running
                            continue
                        del self.tasks[future]
                        if status == "finished":
                            future.release()
                            continue
                        error = future.exception() if status == "error" else None
                        if error is not None and not isinstance(error, KilledWorker):
                            raise WorkerDiedError(
                                f"a tunewise task on the Dask cluster failed: "
                                f"{type(error).__name__}: {error}"
                            ) from error
                        why = "its Dask worker died" if error is not None else f"task {status}"
                        self._recover(task, why)
                        if replacements_left > 0:
                            replacements_left -= 1
                            logger.warning("tunewise task %s: %s; resubmitting", task.base, why)
                            self._submit(task.slot)
                        else:
                            logger.error("tunewise task %s: %s", task.base, why)
                    self._raise_first_failure()
            self._raise_first_failure()
        except BaseException as stop:
            with signals_deferred():
                self._stop(_reason(stop))
            raise

    def _raise_first_failure(self) -> None:
        """With ``on_error="raise"``, a task stops after recording a failed trial; so does this."""
        if self.settings.on_error == "raise" and any(
            t.status is TrialStatus.FAILED for t in self.study.trials()
        ):
            raise first_failure(self.study)

    def _submit(self, slot: int) -> None:
        base = f"dask-{self.run_id}-w{slot}-{self._submitted}"
        self._submitted += 1
        job = replace(self.job, name=base, device=self.devices[slot] if self.devices else None)
        future = self.client.submit(
            dask_worker_task, job, self.stop_name, key=f"tunewise-{base}", pure=False
        )
        self.tasks[future] = _Task(base, slot)
        self.all_bases.append(base)

    def _recover(self, task: _Task, why: str) -> None:
        """Mark crashed the trials still running under the workers of a dead task."""
        self.study.refresh()
        names = {
            t.worker
            for t in self.study.trials()
            if t.status is TrialStatus.RUNNING and t.worker and t.worker.startswith(task.base + "@")
        }
        for name in sorted(names):
            self.study.recover_worker(
                name, max_retries=self.settings.max_retries, reason=f"tunewise task: {why}"
            )

    def _stop(self, reason: str) -> None:
        """Ask every task to stop, give them a moment, then re-queue what they still run."""
        # Tasks between trials stop within STOP_POLL; one with an evaluation in a child kills it
        # and re-queues the trial itself; one evaluating in its thread cannot be interrupted.
        in_children = self.settings.isolated or self.devices is not None
        try:
            self.stop_event.set()
            deadline = time.monotonic() + (STOP_GRACE if in_children else 2 * STOP_POLL)
            while time.monotonic() < deadline and any(not f.done() for f in self.tasks):
                time.sleep(0.1)
        except Exception as exc:  # the cluster is gone; re-queue from the store all the same
            logger.warning("could not signal the Dask tasks to stop: %s", exc)
        self.study.refresh()
        prefixes = tuple(base + "@" for base in self.all_bases)
        ours = [
            t
            for t in self.study.trials()
            if t.status is TrialStatus.RUNNING and (t.worker or "").startswith(prefixes)
        ]
        for trial in ours:
            if self.study.release(trial.number, worker=trial.worker or "", reason=reason):
                logger.warning("trial %d %s; re-queued", trial.number, reason)
        try:
            self.client.cancel(list(self.tasks))
        except Exception as exc:
            logger.warning("could not cancel the Dask tasks: %s", exc)


def _reason(stop: BaseException) -> str:
    if isinstance(stop, Interrupted):
        return f"interrupted by {stop.signal_name}"
    if isinstance(stop, KeyboardInterrupt):
        return "interrupted by Ctrl-C"
    return f"the run stopped ({type(stop).__name__})"


# -- on the Dask worker -------------------------------------------------------------------------


def dask_worker_task(job: WorkerJob, stop_event: str) -> int:
    """One tunewise worker as a Dask task; returns how many trials it evaluated."""
    from distributed import Event, get_client

    host = socket.gethostname()
    _check_shared(job, host)
    name = f"{job.name}@{host}:{os.getpid()}"
    child_env = None
    if job.device is not None:
        check_devices([int(job.device)])  # on this machine, which may not be the client's
        child_env = device_environment(job.device)
    stop = threading.Event()
    event = Event(stop_event, client=get_client())  # bound here: the watcher is no task thread
    threading.Thread(target=_watch, args=(event, stop), daemon=True).start()
    try:
        with attached(
            job.url,
            job.study,
            root=job.root,
            evaluate=job.evaluate,  # a path stays one when each evaluation's child loads it
            name=name,
            device=job.device,
            stop=stop,
            child_env=child_env,
        ) as worker:
            _recover_predecessors(worker.study, job.name, name, worker.settings)
            try:
                return worker.run()
            except Interrupted:  # asked to stop; the trial was re-queued
                return worker.evaluated
            except TrialFailed:  # on_error="raise": recorded; the client raises it
                return worker.evaluated
    finally:
        stop.set()


def _watch(event: Any, stop: threading.Event, patience: int = 20) -> None:
    """Set ``stop`` when the client sets the Dask event, or when the scheduler stays unreachable
    for ``patience`` tries in a row (nobody would collect this task's result)."""
    failures = 0
    while not stop.is_set() and failures < patience:
        try:
            if event.wait(timeout=STOP_POLL):
                break
            failures = 0
        except Exception as exc:
            failures += 1
            logger.warning("cannot reach the Dask scheduler (%s); retrying", exc)
            time.sleep(STOP_POLL)
    stop.set()


def _recover_predecessors(study: StudyHandle, base: str, name: str, settings: Settings) -> None:
    """Dask runs a task again only after its worker died: crash that run's trial now."""
    study.refresh()
    dead = {
        t.worker
        for t in study.trials()
        if t.status is TrialStatus.RUNNING
        and t.worker
        and t.worker.startswith(base + "@")
        and t.worker != name
    }
    for worker in sorted(dead):
        study.recover_worker(
            worker, max_retries=settings.max_retries, reason="its Dask worker died"
        )


def _check_shared(job: WorkerJob, host: str) -> None:
    """Fail clearly when this machine cannot see the SQLite store or the root folder."""
    url = make_url(job.url)
    database = url.database if url.get_backend_name() == "sqlite" else None
    if database and database != ":memory:" and not Path(database).is_file():
        raise FileNotFoundError(
            f"the Dask worker on {host} cannot see the SQLite store {url.database}: with "
            "Dask, a SQLite store must be on a filesystem every worker shares; use "
            "PostgreSQL (storage='postgresql://...') for a cluster"
        )
    if not Path(job.root).is_dir():
        raise FileNotFoundError(
            f"the Dask worker on {host} cannot see the root folder {job.root}: trial folders "
            "must be on a filesystem every Dask worker shares"
        )
