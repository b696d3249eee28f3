"""Result: the trial DataFrame's columns, best_config with its fidelity, counts as a property."""

from __future__ import annotations

from pathlib import Path

import tunewise as tw
from tests.conftest import unique_name


def _with_info(config: dict, trial: tw.TrialContext) -> dict:
    return {"objective": config["x"] / trial.fidelity, "info": {"acc": 1 - config["x"]}}


def _study(tmp_path) -> tw.Result:  # type: ignore[name-defined]
    space = tw.Space(x=tw.Float(0.0, 1.0), y=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 9))
    return tw.run(
        _with_info,
        space,
        root=tmp_path / "r",
        budget=6,
        optimizer="random_search",
        seed=0,
        progress=False,
    )


def test_info_is_flattened_and_config_columns_come_first(tmp_path) -> None:
    frame = _study(tmp_path).trials
    columns = list(frame.columns)
    assert "info" not in columns  # DataFrame.info is a method: no column hides it
    assert callable(frame.info)
    assert columns[:5] == ["number", "config.x", "config.y", "status", "objective"]
    assert "info.acc" in columns
    assert (frame["info.acc"] == 1 - frame["config.x"]).all()


def test_best_config_includes_the_fidelity(tmp_path) -> None:
    result = _study(tmp_path)
    best = result.best
    assert best is not None
    assert result.best_config == {**best.config, "epochs": best.fidelity}


def test_counts_is_a_property(tmp_path) -> None:
    counts = _study(tmp_path).counts
    assert counts["succeeded"] == 6 and counts["failed"] == 0


def test_load_takes_a_store_url_first(tmp_path, storage_url, monkeypatch) -> None:
    study = unique_name()
    space = tw.Space(x=tw.Float(0.0, 1.0))
    tw.run(
        lambda c, t: c["x"],
        space,
        root=tmp_path / "trials",
        storage=storage_url,
        study=study,
        budget=2,
        optimizer="random_search",
        progress=False,
    )
    monkeypatch.chdir(tmp_path)
    result = tw.load(storage_url, study=study)
    assert result.counts["succeeded"] == 2 and result.root is None
    made = {p.name for p in Path.cwd().iterdir() if not p.name.startswith("tunewise.db")}
    made.discard("trials")
    assert not made  # no folder named after the URL
    result.close()
