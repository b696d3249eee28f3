"""The examples a user runs must keep working: they are executed here."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

import tunewise as tw

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load(name: str):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run_script(name: str, arguments: list[str], cwd: Path, timeout: float) -> str:
    """Run ``examples/<name>.py`` as a user would, in ``cwd``; its stdout (it must exit 0)."""
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_yaml_space_matches_the_python_one() -> None:
    assert tw.Space.from_yaml(EXAMPLES / "space.yaml") == _load("quickstart").SPACE


@pytest.mark.slow
def test_quickstart_script_runs_with_two_workers(tmp_path) -> None:
    stdout = _run_script("quickstart", ["6"], tmp_path, timeout=120)
    assert "best validation accuracy" in stdout
    assert tw.load(tmp_path / "runs" / "quickstart").counts["succeeded"] == 6


@pytest.mark.slow
def test_cluster_script_runs_on_dask_with_a_trial_timeout(tmp_path) -> None:
    """The script's own top-level objective reaches the evaluation processes of Dask workers."""
    arguments = ["--trials", "8", "--workers", "2", "--trial-timeout", "2"]
    stdout = _run_script("cluster", arguments, tmp_path, timeout=180)
    assert "statuses: {'succeeded': 6, 'failed': 2}" in stdout, stdout
    trials = tw.load(tmp_path / "runs" / "cluster", study="cluster-example").trials
    failed = trials[trials["status"] == "failed"]
    assert list(failed["number"]) == [3, 7]
    assert failed["error"].str.contains("timed out after 2 s").all()


@pytest.mark.slow
def test_wrong_prior_script_runs_priorband_with_and_without_evidence(tmp_path) -> None:
    stdout = _run_script("wrong_prior", ["4"], tmp_path, timeout=120)
    assert "published:" in stdout and "last prior weight" in stdout
    evidence = tw.load(tmp_path / "runs" / "wrong_prior" / "evidence").trial_list
    new = [t for t in evidence if t.info.get("sampled_from") in ("prior", "random", "incumbent")]
    assert new and all("prior_weight" in t.info and "p_prior" in t.info for t in new)


@pytest.mark.slow
def test_nas_script_runs_priorband_on_a_grammar_space(tmp_path) -> None:
    stdout = _run_script("nas", ["3"], tmp_path, timeout=180)
    assert "best validation error" in stdout and "best architecture: Linear" in stdout
    trials = tw.load(tmp_path / "runs" / "nas-priorband").trial_list
    space = _load("nas").SPACE
    for trial in trials:
        space.validate_config(trial.config)  # the architecture is a derivation of the grammar
    assert any(t.previous_trial is not None for t in trials)  # promotions continued


@pytest.mark.slow
def test_ask_tell_script_trains_its_own_loop_and_continues_promotions(tmp_path) -> None:
    stdout = _run_script("ask_tell", ["3"], tmp_path, timeout=120)
    assert "best validation accuracy" in stdout and "optimizer: priorband" in stdout
    trials = tw.load(tmp_path / "runs" / "ask_tell").trial_list
    assert trials[0].info["sampled_from"] == "enqueued"  # the baseline went first
    assert dict(trials[0].config) == {"learning_rate": 1e-3, "alpha": 1e-4, "width": 64}
    promoted = [t for t in trials if t.previous_trial is not None]
    assert promoted and all(t.learning_curve[0][0] > 1 for t in promoted)  # trained on
    assert all(len(t.learning_curve) > 0 for t in trials if t.status.value == "succeeded")


@pytest.mark.slow
def test_data_subset_script_retrains_on_larger_fractions_and_counts_them_whole(tmp_path) -> None:
    stdout = _run_script("data_subset", ["6"], tmp_path, timeout=120)
    assert "evaluations per fraction" in stdout and "best validation error" in stdout
    trials = tw.load(tmp_path / "runs" / "data-subset-priorband").trial_list
    assert {round(t.fidelity, 6) for t in trials} == {round(1 / 9, 6), round(1 / 3, 6), 1.0}
    promoted = [t for t in trials if t.previous_trial is not None]
    assert promoted and all(t.info["train_images"] > 150 for t in promoted)
    spent = sum(t.fidelity for t in trials)  # every evaluation counts its whole fraction
    assert f"budget spent: {spent:.2f} full-data fits" in stdout
    assert 6.0 - 1e-9 <= spent < 7.0  # the last trial starts before 6 are spent


@pytest.mark.slow
def test_freeze_thaw_script_pauses_and_thaws_networks_one_epoch_at_a_time(tmp_path) -> None:
    stdout = _run_script("freeze_thaw", ["1"], tmp_path, timeout=240)
    assert "networks started" in stdout and "its whole curve" in stdout
    result = tw.load(tmp_path / "runs" / "freeze-thaw")
    trials = result.trial_list
    assert result.totals.fidelity_spent == pytest.approx(1.0)  # 27 one-epoch steps of 27
    continued = [t for t in trials if t.previous_trial is not None]
    assert continued and all(t.learning_curve[0][0] == t.fidelity for t in continued)


def test_transfer_script_tunes_v2_from_the_v1_study(tmp_path) -> None:
    arguments = ["--v1-trials", "8", "--v2-trials", "4"]
    stdout = _run_script("transfer", arguments, tmp_path, timeout=180)
    assert "best validation error after each v2 evaluation" in stdout
    v2 = tw.load(tmp_path / "runs" / "transfer-v2")
    first = v2.trial_list[0]
    assert first.info["sampled_from"] == "transfer_best" and first.config["batch_size"] == 64
    v1_best = tw.load(tmp_path / "runs" / "transfer-v1").best
    assert v1_best is not None and first.config["lr"] == v1_best.config["lr"]
    assert tw.load(tmp_path / "runs" / "transfer-scratch").record.optimizer["name"] != "transfer"
