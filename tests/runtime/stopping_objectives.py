"""Objectives for the early-stopping tests; module-level so evaluation processes import them.

Each trains "for" up to ``config["epochs"]`` (or 10) steps; the curve at step ``s`` is
``4 x + 1 / s`` (a trial with a larger ``x`` is worse at every step), continuing after the
trial it resumes (``trial.previous_fidelity``).
"""

from __future__ import annotations

import os

from tunewise import TrialContext

STEPS = 10


def value(x: float, step: int) -> float:
    return 4.0 * x + 1.0 / step


def steps_of(config: dict, trial: TrialContext) -> range:
    start = int(trial.previous_fidelity or 0) + 1
    return range(start, int(config.get("epochs", STEPS)) + 1)


def obeys(config: dict, trial: TrialContext) -> dict:
    """Stops when ``trial.report`` says so; returns the value it reached."""
    for step in steps_of(config, trial):
        if trial.report(step, value(config["x"], step)):
            break
    return {"objective": trial.learning_curve[-1][1], "info": {"pid": os.getpid()}}


def asks_first(config: dict, trial: TrialContext) -> float:
    """Asks ``trial.should_stop()`` before each step (the other way to write the loop)."""
    for step in steps_of(config, trial):
        if trial.should_stop():
            break
        trial.report(step, value(config["x"], step))
    return trial.learning_curve[-1][1]


def ignores(config: dict, trial: TrialContext) -> float:
    """Reports every step and never asks."""
    for step in steps_of(config, trial):
        trial.report(step, value(config["x"], step))
    return trial.learning_curve[-1][1]
