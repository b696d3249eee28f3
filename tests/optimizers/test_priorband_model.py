"""PriorBand+BO: ``PriorBand(model_based=True)`` samples new configurations from a GP."""

from __future__ import annotations

import subprocess
import sys

import pytest

import tunewise as tw
from tests.optimizers.loop import run_sequentially
from tunewise import optimizers
from tunewise.optimizers.priorband import PriorBand
from tunewise.optimizers.priorband_policy import fidelity_spent
from tunewise.trial import History

SPACE = tw.Space(
    x=tw.Float(0.0, 1.0, prior=0.3),
    y=tw.Float(1e-3, 1.0, log=True),
    kind=tw.Categorical(["a", "b", "c"], prior="b"),
    epochs=tw.Fidelity(1, 9),
)


def loss(config: dict, fidelity: float) -> float:
    penalty = 0.0 if config["kind"] == "b" else 0.2
    return (config["x"] - 0.3) ** 2 + 0.1 * abs(config["y"] - 0.01) + penalty + 1.0 / fidelity


@pytest.fixture(scope="module")
def trials():
    return run_sequentially(
        PriorBand(model_based=True, initial_design_size=3), space=SPACE, loss=loss, n=45, seed=3
    )


def _spent_before(trials, i: int) -> float:
    return fidelity_spent(History(space=SPACE, seed=3, trials=tuple(trials[:i])))


def test_model_kicks_in_only_after_the_switch_point(trials, monkeypatch) -> None:
    assert len(trials) == 45
    sources = [t.info["sampled_from"] for t in trials]
    assert "model" in sources
    for i, t in enumerate(trials):
        after = _spent_before(trials, i) >= 3  # full-fidelity evaluations' worth
        if t.info["sampled_from"] == "model":
            assert after
        elif after:  # after the switch, every new configuration comes from the model
            assert t.info["sampled_from"] == "promotion"
    assert sources[0] == "prior_config"


def test_model_suggestions_are_valid_configs(trials) -> None:
    for t in trials:
        SPACE.validate_config(dict(t.config))
        assert t.fidelity in (1, 3, 9)


def test_same_seed_same_suggestions(trials) -> None:
    again = run_sequentially(
        PriorBand(model_based=True, initial_design_size=3), space=SPACE, loss=loss, n=45, seed=3
    )
    assert [dict(t.config) for t in again] == [dict(t.config) for t in trials]
    timings = ("fit_seconds", "acquisition_seconds")

    def decisions(info) -> dict:  # type: ignore[no-untyped-def]
        return {k: v for k, v in info.items() if k not in timings}

    assert [decisions(t.info) for t in again] == [decisions(t.info) for t in trials]


def test_default_priorband_never_uses_the_model(trials) -> None:
    plain = run_sequentially(PriorBand(), space=SPACE, loss=loss, n=30, seed=3)
    assert all(t.info["sampled_from"] != "model" for t in plain)
    # the default switch point, 10 full evaluations' worth, is not reached in a short run
    short = run_sequentially(PriorBand(model_based=True), space=SPACE, loss=loss, n=20, seed=3)
    assert all(t.info["sampled_from"] != "model" for t in short)


def test_spec_round_trip() -> None:
    opt = optimizers.make({"name": "priorband", "model_based": True})
    assert isinstance(opt, PriorBand)
    assert opt.model_based is True
    assert opt.initial_design_size is None
    spec = opt.spec()
    assert spec["model_based"] is True
    assert optimizers.make(spec) == opt
    opt2 = optimizers.make({"name": "priorband", "model_based": True, "initial_design_size": 5})
    assert optimizers.make(opt2.spec()).spec() == opt2.spec()


@pytest.mark.parametrize(
    "kwargs", [{"model_based": 1}, {"initial_design_size": 0}, {"initial_design_size": 2.5}]
)
def test_bad_arguments_are_rejected(kwargs) -> None:
    with pytest.raises(ValueError, match="priorband"):
        PriorBand(**kwargs)


def test_import_tunewise_does_not_import_torch() -> None:
    code = (
        "import sys, tunewise, tunewise.optimizers.priorband; "
        "tunewise.optimizers.priorband.PriorBand(model_based=True); "
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_pending_trials_steer_the_model_away(trials) -> None:
    """A pending point at the model's favourite candidate makes it pick another region."""
    import numpy as np

    from tunewise.models import multi_fidelity
    from tunewise.optimizers.observations import observations

    history = History(space=SPACE, seed=3, trials=tuple(trials))
    obs = observations(history).succeeded()
    by_number = {t.number: t.config for t in history.finished}
    configs = [by_number[int(k)] for k in obs.numbers]
    candidates = SPACE.sample_many(np.random.default_rng(0), 400)
    u = SPACE.encode_many(candidates)
    data = (multi_fidelity.CubeInputs.of(SPACE), configs, obs.fidelity, obs.y, candidates)
    first, info = multi_fidelity.two_stage_pick(*data, target_fidelity=3, seed=3, keys=obs.numbers)
    assert info["pending_points"] == 0 and info["fit_seconds"] >= 0
    second, info = multi_fidelity.two_stage_pick(
        *data,
        target_fidelity=3,
        seed=3,
        keys=obs.numbers,
        pending=[candidates[first]],
        pending_fidelity=np.array([3.0]),
    )
    assert info["pending_points"] == 1
    assert np.abs(u[first] - u[second]).max() > 0.05
