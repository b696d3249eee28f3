"""Where a study's files live: one folder per trial for checkpoints and outputs."""

from __future__ import annotations

import os
from pathlib import Path


def default_study_name(root: str | os.PathLike[str]) -> str:
    """A study is named after its root folder unless the user names it."""
    return Path(root).expanduser().resolve().name or "study"


def study_directory(root: str | os.PathLike[str], study: str) -> Path:
    root = Path(root).expanduser().resolve()
    return root if study == default_study_name(root) else root / "studies" / study


def trial_directory(root: str | os.PathLike[str], study: str, number: int) -> Path:
    """``<root>/trials/<number>`` (or under ``studies/<study>/`` for extra studies in one root)."""
    return study_directory(root, study) / "trials" / str(number)
