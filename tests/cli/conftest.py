"""Shared by the tests of the ``tunewise`` command: a space file."""

from __future__ import annotations

from pathlib import Path

import pytest

SPACE_YAML = """
x: {type: float, lower: -5, upper: 5, prior: 1.0, confidence: high}
lr: {type: float, lower: 1e-5, upper: 1e-1, log: true}
batch_size: 64
"""


@pytest.fixture
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(SPACE_YAML)
    return path
