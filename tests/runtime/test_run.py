"""tw.run end to end on the real SQLite store: results, bad objectives, resume, reproducibility."""

from __future__ import annotations

import math
import time

import pytest
import sqlalchemy

import tunewise as tw
from tests.runtime import objectives
from tunewise.analysis.study import incumbent_trace
from tunewise.storage import SchemaVersionError, Store, StudyMismatchError, schema
from tunewise.trial import TrialStatus

SPACE = tw.Space(x=tw.Float(-5.0, 5.0))


def test_random_search_finds_the_minimum_of_a_quadratic(tmp_path) -> None:
    result = tw.run(
        objectives.quadratic,
        SPACE,
        root=tmp_path / "q",
        budget=200,
        seed=0,
        progress=False,
        optimizer="random_search",
    )
    assert result.counts["succeeded"] == 200
    assert result.best.objective < 0.01  # 200 uniform draws on [-5, 5] land within 0.1 of 1
    assert abs(result.best_config["x"] - 1.0) < 0.1
    frame = result.trials
    assert list(frame["number"]) == list(range(200))
    assert {"objective", "config.x", "status", "cost", "worker"} <= set(frame.columns)


def test_closures_and_lambdas_work_in_process(tmp_path) -> None:
    offset = 2.0
    result = tw.run(
        lambda c, t: (c["x"] - offset) ** 2,
        SPACE,
        root=tmp_path / "lam",
        budget=20,
        progress=False,
        optimizer="random_search",
    )
    assert result.counts["succeeded"] == 20


def test_unpicklable_objective_with_workers_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(TypeError, match="must be importable"):
        tw.run(
            lambda c, t: 0.0,
            SPACE,
            root=tmp_path / "x",
            budget=2,
            workers=2,
            optimizer="random_search",
        )


def test_trial_context_gives_fidelity_directory_and_records_reports(tmp_path) -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 9))
    seen = []

    def evaluate(config, trial):
        seen.append((config["epochs"], trial.fidelity, trial.directory.is_dir()))
        (trial.directory / "checkpoint").write_text("weights")
        for epoch in range(1, trial.fidelity + 1):
            trial.report(epoch, 1.0 / epoch)
        return config["x"]

    result = tw.run(
        evaluate, space, root=tmp_path / "ctx", optimizer="random_search", budget=3, progress=False
    )
    assert seen == [(9, 9, True)] * 3
    best = result.best
    assert len(best.learning_curve) == 9 and best.learning_curve[-1] == (9.0, 1.0 / 9)
    assert (result.directory(best.number) / "checkpoint").read_text() == "weights"


@pytest.mark.parametrize(
    ("returned", "reason"),
    [
        (float("nan"), "non-finite objective"),
        ("0.5", "objective of type str"),
        ({"loss": 0.5}, "unknown key"),
        ({"objective": 0.5, "cost": -1.0}, "negative cost"),
        ({"objective": 0.5, "info": {"model": object()}}, "JSON-serializable"),
    ],
)
def test_invalid_returns_fail_the_trial_with_the_reason(tmp_path, returned, reason) -> None:
    result = tw.run(
        lambda c, t: returned,
        SPACE,
        root=tmp_path / "bad",
        budget=3,
        progress=False,
        optimizer="random_search",
    )
    assert result.counts["failed"] == 3
    assert reason in result.trial_list[0].error


def test_objective_that_raises_is_recorded_and_the_run_goes_on(tmp_path) -> None:
    result = tw.run(
        objectives.fails_on_negative,
        SPACE,
        root=tmp_path / "r",
        budget=30,
        seed=2,
        progress=False,
        optimizer="random_search",
    )
    failed = [t for t in result.trial_list if t.status is TrialStatus.FAILED]
    succeeded = [t for t in result.trial_list if t.status is TrialStatus.SUCCEEDED]
    assert failed and succeeded and len(failed) + len(succeeded) == 30
    assert all(t.config["x"] < 0 for t in failed)
    assert failed[0].error.startswith("ValueError: x=")
    assert "Traceback" in failed[0].error and "fails_on_negative" in failed[0].error


def test_on_error_raise_stops_after_recording_the_failure(tmp_path) -> None:
    with pytest.raises(tw.TrialFailed, match="ValueError: x=") as info:
        tw.run(
            objectives.fails_on_negative,
            SPACE,
            root=tmp_path / "r",
            budget=30,
            seed=2,
            on_error="raise",
            progress=False,
            optimizer="random_search",
        )
    result = tw.load(tmp_path / "r")
    assert result.trial_list[info.value.number].status is TrialStatus.FAILED


