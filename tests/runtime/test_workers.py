"""Real worker processes on one store: parallel budgets, a SIGKILLed worker, Ctrl-C and resume."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

import tunewise as tw
from tests.runtime import objectives
from tunewise.optimizers.random_search import RandomSearch
from tunewise.runtime.worker import Settings, Worker
from tunewise.storage import ClaimOutcome, Limits, Store
from tunewise.trial import TrialStatus

SPACE = tw.Space(x=tw.Float(-5.0, 5.0))
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


def test_four_workers_reach_exactly_the_budget_without_duplicates(tmp_path, monkeypatch) -> None:
    (tmp_path / "barrier").mkdir()  # first trials wait until two workers are up, however loaded
    monkeypatch.setenv("TW_TEST_BARRIER", f"{tmp_path / 'barrier'}:2")
    result = tw.run(
        objectives.environment,
        SPACE,
        root=tmp_path / "four",
        budget=200,
        workers=4,
        seed=0,
        progress=False,
        optimizer="random_search",
    )
    frame = result.trials
    assert len(frame) == 200 and (frame["status"] == "succeeded").all()
    assert frame["number"].is_unique and sorted(frame["number"]) == list(range(200))
    assert frame["config.x"].is_unique  # no config evaluated twice by accident
    assert frame["slot"].is_unique
    assert frame["worker"].nunique() >= 2  # the work was actually shared


def test_four_workers_on_postgresql(tmp_path, postgres_url) -> None:
    result = tw.run(
        objectives.quadratic,
        SPACE,
        root=tmp_path / "pg",
        storage=postgres_url,
        study="four-workers",
        budget=60,
        workers=4,
        seed=0,
        progress=False,
        optimizer="random_search",
    )
    frame = result.trials
    assert len(frame) == 60 and (frame["status"] == "succeeded").all()
    assert frame["config.x"].is_unique


def test_sigkilled_worker_trial_is_recovered_at_once_and_budget_reached(
    tmp_path, monkeypatch
) -> None:
    root = tmp_path / "kill"
    monkeypatch.setenv("TW_TEST_DELAY", "0.4")
    killed: list[int] = []

    def kill_first_worker() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for pid_file in objectives.pid_files(root):
                if not (pid_file.parent / "done").exists():
                    try:
                        pid = int(pid_file.read_text())
                    except ValueError:
                        continue
                    os.kill(pid, signal.SIGKILL)
                    killed.append(int(pid_file.parent.name))
                    return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_first_worker)
    killer.start()
    result = tw.run(
        objectives.slow_quadratic,
        SPACE,
        root=root,
        budget=10,
        workers=2,
        seed=0,
        stale_after=600.0,  # the supervisor saw the death: no waiting for a stale heartbeat
        progress=False,
        optimizer="random_search",
    )
    killer.join()
    assert killed, "the test never found a running trial to kill"
    trials = {t.number: t for t in result.trial_list}
    crashed = trials[killed[0]]
    assert crashed.status is TrialStatus.CRASHED
    assert "worker process died (SIGKILL)" in crashed.error
    retries = [t for t in trials.values() if t.retry_of == crashed.number]
    assert len(retries) == 1 and retries[0].status is TrialStatus.SUCCEEDED
    assert retries[0].config == crashed.config
    assert result.counts["succeeded"] == 10  # the budget is still reached


SCRIPT = """
import sys
import tunewise as tw
from tests.runtime import objectives

tw.run(objectives.slow_quadratic, tw.Space(x=tw.Float(-5.0, 5.0)), root=sys.argv[1],
       budget=12, workers=int(sys.argv[2]), seed=3, progress=False, optimizer="random_search")
