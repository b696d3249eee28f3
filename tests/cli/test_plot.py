"""``tunewise plot``: one file per figure of a stored study, from a root folder or a URL."""

from __future__ import annotations

from pathlib import Path

import pytest
from matplotlib import image

import tunewise as tw
from tests.conftest import unique_name
from tunewise.cli import main

PLOTS = ("incumbent_budget", "incumbent_time", "learning_curves", "parallel_coordinates", "rungs")


def evaluate(config: dict[str, object], trial: tw.TrialContext) -> float:
    x = float(config["x"])  # type: ignore[arg-type]
    for step in range(1, int(trial.fidelity) + 1):  # type: ignore[arg-type]
        trial.report(step, (x - 0.3) ** 2 + 1.0 / step)
    return (x - 0.3) ** 2 + 1.0 / float(trial.fidelity)  # type: ignore[arg-type]


SPACE = tw.Space(x=tw.Float(0.0, 1.0), lr=tw.Float(1e-4, 1.0, log=True), epochs=tw.Fidelity(1, 9))


def hyperband(root: Path, evaluations: int, **where: str) -> None:
    budget = tw.Budget(evaluations=evaluations)
    tw.run(evaluate, SPACE, root=root, optimizer="hyperband", budget=budget, seed=0, **where)


@pytest.mark.slow
def test_plot_writes_every_figure_as_a_readable_png(tmp_path, capsys) -> None:
    root = tmp_path / "hb"
    hyperband(root, 30)
    assert main(["plot", str(root), "--out", str(tmp_path / "figs")]) == 0
    printed = capsys.readouterr().out.split()
    expected = [tmp_path / "figs" / f"{name}.png" for name in (*PLOTS, "importance")]
    assert [Path(p) for p in printed] == expected
    for path in expected:
        pixels = image.imread(path)
        assert pixels.ndim == 3 and pixels.shape[0] > 200 and pixels.shape[1] > 300
        assert pixels.std() > 0.01  # something is drawn


@pytest.mark.slow
def test_plot_defaults_to_root_plots_and_takes_pdf_and_svg(tmp_path, capsys) -> None:
    root = tmp_path / "hb"
    hyperband(root, 12)
    assert main(["plot", str(root), "--format", "svg", "--importance", "fanova"]) == 0
    for name in (*PLOTS, "importance"):
        assert (root / "plots" / f"{name}.svg").read_text().lstrip().startswith("<?xml")
    assert main(["plot", str(root), "--out", str(tmp_path / "pdf"), "--format", "pdf"]) == 0
    assert (tmp_path / "pdf" / "rungs.pdf").read_bytes().startswith(b"%PDF")


def test_too_few_trials_skip_importance_with_a_note(tmp_path, capsys) -> None:
    root = tmp_path / "few"
    hyperband(root, 4)
    assert main(["plot", str(root), "--out", str(tmp_path / "figs")]) == 0
    out = capsys.readouterr().out
    assert "importance skipped: parameter importance needs at least 10 succeeded trials" in out
    assert sorted(p.stem for p in (tmp_path / "figs").iterdir()) == sorted(PLOTS)


def test_plot_from_a_storage_url_needs_out(tmp_path, storage_url, capsys) -> None:
    name = unique_name("plot")
    hyperband(tmp_path / "work", 12, storage=storage_url, study=name)
    assert main(["plot", storage_url, "--study", name]) == 2
    assert "--out DIR is required unless ROOT_OR_URL is a root folder" in capsys.readouterr().err
    out = tmp_path / "figs"
    assert main(["plot", storage_url, "--study", name, "--out", str(out)]) == 0
    assert image.imread(out / "rungs.png").shape[2] in (3, 4)


def test_plot_of_a_folder_without_a_study_says_so(tmp_path, capsys) -> None:
    assert main(["plot", str(tmp_path), "--out", str(tmp_path / "figs")]) == 2
    assert "no tunewise study" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plot", str(tmp_path), "--format", "gif"])
