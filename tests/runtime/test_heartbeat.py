"""The heartbeat thread: it stamps the tracked trial, and finds and recovers silent peers."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import tunewise as tw
from tunewise.optimizers import make as make_optimizer
from tunewise.runtime.budget import Budget
from tunewise.runtime.heartbeat import Heartbeat
from tunewise.runtime.worker import Settings, Worker
from tunewise.storage import Limits, RetryPolicy, Store, StudyHandle
from tunewise.trial import Suggestion, TrialStatus

SPACE = tw.Space(x=tw.Float(-5.0, 5.0))
QUICK_RETRIES = RetryPolicy(first_delay=0.05, max_delay=0.1)  # the grace after a restart: 0.1 s


def make_study(tmp_path: Path, budget: Budget | None = None) -> StudyHandle:
    store = Store.at(storage=str(tmp_path / "tunewise.db"), retry=QUICK_RETRIES)
    optimizer = make_optimizer("random_search")
    store.create_or_open_study(
        "s",
        space=SPACE,
        optimizer=optimizer.spec(),
        seed=0,
        budget=(budget or Budget()).to_stored(),
        settings={},
    )
    return store.study("s")


def claim(study: StudyHandle, x: float, worker: str) -> int:
    trial = study.claim(Suggestion(config={"x": x}, slot=str(x)), worker=worker, limits=Limits())
    assert trial.trial is not None
    return trial.trial.number


def wait_for(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_silent_peer_is_recovered_and_the_tracked_trial_is_not(tmp_path) -> None:
    study = make_study(tmp_path)
    dead, mine = claim(study, 1.0, "dead"), claim(study, 2.0, "me")
    recovered: list[int] = []
    started = time.monotonic()
    heartbeat = Heartbeat(
        study,
        worker="me",
        interval=0.05,
        stale_after=0.4,
        max_retries=1,
        on_recovered=recovered.extend,
    )
    heartbeat.track(mine)
    try:
        wait_for(lambda: recovered)
        took = time.monotonic() - started
        time.sleep(0.6)  # longer than stale_after: the beating trial is still left alone
    finally:
        heartbeat.stop()
    assert recovered == [dead]
    assert took >= 0.4 + 0.1  # stale_after of watching, started grace (max_delay) late
    study.refresh()
    crashed, running, retry = study.trials()
    assert crashed.status is TrialStatus.CRASHED
    assert crashed.error == "worker dead sent no heartbeat for 0.4 s; re-queued as trial 2"
    assert running.status is TrialStatus.RUNNING and running.worker == "me"
    assert retry.status is TrialStatus.PENDING and retry.retry_of == dead


def test_errors_in_the_thread_are_logged_and_it_goes_on(tmp_path, monkeypatch, caplog) -> None:
    study = make_study(tmp_path)
    dead = claim(study, 1.0, "dead")
    mine = claim(study, 2.0, "me")
    reads, beats = study.running_heartbeats, study.heartbeat
    failures = {"read": 3, "beat": 3}

    def flaky_read() -> dict[int, float | None]:
        if failures["read"]:
            failures["read"] -= 1
            raise RuntimeError("read broke")
        return reads()

    def flaky_beat(number: int, **kwargs: object) -> bool:
        if failures["beat"]:
            failures["beat"] -= 1
            raise ValueError("beat broke")
        return beats(number, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(study, "running_heartbeats", flaky_read)
    monkeypatch.setattr(study, "heartbeat", flaky_beat)
    recovered: list[int] = []
    with caplog.at_level(logging.WARNING, logger="tunewise"):
        heartbeat = Heartbeat(
            study,
            worker="me",
            interval=0.05,
            stale_after=0.4,
            max_retries=1,
            on_recovered=recovered.extend,
        )
        heartbeat.track(mine)
        try:
            wait_for(lambda: recovered)
        finally:
            heartbeat.stop()
    assert recovered == [dead]
    assert "me could not check for silent trials: RuntimeError('read broke')" in caplog.text
    assert "heartbeat of me failed: ValueError('beat broke')" in caplog.text
    study.refresh()
    assert study.trial(mine).status is TrialStatus.RUNNING


def test_a_trial_recorded_while_it_is_stamped_is_not_reported_crashed(
    tmp_path, monkeypatch, caplog
) -> None:
    study = make_study(tmp_path)
    mine = claim(study, 2.0, "me")
    heartbeat = Heartbeat(study, worker="me", interval=0.02)
    stamped = threading.Event()
    untrack_while_stamping, running = True, False

    def stamp(number: int, **_: object) -> bool:
        if untrack_while_stamping:
            heartbeat.untrack()  # the worker recorded the trial while this stamp ran
        stamped.set()
        return running  # False: the stamp found it no longer running

    monkeypatch.setattr(study, "heartbeat", stamp)
    with caplog.at_level(logging.WARNING, logger="tunewise"):
        try:
            heartbeat.track(mine)
            assert stamped.wait(10)
            time.sleep(0.1)
            assert "declared crashed" not in caplog.text
            untrack_while_stamping, running = False, True
            heartbeat.track(mine)
            heartbeat.recording()  # its result is being written (the commit's reply not back)
            running = False
            stamped.clear()
            assert stamped.wait(10)
            time.sleep(0.1)
            assert "declared crashed" not in caplog.text
            # Tracked, not recording, and no longer running after the stamp: that is news.
            stamped.clear()
            heartbeat.track(mine)
            assert stamped.wait(10)
            wait_for(lambda: "declared crashed" in caplog.text)
        finally:
            heartbeat.stop()
    assert f"trial {mine} is no longer marked running by me (declared crashed?)" in caplog.text


def test_a_worker_inside_a_long_evaluation_recovers_a_dead_peer(tmp_path) -> None:
    study = make_study(tmp_path, Budget(evaluations=3))
    dead = claim(study, 1.0, "dead")  # a worker that died without anyone seeing it
    evaluating = threading.Event()

    def evaluate(config: dict[str, float], trial: tw.TrialContext) -> float:
        if trial.number == 1:  # long enough for stale_after of watching, plus the grace
            evaluating.set()
            time.sleep(2.0)
        return config["x"] ** 2

    worker = Worker(
        study=study,
        evaluate=evaluate,
        optimizer=make_optimizer("random_search"),
        settings=Settings(heartbeat_interval=0.1, stale_after=0.5, max_retries=1),
        root=tmp_path,
        name="busy",
    )
    assert worker.run() == 3
    study.refresh()
    trials = study.trials()
    crashed, first = trials[dead], trials[1]
    assert crashed.status is TrialStatus.CRASHED
    assert "worker dead sent no heartbeat" in (crashed.error or "")
    assert first.status is TrialStatus.SUCCEEDED
    assert crashed.finished_at < first.finished_at  # noticed while trial 1 was evaluated
    (retry,) = [t for t in trials if t.retry_of == dead]
    assert retry.status is TrialStatus.SUCCEEDED and retry.worker == "busy"
    assert sum(t.status is TrialStatus.SUCCEEDED for t in trials) == 3
