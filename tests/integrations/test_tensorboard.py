"""TensorBoard run folders of real trials, read back with TensorBoard's own event reader."""

from __future__ import annotations

from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import api_pb2, plugin_data_pb2

import tunewise as tw
from tunewise.integrations import tensorboard as tb

SPACE = tw.Space(
    lr=tw.Float(1e-4, 1e-1, log=True),
    optimizer=tw.Categorical(["adam", "sgd"]),
    momentum=tw.Float(0.0, 0.9, when={"optimizer": "sgd"}),
    epochs=tw.Fidelity(1, 9),
)


def evaluate(config: dict, trial: tw.TrialContext) -> float:
    if config["lr"] > 0.03:
        trial.report(1, 5.0)
        raise RuntimeError("diverged")
    value = 1.0
    for epoch in range(1, config["epochs"] + 1):
        value = config["lr"] * 10 / epoch
        trial.report(epoch, value)
    return value


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tw.Result:
    root = tmp_path_factory.mktemp("tb") / "study"
    return tw.run(evaluate, SPACE, root=root, optimizer="hyperband", budget=12, seed=3)


def _read(folder: Path) -> EventAccumulator:
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    return accumulator


def _scalars(accumulator: EventAccumulator, tag: str) -> list[tuple[int, float]]:
    return [(e.step, pytest.approx(e.value)) for e in accumulator.Scalars(tag)]


def _session_hparams(accumulator: EventAccumulator) -> dict[str, object]:
    content = accumulator.PluginTagToContent("hparams")
    data = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    out: dict[str, object] = {}
    for name, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        out[name] = getattr(value, kind)
    return out


def test_each_trial_is_a_run_whose_scalars_equal_its_curve(
    result: tw.Result, tmp_path: Path
) -> None:
    trials = [t for t in result.trial_list if t.finished]
    assert any(t.status is tw.TrialStatus.FAILED for t in trials)
    assert any(t.status is tw.TrialStatus.SUCCEEDED for t in trials)
    for trial in trials:
        folder = tb.write_trial(tmp_path, trial, SPACE)
        assert folder == tmp_path / f"trial_{trial.number:05d}"
        events = _read(folder)
        curve = [(int(s), pytest.approx(v)) for s, v in trial.learning_curve]
        assert curve and _scalars(events, tb.CURVE_TAG) == curve
        last = int(trial.learning_curve[-1][0])
        assert _scalars(events, tb.COST_TAG) == [(last, trial.cost)]
        assert _scalars(events, tb.FIDELITY_TAG) == [(last, trial.fidelity)]
        tags = events.Tags()["scalars"]
        if trial.status is tw.TrialStatus.SUCCEEDED:
            assert _scalars(events, tb.OBJECTIVE_TAG) == [(last, trial.objective)]
        else:
            assert tb.OBJECTIVE_TAG not in tags
        hparams = _session_hparams(events)
        expected = {**trial.config, "epochs": trial.fidelity, "status": str(trial.status)}
        assert hparams == pytest.approx(expected)
        assert ("momentum" in hparams) == (trial.config["optimizer"] == "sgd")


def test_every_run_describes_the_whole_space_and_its_end_status(
    result: tw.Result, tmp_path: Path
) -> None:
    """TensorBoard reads the experiment from one run: each must name every parameter, also
    those inactive in its own trial, or the HParams table would lose their column."""
    adam = [t for t in result.trial_list if t.config["optimizer"] == "adam" and t.finished]
    failed = [t for t in result.trial_list if t.status is tw.TrialStatus.FAILED]
    assert adam and failed
    for trial in [adam[0], failed[0]]:
        events = _read(tb.write_trial(tmp_path, trial, SPACE))
        content = events.PluginTagToContent("hparams")
        experiment = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/experiment"]
        ).experiment
        infos = {h.name: h for h in experiment.hparam_infos}
        assert set(infos) == {"lr", "optimizer", "momentum", "epochs", "status"}
        assert [v.string_value for v in infos["optimizer"].domain_discrete.values] == [
            "adam",
            "sgd",
        ]
        assert (infos["lr"].domain_interval.min_value, infos["lr"].domain_interval.max_value) == (
            pytest.approx(1e-4),
            pytest.approx(0.1),
        )
        assert {m.name.tag for m in experiment.metric_infos} == {tb.OBJECTIVE_TAG, tb.COST_TAG}
        end = plugin_data_pb2.HParamsPluginData.FromString(
            content["_hparams_/session_end_info"]
        ).session_end_info
        assert end.status == (
            api_pb2.STATUS_SUCCESS
            if trial.status is tw.TrialStatus.SUCCEEDED
            else api_pb2.STATUS_FAILURE
        )


def test_writing_a_trial_again_leaves_one_set_of_events(result: tw.Result, tmp_path: Path) -> None:
    trial = result.trial_list[0]
    tb.write_trial(tmp_path, trial, SPACE)
    folder = tb.write_trial(tmp_path, trial, SPACE)
    assert len(list(folder.iterdir())) == 1
    curve = [(int(s), pytest.approx(v)) for s, v in trial.learning_curve]
    assert _scalars(_read(folder), tb.CURVE_TAG) == curve


def test_fractional_steps_keep_their_true_step(tmp_path: Path) -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0), data=tw.Fidelity(0.1, 1.0))
    trial = tw.Trial(
        number=4,
        config={"x": 0.5},
        status=tw.TrialStatus.SUCCEEDED,
        fidelity=0.5,
        objective=0.2,
        cost=1.5,
        learning_curve=((0.25, 0.4), (0.5, 0.2)),
    )
    events = _read(tb.write_trial(tmp_path, trial, space))
    assert _scalars(events, tb.CURVE_TAG) == [(1, 0.4), (2, 0.2)]
    assert _scalars(events, tb.CURVE_STEP_TAG) == [(1, 0.25), (2, 0.5)]
    assert _scalars(events, tb.OBJECTIVE_TAG) == [(2, 0.2)]


def test_a_trial_without_a_curve_still_gets_its_results(tmp_path: Path) -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0))
    trial = tw.Trial(
        number=0, config={"x": 0.5}, status=tw.TrialStatus.FAILED, cost=0.1, error="boom"
    )
    events = _read(tb.write_trial(tmp_path, trial, space))
    assert events.Tags()["scalars"] == [tb.COST_TAG]
    assert _session_hparams(events) == {"x": 0.5, "status": "failed"}


def test_check_available_passes_where_tensorboard_is_installed() -> None:
    tb.check_available()
    assert "tunewise[tensorboard]" in tb.INSTALL_HINT


def test_check_available_names_the_extra_when_tensorboard_is_missing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "tensorboard", None)
    with pytest.raises(ImportError, match=r"pip install 'tunewise\[tensorboard\]'"):
        tb.check_available()
