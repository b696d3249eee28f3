"""Attaching a worker to a stored study: everything but the objective comes from the store."""

from __future__ import annotations

import pytest

import tunewise as tw
from tests.runtime import objectives
from tunewise.optimizers import make
from tunewise.runtime.attach import attach, attached
from tunewise.runtime.worker import Settings
from tunewise.storage.locations import open_store, open_study

SPACE = tw.Space(x=tw.Float(-5.0, 5.0))


def make_stored_study(root, *, evaluate: str | None, name: str | None = None) -> str:
    with open_store(root=root) as store:
        store.create_or_open_study(
            name or root.name,
            space=SPACE,
            optimizer=make({"name": "random_search", "use_priors": True}).spec(),
            seed=3,
            budget=tw.Budget(evaluations=4).to_stored(),
            settings=Settings(max_retries=5, evaluate=evaluate).to_stored(),
        )
        return store.url


def test_an_attached_worker_runs_the_stored_optimizer_settings_and_objective(tmp_path) -> None:
    root = tmp_path / "stored"
    root.mkdir()
    url = make_stored_study(root, evaluate="tests.runtime.objectives:quadratic")
    with attached(url, "stored", root=root, name="helper") as worker:
        assert worker.evaluate is objectives.quadratic  # loaded from the stored import path
        assert worker.settings.max_retries == 5
        assert worker.optimizer.spec() == make({"name": "random_search", "use_priors": True}).spec()
        assert worker.run() == 4  # the stored budget
    with tw.load(root) as result:
        assert [t.worker for t in result.trial_list] == ["helper"] * 4


def test_a_given_objective_wins_and_a_missing_one_is_a_clear_error(tmp_path) -> None:
    root = tmp_path / "unnamed"
    root.mkdir()
    make_stored_study(root, evaluate=None)
    study = open_study(root=root)
    try:
        with pytest.raises(ValueError, match="not importable by name; pass --evaluate"):
            attach(study, root=root)
        worker = attach(study, root=root, evaluate=objectives.quadratic)
        assert worker.evaluate is objectives.quadratic
        worker = attach(study, root=root, evaluate="tests.runtime.objectives:quadratic")
        assert worker.evaluate is objectives.quadratic
    finally:
        study.store.close()


def test_open_study_picks_the_named_study_the_roots_or_the_only_one(tmp_path) -> None:
    root = tmp_path / "many"
    root.mkdir()

    def opened(study: str | None = None) -> str:
        handle = open_study(root=root, study=study)
        handle.store.close()
        return handle.name

    make_stored_study(root, evaluate=None, name="other")
    assert opened() == "other"  # not the root's, but the only one
    make_stored_study(root, evaluate=None, name="third")
    with pytest.raises(ValueError, match=r"holds 2 studies \(other, third\); name one"):
        opened()
    make_stored_study(root, evaluate=None)
    assert opened() == "many"
    assert opened("third") == "third"
