"""Local worker processes: a script that calls tw.run(workers=2) without a main guard."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

SCRIPT = """
import tunewise as tw


def evaluate(config, trial):
    return config["x"] ** 2


tw.run(evaluate, tw.Space(x=tw.Float(-1.0, 1.0)), root="runs/u", budget=4, workers=2,
       optimizer="random_search", progress=False)
"""


@pytest.mark.slow
def test_unguarded_script_with_workers_gets_one_clear_error(tmp_path) -> None:
    (tmp_path / "script.py").write_text(textwrap.dedent(SCRIPT))
    done = subprocess.run(
        [sys.executable, "script.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0
    assert 'if __name__ == "__main__":' in done.stderr
    assert "UnguardedMainError" in done.stderr
    assert done.stderr.count("Traceback") == 1, done.stderr  # the user's call, not one per worker
    assert "bootstrapping phase" not in done.stderr
