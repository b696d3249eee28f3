"""``examples/early_stopping.py`` runs as a user would run it (beside tests/test_examples.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import tunewise as tw

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "early_stopping.py"


@pytest.mark.slow
def test_early_stopping_script_stops_some_trials_and_records_them(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--trials", "10"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert "trials stopped early (median rule)" in done.stdout
    assert "best validation error" in done.stdout
    trials = tw.load(tmp_path / "runs" / "early-stopping-median").trial_list
    stopped = [t for t in trials if t.info.get("stopped_early")]
    assert len(trials) == 10 and stopped
    for t in stopped:
        assert t.info["stop_rule"] == "median"
        assert t.info["stopped_at"] == t.learning_curve[-1][0] < 20
        assert t.objective == t.learning_curve[-1][1]
