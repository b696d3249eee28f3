"""Early stopping end to end: ``tw.run`` in this process and in child processes, ask-and-tell,
attached workers, what is recorded, the budget given back, and bad settings."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pytest

import tunewise as tw
from tests.runtime import stopping_objectives as objectives
from tunewise.optimizers.stopping_rules import median_rule, prepare
from tunewise.runtime.attach import attach
from tunewise.runtime.early_stopping import EarlyStopping, early_stopping_from
from tunewise.storage import Totals
from tunewise.storage.locations import open_study
from tunewise.trial import Trial, TrialStatus, fidelity_units

SPACE = tw.Space(x=tw.Float(0.0, 1.0))
RULE = tw.EarlyStopping(rule="median", min_trials=3, min_steps=2)


def totals(result: tw.Result) -> Totals:
    study = open_study(root=result.root, storage=None, study=result.study)
    try:
        return study.totals()
    finally:
        study.store.close()


def first_stop(trial: Trial, earlier: Sequence[Trial], rule: EarlyStopping) -> float | None:
    """Where the median rule stops ``trial``'s whole curve against the trials before it (a
    one-worker study: all finished when it started), or None."""
    others = [prepare(t.learning_curve) for t in earlier if t.status is TrialStatus.SUCCEEDED]
    steps = range(1, int(trial.fidelity or objectives.STEPS) + 1)
    curve = [(float(s), objectives.value(trial.config["x"], s)) for s in steps]
    for i in range(1, len(curve) + 1):
        verdict = median_rule(
            curve[:i], others, min_steps=rule.min_steps, min_trials=rule.min_trials
        )
        if verdict.stop:
            return verdict.step
    return None


def check_stopped_where_the_rule_says(trials: Sequence[Trial], rule: EarlyStopping) -> int:
    """Every trial stopped at the first step the rule allows, and no other; how many stopped."""
    stopped = 0
    for trial in trials:
        expected = first_stop(trial, trials[: trial.number], rule)
        if expected is None:
            assert "stopped_early" not in trial.info and "stop_advised_at" not in trial.info
            assert trial.learning_curve[-1][0] == objectives.STEPS
            continue
        stopped += 1
        assert trial.status is TrialStatus.SUCCEEDED
        assert trial.info["stopped_early"] is True
        assert trial.info["stopped_at"] == expected == trial.learning_curve[-1][0]
        assert trial.info["stop_rule"] == rule.rule
        assert trial.objective == objectives.value(trial.config["x"], int(expected))
    return stopped


def test_tw_run_stops_bad_trials_at_the_first_step_the_median_rule_allows(tmp_path: Path) -> None:
    result = tw.run(
        objectives.obeys,
        SPACE,
        root=tmp_path / "run",
        optimizer="random_search",
        budget=12,
        seed=1,
        early_stopping=RULE,
        progress=False,
    )
    trials = result.trial_list
    assert len(trials) == 12
    assert all("stopped_early" not in t.info for t in trials[:3])  # min_trials others first
    stopped = check_stopped_where_the_rule_says(trials, RULE)
    assert 3 <= stopped <= 9  # some are stopped, good ones run on
    assert all(
        t.info["stopped_at"] >= RULE.min_steps for t in trials if t.info.get("stopped_early")
    )
    frame = result.trials  # the info columns a user sees
    assert frame["info.stopped_early"].fillna(False).astype(bool).sum() == stopped
    assert set(frame["info.stop_rule"].dropna()) == {"median"}
    assert result.record.settings["early_stopping"] == RULE.to_stored()
    assert all(t.info["early_stopping_seconds"] >= 0 for t in trials)  # the judging's cost


def test_should_stop_before_each_step_stops_as_report_does(tmp_path: Path) -> None:
    result = tw.run(
        objectives.asks_first,
        SPACE,
        root=tmp_path / "run",
        optimizer="random_search",
        budget=10,
        seed=1,
        early_stopping=RULE,
        progress=False,
    )
    assert check_stopped_where_the_rule_says(result.trial_list, RULE) >= 2


@pytest.mark.slow
def test_evaluations_in_child_processes_get_the_verdict_from_the_worker(tmp_path: Path) -> None:
    """With trial_timeout each evaluation runs in a child; the worker judges its reports and
    sends the verdicts back: the same stops as in-process."""
    rule = tw.EarlyStopping(min_trials=2, min_steps=2)  # three of six stopped with seed 2
    kwargs = {"optimizer": "random_search", "budget": 6, "seed": 2, "progress": False}
    here = tw.run(objectives.obeys, SPACE, root=tmp_path / "here", early_stopping=rule, **kwargs)
    child = tw.run(
        objectives.obeys,
        SPACE,
        root=tmp_path / "child",
        early_stopping=rule,
        trial_timeout=60,
        **kwargs,  # type: ignore[arg-type]
    )
    pids = {t.info["pid"] for t in child.trial_list}
    assert pids.isdisjoint({t.info["pid"] for t in here.trial_list})
    assert check_stopped_where_the_rule_says(child.trial_list, rule) == 3
    assert [t.learning_curve for t in child.trial_list] == [
        t.learning_curve for t in here.trial_list
    ]


def test_an_objective_that_does_not_ask_is_advised_only(tmp_path: Path) -> None:
    result = tw.run(
        objectives.ignores,
        SPACE,
        root=tmp_path / "run",
        optimizer="random_search",
        budget=10,
        seed=1,
        early_stopping=RULE,
        progress=False,
    )
    advised = [t for t in result.trial_list if "stop_advised_at" in t.info]
    assert advised and all(len(t.learning_curve) == objectives.STEPS for t in result.trial_list)
    for trial in advised:
        assert "stopped_early" not in trial.info
        assert trial.info["stop_advised_at"] == first_stop(
            trial, result.trial_list[: trial.number], RULE
        )


def test_without_early_stopping_report_returns_false_and_nothing_is_noted(tmp_path: Path) -> None:
    result = tw.run(
        objectives.obeys,
        SPACE,
        root=tmp_path / "run",
        optimizer="random_search",
        budget=8,
        seed=1,
        progress=False,
    )
    assert all(len(t.learning_curve) == objectives.STEPS for t in result.trial_list)
    assert not any(
        "stopped_early" in t.info or "stop_advised_at" in t.info for t in result.trial_list
    )
    assert result.record.settings["early_stopping"] is None


def test_ask_and_tell_reports_get_verdicts_and_tells_record_the_stop(tmp_path: Path) -> None:
    with tw.Study(
        root=tmp_path / "study",
        space=SPACE,
        optimizer="random_search",
        seed=1,
        budget=10,
        early_stopping="median",  # the defaults: min_trials=5, min_steps=1
    ) as study:
        while (trial := study.ask()) is not None:
            for step in range(1, objectives.STEPS + 1):
                if trial.report(step, objectives.value(trial.config["x"], step)):
                    break
            study.tell(trial, trial.learning_curve[-1][1])
        trials = study.trials()
    assert check_stopped_where_the_rule_says(trials, EarlyStopping()) >= 1
    assert all("stopped_early" not in t.info for t in trials[:5])


def test_attached_workers_apply_the_stored_rule(tmp_path: Path) -> None:
    tw.run(
        objectives.obeys,
        SPACE,
        root=tmp_path / "run",
        optimizer="random_search",
        budget=1,
        seed=1,
        early_stopping=RULE,
        progress=False,
    )
    study = open_study(root=tmp_path / "run", storage=None, study=None)
    try:
        worker = attach(study, root=tmp_path / "run", evaluate=objectives.obeys)
        assert worker.settings.early_stopping == RULE
        assert worker.stopper is not None
    finally:
        study.store.close()


def test_a_stopped_trial_gives_back_the_fidelity_it_did_not_use(tmp_path: Path) -> None:
    """Random search at 10 epochs within 6 full trainings' worth: stopped trials count only the
    epochs they ran, so more than 6 trials fit, and the store's totals add up to that."""
    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 10))
    result = tw.run(
        objectives.obeys,
        space,
        root=tmp_path / "run",
        optimizer="random_search",
        budget=tw.Budget(fidelity_units=6),
        seed=2,
        early_stopping=tw.EarlyStopping(min_trials=2, min_steps=2),
        progress=False,
    )
    trials = result.trial_list
    used = [t.info["stopped_at"] / 10 if t.info.get("stopped_early") else 1.0 for t in trials]
    assert len(trials) > 6 and any(u < 1 for u in used)
    assert sum(used[:-1]) < 6 - 1e-9  # every claim but the last found budget left
    stored = totals(result)
    assert stored.fidelity_spent == pytest.approx(sum(used))
    assert stored.fidelity_claimed == pytest.approx(sum(used))


