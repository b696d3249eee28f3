"""SIGTERM to a whole run (supervisor and 4 worker processes) half-way, then the same call again:
the running trials were re-queued, and together the two runs spend exactly the budget."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from tests.conftest import unique_name
from tests.faults.invariants import check_invariants, ground_truth_log, read_evaluations
from tunewise.storage import Store, storage_url
from tunewise.trial import TrialStatus

REPO = Path(__file__).resolve().parents[2]
BUDGET = 60

SCRIPT = """
import sys
import tunewise as tw
from tests.faults import objectives

url, study, root, budget = sys.argv[1:]
tw.run(objectives.recorded, objectives.SPACE, root=root, storage=url, study=study,
       optimizer="random_search", budget=int(budget), workers=4, seed=3, progress=False,
       heartbeat_interval=0.5, stale_after=2.0)
"""

pytestmark = pytest.mark.slow


def start_run(url: str, study: str, root: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), url, study, str(root), str(BUDGET)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_sigterm_mid_run_then_resume_spends_the_budget_exactly(tmp_path, postgres_url) -> None:
    study = unique_name("sigterm")
    log = ground_truth_log(tmp_path, study)
    run = start_run(postgres_url, study, tmp_path)
    deadline = time.monotonic() + 120
    while len([e for e in read_evaluations(log) if e.nonce]) < BUDGET // 3:
        assert run.poll() is None, run.communicate()[0]
        assert time.monotonic() < deadline, "the run did not get going"
        time.sleep(0.05)
    stopped = {run.pid} | {p.pid for p in psutil.Process(run.pid).children(recursive=True)}
    run.send_signal(signal.SIGTERM)
    output, _ = run.communicate(timeout=60)
    assert run.returncode != 0, output

    url = storage_url(storage=postgres_url)
    with Store(url) as store:
        view = store.study(study)
        view.refresh()
        trials = view.trials()
    statuses = [t.status for t in trials]
    running = [t.number for t in trials if t.status is TrialStatus.RUNNING]
    assert not running, f"trials {running} were left running by the stopped run:\n{output}"
    finished = sum(t.finished for t in trials)
    assert BUDGET // 3 <= finished < BUDGET, f"{finished} trials finished before the SIGTERM"
    requeued = statuses.count(TrialStatus.PENDING)
    assert (requeued > 0) == ("re-queued" in output), output

    again = start_run(postgres_url, study, tmp_path)
    output, _ = again.communicate(timeout=120)
    assert again.returncode == 0, output
    summary = check_invariants(url, study, root=tmp_path, budget=BUDGET, signalled=stopped)
    print(f"{finished} finished and {requeued} re-queued by the SIGTERM; {summary}")
    assert not summary.crashed


STOPPED_IN_ITEM = """
import sys
import tunewise as tw
from tests.faults import objectives

tw.run(objectives.stopped_while_converting, objectives.SPACE, root=sys.argv[1], budget=3,
       optimizer="random_search", seed=0, progress=False, heartbeat_interval=0.5,
       stale_after=2.0)
"""


def test_sigterm_while_the_returned_value_is_read_requeues_the_trial(tmp_path) -> None:
    run = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(STOPPED_IN_ITEM), str(tmp_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TW_FAULTS_STOP_IN_ITEM": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0 and "Interrupted: SIGTERM" in run.stderr, run.stderr
    with Store(storage_url(root=tmp_path)) as store:
        view = store.study(tmp_path.name)
        view.refresh()
        (trial,) = view.trials()
    assert trial.status is TrialStatus.PENDING, f"trial 0 was left {trial.status}"
    assert trial.error == "re-queued: interrupted by SIGTERM"
