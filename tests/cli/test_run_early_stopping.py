"""``tunewise run --early-stopping`` and what ``tunewise status`` says of stopped trials."""

from __future__ import annotations

from pathlib import Path

import pytest

import tunewise as tw
from tunewise.cli import main
from tunewise.cli.run import parse_early_stopping


def test_run_with_early_stopping_then_status(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    space = tmp_path / "space.yaml"
    space.write_text("x: {type: float, lower: 0, upper: 1}\n")
    root = tmp_path / "study"
    argv = ["run", "tests.runtime.stopping_objectives:obeys", "--space", str(space)]
    argv += ["--root", str(root), "--budget", "10", "--optimizer", "random_search", "--seed", "2"]
    argv += ["--early-stopping", "median", "--early-stopping-option", "min_trials=2", "--quiet"]
    assert main(argv) == 0
    result = tw.load(root)
    stopped = [t for t in result.trial_list if t.info.get("stopped_early")]
    assert stopped and all(t.info["stop_rule"] == "median" for t in stopped)
    assert result.record.settings["early_stopping"]["min_trials"] == 2
    capsys.readouterr()
    assert main(["status", str(root)]) == 0
    out = capsys.readouterr().out
    assert f"stopped early: {len(stopped)} of 10 succeeded trials (median rule" in out


def test_early_stopping_options_are_checked() -> None:
    assert parse_early_stopping(None, []) is None
    assert parse_early_stopping("model", ["p=0.1", "min_steps=3"]) == tw.EarlyStopping(
        rule="model", p=0.1, min_steps=3
    )
    with pytest.raises(ValueError, match="unknown key 'patience'"):
        parse_early_stopping("median", ["patience=3"])
    with pytest.raises(ValueError, match="needs --early-stopping RULE"):
        parse_early_stopping(None, ["p=0.1"])
    with pytest.raises(ValueError, match="min_trials must be an integer"):
        parse_early_stopping("median", ["min_trials=0"])
