"""The dashboard's HTTP interface over real stores: its JSON equals what the store holds."""

from __future__ import annotations

import io
import math
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import unique_name
from tests.dashboard import studies
from tunewise.dashboard.app import create_app
from tunewise.runtime.paths import trial_directory
from tunewise.storage import StudyHandle
from tunewise.trial import TrialStatus, incumbent

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def client(location: str | Path, study: str | None = None) -> TestClient:
    return TestClient(create_app(location, study=study))


def pages_of(name: str, numbers: list[int]) -> list[str]:
    """Every GET path of the app for study ``name``."""
    base = f"/study/{name}"
    api = f"/api/study/{name}"
    return [
        "/",
        "/studies",
        f"/compare?study={name}",
        base,
        f"{base}/export.csv",
        f"{base}/export.parquet",
        "/api/studies",
        f"/api/compare?study={name}",
        *(f"{api}/{part}" for part in ("summary", "figures", "importance", "trials", "curves")),
        f"{api}/changes?since=0",
        *(f"{base}/trial/{n}" for n in numbers),
        *(f"{api}/trial/{n}" for n in numbers),
    ]


def test_studies_json_is_what_the_store_holds(root: Path, study: StudyHandle) -> None:
    data = client(root).get("/api/studies").json()
    (summary,) = data["studies"]
    trials = study.trials()
    best = incumbent(trials)
    assert best is not None and best.number == 8
    assert summary["name"] == "runs"
    assert summary["optimizer"] == "hyperband"
    assert summary["counts"] == {s.value: sum(t.status is s for t in trials) for s in TrialStatus}
    assert summary["counts"]["failed"] == 1
    assert summary["best"] == {"number": 8, "objective": 0.2, "fidelity": 9}
    assert summary["budget"] == [{"name": "evaluations", "used": 9.0, "total": 100}]
    assert summary["started"] == min(t.started_at for t in trials if t.started_at is not None)


def test_run_stores_what_auto_resolved_to(tmp_path: Path) -> None:
    import tunewise as tw

    root = tmp_path / "auto"
    tw.run(
        lambda config, trial: config["x"],
        studies.SPACE,
        root=root,
        budget=tw.Budget(evaluations=3),
        optimizer="auto",
        seed=1,
        progress=False,
    )
    (summary,) = client(root).get("/api/studies").json()["studies"]
    assert summary["optimizer"] == "hyperband"  # a fidelity and no priors
    assert summary["counts"]["succeeded"] == 3


def test_figures_are_the_store_trials_incumbent_trace(root: Path, study: StudyHandle) -> None:
    figures = client(root).get("/api/study/runs/figures").json()
    trials = study.trials()
    trace = figures["trace"]
    finished = sorted((t for t in trials if t.finished), key=lambda t: t.finished_at or 0)
    assert trace["number"] == [t.number for t in finished]
    # the incumbent after each finished trial, by tunewise.trial.incumbent over the prefix
    expected = [incumbent(finished[: i + 1]) for i in range(len(finished))]
    assert trace["best"] == [None if b is None else b.objective for b in expected]
    assert trace["best_fidelity"] == [None if b is None else b.fidelity for b in expected]
    # budget: fidelity 1/9 for six, then +2/9 for two continuations, then +6/9
    assert trace["budget"][-1] == pytest.approx(study.totals().fidelity_spent)
    assert trace["budget"][-1] == pytest.approx((6 * 1 + 2 * 2 + 6) / 9)
    summary = {
        f: (n, p)
        for f, n, p in zip(
            *(figures["rung_summary"][c] for c in ("fidelity", "trials", "promoted")), strict=True
        )
    }
    assert summary == {1.0: (6, 2), 3.0: (2, 1), 9.0: (1, 0)}
    rungs = figures["rungs"]
    promoted = dict(zip(rungs["number"], rungs["promoted_to"], strict=True))
    assert promoted[3] == 6 and promoted[1] == 7 and promoted[6] == 8 and promoted[0] is None
    assert set(rungs["sampled_from"]) == {"random", "promotion"}
    parallel = figures["parallel"]
    succeeded = [t for t in trials if t.status is TrialStatus.SUCCEEDED]
    assert parallel["number"] == [t.number for t in succeeded]
    assert parallel["x"] == [t.config["x"] for t in succeeded]
    assert parallel["kind"] == [t.config["kind"] for t in succeeded]
    assert figures["categorical"] == ["kind"]


def test_trial_table_and_curves_match_the_store(root: Path, study: StudyHandle) -> None:
    app = client(root)
    table = app.get("/api/study/runs/trials").json()
    columns = table["columns"]
    rows = {row[0]: dict(zip(columns, row, strict=True)) for row in table["rows"]}
    for t in study.trials():
        row = rows[t.number]
        assert row["status"] == t.status.value
        assert row["objective"] == t.objective
        assert row["fidelity"] == t.fidelity
        assert row["previous_trial"] == t.previous_trial
        assert row["sampled_from"] == t.info["sampled_from"]
        assert [row[f"config.{k}"] for k in ("x", "n", "kind")] == [
            t.config[k] for k in ("x", "n", "kind")
        ]
    curves = app.get("/api/study/runs/curves").json()["curves"]
    for t in study.trials():
        if t.learning_curve:
            assert curves[str(t.number)]["steps"] == [s for s, _ in t.learning_curve]
            assert curves[str(t.number)]["values"] == [v for _, v in t.learning_curve]
        else:
            assert str(t.number) not in curves


