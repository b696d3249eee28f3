"""The study tables (:mod:`tunewise.analysis.study`), on hand-made trials and on a real study."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest

import tunewise as tw
from tunewise.analysis import study
from tunewise.trial import Trial, TrialStatus, fidelity_units, incumbent

S, F, R, C = TrialStatus.SUCCEEDED, TrialStatus.FAILED, TrialStatus.RUNNING, TrialStatus.CRASHED
SPACE = tw.Space(
    x=tw.Float(0.0, 1.0),
    n=tw.Integer(1, 8),
    act=tw.Categorical(["relu", "tanh"]),
    epochs=tw.Fidelity(1, 9),
)


def trial(number: int, status: TrialStatus, **fields: object) -> Trial:
    config = fields.pop("config", {"x": 0.1 * number, "n": number % 8 + 1, "act": "relu"})
    return Trial(number=number, config=config, status=status, **fields)  # type: ignore[arg-type]


def hand_made() -> list[Trial]:
    """A small multi-fidelity study: a promotion by continuation, one by restart, a failure,
    a crash and a running trial; finish times out of number order."""
    return [
        trial(0, S, fidelity=1, objective=0.5, started_at=100.0, finished_at=110.0,
              info={"sampled_from": "random", "rung": 0, "bracket": 0},
              learning_curve=((1, 0.6), (2, 0.5))),
        trial(1, S, fidelity=1, objective=0.4, started_at=101.0, finished_at=104.0,
              info={"sampled_from": "prior_config", "rung": 0, "bracket": 0}),
        trial(2, F, fidelity=1, started_at=102.0, finished_at=105.0, error="boom",
              info={"sampled_from": "random", "rung": 0}),
        trial(3, S, fidelity=3, objective=0.9, started_at=111.0, finished_at=120.0,
              previous_trial=1, config={"x": 0.1, "n": 2, "act": "relu"},
              info={"sampled_from": "promotion", "rung": 1, "bracket": 0}),
        trial(4, C, fidelity=3, started_at=112.0, previous_trial=0),
        trial(5, S, fidelity=3, objective=0.7, started_at=121.0, finished_at=130.0,
              config={"x": 0.0, "n": 1, "act": "relu"},
              info={"sampled_from": "promotion", "rung": 1, "bracket": 0}),
        trial(6, R, fidelity=9, created_at=99.0, started_at=131.0, previous_trial=3,
              learning_curve=((1, 0.3),)),
    ]  # fmt: skip


def test_incumbent_trace_follows_finish_order_budget_and_the_incumbent_rule() -> None:
    trials = hand_made()
    trace = study.incumbent_trace(trials, SPACE)
    assert list(trace.columns) == list(study.TRACE_COLUMNS)
    assert trace["number"].tolist() == [1, 2, 0, 3, 5]  # finished only, by finished_at
    # the study starts at the earliest start (trial 6, created at 99, started only at 131)
    assert trace["elapsed"].tolist() == [4.0, 5.0, 10.0, 20.0, 30.0]
    # 1/9 each at fidelity 1; trial 3 continues trial 1 (adds 2/9); trial 5 restarts (3/9)
    assert trace["budget"].tolist() == pytest.approx([1 / 9, 2 / 9, 3 / 9, 5 / 9, 8 / 9])
    assert trace["best"].tolist() == [0.4, 0.4, 0.4, 0.9, 0.7]  # higher fidelity wins
    assert trace["best_number"].tolist() == [1, 1, 1, 3, 5]
    assert trace["best_fidelity"].tolist() == [1.0, 1.0, 1.0, 3.0, 3.0]
    assert math.isnan(trace["objective"].iloc[1])  # the failure
    by_number = {t.number: t for t in trials}
    for row in trace.itertuples():
        upto = [by_number[n] for n in trace["number"][: row.Index + 1]]
        assert incumbent(upto).number == row.best_number  # type: ignore[union-attr]


def test_incumbent_trace_is_nan_before_the_first_success_and_empty_without_trials() -> None:
    never_started = trial(1, TrialStatus.PENDING, created_at=-2.0)
    trace = study.incumbent_trace([trial(0, F, finished_at=1.0), never_started], SPACE)
    assert trace["elapsed"].tolist() == [3.0]  # from the pending trial's created_at
    assert math.isnan(trace["best"].iloc[0]) and pd.isna(trace["best_number"].iloc[0])
    assert trace["budget"].tolist() == [1.0]  # no fidelity on the trial: one evaluation
    empty = study.incumbent_trace([], SPACE)
    assert empty.empty and list(empty.columns) == list(study.TRACE_COLUMNS)


def test_learning_curves_are_long_and_include_running_trials() -> None:
    curves = study.learning_curves(hand_made())
    assert list(curves.columns) == list(study.CURVE_COLUMNS)
    assert curves.values.tolist() == [
        [0, "succeeded", 1.0, 1.0, 0.6],
        [0, "succeeded", 1.0, 2.0, 0.5],
        [6, "running", 9.0, 1.0, 0.3],
    ]
    assert list(study.learning_curves([]).columns) == list(study.CURVE_COLUMNS)


def test_rungs_skip_crashes_and_find_promotions_by_continuation_and_by_restart() -> None:
    table = study.rungs(hand_made()).set_index("number")
    assert list(study.rungs([]).columns) == list(study.RUNG_COLUMNS)
    assert 4 not in table.index  # crashed
    assert table.loc[1, "promoted_to"] == 3  # trial 3's previous_trial
    assert table.loc[3, "promoted_to"] == 6  # trial 6 continues trial 3
    # trial 5 has trial 0's config at a higher fidelity, sampled_from promotion, no previous
    assert table.loc[0, "promoted_to"] == 5
    assert pd.isna(table.loc[2, "promoted_to"]) and pd.isna(table.loc[5, "promoted_to"])
    assert table.loc[1, "sampled_from"] == "prior_config" and table.loc[2, "rung"] == 0
    assert pd.isna(table.loc[2, "bracket"]) and table.loc[6, "previous_trial"] == 3


def test_rung_summary_counts_per_fidelity() -> None:
    summary = study.rung_summary(hand_made())
    assert list(summary.columns) == list(study.SUMMARY_COLUMNS)
    assert summary.values.tolist() == [
        [1.0, 3, 2, 0, 1, 2],
        [3.0, 2, 2, 0, 0, 1],
        [9.0, 1, 0, 1, 0, 0],
    ]


def test_parallel_coordinates_keep_numbers_and_stringify_choices() -> None:
    space = tw.Space(
        x=tw.Float(0.0, 1.0),
        n=tw.Integer(1, 8),
        flag=tw.Categorical([True, False]),
        mom=tw.Float(0.0, 1.0, when={"flag": True}),
        seed=tw.Constant(3),
    )
    trials = [
        trial(0, S, objective=1.0, config={"x": 0.5, "n": 3, "flag": True, "mom": 0.2, "seed": 3}),
        trial(1, S, objective=2.0, config={"x": 0.1, "n": 4, "flag": False, "seed": 3}),
        trial(2, F, config={"x": 0.1, "n": 4, "flag": False, "seed": 3}),
    ]
    table = study.parallel_coordinates(trials, space)
    assert list(table.columns) == ["number", "fidelity", "objective", "x", "n", "flag", "mom"]
    assert table["number"].tolist() == [0, 1] and table["x"].tolist() == [0.5, 0.1]
    assert table["n"].tolist() == [3, 4] and table["flag"].tolist() == ["True", "False"]
    assert table["mom"].iloc[0] == 0.2 and math.isnan(table["mom"].iloc[1])
    assert study.parallel_coordinates([], space).columns.tolist() == table.columns.tolist()


def test_chain_follows_previous_trial_to_the_first_ancestor() -> None:
    trials = hand_made()
    assert study.chain(trials, 6) == [1, 3, 6]
    assert study.chain(trials, 0) == [0]
    with pytest.raises(KeyError, match="17"):
        study.chain(trials, 17)


def evaluate(config: dict[str, object], trial: tw.TrialContext) -> float:
    x = float(config["x"])  # type: ignore[arg-type]
    for step in range(1, int(trial.fidelity) + 1):  # type: ignore[arg-type]
        trial.report(step, (x - 0.3) ** 2 + 1.0 / step)
    return (x - 0.3) ** 2 + 1.0 / float(trial.fidelity)  # type: ignore[arg-type]


def test_tables_of_a_real_hyperband_study(tmp_path: Path) -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0), act=tw.Categorical(["a", "b"]), epochs=tw.Fidelity(1, 9))
    result = tw.run(
        evaluate, space, root=tmp_path / "hb", optimizer="hyperband",
        budget=tw.Budget(evaluations=30), seed=0, progress=False,
    )  # fmt: skip
    trials = result.trial_list
    trace = study.incumbent_trace(trials, result.space)
    assert len(trace) == len(trials) == 30
    assert trace["best"].iloc[-1] == result.best.objective  # type: ignore[union-attr]
    by_number = {t.number: t for t in trials}
    units = [
        fidelity_units(space, t.fidelity, by_number[t.previous_trial].fidelity)
        if t.previous_trial is not None
        else fidelity_units(space, t.fidelity)
        for t in trials
    ]
    assert trace["budget"].iloc[-1] == pytest.approx(sum(units))
    assert (trace["elapsed"].diff().dropna() >= 0).all()
    curves = study.learning_curves(trials)
    assert len(curves) == sum(int(t.fidelity) for t in trials)  # type: ignore[arg-type]
    summary = study.rung_summary(trials)
    assert summary["fidelity"].tolist() == [1.0, 3.0, 9.0]
    assert summary["trials"].sum() == 30
    promoted = study.rungs(trials).dropna(subset=["promoted_to"])
    assert len(promoted) == summary["promoted"].sum() > 0
    for row in promoted.itertuples():
        child = by_number[int(row.promoted_to)]
        assert child.config == by_number[row.number].config and child.fidelity > row.fidelity


def test_the_budget_axis_counts_a_stopped_trial_by_the_steps_it_ran() -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 20))
    common = {"status": TrialStatus.SUCCEEDED, "fidelity": 20, "objective": 0.5}
    trials = [
        Trial(number=0, config={"x": 0.1}, finished_at=1.0, **common),
        Trial(
            number=1,
            config={"x": 0.2},
            finished_at=2.0,
            info={"stopped_early": True, "stopped_at": 5.0},
            **common,
        ),
    ]
    trace = study.incumbent_trace(trials, space)
    assert trace["budget"].tolist() == pytest.approx([1.0, 1.25])