"""


@pytest.mark.parametrize(("workers", "sig"), [(1, signal.SIGINT), (2, signal.SIGTERM)])
def test_interrupted_run_requeues_its_trials_and_resumes_to_the_budget(
    tmp_path, workers, sig
) -> None:
    root = tmp_path / "interrupt"
    env = {**os.environ, "TW_TEST_DELAY": "0.5", "PYTHONPATH": str(REPO)}
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(root), str(workers)],
        cwd=REPO,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while len(list(root.glob("trials/*/done"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read()
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0

    interrupted = tw.load(root)
    statuses = [t.status for t in interrupted.trial_list]
    assert TrialStatus.RUNNING not in statuses  # nothing left claimed by a dead process
    # A stop that lands inside an evaluation (nearly always: that is where the time goes)
    # re-queues that trial; one that lands between trials has nothing to re-queue.
    assert (TrialStatus.PENDING in statuses) == ("re-queued" in stderr)
    done_before = interrupted.counts["succeeded"]
    assert 2 <= done_before < 12

    result = tw.run(
        objectives.slow_quadratic,
        SPACE,
        root=root,
        budget=12,
        workers=1,
        progress=False,
        optimizer="random_search",
    )
    assert result.counts == {
        "pending": 0,
        "running": 0,
        "succeeded": 12,
        "failed": 0,
        "crashed": 0,
    }
    assert sorted(t.number for t in result.trial_list) == list(range(12))


def test_trial_that_kills_its_worker_fails_after_max_retries_and_the_run_ends(tmp_path) -> None:
    space = tw.Space(kind=tw.Categorical(["ok", "sigkill", "ok too"]))
    result = tw.run(
        objectives.misbehaving,
        space,
        root=tmp_path / "killer",
        optimizer="grid_search",
        workers=2,
        max_retries=1,
        stale_after=600.0,
        progress=False,
    )
    by_kind: dict[str, list] = {}
    for trial in result.trial_list:
        by_kind.setdefault(trial.config["kind"], []).append(trial)
    assert [t.status for t in by_kind["ok"]] == [TrialStatus.SUCCEEDED]
    assert [t.status for t in by_kind["ok too"]] == [TrialStatus.SUCCEEDED]
    first, retry = by_kind["sigkill"]  # tried once, retried once (max_retries=1), then failed
    assert first.status is TrialStatus.CRASHED and retry.retry_of == first.number
    assert retry.status is TrialStatus.FAILED
    assert "worker process died (SIGKILL)" in retry.error and "max_retries=1" in retry.error


def test_a_worker_offers_several_suggestions_when_others_run(tmp_path) -> None:
    """Workers that refreshed together ask on the same History: offered one suggestion per
    running trial, a claim takes the next free slot instead of coming back CONFLICT."""
    store = Store.at(root=tmp_path)
    store.create_or_open_study(
        "s", space=SPACE, optimizer={"name": "random_search"}, seed=0, budget={}, settings={}
    )
    ours, other, third = store.study("s"), store.study("s"), store.study("s")
    optimizer = RandomSearch()
    other.claim(optimizer.ask(other.history(), 1), worker="other", limits=Limits())
    ours.refresh()  # sees one trial running elsewhere
    third.refresh()
    third.claim(optimizer.ask(third.history(), 1), worker="third", limits=Limits())  # sample:1
    claims = []
    claim = ours.claim
    ours.claim = lambda *args, **kwargs: claims.append(claim(*args, **kwargs)) or claims[-1]
    worker = Worker(
        study=ours,
        evaluate=lambda config, context: 0.0,
        optimizer=optimizer,
        settings=Settings(),
        root=tmp_path,
        name="ours",
    )
    trial = worker.claim(Limits())
    assert (trial.slot, trial.number) == ("sample:2", 2)
    assert [(c.outcome, c.index) for c in claims] == [(ClaimOutcome.CLAIMED, 1)]
    lone = store.study("s")  # with nothing running elsewhere, one suggestion (reproducible)
    assert (
        Worker(
            study=lone,
            evaluate=lambda c, x: 0.0,
            optimizer=optimizer,
            settings=Settings(),
            root=tmp_path,
        )._ask_size()
        == 1
    )
