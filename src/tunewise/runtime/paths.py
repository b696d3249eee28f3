"""Where a study's files live: one folder per trial for checkpoints and outputs."""

from __future__ import annotations

import os
from pathlib import Path

from tunewise.storage.locations import default_study_name

__all__ = ["default_study_name", "study_directory", "trial_directory"]


def study_directory(root: str | os.PathLike[str], study: str) -> Path:
    root = Path(root).expanduser().resolve()
    return root if study == default_study_name(root) else root / "studies" / study


def trial_directory(root: str | os.PathLike[str], study: str, number: int) -> Path:
    """``<root>/trials/<number>`` (or under ``studies/<study>/`` for extra studies in one root)."""
    return study_directory(root, study) / "trials" / str(number)
