"""``tunewise run`` and ``tunewise demo``, in-process (``main``)."""

from __future__ import annotations

import os

import pytest

import tunewise as tw
from tunewise.cli import main
from tunewise.cli.run import parse_budget


def test_run_then_status(tmp_path, space_file, capsys) -> None:
    root = tmp_path / "study"
    code = main(
        [
            "run",
            "tests.runtime.objectives:quadratic",
            "--space",
            str(space_file),
            "--root",
            str(root),
            "--budget",
            "12",
            "--optimizer",
            "random_search",
            "--option",
            "use_priors=true",
            "--seed",
            "1",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "12 succeeded" in out and "best: trial" in out
    result = tw.load(root)
    assert result.counts["succeeded"] == 12
    assert all(t.config["batch_size"] == 64 for t in result.trial_list)
    assert result.record.optimizer == {"name": "random_search", "use_priors": True}

    assert main(["status", str(root)]) == 0
    out = capsys.readouterr().out
    assert "succeeded" in out and "evaluations=12" in out and "best: trial" in out


def test_budget_forms() -> None:
    assert parse_budget(["20x"]) == tw.Budget(fidelity_units=20.0)
    assert parse_budget(["100", "seconds=60"]) == tw.Budget(evaluations=100, seconds=60.0)
    with pytest.raises(ValueError, match="not a number"):
        parse_budget(["evaluations=ten"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["run", "tests.runtime.objectives:quadratic", "--space", "missing.yaml"], "no such file"),
        (["run", "no_such_module:f", "--space", "{space}"], "cannot import module"),
        (["run", "tests.runtime.objectives:nope", "--space", "{space}"], "has no attribute"),
        (
            ["run", "tests.runtime.objectives:quadratic", "--space", "{space}", "--budget", "x=1"],
            "unknown kind 'x'",
        ),
        (
            ["run", "tests.runtime.objectives:quadratic", "--space", "{space}", "--workers", "0"],
            "workers must be a positive integer",
        ),
        (["status", "/nonexistent/folder"], "no tunewise study"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, space_file, capsys, argv, message) -> None:
    argv = [a.replace("{space}", str(space_file)) for a in argv]
    if argv[0] == "run":
        argv += ["--root", str(tmp_path / "r"), "--quiet"]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_space_file_names_the_parameter(tmp_path, capsys) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("lr: {type: float, lower: 0.1, upper: 0.01}\n")
    code = main(
        [
            "run",
            "tests.runtime.objectives:quadratic",
            "--space",
            str(path),
            "--root",
            str(tmp_path / "r"),
            "--quiet",
        ]
    )
    assert code == 2
    assert "parameter 'lr'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--devices", "a,b"], "expected GPU indices like 0,1,2,3"),
        (["--devices", "0,0"], "more than once"),
        (["--trial-memory-limit", "lots"], "trial_memory_limit: cannot read 'lots'"),
        (["--trial-timeout", "0"], "trial_timeout must be a positive number"),
    ],
)
def test_bad_runtime_options_are_clear_errors(
    tmp_path, space_file, monkeypatch, capsys, extra, message
) -> None:
    monkeypatch.setenv("TUNEWISE_GPU_COUNT", "2")
    argv = ["run", "tests.runtime.objectives:quadratic", "--space", str(space_file)]
    argv += ["--root", str(tmp_path / "r"), "--quiet", *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


@pytest.mark.slow
def test_demo_runs_and_reports_accuracy(tmp_path, capsys) -> None:
    root = tmp_path / "demo"
    assert main(["demo", "--root", str(root), "--budget", "1x", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "validation accuracy of the best configuration" in out
    result = tw.load(root)
    assert result.record.optimizer["name"] == "priorband"
    assert result.trial_list[0].info["sampled_from"] == "prior_config"


@pytest.mark.slow
def test_run_on_a_dask_scheduler_with_one_worker_per_gpu(
    tmp_path, space_file, monkeypatch, capsys
) -> None:
    from distributed import LocalCluster

    from tunewise.runtime.devices import GPU_COUNT_ENV

    monkeypatch.setenv(GPU_COUNT_ENV, "2")  # declared, not detected: nothing here touches CUDA
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    (tmp_path / "barrier").mkdir()
    monkeypatch.setenv("TW_TEST_BARRIER", f"{tmp_path / 'barrier'}:2")
    root = tmp_path / "dask-gpus"
    argv = ["run", "tests.runtime.objectives:environment", "--space", str(space_file)]
    argv += ["--root", str(root), "--budget", "4", "--optimizer", "random_search", "--quiet"]
    argv += ["--devices", "0,1", "--trial-timeout", "120"]
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:  # a cluster of someone else's: the tasks check the GPUs on their machine
        assert main([*argv, "--dask-address", cluster.scheduler_address]) == 0
    assert "4 succeeded" in capsys.readouterr().out
    result = tw.load(root)
    assert result.record.settings["trial_timeout"] == 120
    assert {t.device for t in result.trial_list} == {"0", "1"}
    for trial in result.trial_list:  # each evaluated in a child pinned to the task's GPU
        assert trial.worker.startswith("dask-")
        assert trial.info["cuda_visible_devices"] == trial.device == trial.info["device"]


def test_run_of_failing_trials_stops_and_exits_non_zero(tmp_path, space_file, capsys) -> None:
    argv = ["run", "tests.runtime.objectives:always_fails", "--space", str(space_file)]
    argv += ["--optimizer", "random_search", "--quiet", "--budget", "30"]
    assert main([*argv, "--root", str(tmp_path / "a"), "--max-consecutive-failures", "3"]) != 0
    err = capsys.readouterr().err
    assert "stopped after 3 consecutive failed trials" in err and "data-0.csv" in err
    assert tw.load(tmp_path / "a").counts["failed"] == 3
    # No limit: the budget is spent, nothing succeeded, and the exit status says so.
    code = main([*argv, "--root", str(tmp_path / "b"), "--max-consecutive-failures", "0"])
    assert code == 1 and "no trial succeeded" in capsys.readouterr().err
    assert tw.load(tmp_path / "b").counts["failed"] == 30


@pytest.mark.slow
def test_the_demos_hint_works_outside_the_venv(tmp_path) -> None:
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "tunewise"
    outside = {**os.environ, "PATH": "/usr/bin:/bin"}  # the venv is not activated
    assert shutil.which("tunewise", path=outside["PATH"]) is None
    done = subprocess.run(
        [str(script), "demo", "--budget", "2", "--workers", "1", "--root", "demo"],
        cwd=tmp_path, env=outside, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    hint = done.stdout.strip().splitlines()[-1]
    assert hint.startswith("see all trials with: ")
    status = subprocess.run(
        hint.removeprefix("see all trials with: "),
        shell=True, cwd=tmp_path, env=outside, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert status.returncode == 0, status.stderr
    assert "succeeded" in status.stdout
