"""Objectives for runtime tests; module-level so worker processes can import them."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tunewise import TrialContext


def quadratic(config: dict, trial: TrialContext) -> float:
    return (config["x"] - 1.0) ** 2


def slow_quadratic(config: dict, trial: TrialContext) -> dict:
    """Takes a while and leaves its pid and a marker in its directory, for kill tests."""
    (trial.directory / "pid").write_text(str(os.getpid()))
    delay = float(os.environ.get("TW_TEST_DELAY", "0.3"))
    time.sleep(delay)
    (trial.directory / "done").write_text("ok")
    return {"objective": (config["x"] - 1.0) ** 2, "info": {"pid": os.getpid()}}


def fails_on_negative(config: dict, trial: TrialContext) -> float:
    if config["x"] < 0:
        raise ValueError(f"x={config['x']:.3f} is negative")
    return config["x"]


def pid_files(root: Path) -> list[Path]:
    return sorted(root.glob("trials/*/pid"))
