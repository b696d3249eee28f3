"""The dashboard's data layer: JSON-clean tables, versions of changes, what a location means."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from tests.dashboard import studies
from tunewise.dashboard.data import StoreView, frame_columns, locate
from tunewise.storage import StudyHandle


def test_frame_columns_is_json_without_nan() -> None:
    frame = pd.DataFrame(
        {
            "f": [1.5, math.nan, math.inf],
            "i": pd.array([1, None, 3], dtype="Int64"),
            "n": [1, 2, 3],
            "s": ["a", None, "c"],
        }
    )
    columns = frame_columns(frame)
    assert columns == {
        "f": [1.5, None, None],
        "i": [1, None, 3],
        "n": [1, 2, 3],
        "s": ["a", None, "c"],
    }
    assert all(type(v) is int for v in columns["n"])
    json.dumps(columns, allow_nan=False)


def test_locate_takes_urls_and_roots_with_a_store(tmp_path: Path) -> None:
    assert locate("postgresql://u:p@h/db") == (None, "postgresql://u:p@h/db")
    with pytest.raises(ValueError, match=r"no tunewise\.db"):
        locate(tmp_path)
    (tmp_path / "tunewise.db").touch()
    assert locate(tmp_path) == (tmp_path.resolve(), None)


def test_versions_name_exactly_the_trials_changed(root: Path, study: StudyHandle) -> None:
    store = StoreView(root)
    try:
        view = store.study("runs")
        assert view is not None and store.study("missing") is None
        first = view.changes(0)
        assert [row[0] for row in first["rows"]] == list(range(9))
        version = first["version"]
        assert view.changes(version)["rows"] == []
        assert view.figures() is view.figures()  # built once per version
        before = view.figures()
        t = studies.start(study, {"x": 0.3, "n": 1, "kind": "a"}, fidelity=1)
        changed = view.changes(version)
        assert changed["version"] == version + 1
        assert [row[0] for row in changed["rows"]] == [t.number]
        assert view.figures() is not before
        assert store.where == str(root.resolve())
    finally:
        store.close()
