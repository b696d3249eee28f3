"""Simulated time: virtual workers and clock over the real worker, store and optimizer code."""

from __future__ import annotations

import pytest

import tunewise as tw
from tunewise.optimizers import Optimizer, RandomSearch, make
from tunewise.runtime.simulation import simulate, simulate_study
from tunewise.trial import History, Suggestion, TrialStatus

SPACE = tw.Space(x=tw.Float(-5.0, 5.0), epochs=tw.Fidelity(1, 9))


def cost_by_epochs(config, trial):
    return {"objective": (config["x"] - 1.0) ** 2 + 1.0 / trial.fidelity, "cost": 2.0}


def test_budget_in_full_fidelity_units_and_virtual_time() -> None:
    one = simulate(
        cost_by_epochs, SPACE, optimizer=make("random_search"), seed=0, fidelity_units=20
    )
    four = simulate(
        cost_by_epochs, SPACE, optimizer=make("random_search"), seed=0, fidelity_units=20, workers=4
    )
    assert len(one) == len(four) == 20  # random search runs at full fidelity: 1 unit per trial
    assert one[-1].budget == pytest.approx(20.0)
    assert one[-1].time == pytest.approx(40.0)  # 20 trials x cost 2, one after the other
    assert four[-1].time == pytest.approx(10.0)  # four virtual workers in parallel
    assert [e.number for e in four] == sorted(e.number for e in four)
    best = min(e.objective for e in one)
    assert one[-1].incumbent_objective == best


def test_same_seed_same_run_even_with_several_workers() -> None:
    runs = [
        simulate(
            cost_by_epochs,
            SPACE,
            optimizer=make("random_search"),
            seed=5,
            fidelity_units=12,
            workers=3,
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1]


class ContinueOnce(Optimizer):
    """A test optimizer: evaluates each new config at 3 epochs, then continues it to 9."""

    name = "continue_once_test"

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        for trial in history:
            if trial.fidelity == 3 and trial.status is TrialStatus.SUCCEEDED:
                slot = f"continue:{trial.number}"
                if slot not in history.slots():
                    return [Suggestion(trial.config, slot, 9, previous_trial=trial.number)]
        (new,) = RandomSearch().ask(history, 1)
        return [Suggestion(new.config, new.slot, 3)]


def test_continuations_count_only_the_added_fidelity_and_see_the_previous_fidelity() -> None:
    seen = []

    def evaluate(config, trial):
        seen.append((trial.fidelity, trial.previous_fidelity))
        return {"objective": config["x"] ** 2, "cost": float(trial.fidelity)}

    events = simulate(evaluate, SPACE, optimizer=ContinueOnce(), seed=0, fidelity_units=3.0)
    # 3 units = (3 + 6) / 9 per config: three configs at 3 epochs continued to 9.
    assert [e.fidelity for e in events] == [3, 9, 3, 9, 3, 9]
    assert events[-1].budget == pytest.approx(3.0)
    assert (9, 3) in seen and (3, None) in seen


def test_incumbent_value_reports_the_value_of_the_incumbent_config() -> None:
    events = simulate(
        cost_by_epochs,
        SPACE,
        optimizer=make("random_search"),
        seed=1,
        fidelity_units=8,
        incumbent_value=lambda config: -config["x"],
    )
    for e in events:  # the incumbent's x, recovered from its value, explains its objective
        assert (-e.incumbent_value - 1.0) ** 2 + 1.0 / 9 == pytest.approx(e.incumbent_objective)
    assert events[-1].incumbent_objective == min(e.objective for e in events)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="fidelity_units"):
        simulate(cost_by_epochs, SPACE, optimizer=make("random_search"), seed=0, fidelity_units=0)


def test_the_objective_sees_its_fidelity_in_config_as_real_workers_give_it() -> None:
    seen = []

    def evaluate(config, trial):
        seen.append((config["epochs"], trial.fidelity, set(config)))
        return {"objective": config["x"] ** 2, "cost": 1.0}

    simulate(evaluate, SPACE, optimizer=make("hyperband"), seed=0, fidelity_units=3)
    assert seen and all(epochs == fidelity for epochs, fidelity, _ in seen)
    assert {fidelity for _, fidelity, _ in seen} == {1, 3, 9}  # hyperband's rungs, eta 3
    assert all(keys == {"x", "epochs"} for *_, keys in seen)


def test_simulate_study_returns_the_recorded_trials_with_the_same_events() -> None:
    study = simulate_study(
        cost_by_epochs, SPACE, optimizer=make("random_search"), seed=3, fidelity_units=6
    )
    events = simulate(
        cost_by_epochs, SPACE, optimizer=make("random_search"), seed=3, fidelity_units=6
    )
    assert study.events == events
    assert [t.number for t in study.trials] == [e.number for e in events] == list(range(6))
    for trial, event in zip(study.trials, events, strict=True):
        assert trial.status is TrialStatus.SUCCEEDED and trial.objective == event.objective
        assert trial.objective == pytest.approx((trial.config["x"] - 1.0) ** 2 + 1.0 / 9)
