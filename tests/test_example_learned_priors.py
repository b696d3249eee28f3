"""``examples/learned_priors.py`` runs as a user would run it (beside tests/test_examples.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tunewise as tw

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "learned_priors.py"


def test_learned_priors_script_prints_the_priors_and_beats_no_priors(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT)], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any(line.strip().startswith("lr = ") for line in lines), done.stdout
    assert "no prior learned (kept as given): dropout" in done.stdout
    errors = {
        name: float(line.split("error ")[1].split()[0])
        for line in lines
        for name in ("learned priors", "no priors")
        if line.startswith(f"PriorBand on B with {name}:")
    }
    assert errors["learned priors"] < errors["no priors"], done.stdout
    learned = tw.load(tmp_path / "runs" / "learned_priors" / "learned_priors")
    assert learned.space["lr"].prior is not None  # type: ignore[attr-defined]
    assert learned.space["dropout"].prior is None  # type: ignore[attr-defined]
