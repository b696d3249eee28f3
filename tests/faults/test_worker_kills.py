"""SIGKILLed workers in the middle of a run on PostgreSQL: the run still spends the exact budget,
records every slot once, and its table is what the objective returned."""

from __future__ import annotations

import os

import psutil
import pytest

import tunewise as tw
from tests.conftest import unique_name
from tests.faults import objectives
from tests.faults.conftest import FAST, Killer, spawned_workers
from tests.faults.invariants import check_invariants, ground_truth_log, read_evaluations
from tunewise.storage import storage_url

pytestmark = pytest.mark.slow


def _run_while_killing(killer: Killer, *, tmp_path, postgres_url, study: str, budget: int, **run):
    """Run the study while ``killer`` works, then check the invariants; returns the summary."""
    killer.start()
    try:
        result = tw.run(
            objectives.recorded,
            objectives.SPACE,
            root=tmp_path,
            storage=postgres_url,
            study=study,
            optimizer="random_search",
            budget=budget,
            max_retries=6,  # even the same slot killed every time is retried, not failed
            progress=False,
            **FAST,
            **run,
        )
    finally:
        killed = killer.stop()
    result.close()
    print(f"killer seed {killer.seed}: killed {killed}")
    summary = check_invariants(
        storage_url(storage=postgres_url), study, root=tmp_path, budget=budget, signalled=killed
    )
    print(summary)
    assert len(killed) == killer.kills, f"only {len(killed)} kills landed inside the run"
    assert summary.crashed, "no kill hit a running trial"
    return summary


def test_sixteen_workers_six_sigkilled_at_random(tmp_path, postgres_url) -> None:
    study, budget = unique_name("kill16"), 120
    log = ground_truth_log(tmp_path, study)
    killer = Killer(
        log,
        lambda: [p.pid for p in spawned_workers()],
        kills=6,
        start_after=10,
        stop_after=budget - 20,
    )
    summary = _run_while_killing(
        killer,
        tmp_path=tmp_path,
        postgres_url=postgres_url,
        study=study,
        budget=budget,
        workers=16,
        seed=1,
    )
    assert all("SIGKILL" in (t.error or "") for t in summary.crashed), [
        t.error for t in summary.crashed
    ]


def test_dask_workers_sigkilled_at_random(tmp_path, postgres_url) -> None:
    """The same on a Dask LocalCluster (4 worker processes, each under a nanny that restarts it):
    SIGKILL the Dask worker processes that run the evaluations."""
    study, budget = unique_name("kill-dask"), 80
    log = ground_truth_log(tmp_path, study)

    def dask_workers() -> list[int]:  # the processes that evaluated something (not this one)
        pids = {e.pid for e in read_evaluations(log)} - {os.getpid()}
        return [pid for pid in pids if psutil.pid_exists(pid)]

    # the last kill leaves 30 trials, so that a restarted worker process (slow to come back on a
    # loaded machine) still evaluates some: the check below needs one that ran after a restart
    killer = Killer(log, dask_workers, kills=3, start_after=8, stop_after=budget - 30)
    summary = _run_while_killing(
        killer,
        tmp_path=tmp_path,
        postgres_url=postgres_url,
        study=study,
        budget=budget,
        workers=4,
        executor="dask",
        seed=4,
    )
    tasks = {t.worker.split("@")[0] for t in summary.trials if t.worker}
    processes = {t.worker for t in summary.trials if t.worker}
    assert len(tasks) >= 4 and len(processes) > len(tasks)  # killed tasks ran again elsewhere