def test_resume_continues_to_the_same_budget_and_extends_it(tmp_path) -> None:
    root = tmp_path / "resume"
    tw.run(
        objectives.quadratic,
        SPACE,
        root=root,
        budget=10,
        seed=1,
        progress=False,
        optimizer="random_search",
    )
    again = tw.run(
        objectives.quadratic, SPACE, root=root, budget=10, progress=False, optimizer="random_search"
    )
    assert again.counts["succeeded"] == 10  # already done: nothing more ran
    more = tw.run(
        objectives.quadratic, SPACE, root=root, budget=25, progress=False, optimizer="random_search"
    )
    assert more.counts["succeeded"] == 25
    assert [t.number for t in more.trial_list] == list(range(25))


def test_resume_with_a_changed_space_says_what_changed_and_keeps_trials(tmp_path) -> None:
    root = tmp_path / "changed"
    tw.run(
        objectives.quadratic, SPACE, root=root, budget=5, progress=False, optimizer="random_search"
    )
    changed = tw.Space(x=tw.Float(-5.0, 5.0), dropout=tw.Float(0.0, 0.5))
    with pytest.raises(StudyMismatchError, match="parameter 'dropout' was added"):
        tw.run(
            objectives.quadratic,
            changed,
            root=root,
            budget=10,
            progress=False,
            optimizer="random_search",
        )
    with pytest.raises(StudyMismatchError, match="seed"):
        tw.run(
            objectives.quadratic,
            SPACE,
            root=root,
            budget=10,
            seed=12345,
            progress=False,
            optimizer="random_search",
        )
    result = tw.load(root)
    assert result.counts["succeeded"] == 5
    assert result.budget()["evaluations"] == 5  # a refused resume changes nothing stored


def test_store_from_another_schema_version_is_refused_by_run(tmp_path) -> None:
    root = tmp_path / "old"
    result = tw.run(
        objectives.quadratic, SPACE, root=root, budget=3, progress=False, optimizer="random_search"
    )
    result.close()
    engine = sqlalchemy.create_engine(f"sqlite:///{root / 'tunewise.db'}")
    with engine.begin() as conn:
        conn.execute(schema.meta.update().values(value="0"))
    with pytest.raises(SchemaVersionError, match="schema version 0"):
        tw.run(
            objectives.quadratic,
            SPACE,
            root=root,
            budget=5,
            progress=False,
            optimizer="random_search",
        )
    with engine.begin() as conn:
        assert len(conn.execute(schema.trials.select()).all()) == 3
    engine.dispose()


def test_same_seed_same_trials(tmp_path) -> None:
    runs = [
        tw.run(
            objectives.quadratic,
            SPACE,
            root=tmp_path / f"s{i}",
            budget=8,
            seed=9,
            progress=False,
            optimizer="random_search",
        )
        for i in range(2)
    ]
    assert [t.config["x"] for t in runs[0].trial_list] == [
        t.config["x"] for t in runs[1].trial_list
    ]


def test_budget_by_cost_and_by_seconds(tmp_path) -> None:
    by_cost = tw.run(
        lambda c, t: {"objective": c["x"], "cost": 2.0},
        SPACE,
        root=tmp_path / "cost",
        budget=tw.Budget(cost=7.0),
        progress=False,
        optimizer="random_search",
    )
    assert by_cost.counts["succeeded"] == 4  # 2+2+2 < 7, the fourth reaches 8
    began = time.monotonic()
    by_time = tw.run(
        objectives.quadratic,
        SPACE,
        root=tmp_path / "time",
        budget=tw.Budget(seconds=2.0),
        progress=False,
        optimizer="random_search",
    )
    # It ran trials until the deadline and then stopped (a loaded machine starts slower).
    assert by_time.counts["succeeded"] >= 1
    assert time.monotonic() - began < 30
    first = min(t.started_at for t in by_time.trial_list if t.started_at)
    assert all(t.started_at <= first + 2.0 for t in by_time.trial_list if t.started_at)