@pytest.mark.parametrize(
    ("optimizer", "budget"),
    [pytest.param("bayesian_optimization", 9, marks=pytest.mark.slow), ("hyperband", 14)],
)
def test_bo_and_hyperband_run_with_early_stopping(
    tmp_path: Path, optimizer: str, budget: int
) -> None:
    """A stopped trial is an ordinary result to BO (its value at the step reached) and to
    Hyperband's brackets (their trials judged at their own steps)."""
    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 9))
    extra = {"initial_design_size": 4} if optimizer == "bayesian_optimization" else {}
    result = tw.run(
        objectives.obeys,
        space,
        root=tmp_path / optimizer,
        optimizer={"name": optimizer, **extra},
        budget=budget,
        seed=3,
        early_stopping=tw.EarlyStopping(min_trials=3),
        progress=False,
    )
    trials = result.trial_list
    assert len(trials) == budget and all(t.status is TrialStatus.SUCCEEDED for t in trials)
    stopped = [t for t in trials if t.info.get("stopped_early")]
    assert stopped
    for t in stopped:
        assert t.info["stopped_at"] <= t.fidelity
        assert t.objective == objectives.value(t.config["x"], int(t.info["stopped_at"]))
    claimed = 0.0
    for t in trials:
        previous = result.trial(t.previous_trial) if t.previous_trial is not None else None
        claimed += fidelity_units(space, t.fidelity, previous.fidelity if previous else None)
    assert totals(result).fidelity_spent < claimed - 1e-9


