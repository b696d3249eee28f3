"""Fixtures of the dashboard's tests: a root folder with a study in the middle of a run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.dashboard import studies
from tunewise.storage import StudyHandle


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "runs"


@pytest.fixture
def study(root: Path) -> Iterator[StudyHandle]:
    """Study ``runs`` (the root folder's own) with promotions, a failure and nine trials."""
    root.mkdir()
    handle = studies.create(storage=str(root / "tunewise.db"), name="runs")
    studies.rung_study(handle)
    try:
        yield handle
    finally:
        handle.store.close()