def test_grid_search_run_ends_when_the_grid_is_exhausted(tmp_path) -> None:
    space = tw.Space(a=tw.Integer(1, 3), b=tw.Categorical(["x", "y"]))
    result = tw.run(
        lambda c, t: c["a"], space, root=tmp_path / "g", optimizer="grid_search", progress=False
    )
    assert result.counts["succeeded"] == 6
    assert math.isclose(result.best.objective, 1.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "workers must be a positive integer"),
        ({"budget": 0}, "evaluations must be a positive integer"),
        ({"on_error": "ignore"}, "on_error must be one of"),
        ({"optimizer": "nope"}, "unknown optimizer"),
        ({"stale_after": 1.0, "heartbeat_interval": 1.0}, "more than twice heartbeat_interval"),
    ],
)
def test_bad_arguments_are_clear_errors(tmp_path, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        tw.run(
            objectives.quadratic,
            SPACE,
            root=tmp_path / "bad",
            progress=False,
            **{"optimizer": "random_search", **kwargs},
        )


def test_fidelity_units_budget_counts_continuations_by_the_fidelity_they_add(tmp_path) -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 27))
    result = tw.run(
        lambda c, t: (c["x"] - 0.5) ** 2 + 1 / t.fidelity,
        space,
        root=tmp_path / "units",
        optimizer="hyperband",
        budget=tw.Budget(fidelity_units=6),
        progress=False,
    )
    trials = result.trial_list
    fidelity = {t.number: t.fidelity for t in trials}
    spent = sum(
        (t.fidelity - (fidelity[t.previous_trial] if t.previous_trial is not None else 0)) / 27
        for t in trials
    )
    assert spent >= 6 - 1e-9
    last = trials[-1]
    added = (last.fidelity - (fidelity[last.previous_trial] if last.previous_trial else 0)) / 27
    assert spent - added < 6  # no trial started after the budget was allocated
    with Store.at(root=tmp_path / "units") as store:  # the store's own counter agrees
        assert store.study(result.study).totals().fidelity_spent == pytest.approx(spent)


def test_a_fidelity_that_is_not_resumable_counts_each_continuation_in_full(tmp_path) -> None:
    """A data subset retrained on a larger fraction costs the whole new fraction: the budget, the
    store's counter and the analysis trace count ``fidelity / max`` for every trial."""
    space = tw.Space(x=tw.Float(0.0, 1.0), fraction=tw.Fidelity(0.05, 1.0, resumable=False))
    result = tw.run(
        lambda c, t: (c["x"] - 0.5) ** 2 + 0.1 / t.fidelity,
        space,
        root=tmp_path / "subset",
        optimizer="hyperband",
        budget=tw.Budget(fidelity_units=4),
        progress=False,
    )
    trials = result.trial_list
    assert any(t.previous_trial is not None for t in trials)  # promotions still name the trial
    spent = sum(t.fidelity for t in trials)  # max = 1.0: each trial counts its fraction
    assert spent >= 4 - 1e-9 and spent - trials[-1].fidelity < 4
    with Store.at(root=tmp_path / "subset") as store:
        assert store.study(result.study).totals().fidelity_spent == pytest.approx(spent)
    assert incumbent_trace(trials, space)["budget"].iloc[-1] == pytest.approx(spent)


def test_resume_with_a_changed_resumable_flag_says_so(tmp_path) -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0), fraction=tw.Fidelity(0.05, 1.0, log=True))
    root = tmp_path / "flag"
    run = dict(root=root, optimizer="hyperband", budget=3, progress=False)
    tw.run(lambda c, t: c["x"] / t.fidelity, space, **run)
    retrained = tw.Space(
        x=tw.Float(0.0, 1.0), fraction=tw.Fidelity(0.05, 1.0, log=True, resumable=False)
    )
    with pytest.raises(
        StudyMismatchError, match="parameter 'fraction': resumable changed from True to False"
    ):
        tw.run(lambda c, t: c["x"] / t.fidelity, retrained, **{**run, "budget": 6})


def test_auto_picks_from_the_space() -> None:
    from tunewise.optimizers.auto import choose

    fidelity = tw.Fidelity(1, 27)
    assert choose(tw.Space(x=tw.Float(0, 1, prior=0.5), e=fidelity)).name == "priorband"
    assert choose(tw.Space(x=tw.Float(0, 1), e=fidelity)).name == "hyperband"
    assert choose(tw.Space(x=tw.Float(0, 1, prior=0.5))).name == "pibo"
    assert choose(tw.Space(x=tw.Float(0, 1))).name == "bayesian_optimization"


def test_a_closed_result_reconnects_to_read(tmp_path, storage_url) -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0))
    with tw.run(
        lambda config, trial: config["x"],
        space,
        root=tmp_path,
        storage=storage_url,
        study="closing",
        optimizer="random_search",
        budget=3,
        progress=False,
    ) as result:
        assert len(result.trials) == 3
    assert result.refresh().counts["succeeded"] == 3  # after close(): a fresh connection


def test_a_root_that_is_a_file_is_a_clear_error(tmp_path) -> None:
    path = tmp_path / "results.txt"
    path.write_text("not a folder")
    with pytest.raises(ValueError, match="is a file, not a folder") as caught:
        tw.run(objectives.quadratic, SPACE, root=path, budget=1, progress=False)
    assert str(path) in str(caught.value)
