"""Schema versions: an old store is refused with how to upgrade it, migrated, and resumed."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, update

import tunewise as tw
from tests.storage.schema_v1 import TRIALS, build_v1_store
from tunewise.cli import main
from tunewise.storage import (
    SCHEMA_VERSION,
    Limits,
    SchemaVersionError,
    StorageError,
    Store,
    migrate,
    schema,
    storage_url,
)
from tunewise.storage.migrations import STEPS
from tunewise.trial import Suggestion, TrialStatus

SPACE = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 4))
STUDY = "old-study"


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL with no store yet: a SQLite file in tmp_path, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return storage_url(root=tmp_path)
    return storage_url(storage=request.getfixturevalue("fresh_postgres_url"))


def test_steps_lead_from_version_1_to_the_current_one() -> None:
    assert [step.version for step in STEPS] == list(range(1, SCHEMA_VERSION))


def test_old_store_is_refused_then_migrated_and_resumed(empty_url: str, tmp_path: Path) -> None:
    build_v1_store(empty_url, SPACE, STUDY)
    sqlite = empty_url.startswith("sqlite")
    location = str(tmp_path) if sqlite else empty_url

    with pytest.raises(SchemaVersionError) as refused:
        Store.at(storage=empty_url)
    message = str(refused.value)
    assert "schema version 1, written by an older tunewise" in message
    assert "tunewise migrate" in message and "tunewise.storage.migrate(url)" in message
    if sqlite:
        assert f"`tunewise migrate {tmp_path}`" in message

    done = migrate(location)
    assert done[-1] == "schema 1 -> 2: add tw_trials.device (the accelerator a trial ran on)"
    if sqlite:
        backup = tmp_path / "tunewise.db.v1.bak"
        assert done[0] == f"backed up {tmp_path / 'tunewise.db'} to {backup}"
        with sqlite3.connect(backup) as old:  # the backup is the untouched version-1 store
            assert old.execute("SELECT value FROM tw_meta").fetchone() == ("1",)
            assert old.execute("SELECT count(*) FROM tw_trials").fetchone() == (len(TRIALS),)
    assert migrate(location) == []  # a current store is left alone

    store = Store.at(storage=empty_url)
    columns = inspect(store.engine).get_columns("tw_trials")
    assert [c["name"] for c in columns] == [c.name for c in schema.trials.columns]
    assert columns[-1]["type"].length == 64 and columns[-1]["nullable"]
    study = store.study(STUDY)
    study.refresh()
    trials = study.trials()
    assert [(t.status.value, t.objective, t.cost, t.worker) for t in trials] == list(TRIALS)
    assert all(t.device is None for t in trials)
    assert trials[0].learning_curve == ((1.0, 0.5),) and trials[1].error == "boom"
    totals = study.totals()
    assert (totals.next_number, totals.n_live, totals.n_finished) == (4, 4, 2)

    # The study resumes: the queued trial runs, new trials are claimed, dead workers recovered.
    queued = study.claim_pending(worker="new", limits=Limits(), device="cuda:0")
    assert (queued.number, queued.device) == (3, "cuda:0")
    claim = study.claim(
        Suggestion(config={"x": 0.9}, slot="sample:4", fidelity=4),
        worker="new",
        limits=Limits(),
        device="cuda:1",
    )
    assert (claim.trial.number, claim.trial.device) == (4, "cuda:1")
    assert study.recover_worker("old-worker", max_retries=1, reason="gone") == [2]
    for number in (3, 4):
        study.finish(number, worker="new", status=TrialStatus.SUCCEEDED, objective=0.1, cost=1.0)
    totals = study.totals()
    assert (totals.next_number, totals.n_live, totals.n_finished) == (6, 5, 4)
    assert totals.cost_spent == 5.0
    store.close()


def test_cli_migrate_backs_up_reports_and_is_then_a_no_op(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build_v1_store(storage_url(root=tmp_path), SPACE, STUDY)
    assert main(["migrate", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"backed up {tmp_path / 'tunewise.db'} to {tmp_path / 'tunewise.db.v1.bak'}" in out
    assert "schema 1 -> 2: add tw_trials.device" in out
    assert "now at schema version 2" in out
    assert main(["migrate", str(tmp_path / "tunewise.db")]) == 0
    assert "already at schema version 2; nothing to do" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.glob("*.bak")) == ["tunewise.db.v1.bak"]
    assert main(["migrate", str(tmp_path / "missing")]) == 2
    assert "no tunewise store" in capsys.readouterr().err


def test_store_from_a_newer_tunewise_says_to_upgrade_tunewise(empty_url: str) -> None:
    with Store.at(storage=empty_url) as store, store.engine.begin() as conn:
        conn.execute(update(schema.meta).values(value=str(SCHEMA_VERSION + 1)))
    with pytest.raises(SchemaVersionError, match="written by a newer tunewise") as refused:
        Store.at(storage=empty_url)
    assert "pip install --upgrade tunewise" in str(refused.value)
    with pytest.raises(SchemaVersionError, match="newer tunewise"):
        migrate(empty_url)


def test_migrate_refuses_what_is_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no tunewise store"):
        migrate(tmp_path)  # a folder without tunewise.db
    assert list(tmp_path.iterdir()) == []  # and nothing was created there
