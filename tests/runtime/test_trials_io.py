"""Trials files (JSON lines, CSV): round trips of a real study, every validation error, and
importing into a store once (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tunewise as tw
from tests.conftest import unique_name
from tunewise.runtime.trials_io import TrialFileError, export_trials, import_trials, read_trials
from tunewise.storage import StudyMismatchError
from tunewise.storage.locations import open_store, open_study
from tunewise.trial import Trial, TrialStatus

SPACE = tw.Space(
    lr=tw.Float(1e-4, 1e-1, log=True),
    width=tw.Integer(8, 64),
    optimizer=tw.Categorical(["adam", "sgd"]),
    momentum=tw.Float(0.0, 0.9, when={"optimizer": "sgd"}),
    batch=tw.Constant(32),
    epochs=tw.Fidelity(1, 9),
)


def objective(config: dict[str, Any], trial: tw.TrialContext) -> float:
    """Fails for wide networks; reports a curve of one point per epoch."""
    if config["width"] > 56:
        raise ValueError(f"width {config['width']} is too wide")
    value = config["lr"] * (1.0 + config.get("momentum", 0.0))
    for step in range(1, int(trial.fidelity) + 1):
        trial.report(step, value / step)
    return value / trial.fidelity


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> tw.Result:
    """A Hyperband study: several fidelities, continuations (previous_trial), failures, curves."""
    root = tmp_path_factory.mktemp("io") / "old"
    result = tw.run(
        objective, SPACE, root=root, optimizer="hyperband", budget=30, seed=3, progress=False
    )
    trials = result.trial_list
    assert {t.status for t in trials} == {TrialStatus.SUCCEEDED, TrialStatus.FAILED}
    assert any(t.previous_trial is not None for t in trials)
    assert any("momentum" in t.config for t in trials)
    assert len({t.fidelity for t in trials}) > 1
    return result


def _same(read: Trial, stored: Trial, *, times: bool = True) -> None:
    for field in ("number", "config", "status", "fidelity", "objective", "cost", "error"):
        assert getattr(read, field) == getattr(stored, field), field
    assert read.learning_curve == stored.learning_curve
    assert dict(read.info) == dict(stored.info)
    assert read.previous_trial == stored.previous_trial
    assert type(read.fidelity) is type(stored.fidelity)
    assert [type(v) for v in read.config.values()] == [type(v) for v in stored.config.values()]
    if times:
        assert read.retry_of == stored.retry_of
        for name in ("created_at", "started_at", "finished_at"):
            assert getattr(read, name) == pytest.approx(getattr(stored, name), abs=1e-5)


def test_jsonl_round_trip_keeps_every_field_and_the_space(study: tw.Result, tmp_path) -> None:
    path = tmp_path / "old.jsonl"
    assert export_trials(study, path) == len(study.trial_list)
    header = json.loads(path.read_text().splitlines()[0])
    assert header["format"] == "tunewise-trials" and header["version"] == 1
    assert header["study"] == "old" and header["trials"] == len(study.trial_list)
    space, trials = read_trials(path)
    assert space == SPACE
    assert len(trials) == len(study.trial_list)
    for read, stored in zip(trials, study.trial_list, strict=True):
        _same(read, stored)


def test_csv_round_trip_with_the_space(study: tw.Result, tmp_path) -> None:
    path = tmp_path / "old.csv"
    assert export_trials(study, path) == len(study.trial_list)
    header = path.read_text().splitlines()[0].split(",")
    assert header[:7] == [
        "number",
        "status",
        "fidelity",
        "objective",
        "cost",
        "error",
        "previous_trial",
    ]
    assert header[7:12] == [
        f"config.{n}" for n in ("lr", "width", "optimizer", "momentum", "batch")
    ]
    space, trials = read_trials(path, space=SPACE)
    assert space == SPACE
    for read, stored in zip(trials, study.trial_list, strict=True):
        _same(read, stored, times=False)


def test_the_format_can_be_named_and_an_unknown_suffix_is_refused(study, tmp_path) -> None:
    export_trials(study, tmp_path / "old.txt", format="csv")
    assert (tmp_path / "old.txt").read_text().startswith("number,status,")
    with pytest.raises(ValueError, match=r"old\.json.*\.jsonl or \.csv"):
        export_trials(study, tmp_path / "old.json")
    with pytest.raises(ValueError, match="format must be 'jsonl' or 'csv'"):
        export_trials(study, tmp_path / "old.csv", format="xlsx")
    assert not (tmp_path / "old.csv").exists()


def test_export_takes_a_study_handle_and_a_tw_study(study: tw.Result, tmp_path) -> None:
    handle = open_study(root=study.root)
    try:
        assert export_trials(handle, tmp_path / "a.jsonl") == len(study.trial_list)
    finally:
        handle.store.close()
    asked = tw.Study(root=tmp_path / "asked", space=SPACE, optimizer="random_search", seed=0)
    trial = asked.ask()
    assert trial is not None
    asked.tell(trial, 0.5)
    assert export_trials(asked, tmp_path / "b.jsonl") == 1
    _, (read,) = read_trials(tmp_path / "b.jsonl")
    assert read.objective == 0.5 and read.status is TrialStatus.SUCCEEDED
    with pytest.raises(TypeError, match="expected a study handle"):
        export_trials("runs/old", tmp_path / "c.jsonl")  # type: ignore[arg-type]


def test_a_csv_needs_a_space(study: tw.Result, tmp_path) -> None:
    export_trials(study, tmp_path / "old.csv")
    with pytest.raises(TrialFileError, match=r"old\.csv: a CSV file holds no space"):
        read_trials(tmp_path / "old.csv")


# -- validation errors ---------------------------------------------------------------------------


def _record(**change: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "number": 0,
        "status": "succeeded",
        "config": {"lr": 0.01, "width": 16, "optimizer": "adam", "batch": 32},
        "fidelity": 3,
        "objective": 0.5,
    }
    record.update(change)
    return record


def _jsonl(path: Path, *records: Any, header: dict[str, Any] | None = None) -> Path:
    head = {"format": "tunewise-trials", "version": 1, "study": "old", "space": SPACE.to_dict()}
    lines = [json.dumps(head if header is None else header)]
    lines += [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n")
    return path


def _config(**change: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"lr": 0.01, "width": 16, "optimizer": "adam", "batch": 32}
    config.update(change)
    return {k: v for k, v in config.items() if v is not None}


BAD_RECORDS: list[tuple[str, Any, str]] = [
    ("bad JSON", '{"number": 1, ', r"line 3: not valid JSON"),
    ("not an object", "[1, 2]", r"line 3: a trial record must be an object"),
    ("unknown field", _record(number=1, worker="w"), r"line 3: unknown field 'worker'"),
    (
        "unknown parameter",
        _record(number=1, config=_config(depth=3)),
        r"line 3 \(trial 1\): unknown parameter 'depth'",
    ),
    (
        "outside bounds",
        _record(number=1, config=_config(lr=0.5)),
        r"line 3 \(trial 1\): parameter 'lr': value 0\.5 is outside \[0\.0001, 0\.1\]",
    ),
    (
        "not an integer",
        _record(number=1, config=_config(width=16.5)),
        r"line 3 \(trial 1\): parameter 'width': expected an integer",
    ),
    (
        "not a choice",
        _record(number=1, config=_config(optimizer="rmsprop")),
        r"line 3 \(trial 1\): parameter 'optimizer': 'rmsprop' is not among the choices",
    ),
    (
        "missing active parameter",
        _record(number=1, config=_config(optimizer="sgd")),
        r"line 3 \(trial 1\): parameter 'momentum': missing \(active parameter\)",
    ),
    (
        "inactive parameter present",
        _record(number=1, config=_config(momentum=0.5)),
        r"line 3 \(trial 1\): parameter 'momentum': present but inactive",
    ),
    (
        "another constant",
        _record(number=1, config=_config(batch=64)),
        r"line 3 \(trial 1\): parameter 'batch': must equal the constant 32",
    ),
    (
        "fidelity out of range",
        _record(number=1, fidelity=27),
        r"line 3 \(trial 1\): parameter 'epochs': fidelity 27 is outside \[1, 9\]",
    ),
    (
        "no fidelity",
        _record(number=1, fidelity=None),
        r"line 3 \(trial 1\): parameter 'epochs': missing",
    ),
    (
        "fidelity in the config",
        _record(number=1, config=_config(epochs=3)),
        r"line 3 \(trial 1\): parameter 'epochs': the fidelity is not part of a configuration",
    ),
    ("unknown status", _record(number=1, status="done"), r"line 3 \(trial 1\): unknown status"),
    (
        "succeeded without objective",
        _record(number=1, objective=None),
        r"line 3 \(trial 1\): a succeeded trial needs a finite objective, got None",
    ),
    (
        "objective not a number",
        _record(number=1, objective="0.5"),
        r"line 3 \(trial 1\): objective must be a number",
    ),
    ("negative number", _record(number=-1), r"line 3: number must be a whole number >= 0"),
    ("same number twice", _record(), r"line 3: trial number 0 appears twice \(first on line 2\)"),
    (
        "bad curve",
        _record(number=1, learning_curve=[[1, 2, 3]]),
        r"line 3 \(trial 1\): learning_curve must be a list of \[step, value\] pairs",
    ),
    (
        "bad time",
        _record(number=1, started_at="yesterday"),
        r"line 3 \(trial 1\): started_at must be an ISO 8601",
    ),
]


@pytest.mark.parametrize(
    ("record", "message"), [c[1:] for c in BAD_RECORDS], ids=[c[0] for c in BAD_RECORDS]
)
def test_a_bad_record_is_refused_naming_file_line_and_parameter(
    tmp_path, record: Any, message: str
) -> None:
    path = _jsonl(tmp_path / "old.jsonl", _record(), record)
    with pytest.raises(TrialFileError, match=rf"old\.jsonl, {message}"):
        read_trials(path)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"format": "other"}, r"line 1: not a tunewise trials file"),
        (
            {"format": "tunewise-trials", "version": 2, "space": {}},
            r"line 1: trials file version 2; this tunewise reads version 1",
        ),
        (
            {"format": "tunewise-trials", "version": 1, "space": {"x": {"type": "float"}}},
            r"line 1: the header's space is invalid",
        ),
        ({"format": "tunewise-trials", "version": 1}, r"line 1: the header has no space"),
    ],
)
def test_a_bad_header_is_refused(tmp_path, header: dict[str, Any], message: str) -> None:
    path = _jsonl(tmp_path / "old.jsonl", _record(), header=header)
    with pytest.raises(TrialFileError, match=rf"old\.jsonl, {message}"):
        read_trials(path)


def test_an_empty_or_cut_short_file_is_refused(tmp_path) -> None:
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(TrialFileError, match=r"empty\.jsonl: empty file"):
        read_trials(tmp_path / "empty.jsonl")
    head = {"format": "tunewise-trials", "version": 1, "space": SPACE.to_dict(), "trials": 2}
    path = _jsonl(tmp_path / "cut.jsonl", _record(), header=head)
    with pytest.raises(TrialFileError, match=r"announces 2 trials but the file holds 1"):
        read_trials(path)


def test_records_are_validated_against_the_given_space_not_the_files(tmp_path) -> None:
    path = _jsonl(tmp_path / "old.jsonl", _record())
    narrower = tw.Space(**{**SPACE.parameters, "lr": tw.Float(0.05, 0.1)})
    with pytest.raises(TrialFileError, match=r"line 2 \(trial 0\): parameter 'lr': value 0\.01"):
        read_trials(path, space=narrower)
    space, (trial,) = read_trials(path)
    assert space == SPACE and trial.config["lr"] == 0.01


def test_missing_constants_are_filled_and_floats_normalized(tmp_path) -> None:
    config = {"lr": 0.01, "width": 16, "optimizer": "sgd", "momentum": 0}
    _, (trial,) = read_trials(_jsonl(tmp_path / "old.jsonl", _record(config=config)))
    assert dict(trial.config) == {
        "lr": 0.01,
        "width": 16,
        "optimizer": "sgd",
        "momentum": 0.0,
        "batch": 32,
    }
    assert type(trial.config["momentum"]) is float


def _csv(path: Path, text: str) -> Path:
    path.write_text(text.lstrip())
    return path


def test_a_hand_written_csv_is_read_by_parameter_type(tmp_path) -> None:
    path = _csv(
        tmp_path / "old.csv",
        """
