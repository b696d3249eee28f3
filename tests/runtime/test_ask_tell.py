"""``tw.Study``: ask-and-tell on the same store, with the same guarantees, as ``tw.run``."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tunewise as tw
from tests.runtime.objectives import quadratic
from tunewise.runtime.ask_tell import BudgetSpent
from tunewise.runtime.paths import trial_directory
from tunewise.storage import StudyMismatchError, StudyNotFoundError
from tunewise.trial import TrialStatus

SPACE = tw.Space(x=tw.Float(-3.0, 3.0))
FIDELITY_SPACE = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 9))


def wait_for(condition, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.slow
def test_bayesian_optimization_by_ask_and_tell_finds_the_optimum(tmp_path: Path) -> None:
    with tw.Study(
        root=tmp_path / "bo", space=SPACE, optimizer="bayesian_optimization", seed=0, budget=12
    ) as study:
        told = 0
        while (trial := study.ask()) is not None:
            study.tell(trial, (trial.config["x"] - 1.0) ** 2)
            told += 1
        assert told == 12
        result = study.result()
    assert result.counts["succeeded"] == 12
    assert result.record.optimizer["name"] == "bayesian_optimization"
    assert abs(result.best.config["x"] - 1.0) < 0.1  # random search: ~1 in 2 with 12 points


def test_auto_resolves_as_tw_run_does_and_a_changed_space_is_refused(tmp_path: Path) -> None:
    with tw.Study(root=tmp_path, space=FIDELITY_SPACE, seed=3) as study:
        assert study._handle.record.optimizer["name"] == "hyperband"
    with pytest.raises(StudyMismatchError, match="x"):
        tw.Study(root=tmp_path, space=tw.Space(x=tw.Float(0.0, 2.0), epochs=tw.Fidelity(1, 9)))
    with pytest.raises(StudyMismatchError, match="seed 3"):
        tw.Study(root=tmp_path, space=FIDELITY_SPACE, seed=4, budget=5)
    with tw.Study(root=tmp_path) as reopened:  # the stored space, optimizer and seed
        assert reopened.space == FIDELITY_SPACE
        assert reopened.result().budget()["evaluations"] is None  # the refusal wrote nothing
    with pytest.raises(ValueError, match="is a file"):
        tw.Study(root=tmp_path / "tunewise.db", space=SPACE)
    with pytest.raises(StudyNotFoundError, match="space="):
        tw.Study(root=tmp_path / "new")


def test_hyperband_by_ask_and_tell_promotes_from_the_previous_directory(tmp_path: Path) -> None:
    resumed: dict[int, float] = {}
    with tw.Study(
        root=tmp_path, space=FIDELITY_SPACE, optimizer="hyperband", seed=0, budget=20
    ) as study:
        while (trial := study.ask()) is not None:
            assert trial.config["epochs"] == trial.fidelity
            start = 0
            if trial.previous_directory is not None:
                start = int((trial.previous_directory / "epochs").read_text())
                resumed[trial.number] = start
            for epoch in range(start + 1, int(trial.fidelity) + 1):
                trial.report(epoch, (trial.config["x"] - 0.3) ** 2 + 1 / epoch)
            (trial.directory / "epochs").write_text(str(trial.fidelity))
            study.tell(trial, (trial.config["x"] - 0.3) ** 2 + 1 / trial.fidelity)
        handle = study._handle
        handle.refresh()
        by_number = {t.number: t for t in handle.trials()}
    promoted = [t for t in by_number.values() if t.previous_trial is not None]
    assert promoted and set(resumed) == {t.number for t in promoted}
    for trial in promoted:
        previous = by_number[trial.previous_trial]
        assert trial.fidelity > previous.fidelity
        assert resumed[trial.number] == previous.fidelity  # read from the previous directory
        assert trial.config == previous.config
        assert trial.learning_curve[0][0] == previous.fidelity + 1  # trained on, not again
    assert trial_directory(tmp_path, study.name, promoted[0].number).is_dir()
    assert len(by_number) == 20


def test_tw_run_resumes_a_study_begun_by_ask_and_tell_and_back(tmp_path: Path) -> None:
    with tw.Study(root=tmp_path, space=SPACE, optimizer="random_search", seed=0, budget=4) as study:
        for _ in range(4):
            trial = study.ask()
            assert trial is not None
            study.tell(trial, quadratic(trial.config, trial))
        assert study.ask() is None  # the budget is spent
        asker = study.worker
    result = tw.run(
        quadratic,
        SPACE,
        root=tmp_path,
        optimizer="random_search",
        seed=0,
        budget=7,
        progress=False,
    )
    assert result.counts["succeeded"] == 7
    trials = result.trials
    assert list(trials["number"]) == list(range(7))
    assert (trials["worker"][:4] == asker).all() and (trials["worker"][4:] != asker).all()
    with tw.Study(root=tmp_path, budget=9) as study:  # the stored space, optimizer and seed
        numbers = []
        while (trial := study.ask()) is not None:
            numbers.append(trial.number)
            study.tell(trial, {"objective": quadratic(trial.config, trial), "cost": 2.0})
        assert numbers == [7, 8]
        totals = study._handle.totals()
        assert (totals.n_live, totals.n_finished) == (9, 9)
        assert study.result().counts["succeeded"] == 9


def test_enqueued_configs_are_evaluated_first_by_ask(tmp_path: Path) -> None:
    with tw.Study(root=tmp_path, space=FIDELITY_SPACE, optimizer="hyperband", seed=0) as study:
        first = study.enqueue({"x": 0.125})
        second = study.enqueue({"x": 0.5, "epochs": 3})
        assert (first.status, first.fidelity, second.fidelity) == (TrialStatus.PENDING, 9, 3)
        asked = [study.ask() for _ in range(3)]
        assert [t.number for t in asked if t] == [0, 1, 2]
        assert asked[0] is not None and asked[0].config == {"x": 0.125, "epochs": 9}
        assert asked[1] is not None and asked[1].config == {"x": 0.5, "epochs": 3}
        assert asked[1].fidelity == 3
        assert asked[2] is not None and asked[2].fidelity == 1  # hyperband's first rung
        for trial in asked:
            assert trial is not None
            study.tell(trial, trial.config["x"])
        assert study.result().trials.loc[0, "info.sampled_from"] == "enqueued"


def test_enqueued_configs_are_evaluated_first_by_tw_run(tmp_path: Path) -> None:
    with tw.Study(root=tmp_path, space=SPACE, optimizer="random_search", seed=0) as study:
        study.enqueue({"x": 1.0})
        study.enqueue({"x": -2.5})
    result = tw.run(
        quadratic, SPACE, root=tmp_path, optimizer="random_search", seed=0, budget=4, progress=False
    )
    trials = result.trials.sort_values("started_at")
    assert list(trials["number"]) == [0, 1, 2, 3]
    assert list(trials["config.x"][:2]) == [1.0, -2.5]
    assert result.best.config == {"x": 1.0}


def test_enqueue_checks_the_config_and_the_budget(tmp_path: Path) -> None:
    with tw.Study(root=tmp_path, space=FIDELITY_SPACE, budget=2) as study:
        with pytest.raises(tw.SpaceError, match="'x'"):
            study.enqueue({"x": 4.0})
        with pytest.raises(tw.SpaceError, match="'y'"):
            study.enqueue({"x": 0.5, "y": 1})
        with pytest.raises(tw.SpaceError, match="'epochs'"):
            study.enqueue({"x": 0.5}, fidelity=10)
        study.enqueue({"x": 0.1})
        study.enqueue({"x": 0.2})
        with pytest.raises(BudgetSpent, match="budget"):
            study.enqueue({"x": 0.3})
        assert study._handle.totals().next_number == 2


def test_bad_tells_are_clear_errors_and_lose_nothing(tmp_path: Path) -> None:
    other = tw.Study(root=tmp_path / "other", space=SPACE, optimizer="random_search", seed=0)
    with tw.Study(root=tmp_path / "mine", space=SPACE, optimizer="random_search", seed=0) as study:
        trial, foreign = study.ask(), other.ask()
        assert trial is not None and foreign is not None
        with pytest.raises(TypeError, match="value"):
            study.tell(trial)
        with pytest.raises(TypeError, match="not both"):
            study.tell(trial, 1.0, error="boom")
        with pytest.raises(ValueError, match="not open in this Study"):
            study.tell(foreign, 1.0)
        with pytest.raises(ValueError, match="not open in this Study"):
            study.tell(7, 1.0)
        recorded = study.tell(trial, 0.25)
        assert recorded.status is TrialStatus.SUCCEEDED and recorded.objective == 0.25
        with pytest.raises(ValueError, match=r"told already.*0\.25"):
            study.tell(trial, 0.5)
        assert study._handle.trial(0) == recorded
        assert other.tell(foreign, 3.0).objective == 3.0  # still open where it was asked
    other.close()
    with pytest.raises(RuntimeError, match="closed"):
        study.ask()


def test_invalid_values_and_errors_are_recorded_failed_with_the_reason(tmp_path: Path) -> None:
    with tw.Study(root=tmp_path, space=SPACE, optimizer="random_search", seed=0) as study:
        told = []
        for value in (math.nan, "0.5", {"objective": 1.0, "colour": "red"}):
            trial = study.ask()
            assert trial is not None
            told.append(study.tell(trial, value))
        trial = study.ask()
        assert trial is not None
        try:
            raise MemoryError("CUDA out of memory")
        except MemoryError as exc:
            told.append(study.tell(trial, error=exc))
        trial = study.ask()
        assert trial is not None
        trial.report(1, 0.9)
        told.append(study.fail(trial, "diverged at epoch 1"))
    assert all(t.status is TrialStatus.FAILED for t in told)
    errors = [t.error or "" for t in told]
    assert "non-finite objective" in errors[0] and errors[0].startswith("tell was given")
    assert "type str" in errors[1]
    assert "colour" in errors[2]
    assert errors[3].startswith("MemoryError: CUDA out of memory") and "Traceback" in errors[3]
    assert errors[4] == "diverged at epoch 1" and told[4].learning_curve == ((1.0, 0.9),)
    assert all(t.cost is not None and t.cost >= 0 for t in told)


def test_reports_travel_with_heartbeats_and_close_requeues_untold_trials(tmp_path: Path) -> None:
    fast = {"heartbeat_interval": 0.05, "stale_after": 0.5}
    with tw.Study(root=tmp_path, space=SPACE, optimizer="random_search", seed=0, **fast) as study:
        trial = study.ask()
        assert trial is not None
        reader = tw.load(tmp_path)
        trial.report(1, 0.5)
        trial.report(2, 0.25)

        def curve_seen() -> bool:
            return reader.refresh().trials.loc[0, "learning_curve"] == [(1.0, 0.5), (2.0, 0.25)]

        wait_for(curve_seen)
        assert reader.trials.loc[0, "status"] == "running"
        config = dict(trial.config)
    reader.refresh()
    assert reader.trials.loc[0, "status"] == "pending"  # closed untold: back in the queue
    with tw.Study(root=tmp_path) as again:
        retried = again.ask()
        assert retried is not None and (retried.number, retried.config) == (0, config)
        again.tell(retried, 1.0)
    reader.close()


CHILD = textwrap.dedent(
    """
    import json, sys, time
    import tunewise as tw
    study = tw.Study(root=sys.argv[1], space=tw.Space(x=tw.Float(-3.0, 3.0)),
                     optimizer="random_search", seed=0, heartbeat_interval=0.2, stale_after=1.0)
    trial = study.ask()
    print(json.dumps({"number": trial.number, "config": trial.config}), flush=True)
    time.sleep(600)
    """
)


@pytest.mark.slow
def test_a_killed_askers_trial_is_recovered_and_a_live_ones_is_not(tmp_path: Path) -> None:
    settings = {"heartbeat_interval": 0.2, "stale_after": 1.0}
    with tw.Study(
        root=tmp_path, space=SPACE, optimizer="random_search", seed=0, **settings
    ) as alive:
        mine = alive.ask()
        assert mine is not None
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tmp_path)],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        try:
            assert child.stdout is not None
            asked = json.loads(child.stdout.readline())
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait()
        assert asked["number"] == 1
        with tw.Study(root=tmp_path, **settings) as watcher:
            handle = watcher._handle

            def crashed() -> bool:
                handle.refresh()
                dead = handle.trial(1)
                return dead is not None and dead.status is TrialStatus.CRASHED

            wait_for(crashed)
            assert handle.trial(0).status is TrialStatus.RUNNING  # beating all along
            retry = watcher.ask()
            assert retry is not None and retry.config == asked["config"]
            assert handle.trial(retry.number).retry_of == 1
            watcher.tell(retry, 0.5)
        assert alive.tell(mine, 0.25).status is TrialStatus.SUCCEEDED


def test_tunewise_worker_and_status_work_on_an_ask_and_tell_study(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tunewise.cli import main

    with tw.Study(root=tmp_path, space=SPACE, optimizer="random_search", seed=0, budget=4) as study:
        trial = study.ask()
        assert trial is not None
        study.tell(trial, 9.0)
        study.enqueue({"x": 1.0})
    evaluate = "tests.runtime.objectives:quadratic"
    assert main(["worker", str(tmp_path), "--evaluate", evaluate]) == 0
    assert main(["status", str(tmp_path)]) == 0
    assert "enqueued" in capsys.readouterr().out  # the best is the queued config
    trials = tw.load(tmp_path).trials
    assert list(trials["config.x"][:2]) == [trial.config["x"], 1.0]
    assert list(trials["objective"][:2]) == [9.0, 0.0]
    assert list(trials["status"]) == ["succeeded"] * 4


def test_a_study_in_a_store_url_puts_trial_folders_under_the_working_directory(
    storage_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.conftest import unique_name

    monkeypatch.chdir(tmp_path)
    name = unique_name()
    with pytest.raises(ValueError, match="study="):
        tw.Study(storage=storage_url, space=SPACE)
    with tw.Study(
        storage=storage_url, study=name, space=SPACE, optimizer="random_search", seed=1, budget=3
    ) as study:
        study.enqueue({"x": 0.5})
        trial = study.ask()
        assert trial is not None and trial.config == {"x": 0.5}
        assert trial.directory == tmp_path / name / "trials" / "0" and trial.directory.is_dir()
        study.tell(trial, 0.25)
    result = tw.run(
        quadratic,
        SPACE,
        root=tmp_path / name,
        storage=storage_url,
        study=name,
        optimizer="random_search",
        seed=1,
        budget=3,
        progress=False,
    )
    assert result.counts["succeeded"] == 3 and result.best.objective == 0.25
    result.close()


def test_the_docs_first_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "ask-and-tell.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(example, "docs/ask-and-tell.md", "exec"), namespace)
    result = namespace["result"]
    assert isinstance(result, tw.Result) and result.counts["succeeded"] == 20
    assert result.best.objective < 1.0
    result.close()


def test_several_trials_asked_at_once_are_trained_in_threads_and_told_in_any_order(
    tmp_path: Path,
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with tw.Study(root=tmp_path, space=FIDELITY_SPACE, optimizer="hyperband", seed=0) as study:
        asked = [study.ask() for _ in range(4)]
        assert all(t is not None for t in asked)
        assert len({t.number for t in asked if t}) == 4
        assert [t.number for t in study.open_trials] == [0, 1, 2, 3]
        slots = {t.slot for t in study.trials()}
        assert len(slots) == 4  # four different decisions of the schedule

        def train(trial: tw.TrialContext) -> tw.Trial:
            time.sleep(0.05 * (4 - trial.number))  # the last asked finishes first
            return study.tell(trial, trial.config["x"])

        with ThreadPoolExecutor(4) as pool:
            told = list(pool.map(train, [t for t in asked if t]))
        assert [t.status for t in told] == [TrialStatus.SUCCEEDED] * 4
        assert study.open_trials == []
        finished = sorted(study.trials(), key=lambda t: t.finished_at or 0)
        assert [t.number for t in finished] == [3, 2, 1, 0]


@pytest.mark.slow
def test_ask_and_tell_beside_a_running_tw_run_shares_the_budget(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import tunewise as tw
        from tests.runtime.objectives import slow_quadratic
        tw.run(slow_quadratic, tw.Space(x=tw.Float(-3.0, 3.0)), root=sys.argv[1],
               optimizer="random_search", seed=0, budget=12, workers=2, progress=False)
        """
    )
    with tw.Study(
        root=tmp_path, space=SPACE, optimizer="random_search", seed=0, budget=12
    ) as study:
        runner = subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            env={**os.environ, "TW_TEST_DELAY": "0.2", "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        wait_for(lambda: bool(study.trials()), timeout=60)  # its workers have started
        mine = []
        while (trial := study.ask()) is not None:
            time.sleep(0.2)
            mine.append(study.tell(trial, quadratic(trial.config, trial)).number)
        assert runner.wait(timeout=120) == 0
        trials = study.trials()
    assert [t.number for t in trials] == list(range(12))
    assert all(t.status is TrialStatus.SUCCEEDED for t in trials)
    assert len({t.slot for t in trials}) == 12  # no decision taken twice
    theirs = [t.number for t in trials if t.worker != study.worker]
    assert mine and theirs and sorted(mine + theirs) == list(range(12))
