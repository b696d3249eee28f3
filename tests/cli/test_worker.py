"""``tunewise worker``: attaching to a study, as a real console script and in-process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tunewise as tw
from tunewise.cli import main

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_worker_attaches_to_a_running_study(tmp_path, space_file) -> None:
    root = tmp_path / "shared"
    env = {**os.environ, "TW_TEST_DELAY": "0.25", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-m", "tunewise.cli"]
    runner = subprocess.Popen(
        [
            *command,
            "run",
            "tests.runtime.objectives:slow_quadratic",
            "--space",
            str(space_file),
            "--root",
            str(root),
            "--budget",
            "24",
            "--quiet",
            "--optimizer",
            "random_search",
        ],
        cwd=REPO,
        env=env,
    )
    deadline = time.monotonic() + 60
    while not (root / "tunewise.db").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    helper = subprocess.run(
        [*command, "worker", str(root)], cwd=REPO, env=env, capture_output=True, text=True
    )
    assert runner.wait(timeout=60) == 0
    assert helper.returncode == 0, helper.stderr
    result = tw.load(root)
    assert result.counts["succeeded"] == 24
    assert len({t.worker for t in result.trial_list}) == 2  # both processes did work
    assert "evaluated" in helper.stderr


def test_worker_on_one_gpu_pins_itself_and_records_the_device(tmp_path, monkeypatch) -> None:
    from tunewise.optimizers import make
    from tunewise.runtime.devices import GPU_COUNT_ENV
    from tunewise.runtime.worker import Settings
    from tunewise.storage import Store

    monkeypatch.setenv(GPU_COUNT_ENV, "2")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")  # restored after the test
    root = tmp_path / "attached"
    root.mkdir()
    with Store.at(root=root) as store:
        store.create_or_open_study(
            "attached",
            space=tw.Space(x=tw.Float(0.0, 1.0)),
            optimizer=make("random_search").spec(),
            seed=0,
            budget=tw.Budget(evaluations=2).to_stored(),
            settings=Settings(evaluate="tests.runtime.objectives:environment").to_stored(),
        )
    assert main(["worker", str(root), "--device", "1"]) == 0
    trials = tw.load(root).trial_list
    assert [t.device for t in trials] == ["1", "1"]
    assert all(t.info["cuda_visible_devices"] == "5" for t in trials)


def test_worker_without_a_named_objective_says_to_pass_one(tmp_path, capsys) -> None:
    from tunewise.optimizers import make
    from tunewise.runtime.worker import Settings
    from tunewise.storage import Store

    root = tmp_path / "lambda"
    root.mkdir()
    with Store.at(root=root) as store:
        store.create_or_open_study(
            "lambda",
            space=tw.Space(x=tw.Float(0.0, 1.0)),
            optimizer=make("random_search").spec(),
            seed=0,
            budget=tw.Budget(evaluations=1).to_stored(),
            settings=Settings(evaluate=None).to_stored(),  # a lambda, say
        )
    assert main(["worker", str(root)]) == 2
    assert "pass --evaluate MODULE:FUNCTION" in capsys.readouterr().err
    assert main(["worker", str(root), "--evaluate", "tests.runtime.objectives:quadratic"]) == 0
    assert tw.load(root).counts["succeeded"] == 1
