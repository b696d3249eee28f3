"""The objective's ``config``: the trial's configuration plus its fidelity, by name."""

from __future__ import annotations

from tunewise.runtime.context import objective_config, searched_config
from tunewise.trial import Trial, TrialStatus


def test_the_fidelity_goes_into_config_under_its_name_and_comes_out_again() -> None:
    trial = Trial(number=0, config={"lr": 0.1}, status=TrialStatus.RUNNING, fidelity=9)
    config = objective_config(trial, "epochs")
    assert config == {"lr": 0.1, "epochs": 9}
    assert searched_config(config, "epochs") == {"lr": 0.1} == dict(trial.config)
    config["lr"] = 1.0  # the objective's own copy
    assert trial.config["lr"] == 0.1


def test_without_a_fidelity_the_config_is_the_trials() -> None:
    trial = Trial(number=0, config={"lr": 0.1}, status=TrialStatus.RUNNING)
    assert objective_config(trial, None) == {"lr": 0.1}
    assert objective_config(trial, "epochs") == {"lr": 0.1}  # a trial at no fidelity
    assert searched_config({"lr": 0.1}, None) == {"lr": 0.1}
