"""``tw.run(transfer_from=...)`` and ``tunewise run --transfer-from`` end to end on real stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tests.transfer.objectives import bowl
from tunewise.cli import main
from tunewise.runtime.trials_io import export_trials
from tunewise.storage import StudyMismatchError
from tunewise.storage.locations import open_store

OLD = tw.Space(
    lr=tw.Float(1e-4, 1e-1, log=True),
    w=tw.Float(0.0, 1.0),
    opt=tw.Categorical(["sgd", "adam"]),
    dropout=tw.Float(0.0, 0.5),
)
NEW = tw.Space(
    lr=tw.Float(1e-5, 1e-2, log=True),
    w=tw.Float(0.0, 1.0),
    opt=tw.Categorical(["sgd", "adam", "rmsprop"]),
    extra=tw.Float(0.0, 1.0),
)


@pytest.fixture
def old_root(tmp_path: Path) -> Path:
    root = tmp_path / "v1"
    tw.run(bowl, OLD, root=root, optimizer="random_search", budget=40, seed=0, progress=False)
    return root


def test_a_changed_space_starts_from_the_old_root_and_says_what_carried_over(
    old_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = tw.run(
        bowl,
        NEW,
        root=tmp_path / "v2",
        optimizer="random_search",
        budget=6,
        seed=1,
        transfer_from=old_root,
    )
    err = capsys.readouterr().err
    assert "tunewise: transfer from" in err and "old configurations mapped (40 trials)" in err
    assert "shared: lr, w, opt" in err and "new (filled): extra" in err
    assert "dropped (not in the new space): dropout" in err
    assert "with lr outside the shared range [0.0001, 0.01]" in err
    first = result.trial_list[0]
    assert first.info["sampled_from"] == "transfer_best"
    old_best = tw.load(old_root).best
    assert old_best is not None and old_best.config["lr"] <= 1e-2
    assert {k: first.config[k] for k in ("lr", "w", "opt")} == {
        k: old_best.config[k] for k in ("lr", "w", "opt")
    }
    assert [t.info["sampled_from"] for t in result.trial_list].count("transfer_model") >= 2

    main(["status", str(tmp_path / "v2")])
    out = capsys.readouterr().out
    assert "optimizer: random_search with transfer (best_first+model)" in out
    assert "transfer: shared: lr, w, opt" in out
    assert "transfer: trials 1 the old incumbent" in out


def test_resuming_keeps_the_stored_transfer_even_when_the_old_study_grew(
    old_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new_root = tmp_path / "v2"
    options = dict(optimizer="random_search", seed=1, progress=False)
    tw.run(bowl, NEW, root=new_root, budget=4, transfer_from=old_root, **options)
    tw.run(bowl, OLD, root=old_root, optimizer="random_search", budget=60, seed=0, progress=False)
    result = tw.run(bowl, NEW, root=new_root, budget=8, transfer_from=old_root, **options)
    assert len(result.trial_list) == 8
    again = tw.run(bowl, NEW, root=new_root, budget=10, **options)  # no transfer_from
    assert len(again.trial_list) == 10
    assert again.record.optimizer["name"] == "transfer"
    assert [t.info["sampled_from"] for t in again.trial_list].count("transfer_best") == 1


def test_several_workers_share_one_transfer(old_root: Path, tmp_path: Path) -> None:
    result = tw.run(
        bowl,
        NEW,
        root=tmp_path / "v2",
        optimizer="bayesian_optimization",
        budget=8,
        workers=2,
        seed=2,
        progress=False,
        transfer_from=old_root,
        transfer="best_first+model",
    )
    trials = result.trial_list
    assert len(trials) == 8 and all(t.status is tw.TrialStatus.SUCCEEDED for t in trials)
    sources = [t.info["sampled_from"] for t in trials]
    assert sources.count("transfer_best") == 1
    assert len({tuple(sorted(t.config.items())) for t in trials}) == 8


def test_sources_as_a_url_with_a_study_name_a_trials_file_or_a_result(
    old_root: Path, tmp_path: Path
) -> None:
    url = f"sqlite:///{old_root / 'tunewise.db'}#v1"
    exported = tmp_path / "v1.jsonl"
    with tw.load(old_root) as old:
        export_trials(old, exported)
        for n, source in enumerate([url, exported, old, [old_root, exported]]):
            result = tw.run(
                bowl,
                NEW,
                root=tmp_path / f"v2-{n}",
                optimizer="random_search",
                budget=1,
                seed=3,
                progress=False,
                transfer_from=source,
                transfer="best_first",
            )
            assert result.trial_list[0].info["sampled_from"] == "transfer_best"


def test_nothing_to_map_is_an_error_that_creates_no_study(old_root: Path, tmp_path: Path) -> None:
    other = tw.Space(depth=tw.Integer(1, 8))
    with pytest.raises(ValueError, match="nothing can be mapped"):
        tw.run(bowl, other, root=tmp_path / "v2", budget=3, transfer_from=old_root)
    with open_store(root=tmp_path / "v2") as store:
        assert store.study_names() == []
    with pytest.raises(ValueError, match="holds no study"):
        tw.run(bowl, NEW, root=tmp_path / "v3", budget=3, transfer_from=tmp_path / "nowhere")


def test_the_command_line_takes_transfer_from(
    old_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space_file = tmp_path / "space.yaml"
    space_file.write_text(NEW.to_yaml())
    code = main(
        [
            "run",
            "tests.transfer.objectives:bowl",
            "--space",
            str(space_file),
            "--root",
            str(tmp_path / "v2"),
            "--budget",
            "5",
            "--optimizer",
            "random_search",
            "--transfer-from",
            str(old_root),
            "--transfer",
            "only_new",
        ]
    )
    assert code == 0
    assert "fixed at the old incumbent: lr=" in capsys.readouterr().err
    result = tw.load(tmp_path / "v2")
    assert len({t.config["lr"] for t in result.trial_list}) == 1  # fixed at the old best


def test_ask_and_tell_studies_transfer_too(old_root: Path, tmp_path: Path) -> None:
    with tw.Study(root=tmp_path / "v2", space=NEW, seed=4, transfer_from=old_root) as study:
        assert any(line.startswith("shared: lr, w, opt") for line in study.transfer_notes)
        trial = study.ask()
        study.tell(trial, bowl(dict(trial.config), trial))
    with tw.Study(root=tmp_path / "v2") as again:  # reopened: the stored layer, no old study
        again.tell(trial := again.ask(), bowl(dict(trial.config), trial))
    sources = [t.info["sampled_from"] for t in tw.load(tmp_path / "v2").trial_list]
    assert sources[0] == "transfer_best" and sources[1] in {"transfer_model", "random"}


def test_the_dashboard_shows_the_base_optimizer_and_what_carried_over(
    old_root: Path, tmp_path: Path
) -> None:
    from tunewise.dashboard.data import StoreView

    root = tmp_path / "v2"
    tw.run(bowl, NEW, root=root, optimizer="tpe", budget=2, progress=False, transfer_from=old_root)
    study = StoreView(root).study("v2")
    assert study is not None
    summary = study.summary()
    assert summary["optimizer"] == "tpe" and "ranked" not in summary["optimizer_spec"]
    assert summary["optimizer_spec"]["name"] == "tpe"
    assert any(line.startswith("shared: lr, w, opt") for line in summary["transfer"])
    plain = StoreView(old_root).study("v1")
    assert plain is not None and plain.summary().get("transfer") is None


def test_resuming_with_another_transfer_is_refused_with_a_short_message(
    old_root: Path, tmp_path: Path
) -> None:
    new_root = tmp_path / "v2"

    def again(space: tw.Space, root: Path, **options: Any) -> None:
        tw.run(bowl, space, root=root, budget=3, seed=1, progress=False, **options)

    again(NEW, new_root, optimizer="random_search", transfer_from=old_root)
    with pytest.raises(StudyMismatchError, match="transfer='best_first\\+model', not 'model'"):
        again(NEW, new_root, optimizer="random_search", transfer_from=old_root, transfer="model")
    with pytest.raises(StudyMismatchError, match="transfers over the optimizer") as raised:
        again(NEW, new_root, optimizer="tpe")
    assert "ranked" not in str(raised.value)  # not the stored old configurations
    with pytest.raises(StudyMismatchError, match="exists without a transfer"):
        again(OLD, old_root, optimizer="random_search", transfer_from=new_root)