def test_bad_settings_are_clear_errors_naming_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rule must be one of"):
        tw.EarlyStopping(rule="mean")
    with pytest.raises(ValueError, match="min_trials must be an integer >= 1"):
        tw.EarlyStopping(min_trials=0)
    with pytest.raises(ValueError, match="min_trials"):
        tw.EarlyStopping(min_trials=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_steps must be a finite number"):
        tw.EarlyStopping(min_steps=float("nan"))
    with pytest.raises(ValueError, match="p must be a probability"):
        tw.EarlyStopping(rule="model", p=1.0)
    with pytest.raises(ValueError, match="early_stopping must be None, one of"):
        tw.run(objectives.obeys, SPACE, root=tmp_path / "a", early_stopping="mean")
    with pytest.raises(TypeError, match=r"early_stopping must be .* not int"):
        tw.Study(root=tmp_path / "b", space=SPACE, early_stopping=3)  # type: ignore[arg-type]
    assert early_stopping_from({"rule": "median", "p": 0.1}) == tw.EarlyStopping(p=0.1)


@pytest.mark.slow
def test_the_model_rule_stops_trials_that_cannot_catch_the_incumbent(tmp_path: Path) -> None:
    result = tw.run(
        objectives.obeys,
        SPACE,
        root=tmp_path / "run",
        optimizer="random_search",
        budget=10,
        seed=2,
        early_stopping=tw.EarlyStopping(rule="model", min_trials=3, min_steps=2),
        progress=False,
    )
    trials = result.trial_list
    stopped = [t for t in trials if t.info.get("stopped_early")]
    assert stopped and all(t.info["stop_rule"] == "model" for t in stopped)
    assert all("stopped_early" not in t.info for t in trials[:3])
    finished = [t for t in trials if not t.info.get("stopped_early")]
    best = min(t.config["x"] for t in trials)
    assert any(t.config["x"] == best for t in finished)  # the best configuration ran on
    for t in stopped:  # each was behind the best full curve before it by a clear margin
        full = [u.config["x"] for u in trials[: t.number] if not u.info.get("stopped_early")]
        assert t.config["x"] > min(full)


@pytest.mark.slow
def test_worker_processes_read_the_rule_from_the_store(tmp_path: Path) -> None:
    """``workers=2`` starts processes that attach to the study: they judge with the stored rule,
    against each other's finished and running curves."""
    result = tw.run(
        objectives.obeys,
        SPACE,
        root=tmp_path / "run",
        optimizer="random_search",
        budget=14,
        seed=2,
        workers=2,
        early_stopping=tw.EarlyStopping(min_trials=2, min_steps=2),
        progress=False,
    )
    trials = result.trial_list
    assert len(trials) == 14 and os.getpid() not in {t.info["pid"] for t in trials}
    stopped = [t for t in trials if t.info.get("stopped_early")]
    assert stopped
    for t in stopped:
        assert t.info["stopped_at"] == t.learning_curve[-1][0] >= 2
        assert t.objective == objectives.value(t.config["x"], int(t.info["stopped_at"]))
