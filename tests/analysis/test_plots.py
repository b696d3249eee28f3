"""Figures are written as non-empty PNG and PDF files."""

from __future__ import annotations

from pathlib import Path

from tests.analysis.synthetic import make_table
from tunewise.analysis import plots
from tunewise.analysis.regret import critical_difference, mean_ranks, normalized_regret
from tunewise.analysis.table import load_table

PNG = b"\x89PNG\r\n\x1a\n"


def _written(paths: list[Path]) -> None:
    png, pdf = paths
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 5_000
    assert pdf.read_bytes()[:4] == b"%PDF" and pdf.stat().st_size > 1_000


def test_traces_aggregated_and_per_task(tmp_path: Path) -> None:
    table = load_table(make_table({"A": -1.0, "B": 0.0, "C": 0.5}, n_benchmarks=5, n_seeds=4))
    table["normalized_regret"] = normalized_regret(table)
    _written(plots.plot_traces(table, tmp_path / "t", log_y=True, n_boot=50))
    _written(plots.plot_traces(table, tmp_path / "tb", per_task=True, n_boot=50))


def test_ranks_and_critical_difference(tmp_path: Path) -> None:
    table = load_table(make_table({"A": -1.0, "B": 0.0, "C": 0.1, "D": 1.0}, n_seeds=3))
    _written(plots.plot_mean_ranks(mean_ranks(table), tmp_path / "ranks"))
    cd = critical_difference(table, 5.0)
    assert cd.cliques  # B and C are close: at least one bar is drawn
    _written(plots.plot_critical_difference(cd, tmp_path / "cd"))


def test_colors_are_stable_per_algorithm() -> None:
    a = plots.algorithm_colors(["RS", "PB", "HB"])
    b = plots.algorithm_colors(["HB", "PB", "RS", "HB"])
    assert a == b and len(set(a.values())) == 3
