"""Local worker processes (spawn) that share one store, supervised by the calling process.

The parent only supervises: it shows progress from the store, replaces workers that died (a
SIGKILL, an out-of-memory kill, a segfault in native code) after marking the trial each was
running crashed -- at once: the parent names every worker, so it need not wait for a heartbeat to
go stale -- and on Ctrl-C or SIGTERM stops the workers so that each re-queues its running trial.
With ``devices``, worker ``i`` starts with ``CUDA_VISIBLE_DEVICES`` set to GPU ``devices[i]``
(and so does its replacement).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from dataclasses import dataclass, replace
from multiprocessing.process import BaseProcess

from tunewise.runtime.attach import attached
from tunewise.runtime.context import Evaluate
from tunewise.runtime.devices import child_environment, device_environment
from tunewise.runtime.progress import Reporter
from tunewise.runtime.signals import (
    Interrupted,
    raise_if_stop_requested,
    signals_deferred,
    stop_signals_raise,
)
from tunewise.runtime.worker import Settings, TrialFailed
from tunewise.storage import StudyHandle, process_table
from tunewise.trial import TrialStatus

logger = logging.getLogger("tunewise")

EXIT_TRIAL_FAILED = 3
EXIT_UNGUARDED_MAIN = 4
EXIT_INTERRUPTED = 130

UNGUARDED_MAIN = (
    "tw.run(workers=N) was called again while a worker process imported your script: put the "
    'script\'s entry point under `if __name__ == "__main__":` (worker processes are started with '
    "'spawn', which imports the main script again; only the main process may run tw.run)"
)


class UnguardedMainError(RuntimeError):
    """The user's script calls ``tw.run`` with workers at its top level, without a main guard."""


def check_not_bootstrapping() -> None:
    """In a worker process still importing the user's script (``spawn`` re-imports ``__main__``),
    an unguarded top-level ``tw.run`` would start a run inside every worker; end that process
    quietly with :data:`EXIT_UNGUARDED_MAIN`, which the supervisor turns into one clear error."""
    # multiprocessing's own flag for this phase (set by spawn/forkserver before the child
    # imports __main__; parent_process() is not set until after it)
    if getattr(multiprocessing.current_process(), "_inheriting", False):
        sys.exit(EXIT_UNGUARDED_MAIN)


@dataclass(frozen=True)
class WorkerJob:
    """Everything a worker process (or Dask task) needs; pickled to it.

    ``name`` is the worker's name in the store, chosen by the supervisor so that it can recover
    the worker's trial when the process dies; ``device`` the GPU it works on, if any.
    """

    evaluate: Evaluate | str
    url: str
    study: str
    root: str
    name: str = ""
    device: str | None = None


def supervised_worker_name(slot: int) -> str:
    """A unique worker name made by the supervisor: host, supervisor pid, slot, random suffix."""
    return f"{process_table()}:{os.getpid()}-w{slot}:{os.urandom(3).hex()}"


def worker_process(job: WorkerJob) -> None:
    """Entry point of a worker process."""
    code = 0
    with stop_signals_raise():
        _stop_when_supervisor_dies()
        try:
            with attached(
                job.url,
                job.study,
                root=job.root,
                evaluate=job.evaluate,
                name=job.name or None,
                device=job.device,
            ) as worker:
                worker.run()
        except (KeyboardInterrupt, Interrupted):
            code = EXIT_INTERRUPTED
        except TrialFailed:
            code = EXIT_TRIAL_FAILED
        except BaseException:
            traceback.print_exc()
            code = 1
    sys.exit(code)


def _stop_when_supervisor_dies() -> None:
    """SIGTERM this worker (it re-queues its trial and exits) when its supervisor is gone.

    A worker's name carries its supervisor's pid, and a resume on this host takes a worker whose
    supervisor is gone for dead (:mod:`tunewise.runtime.liveness`): an orphan must not go on.
    """
    supervisor = multiprocessing.parent_process()
    if supervisor is None:
        return

    def watch() -> None:
        supervisor.join()
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="tunewise-supervisor-watch", daemon=True).start()


