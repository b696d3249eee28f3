"""freeze_thaw: the ladder, pausing and thawing chains, the model's choices, priors, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import tunewise as tw
from tunewise.optimizers import make
from tunewise.optimizers.freeze_thaw import FreezeThaw, ladder
from tunewise.trial import History, Trial, TrialStatus

SPACE = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 10))


def curve(x: float, epoch: float) -> float:
    """A learning curve that decays to ``(x - 0.7)**2``: the final ranking is x's distance to 0.7,
    and every curve starts at about the same (uninformative) value."""
    return (x - 0.7) ** 2 + 0.5 / epoch


def chain_trials(configs: dict[float, int], *, start: int = 0) -> list[Trial]:
    """One chain per x, continued one epoch at a time to ``configs[x]`` epochs, chains
    interleaved (x1@1, x2@1, ..., x1@2, ...) as a freeze-thaw run makes them."""
    trials: list[Trial] = []
    tips: dict[float, int] = {}
    number = start
    for epoch in range(1, max(configs.values()) + 1):
        for x, top in configs.items():
            if epoch > top:
                continue
            trials.append(
                Trial(
                    number=number,
                    config={"x": x},
                    status=TrialStatus.SUCCEEDED,
                    fidelity=epoch,
                    objective=curve(x, epoch),
                    learning_curve=((epoch, curve(x, epoch)),),
                    previous_trial=tips.get(x),
                    slot=f"ft:{'continue' if x in tips else 'start'}:{number}",
                )
            )
            tips[x] = number
            number += 1
    return trials


def test_ladder_steps_through_the_fidelity_range() -> None:
    assert ladder(tw.Fidelity(1, 5), None) == (1, 2, 3, 4, 5)
    assert ladder(tw.Fidelity(1, 10), 3) == (1, 4, 7, 10)
    geometric = ladder(tw.Fidelity(0.05, 1.0, log=True), None)
    assert len(geometric) == 11 and geometric[0] == 0.05 and geometric[-1] == 1.0
    ratios = np.diff(np.log(geometric))
    assert np.allclose(ratios, ratios[0])
    assert ladder(tw.Fidelity(0.1, 1.0), 0.25) == pytest.approx((0.1, 0.35, 0.6, 0.85, 1.0))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"step": 0}, "step must be a number > 0"),
        ({"acquisition": "ucb"}, "acquisition must be one of"),
        ({"kernel": "matern52"}, "kernel must be"),
        ({"n_candidates": 0}, "n_candidates must be an integer >= 1"),
        ({"initial_design_size": 0}, "initial_design_size must be"),
        ({"beta": -1.0}, "beta must be a number >= 0"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FreezeThaw(**params)  # type: ignore[arg-type]


def test_needs_a_fidelity_and_an_integer_step_for_epochs() -> None:
    with pytest.raises(ValueError, match=r"needs a space with a tw\.Fidelity"):
        FreezeThaw().check_space(tw.Space(x=tw.Float(0.0, 1.0)))
    with pytest.raises(ValueError, match="step must be an integer"):
        FreezeThaw(step=0.5).check_space(SPACE)


def test_initial_design_starts_configurations_at_the_lowest_rung() -> None:
    optimizer = FreezeThaw(initial_design_size=3)
    trials: list[Trial] = []
    for number in range(3):
        (s,) = optimizer.ask(History(SPACE, 0, tuple(trials)))
        assert s.fidelity == 1 and s.previous_trial is None and s.info["action"] == "start"
        trials.append(
            Trial(number=number, config=s.config, status=TrialStatus.SUCCEEDED, fidelity=1,
                  objective=curve(s.config["x"], 1), slot=s.slot)
        )  # fmt: skip
    assert len({t.config["x"] for t in trials}) == 3


def test_thaws_the_paused_configuration_whose_curve_is_best() -> None:
    # x = 0.7 is the best curve; it was paused at epoch 3 while worse ones ran to 5
    trials = chain_trials({0.05: 5, 0.3: 5, 0.95: 5, 0.7: 3, 0.5: 2})
    history = History(SPACE, 0, tuple(trials))
    optimizer = FreezeThaw(initial_design_size=2, n_candidates=64)
    (s,) = optimizer.ask(history)
    tip = max(t.number for t in trials if t.config["x"] == 0.7)
    assert s.info["action"] == "continue" and s.info["sampled_from"] == "model"
    assert s.previous_trial == tip and s.fidelity == 4 and s.config == {"x": 0.7}
    assert s.slot == f"ft:continue:{tip}"
    assert s.info["train_points"] == len(trials)
    assert s.info["fit_seconds"] >= 0 and s.info["acquisition_seconds"] >= 0


def test_a_running_continuation_is_not_asked_twice_and_a_failed_one_ends_the_chain() -> None:
    trials = chain_trials({0.05: 4, 0.3: 4, 0.7: 3, 0.5: 2})
    tip = max(t.number for t in trials if t.config["x"] == 0.7)
    optimizer = FreezeThaw(initial_design_size=2, n_candidates=32)
    first, second = optimizer.ask(History(SPACE, 0, tuple(trials)), n=2)
    assert first.previous_trial == tip
    assert second.previous_trial != tip and second.slot != first.slot
    failed = Trial(
        number=len(trials),
        config={"x": 0.7},
        status=TrialStatus.FAILED,
        fidelity=4,
        previous_trial=tip,
        slot=f"ft:continue:{tip}",
        error="boom",
    )
    history = History(SPACE, 0, (*trials, failed))
    assert tip not in {t.number for t in optimizer.paused(history)}
    (s,) = optimizer.ask(history)
    assert s.previous_trial != tip


def test_a_chain_at_the_maximum_fidelity_is_finished() -> None:
    trials = chain_trials({0.7: 10, 0.2: 3})
    paused = FreezeThaw().paused(History(SPACE, 0, tuple(trials)))
    assert [t.config["x"] for t in paused] == [0.2]


def test_the_prior_configuration_comes_first_and_weights_the_choice() -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0, prior=0.7, confidence="high"), epochs=tw.Fidelity(1, 10))
    (s,) = FreezeThaw().ask(History(space, 0, ()))
    assert s.config == {"x": 0.7} and s.info["sampled_from"] == "prior_config"
    trials = chain_trials({0.1: 2, 0.7: 2, 0.4: 2})
    (s,) = FreezeThaw(initial_design_size=2).ask(History(space, 0, tuple(trials)))
    assert s.info["prior_exponent"] > 0


@pytest.mark.parametrize("acquisition", ["ei", "pi_horizon"])
@pytest.mark.parametrize("kernel", ["rbf", "exponential_decay"])
def test_same_seed_same_suggestion(acquisition: str, kernel: str) -> None:
    trials = chain_trials({0.05: 3, 0.3: 2, 0.7: 2, 0.9: 1})
    history = History(SPACE, 3, tuple(trials))
    a = FreezeThaw(acquisition=acquisition, kernel=kernel, initial_design_size=2).ask(history)
    b = FreezeThaw(acquisition=acquisition, kernel=kernel, initial_design_size=2).ask(history)
    assert [(s.config, s.slot, s.fidelity, s.previous_trial) for s in a] == [
        (s.config, s.slot, s.fidelity, s.previous_trial) for s in b
    ]


def checkpointed(config: dict[str, float], trial: tw.TrialContext) -> dict[str, object]:
    """Trains ``curve`` one epoch at a time from the previous trial's checkpoint; raises if a
    continuation does not find the checkpoint of the epoch it continues from."""
    start = 0
    if trial.previous_directory is not None:
        start = int((Path(trial.previous_directory) / "epoch.txt").read_text())
        assert start == trial.previous_fidelity, (start, trial.previous_fidelity)
    epochs = int(config["epochs"])
    for epoch in range(start + 1, epochs + 1):
        trial.report(epoch, curve(config["x"], epoch))
    (trial.directory / "epoch.txt").write_text(str(epochs))
    return {"objective": curve(config["x"], epochs), "info": {"resumed_from": start}}


@pytest.mark.slow
def test_end_to_end_pauses_thaws_and_resumes_from_checkpoints(tmp_path: Path) -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 6))
    result = tw.run(
        checkpointed,
        space,
        root=tmp_path / "ft",
        optimizer=FreezeThaw(initial_design_size=3, n_candidates=64),
        budget=tw.Budget(fidelity_units=4),
        seed=0,
        progress=False,
    )
    trials = result.trial_list
    assert all(t.status is TrialStatus.SUCCEEDED for t in trials)
    by_number = {t.number: t for t in trials}
    continued = [t for t in trials if t.previous_trial is not None]
    assert continued, "nothing was continued"
    for t in continued:  # one step on from the checkpoint of the trial it continues
        previous = by_number[t.previous_trial]  # type: ignore[index]
        assert t.fidelity == previous.fidelity + 1  # type: ignore[operator]
        assert t.info["resumed_from"] == previous.fidelity
    # thawed: a continuation that did not come right after the trial it continues
    assert any(t.number - t.previous_trial > 1 for t in continued)  # type: ignore[operator]
    # the budget counts what each step adds: 4 full evaluations of 6 epochs = 24 epochs
    added = [
        t.fidelity - (0 if t.previous_trial is None else by_number[t.previous_trial].fidelity)  # type: ignore[operator]
        for t in trials
    ]
    epochs = sum(added)
    assert epochs == 24
    assert result.totals.fidelity_spent == pytest.approx(4.0)
    # the last trial of the longest chain reads back its configuration's whole curve
    last = max(continued, key=lambda t: t.fidelity)  # type: ignore[arg-type, return-value]
    whole = result.curve(last.number)
    assert whole["step"].tolist() == list(range(1, int(last.fidelity) + 1))  # type: ignore[arg-type]
    assert whole["value"].tolist() == pytest.approx(
        [curve(last.config["x"], e) for e in whole["step"]]
    )
    assert whole["number"].iloc[-1] == last.number and whole["number"].nunique() > 1


def regret_after(optimizer: object, *, seed: int, budget: float) -> float:
    """Simulated run on ``curve`` (10 epochs), the regret of the incumbent's final value."""
    from tunewise.runtime.simulation import simulate

    def evaluate(config: dict[str, float], trial: tw.TrialContext) -> dict[str, object]:
        epochs = int(config["epochs"])
        start = int(trial.previous_fidelity or 0)
        points = [[e, curve(config["x"], e)] for e in range(start + 1, epochs + 1)]
        return {"objective": curve(config["x"], epochs), "cost": epochs - start,
                "learning_curve": points}  # fmt: skip

    events = simulate(
        evaluate,
        SPACE,
        optimizer=optimizer,  # type: ignore[arg-type]
        seed=seed,
        fidelity_units=budget,
        incumbent_value=lambda config: (config["x"] - 0.7) ** 2,
    )
    value = events[-1].incumbent_value
    return math.inf if value is None else value


@pytest.mark.slow
def test_finds_the_best_curve_faster_than_random_search() -> None:
    ft = [regret_after(FreezeThaw(n_candidates=64), seed=s, budget=3) for s in range(3)]
    rs = [regret_after(make("random_search"), seed=s, budget=3) for s in range(3)]
    assert np.median(ft) < 0.003  # |x - 0.7| < 0.055 with 3 full evaluations' worth
    assert np.median(ft) < np.median(rs)