config.lr,config.width,config.optimizer,config.momentum,fidelity,objective
1e-2,16,adam,,9,0.25
0.001,32.0,sgd,0.5,3,0.5
""",
    )
    _, trials = read_trials(path, space=SPACE)
    assert [t.number for t in trials] == [0, 1]
    assert [t.status for t in trials] == [TrialStatus.SUCCEEDED] * 2
    assert dict(trials[1].config) == {
        "lr": 0.001,
        "width": 32,
        "optimizer": "sgd",
        "momentum": 0.5,
        "batch": 32,
    }
    assert trials[0].fidelity == 9 and type(trials[0].fidelity) is int


def test_csv_choices_match_by_their_text() -> None:
    space = tw.Space(
        flag=tw.Categorical([True, False]), rate=tw.Categorical([0.1, 0.5]), n=tw.Constant(3)
    )
    from tunewise.transfer.records import parameter_value

    assert parameter_value(space["flag"], "False") is False
    assert parameter_value(space["flag"], "true") is True
    assert parameter_value(space["rate"], "1e-1") == 0.1
    assert parameter_value(space["n"], "3") == 3
    with pytest.raises(ValueError, match=r"'0\.2' is not among the choices \[0\.1, 0\.5\]"):
        parameter_value(space["rate"], "0.2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "config.lr,config.depth,objective\n0.01,3,1\n",
            r"line 1: column 'config\.depth': unknown",
        ),
        (
            "config.epochs,objective\n3,1\n",
            r"line 1: column 'config\.epochs': the fidelity goes in the 'fidelity'",
        ),
        ("config.lr,loss\n0.01,1\n", r"line 1: unknown column 'loss'"),
        ("objective,objective\n1,1\n", r"line 1: column 'objective' appears twice"),
        (
            "config.lr,config.width,config.optimizer,fidelity,objective\n0.01,big,adam,3,1\n",
            r"line 2: parameter 'width': expected an integer, got 'big'",
        ),
        (
            "config.lr,config.width,config.optimizer,fidelity,objective\n0.01,8,sgd,3,1\n",
            r"line 2 \(trial 0\): parameter 'momentum': missing \(active parameter\)",
        ),
        (
            "config.lr,config.width,config.optimizer,fidelity,objective\n0.01,8,adam,3,low\n",
            r"line 2: objective must be a number, got 'low'",
        ),
        (
            "config.lr,config.width,config.optimizer,fidelity,objective\n0.01,8,adam,3\n",
            r"line 2: 4 cells, but the header has 5",
        ),
        (
            "config.lr,config.width,config.optimizer,fidelity,info\n0.01,8,adam,3,{x}\n",
            r"line 2: info is not valid JSON",
        ),
    ],
)
def test_a_bad_csv_is_refused_naming_line_and_parameter(tmp_path, text: str, message: str) -> None:
    path = _csv(tmp_path / "old.csv", text)
    with pytest.raises(TrialFileError, match=rf"old\.csv, {message}"):
        read_trials(path, space=SPACE)


# -- import --------------------------------------------------------------------------------------


def test_import_creates_a_study_once_with_curves_info_and_lineage(
    study: tw.Result, tmp_path
) -> None:
    path = tmp_path / "old.jsonl"
    export_trials(study, path)
    report = import_trials(path, root=tmp_path / "new")
    n = len(study.trial_list)
    assert (report.study, report.imported, report.skipped_present, report.created) == (
        "new",
        n,
        0,
        True,
    )
    again = import_trials(path, root=tmp_path / "new")
    assert (again.imported, again.skipped_present, again.created) == (0, n, False)

    new = tw.load(tmp_path / "new")
    assert new.space == SPACE
    assert new.record.optimizer == study.record.optimizer  # auto: hyperband for this space
    assert len(new.trial_list) == n
    numbers = {}
    for old, got in zip(study.trial_list, new.trial_list, strict=True):
        assert got.info["imported_from"] == {
            "file": str(path),
            "study": "old",
            "number": old.number,
        }
        assert got.slot == f"imported:old:{old.number}"
        for field in ("config", "status", "fidelity", "objective", "cost", "error"):
            assert getattr(got, field) == getattr(old, field), field
        assert got.learning_curve == old.learning_curve
        assert {k: v for k, v in got.info.items() if k != "imported_from"} == dict(old.info)
        numbers[old.number] = got.number
        if old.previous_trial is not None:
            assert got.previous_trial == numbers[old.previous_trial]
    assert new.totals.fidelity_spent == pytest.approx(study.totals.fidelity_spent)
    new.close()


def test_tw_run_continues_an_imported_study(study: tw.Result, tmp_path) -> None:
    export_trials(study, tmp_path / "old.jsonl")
    import_trials(tmp_path / "old.jsonl", root=tmp_path / "new")
    result = tw.run(objective, SPACE, root=tmp_path / "new", budget=40, progress=False)
    assert len(result.trial_list) == 40
    assert sum("imported_from" in t.info for t in result.trial_list) == 30
    result.close()


def test_import_of_a_csv_needs_the_space_and_names_the_study_after_the_file(
    study: tw.Result, tmp_path
) -> None:
    export_trials(study, tmp_path / "old.csv")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(TrialFileError, match="a CSV file holds no space"):
        import_trials(tmp_path / "old.csv", storage=url)
    report = import_trials(
        tmp_path / "old.csv", storage=url, space=SPACE, optimizer="random_search", seed=5
    )
    assert report.study == "old" and report.imported == len(study.trial_list)
    result = tw.load(storage=url, study="old")
    assert result.record.optimizer["name"] == "random_search" and result.record.seed == 5
    assert result.trial_list[-1].learning_curve == study.trial_list[-1].learning_curve
    result.close()


def test_a_bad_file_imports_nothing(tmp_path) -> None:
    good = _record(number=1)
    path = _jsonl(tmp_path / "old.jsonl", _record(), good, _record(number=2, config=_config(lr=9)))
    with pytest.raises(TrialFileError, match=r"line 4 \(trial 2\): parameter 'lr'"):
        import_trials(path, root=tmp_path / "new")
    assert not (tmp_path / "new").exists()  # not even a folder for it
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(TrialFileError, match=r"line 4 \(trial 2\): parameter 'lr'"):
        import_trials(path, storage=url)
    with open_store(storage=url) as store:
        assert store.study_names() == []


def test_import_into_an_existing_study_validates_against_its_space(tmp_path) -> None:
    narrower = tw.Space(**{**SPACE.parameters, "lr": tw.Float(0.05, 0.1)})
    asked = tw.Study(root=tmp_path / "new", space=narrower, optimizer="random_search", seed=0)
    trial = asked.ask()
    assert trial is not None
    asked.tell(trial, 0.1)
    asked.close()
    path = _jsonl(tmp_path / "old.jsonl", _record(config=_config(lr=0.07)), _record(number=1))
    with pytest.raises(TrialFileError, match=r"line 3 \(trial 1\): parameter 'lr': value 0\.01"):
        import_trials(path, root=tmp_path / "new")
    with pytest.raises(StudyMismatchError, match=r"exists with another space.*lr"):
        import_trials(path, root=tmp_path / "new", space=SPACE)
    result = tw.load(tmp_path / "new")
    assert len(result.trial_list) == 1  # nothing half-imported
    result.close()


def test_unfinished_trials_are_left_out(tmp_path) -> None:
    path = _jsonl(
        tmp_path / "old.jsonl",
        _record(),
        _record(number=1, status="running", objective=None),
        _record(number=2, status="crashed", objective=None),
        _record(number=3, status="failed", objective=None, error="boom"),
    )
    report = import_trials(path, root=tmp_path / "new")
    assert (report.imported, report.skipped_unfinished) == (2, 2)
    result = tw.load(tmp_path / "new")
    assert [t.status.value for t in result.trial_list] == ["succeeded", "failed"]
    assert result.trial_list[1].error == "boom"
    result.close()


def test_another_study_of_the_same_name_is_not_taken_for_the_first(tmp_path) -> None:
    first = _jsonl(tmp_path / "a.jsonl", _record())
    second = _jsonl(tmp_path / "b.jsonl", _record(objective=0.125))
    import_trials(first, root=tmp_path / "new")
    with pytest.raises(StudyMismatchError, match=r"trial 0 of 'old' was imported .* source=NAME"):
        import_trials(second, root=tmp_path / "new")
    report = import_trials(second, root=tmp_path / "new", source="old-b")
    assert report.imported == 1


def test_import_into_each_backend(study: tw.Result, tmp_path, storage_url: str) -> None:
    path = tmp_path / "old.jsonl"
    export_trials(study, path)
    name = unique_name("imported")
    report = import_trials(path, storage=storage_url, study=name)
    assert report.imported == len(study.trial_list)
    assert import_trials(path, storage=storage_url, study=name).skipped_present == report.imported
    result = tw.load(storage=storage_url, study=name)
    assert [t.learning_curve for t in result.trial_list] == [
        t.learning_curve for t in study.trial_list
    ]
    result.close()


def test_an_imported_file_reads_back_as_a_transfer_source(study: tw.Result, tmp_path) -> None:
    from tunewise.transfer.sources import load_sources

    export_trials(study, tmp_path / "old.jsonl")
    (old,) = load_sources(str(tmp_path / "old.jsonl"))
    assert old.space == SPACE and len(old.trials) == len(study.trial_list)


def test_an_imported_trial_stopped_early_counts_the_steps_it_ran(tmp_path) -> None:
    stopped = _record(fidelity=9, info={"stopped_early": True, "stopped_at": 3.0})
    import_trials(_jsonl(tmp_path / "old.jsonl", stopped, _record(number=1)), root=tmp_path / "new")
    result = tw.load(tmp_path / "new")
    assert result.totals.fidelity_spent == pytest.approx(3 / 9 + 3 / 9)
    assert result.trial_list[0].info["stopped_at"] == 3.0
    result.close()


def test_architectures_round_trip_as_their_derivation_strings(tmp_path) -> None:
    ops = ["none", "skip", "conv3x3"]
    grammar = tw.Grammar(
        {"C": ["Cell E E E"], "E": ops}, "C", topologies={"Cell": 3}, primitives=ops
    )
    space = tw.Space(arch=tw.Architecture(grammar), lr=tw.Float(1e-3, 1e-1, log=True))
    asked = tw.Study(root=tmp_path / "nas", space=space, optimizer="random_search", seed=0)
    for value in (0.3, 0.2):
        trial = asked.ask()
        assert trial is not None
        asked.tell(trial, value)
    stored = asked.trials()
    assert export_trials(asked, tmp_path / "nas.jsonl") == 2
    assert export_trials(asked, tmp_path / "nas.csv") == 2
    asked.close()
    assert stored[0].config["arch"].startswith("Cell(")
    line = json.loads((tmp_path / "nas.jsonl").read_text().splitlines()[1])
    assert line["config"]["arch"] == stored[0].config["arch"]
    for _, trials in (
        read_trials(tmp_path / "nas.jsonl"),
        read_trials(tmp_path / "nas.csv", space=space),
    ):
        assert [dict(t.config) for t in trials] == [dict(t.config) for t in stored]
    bad = (tmp_path / "nas.csv").read_text().replace("Cell(", "Block(", 1)
    (tmp_path / "bad.csv").write_text(bad)
    with pytest.raises(TrialFileError, match=r"bad\.csv, line 2 \(trial 0\): parameter 'arch': "):
        read_trials(tmp_path / "bad.csv", space=space)


def _blocks(kind: str) -> list[str]:
    """The ```kind code blocks of docs/trials-format.md."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "trials-format.md").read_text()
    return [part.split("```", 1)[0] for part in text.split(f"```{kind}\n")[1:]]


def test_the_documented_examples_read_as_documented(tmp_path) -> None:
    (jsonl,) = _blocks("json")
    path = tmp_path / "v1.jsonl"
    path.write_text(jsonl)
    space, trials = read_trials(path)
    assert [t.status for t in trials] == [TrialStatus.SUCCEEDED, TrialStatus.FAILED]
    assert trials[0].learning_curve[-1] == (3.0, 0.0027) and trials[1].config["momentum"] == 0.72
    exported, hand_made = _blocks("csv")
    (tmp_path / "exported.csv").write_text(exported)
    _, rows = read_trials(tmp_path / "exported.csv", space=space)
    assert [dict(t.config) for t in rows] == [dict(t.config) for t in trials]
    assert rows[0].info == trials[0].info and rows[1].error == "ValueError: too wide"
    (tmp_path / "hand.csv").write_text(hand_made)
    _, rows = read_trials(tmp_path / "hand.csv", space=space)
    assert [(t.number, t.fidelity, t.objective) for t in rows] == [(0, 9, 0.25), (1, 3, 0.5)]