class WorkerDiedError(RuntimeError):
    """A worker process stopped with an error of its own (not a trial's)."""


def run_processes(
    *,
    workers: int,
    job: WorkerJob,
    study: StudyHandle,
    reporter: Reporter,
    settings: Settings,
    devices: list[str] | None = None,
    poll_interval: float = 0.25,
) -> None:
    """Start ``workers`` processes on ``job`` (one per device if given) and supervise them."""
    context = multiprocessing.get_context("spawn")
    replacements_left = workers * (settings.max_retries + 1)

    def start(slot: int) -> _Process:
        device = devices[slot] if devices else None
        child_job = replace(job, name=supervised_worker_name(slot), device=device)
        process = context.Process(
            target=worker_process, args=(child_job,), name=f"tunewise-worker-{slot}"
        )
        with child_environment(device_environment(device) if device is not None else {}):
            process.start()
        return _Process(process, child_job.name, slot)

    processes = [start(slot) for slot in range(workers)]
    try:
        with stop_signals_raise():
            while processes:
                processes[0].process.join(timeout=poll_interval)
                raise_if_stop_requested()
                study.refresh()
                reporter.update(study.trials)
                still_running = []
                for worker in processes:
                    process = worker.process
                    if process.is_alive():
                        still_running.append(worker)
                        continue
                    code = process.exitcode
                    if code == 0:
                        continue
                    if code != EXIT_INTERRUPTED:  # a process that died left its trial running
                        _recover(study, worker.name, code, settings)
                    if code == EXIT_UNGUARDED_MAIN:
                        raise UnguardedMainError(UNGUARDED_MAIN)
                    if code == EXIT_TRIAL_FAILED:
                        raise first_failure(study)
                    if code == 1:
                        raise WorkerDiedError(
                            f"a worker process (pid {process.pid}) stopped with an error; "
                            "its traceback is printed above. Recorded trials are kept."
                        )
                    if replacements_left > 0:  # killed by a signal: replace it
                        replacements_left -= 1
                        logger.warning(
                            "worker pid %s died (%s); starting a replacement",
                            process.pid,
                            _death(code),
                        )
                        still_running.append(start(worker.slot))
                    else:
                        logger.error("worker pid %s died (%s)", process.pid, _death(code))
                processes = still_running
                if settings.on_error == "raise" and any(
                    t.status is TrialStatus.FAILED for t in study.trials()
                ):
                    raise first_failure(study)
    except BaseException:
        with signals_deferred():
            _stop_all([worker.process for worker in processes])
        raise


@dataclass(frozen=True)
class _Process:
    process: BaseProcess
    name: str
    slot: int


def _death(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


def _recover(study: StudyHandle, name: str, code: int | None, settings: Settings) -> None:
    """Mark the trial a dead worker was running crashed now, and queue its retry."""
    how = _death(code)
    reason = f"worker process died ({how})" if how.startswith("SIG") else f"worker {how}"
    try:
        study.recover_worker(name, max_retries=settings.max_retries, reason=reason)
    except Exception as exc:  # the store is unreachable: its heartbeat will go stale instead
        logger.warning("could not recover the trial of dead worker %s: %s", name, exc)


def first_failure(study: StudyHandle) -> TrialFailed:
    """The lowest-numbered failed trial, as the error ``on_error="raise"`` raises."""
    study.refresh()
    failed = [t for t in study.trials() if t.status is TrialStatus.FAILED]
    if not failed:
        return TrialFailed(-1, "a worker reported a failed trial")
    return TrialFailed(failed[0].number, failed[0].error or "")


def _stop_all(processes: list[BaseProcess], timeout: float = 30.0) -> None:
    """SIGTERM each worker (it re-queues its trial and exits), then SIGKILL stragglers."""
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=timeout)
        if process.is_alive():
            process.kill()
            process.join()
