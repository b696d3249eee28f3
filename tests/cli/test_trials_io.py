"""``tunewise export`` and ``tunewise import``, end to end through ``tunewise.cli.main``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tunewise as tw
from tunewise.cli import EXIT_ERROR, main


@pytest.fixture
def old_root(tmp_path: Path, space_file: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """A study of 8 trials (some failed) made by ``tunewise run``."""
    root = tmp_path / "old"
    argv = ["run", "tests.runtime.objectives:fails_on_negative", "--space", str(space_file)]
    argv += ["--root", str(root), "--budget", "8", "--seed", "1", "--quiet"]
    assert main([*argv, "--optimizer", "random_search"]) == 0
    capsys.readouterr()
    return root


def test_export_then_import_into_a_new_root_once(old_root: Path, tmp_path, capsys) -> None:
    out = tmp_path / "old.jsonl"
    assert main(["export", str(old_root), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"wrote 8 trials of study 'old' to {out}"
    assert json.loads(out.read_text().splitlines()[0])["study"] == "old"

    new = tmp_path / "new"
    assert main(["import", str(out), str(new)]) == 0
    assert "imported 8 trials into new study 'new' (0 there already" in capsys.readouterr().out
    assert main(["import", str(out), str(new)]) == 0
    assert "imported 0 trials into study 'new' (8 there already" in capsys.readouterr().out

    old, imported = tw.load(old_root), tw.load(new)
    assert [t.config for t in imported.trial_list] == [t.config for t in old.trial_list]
    assert [t.status for t in imported.trial_list] == [t.status for t in old.trial_list]
    assert imported.record.optimizer["name"] == "pibo"  # auto for the file's space (a prior)
    old.close()
    imported.close()


def test_a_csv_export_imports_with_its_space_into_a_store_url(
    old_root: Path, tmp_path, space_file: Path, capsys
) -> None:
    out = tmp_path / "trials.txt"
    assert main(["export", str(old_root), "--out", str(out), "--format", "csv"]) == 0
    assert out.read_text().startswith("number,status,fidelity,objective,")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    capsys.readouterr()
    assert main(["import", str(out), url]) == EXIT_ERROR
    assert "cannot tell the format from the suffix '.txt'" in capsys.readouterr().err
    argv = ["import", str(out), url, "--study", "as-text", "--space", str(space_file)]
    assert main([*argv, "--format", "csv"]) == 0
    assert "imported 8 trials into new study 'as-text'" in capsys.readouterr().out

    csv = tmp_path / "trials.csv"
    out.rename(csv)
    assert main(["import", str(csv), url, "--study", "seeded"]) == EXIT_ERROR
    assert "a CSV file holds no space" in capsys.readouterr().err
    argv = ["import", str(csv), url, "--study", "seeded", "--space", str(space_file)]
    assert main([*argv, "--optimizer", "random_search", "--seed", "4"]) == 0
    assert "imported 8 trials into new study 'seeded'" in capsys.readouterr().out
    assert main(["import", str(csv), url, "--study", "seeded"]) == 0  # its space now
    assert "imported 0 trials into study 'seeded' (8 there already" in capsys.readouterr().out
    result = tw.load(storage=url, study="seeded")
    assert result.record.seed == 4 and result.record.optimizer["name"] == "random_search"
    assert all(t.info["imported_from"]["study"] == "trials" for t in result.trial_list)
    result.close()


def test_import_errors_are_one_line_naming_the_problem(tmp_path, space_file, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    header = {"format": "tunewise-trials", "version": 1, "space": {"x": {"type": "float"}}}
    bad.write_text(json.dumps(header) + "\n")
    assert main(["import", str(bad), str(tmp_path / "new")]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "bad.jsonl, line 1: the header's space is invalid" in err and "Traceback" not in err
    assert main(["import", str(tmp_path / "none.jsonl"), str(tmp_path / "new")]) == EXIT_ERROR
    assert "no trials file" in capsys.readouterr().err
    assert main(["export", str(tmp_path / "nowhere"), "--out", "x.jsonl"]) == EXIT_ERROR
    assert "no tunewise study" in capsys.readouterr().err
