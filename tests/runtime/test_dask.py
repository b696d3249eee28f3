"""Workers as tasks on a real Dask LocalCluster: budgets, a dead Dask worker, Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tunewise as tw
from tests.conftest import unique_name
from tests.runtime import objectives
from tunewise.trial import TrialStatus

SPACE = tw.Space(x=tw.Float(-5.0, 5.0))
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_two_dask_workers_reach_exactly_the_budget_without_duplicates(
    tmp_path, storage_url, monkeypatch
) -> None:
    (tmp_path / "barrier").mkdir()  # first trials wait until both tasks are up, however loaded
    monkeypatch.setenv("TW_TEST_BARRIER", f"{tmp_path / 'barrier'}:2")
    result = tw.run(
        objectives.environment,
        SPACE,
        root=tmp_path / "dask",
        storage=storage_url,
        study=unique_name("dask"),
        budget=10,
        workers=2,
        executor="dask",
        seed=0,
        progress=False,
        optimizer="random_search",
    )
    frame = result.trials
    assert len(frame) == 10 and (frame["status"] == "succeeded").all()
    assert sorted(frame["number"]) == list(range(10))
    assert frame["slot"].is_unique and frame["config.x"].is_unique
    assert frame["worker"].str.startswith("dask-").all()
    assert frame["worker"].nunique() == 2  # both tasks worked, each in its own Dask worker
    assert set(frame["info.pid"]).isdisjoint({os.getpid()})


def test_trial_that_kills_its_dask_worker_is_retried_then_failed(tmp_path) -> None:
    import dask

    # Dask reruns a task after its worker's first death (the rerun recovers the trial), and gives
    # up after the second (KilledWorker: the client recovers the trial and resubmits the task).
    with dask.config.set({"distributed.scheduler.allowed-failures": 1}):
        result = tw.run(
            objectives.misbehaving,  # "sigkill" SIGKILLs the Dask worker process evaluating it
            tw.Space(kind=tw.Categorical(["ok", "sigkill", "ok too"])),
            root=tmp_path / "killer",
            optimizer="grid_search",
            workers=2,
            executor="dask",
            max_retries=1,
            stale_after=600.0,  # recovered at once, not by a stale heartbeat
            progress=False,
        )
    by_kind: dict[str, list] = {}
    for trial in result.trial_list:
        by_kind.setdefault(trial.config["kind"], []).append(trial)
    assert [t.status for t in by_kind["ok"]] == [TrialStatus.SUCCEEDED]
    assert [t.status for t in by_kind["ok too"]] == [TrialStatus.SUCCEEDED]
    first, retry = by_kind["sigkill"]
    assert first.status is TrialStatus.CRASHED and "its Dask worker died" in first.error
    assert retry.retry_of == first.number and retry.status is TrialStatus.FAILED
    # found by the client (KilledWorker) or, when a loaded scheduler runs the task once more, by
    # that run's recovery of its predecessor: either way crashed, retried once, then failed
    assert "its Dask worker died" in retry.error
    assert "max_retries=1" in retry.error


def test_on_error_raise_stops_the_dask_run_at_the_first_failure(tmp_path) -> None:
    with pytest.raises(tw.TrialFailed, match="ValueError: x=") as info:
        tw.run(
            objectives.fails_on_negative,
            SPACE,
            root=tmp_path / "raise",
            budget=20,
            workers=2,
            executor="dask",
            on_error="raise",
            seed=2,
            progress=False,
            optimizer="random_search",
        )
    failed = [t for t in tw.load(tmp_path / "raise").trial_list if t.status is TrialStatus.FAILED]
    assert info.value.number == failed[0].number


INTERRUPTED = """
import sys
import tunewise as tw
from tests.runtime import objectives

if __name__ == "__main__":
    tw.run(objectives.slow_quadratic, tw.Space(x=tw.Float(-5.0, 5.0)), root=sys.argv[1],
           budget=10, workers=2, executor="dask", seed=0, progress=False,
           optimizer="random_search")
"""


def test_ctrl_c_in_the_terminal_requeues_the_trials_of_the_dask_tasks(tmp_path) -> None:
    root = tmp_path / "ctrl-c"
    script = tmp_path / "interrupted.py"
    script.write_text(textwrap.dedent(INTERRUPTED))
    process = subprocess.Popen(
        [sys.executable, str(script), str(root)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TW_TEST_DELAY": "60"},
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a shell gives a command
    )
    deadline = time.monotonic() + 60
    while len(objectives.pid_files(root)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read()
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the client and the Dask processes
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    trials = tw.load(root).trial_list
    assert [t.status for t in trials] == [TrialStatus.PENDING] * 2, stderr
    assert all(t.error == "re-queued: interrupted by Ctrl-C" for t in trials)
    assert "Dask Worker process" not in stderr  # the cluster's processes left Ctrl-C to the client


def test_sqlite_store_the_dask_workers_cannot_see_is_a_clear_error(tmp_path) -> None:
    from tunewise.runtime.dask_executor import _check_shared
    from tunewise.runtime.local import WorkerJob

    job = WorkerJob(
        evaluate="m:f", url=f"sqlite:///{tmp_path / 'elsewhere.db'}", study="s", root=str(tmp_path)
    )
    with pytest.raises(FileNotFoundError, match="use PostgreSQL"):
        _check_shared(job, "node7")
    (tmp_path / "elsewhere.db").touch()
    with pytest.raises(FileNotFoundError, match="filesystem every Dask worker shares"):
        _check_shared(job.__class__(**{**job.__dict__, "root": str(tmp_path / "nope")}), "n")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"executor": "ray"}, "executor must be one of"),
        ({"dask_address": "tcp://127.0.0.1:1"}, "need executor='dask'"),
        (
            {"executor": "dask", "dask_address": "tcp://x:1", "client": object()},
            "not both",
        ),
    ],
)
def test_bad_executor_arguments_are_clear_errors(tmp_path, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        tw.run(objectives.quadratic, SPACE, root=tmp_path / "bad", budget=1, **kwargs)
