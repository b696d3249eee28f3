"""A killed run's trials are dead at once on this host: a resume does not wait stale_after.

Real processes: ``tunewise run`` in its own session, its supervisor and workers killed together
with SIGKILL (or sent SIGHUP, as when the terminal closes), then a resume in this process.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import tunewise as tw
from tests.runtime import objectives
from tunewise.runtime.liveness import owner_pid, worker_gone
from tunewise.storage import process_table
from tunewise.trial import TrialStatus

REPO = Path(__file__).resolve().parents[2]
SPACE_YAML = "x: {type: float, lower: -5, upper: 5}\n"
BUDGET = 4


def _start_run(tmp_path: Path, *, workers: int) -> tuple[subprocess.Popen[str], Path]:
    (tmp_path / "space.yaml").write_text(SPACE_YAML)
    root = tmp_path / "run"
    argv = [sys.executable, "-m", "tunewise.cli", "run", "tests.runtime.objectives:slow_quadratic"]
    argv += ["--space", str(tmp_path / "space.yaml"), "--root", str(root), "--quiet"]
    argv += ["--budget", str(BUDGET), "--workers", str(workers), "--optimizer", "random_search"]
    run = subprocess.Popen(
        argv,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TW_TEST_DELAY": "60"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, to signal the run as a whole
    )
    deadline = time.monotonic() + 60
    while len(objectives.pid_files(root)) < workers:
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline, "the run did not get going"
        time.sleep(0.05)
    return run, root


@pytest.mark.slow
def test_resume_after_kill_9_of_a_whole_run_does_not_wait_stale_after(
    tmp_path, monkeypatch, capsys
) -> None:
    run, root = _start_run(tmp_path, workers=2)
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    killed = [t for t in tw.load(root).trial_list if t.status is TrialStatus.RUNNING]
    assert len(killed) == 2  # the store still says running: nobody lived to say otherwise

    from tunewise.cli import main

    assert main(["status", str(root)]) == 0
    assert "dead" in capsys.readouterr().out  # status knows the process is gone

    monkeypatch.setenv("TW_TEST_DELAY", "0.01")
    started = time.monotonic()
    result = tw.run(
        objectives.slow_quadratic,
        tw.Space.from_yaml(tmp_path / "space.yaml"),
        root=root,
        budget=BUDGET,
        optimizer="random_search",
        stale_after=60.0,
        progress=False,
    )
    assert time.monotonic() - started < 20  # far less than stale_after = 60 s
    trials = {t.number: t for t in result.trial_list}
    for t in killed:
        assert trials[t.number].status is TrialStatus.CRASHED
        assert "is gone" in (trials[t.number].error or "")
    assert result.counts["succeeded"] == BUDGET and result.counts["running"] == 0


@pytest.mark.slow
def test_sighup_stops_a_run_like_sigterm_and_requeues_its_trial(tmp_path) -> None:
    run, root = _start_run(tmp_path, workers=1)
    os.killpg(run.pid, signal.SIGHUP)
    output = run.communicate(timeout=60)[0]
    assert run.returncode == 130, output
    assert "interrupted" in output
    counts = tw.load(root).counts
    assert counts["running"] == 0 and counts["pending"] == 1  # re-queued, to run on resume


def test_a_gone_or_reused_pid_is_dead_and_a_live_one_is_not() -> None:
    host = process_table()
    parent = f"{host}:{os.getppid()}-w0:abc123"
    assert owner_pid(parent) == os.getppid() and owner_pid(f"other-{host}:1:abc123") is None
    # The same host name in another pid namespace (a container with host networking): its pids
    # are not ours to judge, even one no process of ours has.
    assert host.startswith(os.uname().nodename + "@")
    assert owner_pid(f"{os.uname().nodename}@1:{os.getppid()}:abc123") is None
    assert owner_pid(f"{os.uname().nodename}:{os.getppid()}:abc123") is None  # an older name
    assert not worker_gone(parent, started_at=time.time())
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    assert worker_gone(f"{host}:{dead.pid}:abc123", started_at=time.time())
    # The pid exists but its process started after the trial did: the pid was reused.
    parent_created = psutil.Process(os.getppid()).create_time()
    assert worker_gone(f"{host}:{os.getppid()}:abc123", started_at=parent_created - 60)
    assert not worker_gone("dask-0@tcp://10.0.0.1:1234", started_at=None)  # not judged here


@pytest.mark.slow
def test_workers_of_a_killed_supervisor_requeue_their_trials_and_exit(tmp_path) -> None:
    run, root = _start_run(tmp_path, workers=2)
    workers = psutil.Process(run.pid).children()
    run.kill()  # the supervisor alone: its worker processes must not go on as orphans
    run.wait(timeout=30)
    _gone, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive
    counts = tw.load(root).counts
    assert counts["running"] == 0 and counts["pending"] == 2
