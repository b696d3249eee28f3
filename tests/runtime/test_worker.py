"""The worker's TensorBoard option: each recorded trial becomes a TensorBoard run, read back with
TensorBoard's own EventAccumulator; a failure to write never costs the trial."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import tunewise as tw
from tests.requirements import unavailable
from tests.runtime import objectives
from tunewise.cli import main

SPACE = tw.Space(x=tw.Float(0.5, 1.0))


def _curve(folder: Path) -> list[tuple[int, float]]:
    try:  # an optional extra, which the test extras install
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError as exc:
        unavailable(f"tensorboard is not installed ({exc})")
    events = EventAccumulator(str(folder))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars("objective/curve")]


def _run(root: Path, **options):  # type: ignore[no-untyped-def]
    options = {"budget": 3, "optimizer": "random_search", "seed": 0, "progress": False, **options}
    return tw.run(objectives.curve_then_interrupt_once, SPACE, root=root, **options)


def test_each_trial_is_written_and_an_attached_worker_honours_the_option(tmp_path) -> None:
    root = tmp_path / "tb"
    (root / "trials").mkdir(parents=True)
    (root / "interrupted-once").write_text("already")  # no interruption here
    result = _run(root, tensorboard=True, budget=2)
    log_dir = root / "tensorboard" / "tb"
    for t in result.trial_list:
        x = t.config["x"]
        assert _curve(log_dir / f"trial_{t.number:05d}") == [
            (1, pytest.approx(x)),
            (2, pytest.approx(x / 2)),
            (3, pytest.approx(x / 3)),
        ]

    other = tmp_path / "attached"
    with pytest.raises(KeyboardInterrupt):  # the first trial stops the run; it is re-queued
        _run(other, tensorboard=True)
    assert not (other / "tensorboard").exists()
    assert main(["worker", str(other)]) == 0  # no tensorboard flag: the stored setting
    written = sorted(p.name for p in (other / "tensorboard" / "attached").iterdir())
    assert written == ["trial_00000", "trial_00001", "trial_00002"]


def test_a_failure_to_write_is_a_warning_and_the_trial_is_kept(tmp_path, caplog) -> None:
    root = tmp_path / "broken"
    (root / "trials").mkdir(parents=True)
    (root / "interrupted-once").write_text("already")
    (root / "tensorboard").write_text("a file where the folder should be")
    with caplog.at_level(logging.WARNING, logger="tunewise"):
        result = _run(root, tensorboard=True)
    assert result.counts["succeeded"] == 3
    assert "writing its TensorBoard files failed" in caplog.text


def test_the_cli_option_and_no_files_without_it(tmp_path) -> None:
    (tmp_path / "space.yaml").write_text("x: {type: float, lower: 0.5, upper: 1.0}\n")
    for name, flag in (("with", ["--tensorboard"]), ("without", [])):
        root = tmp_path / name
        (root / "trials").mkdir(parents=True)
        (root / "interrupted-once").write_text("already")
        argv = ["run", "tests.runtime.objectives:curve_then_interrupt_once", "--quiet"]
        argv += ["--space", str(tmp_path / "space.yaml"), "--root", str(root), "--budget", "2"]
        assert main([*argv, "--optimizer", "random_search", *flag]) == 0
    assert len(list((tmp_path / "with" / "tensorboard" / "with").iterdir())) == 2
    assert not (tmp_path / "without" / "tensorboard").exists()