def test_trial_page_shows_chain_traceback_and_folder(root: Path, study: StudyHandle) -> None:
    app = client(root)
    detail = app.get("/api/study/runs/trial/8").json()
    assert detail["chain"] == [3, 6, 8]
    assert detail["config"] == dict(study.trial(8).config)  # type: ignore[union-attr]
    assert detail["directory"] == str(trial_directory(root, "runs", 8))
    assert detail["learning_curve"]["steps"] == list(range(4, 10))
    html = app.get("/study/runs/trial/8").text
    assert str(trial_directory(root, "runs", 8)) in html
    assert re.search(
        r'href="/study/runs/trial/3">3</a> → <a href="/study/runs/trial/6">6</a>', html
    )
    failed = app.get("/study/runs/trial/4").text
    assert "Traceback (most recent call last):\n  boom\nValueError: x" in failed
    assert app.get("/study/runs/trial/99").status_code == 404
    assert app.get("/api/study/nope/summary").status_code == 404


def test_changes_returns_only_the_trials_changed_since(root: Path, study: StudyHandle) -> None:
    app = client(root)
    version = app.get("/api/study/runs/summary").json()["version"]
    unchanged = app.get(f"/api/study/runs/changes?since={version}").json()
    assert unchanged["version"] == version and unchanged["rows"] == []
    t = studies.start(study, {"x": 0.5, "n": 2, "kind": "a"}, fidelity=9)
    study.heartbeat(t.number, worker=studies.WORKER, learning_curve=[(1, 0.6), (2, 0.4)])
    running = app.get(f"/api/study/runs/changes?since={version}").json()
    assert running["version"] > version
    assert [row[0] for row in running["rows"]] == [t.number]
    assert running["rows"][0][1] == "running"
    assert running["curves"][str(t.number)]["values"] == [0.6, 0.4]
    assert running["summary"]["counts"]["running"] == 1
    studies.finish(study, t.number, 0.1, curve=[(1, 0.6), (2, 0.4), (3, 0.1)])
    done = app.get(f"/api/study/runs/changes?since={running['version']}").json()
    assert [row[0] for row in done["rows"]] == [t.number]
    assert done["summary"]["best"] == {"number": t.number, "objective": 0.1, "fidelity": 9}
    assert app.get("/api/study/runs/changes?since=x").status_code == 400


def test_importance_says_how_many_trials_it_needs(root: Path, study: StudyHandle) -> None:
    app = client(root)
    few = app.get("/api/study/runs/importance").json()
    assert few["importance"] is None and "10" in few["note"]
    for i in range(12):
        t = studies.start(study, {"x": i / 12, "n": 1 + i % 8, "kind": "ab"[i % 2]}, fidelity=9)
        studies.finish(study, t.number, (i / 12 - 0.5) ** 2)
    enough = app.get("/api/study/runs/importance").json()
    assert enough["note"] is None
    assert set(enough["importance"]) == {"x", "n", "kind"}
    assert math.isclose(sum(enough["importance"].values()), 1.0)


def test_only_get_is_allowed(root: Path, study: StudyHandle) -> None:
    app = client(root)
    for path in [*pages_of("runs", [0, 4, 8]), "/static/dashboard.js", "/static/plotly.min.js"]:
        assert app.get(path).status_code == 200, path
        for method in ("POST", "PUT", "PATCH", "DELETE"):
            assert app.request(method, path).status_code == 405, (method, path)


def test_exports_round_trip(root: Path, study: StudyHandle) -> None:
    app = client(root)
    csv = pd.read_csv(io.StringIO(app.get("/study/runs/export.csv").text))
    parquet = pd.read_parquet(io.BytesIO(app.get("/study/runs/export.parquet").content))
    for frame in (csv, parquet):
        assert list(frame["number"]) == [t.number for t in study.trials()]
        for t in study.trials():
            row = frame[frame["number"] == t.number].iloc[0]
            assert row["status"] == t.status.value
            assert row["fidelity"] == t.fidelity
            assert row["config.x"] == t.config["x"] and row["config.kind"] == t.config["kind"]
            assert row["info.sampled_from"] == t.info["sampled_from"]
            if t.objective is None:
                assert pd.isna(row["objective"])
            else:
                assert row["objective"] == t.objective
        assert frame.loc[frame["number"] == 4, "error"].iloc[0].endswith("ValueError: x")


def test_a_folder_without_a_store_is_refused_and_left_alone(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no tunewise study"):
        create_app(tmp_path)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="no study 'other'"):
        create_app(f"sqlite:///{tmp_path / 'x.db'}", study="other")


def test_postgres_password_appears_nowhere(postgres_url: str) -> None:
    """A store URL's password is on no page, in no JSON and in no export."""
    secret = "s3cret-Pa55"
    user, rest = postgres_url.split("://", 1)[1].split("@", 1)
    url = f"postgresql://{user.split(':')[0]}:{secret}@{rest}"
    name = unique_name("dash")
    handle = studies.create(storage=url, name=name)
    try:
        studies.rung_study(handle)
        app = client(url, study=name)
        seen = []
        for path in pages_of(name, [0, 4, 8]):
            response = app.get(path)
            assert response.status_code == 200, path
            seen.append(response.content)
            assert secret.encode() not in response.content, path
            assert secret not in str(response.headers), path
        assert app.get("/", follow_redirects=False).headers["location"] == f"/study/{name}"
        summary = app.get(f"/api/study/{name}/summary").json()
        assert summary["counts"]["succeeded"] == 8 and summary["best"]["objective"] == 0.2
        assert "***" in app.get("/api/studies").json()["where"]
    finally:
        handle.store.close()
