"""Is a trial's worker process still there? Asked of this host's process table, not a heartbeat.

A heartbeat can only say a worker went silent ``stale_after`` seconds later; after ``kill -9`` of
a whole ``tunewise run`` the resume would wait that long and ``tunewise status`` would show the
dead trial as running. Worker names start with their process table (the host, and on Linux its
pid namespace: :func:`~tunewise.storage.records.process_table`) and the pid of the process that
owns them (``table:pid:hex`` for a worker in its own process, ``table:pid-wN:hex`` for a
supervisor's N-th worker process, which ends when its supervisor does): in the same process
table, a process that is gone, or whose pid now belongs to a process started after the trial, is
dead now. Names of other tables (other hosts, containers), and of other forms (Dask tasks), are
never judged here.
"""

from __future__ import annotations

import logging
import os
import re

import psutil

from tunewise.storage import StudyHandle, process_table
from tunewise.trial import Trial, TrialStatus

logger = logging.getLogger("tunewise")

_NAME = re.compile(r"^(?P<host>[^:]+):(?P<pid>\d+)(?:-w\d+)?:[0-9a-f]+$")


def owner_pid(worker: str) -> int | None:
    """The pid of the process owning ``worker`` when that process ran on this host, else None."""
    match = _NAME.match(worker)
    if match is None or match["host"] != process_table():
        return None
    return int(match["pid"])


def worker_gone(worker: str | None, *, started_at: float | None) -> bool:
    """True when ``worker`` ran on this host and its process is gone: no process has its pid,
    or the one that has it started after ``started_at`` (the pid was reused)."""
    pid = owner_pid(worker or "")
    if pid is None:
        return False
    if pid == os.getpid():
        return False
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:  # no permission to look: it exists
        return False
    return started_at is not None and created > started_at


def dead_trials(trials: list[Trial]) -> list[Trial]:
    """The running trials whose worker process on this host is gone."""
    return [
        t
        for t in trials
        if t.status is TrialStatus.RUNNING and worker_gone(t.worker, started_at=t.started_at)
    ]


def recover_gone_workers(study: StudyHandle, *, max_retries: int) -> list[int]:
    """Crash (and queue the retries of) the trials of this host's dead workers, now."""
    study.refresh()
    recovered: list[int] = []
    for worker in sorted({t.worker for t in dead_trials(study.trials()) if t.worker}):
        pid = owner_pid(worker)
        numbers = study.recover_worker(
            worker, max_retries=max_retries, reason=f"its process (pid {pid}) is gone"
        )
        if numbers:
            logger.warning(
                "trial(s) %s of worker %s, whose process is gone, recovered",
                ", ".join(map(str, numbers)),
                worker,
            )
        recovered.extend(numbers)
    if recovered:
        study.refresh()
    return recovered
