"""Figures draw the data they are given (read back from the matplotlib Figure) and are written
as non-empty PNG and PDF files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest

from tests.analysis.synthetic import make_table
from tunewise.analysis import plots
from tunewise.analysis.regret import CriticalDifference, critical_difference, mean_ranks
from tunewise.analysis.table import load_table

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PNG = b"\x89PNG\r\n\x1a\n"


def _written(paths: list[Path]) -> None:
    png, pdf = paths
    assert png.read_bytes()[:8] == PNG and png.stat().st_size > 5_000
    assert pdf.read_bytes()[:4] == b"%PDF" and pdf.stat().st_size > 1_000


def _lines(ax: Axes) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Labelled Line2D objects of an axes: label -> (x, y)."""
    return {
        line.get_label(): (np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float))
        for line in ax.get_lines()
        if not line.get_label().startswith("_")
    }


def _tiny_traces() -> pd.DataFrame:
    """Two tasks with different numbers of seeds, so the mean of task means (each task weighs
    the same) differs from the mean over all runs."""
    rows = []
    values = {
        # (algorithm, task): one list of per-budget values per seed
        ("A", "t1"): [[4.0, 2.0], [6.0, 4.0]],
        ("A", "t2"): [[1.0, 1.0], [1.0, 1.0], [4.0, 1.0], [2.0, 1.0]],
        ("B", "t1"): [[8.0, 8.0], [8.0, 6.0]],
        ("B", "t2"): [[3.0, 2.0], [3.0, 2.0], [3.0, 2.0], [3.0, 2.0]],
    }
    for (algorithm, task), runs in values.items():
        for seed, trace in enumerate(runs):
            for budget, v in zip((1.0, 2.0), trace, strict=True):
                rows.append(
                    {
                        "algorithm": algorithm,
                        "task": task,
                        "run": f"{algorithm}/{task}/{seed}",
                        "budget": budget,
                        "y": v,
                    }
                )
    return pd.DataFrame(rows)


def test_aggregated_traces_plot_the_mean_of_task_means() -> None:
    fig = plots.traces_figure(_tiny_traces(), value="y", n_boot=20)
    lines = _lines(fig.axes[0])
    assert set(lines) == {"A", "B"}
    x, y = lines["A"]
    np.testing.assert_allclose(x, [1.0, 2.0])
    # A at budget 1: t1 mean (4 + 6) / 2 = 5, t2 mean (1 + 1 + 4 + 2) / 4 = 2 -> 3.5 (not 2.67)
    np.testing.assert_allclose(y, [3.5, 2.0])
    np.testing.assert_allclose(lines["B"][1], [5.5, 4.5])
    colors = plots.algorithm_colors(["A", "B"])
    for line in fig.axes[0].get_lines():
        assert tuple(line.get_color()) == colors[line.get_label()]


def test_per_task_traces_have_one_panel_per_task_with_its_seed_means() -> None:
    fig = plots.traces_figure(_tiny_traces(), value="y", per_task=True, n_boot=20)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["t1", "t2"]
    t1, t2 = (_lines(ax) for ax in visible)
    np.testing.assert_allclose(t1["A"][1], [5.0, 3.0])
    np.testing.assert_allclose(t1["B"][1], [8.0, 7.0])
    np.testing.assert_allclose(t2["A"][1], [2.0, 1.0])
    np.testing.assert_allclose(t2["B"][1], [3.0, 2.0])


def test_log_axis_only_when_asked() -> None:
    traces = _tiny_traces()
    assert plots.traces_figure(traces, value="y", log_y=True, n_boot=5).axes[0].get_yscale() == (
        "log"
    )
    assert plots.traces_figure(traces, value="y", n_boot=5).axes[0].get_yscale() == "linear"


def test_mean_ranks_figure_draws_the_rank_table() -> None:
    ranks = pd.DataFrame(
        {"A": [1.0, 1.5, 2.0], "B": [2.0, 1.5, 1.0]}, index=pd.Index([1.0, 2.0, 4.0], name="budget")
    )
    lines = _lines(plots.mean_ranks_figure(ranks).axes[0])
    np.testing.assert_allclose(lines["A"][0], [1.0, 2.0, 4.0])
    np.testing.assert_allclose(lines["A"][1], [1.0, 1.5, 2.0])
    np.testing.assert_allclose(lines["B"][1], [2.0, 1.5, 1.0])


def test_critical_difference_figure_places_ranks_and_clique_bars() -> None:
    ranks = pd.Series({"A": 1.2, "B": 2.1, "C": 2.4, "D": 3.9})
    cd = CriticalDifference(
        budget=5.0,
        ranks=ranks,
        n_blocks=12,
        blocks="task",
        friedman=20.0,
        friedman_p=1e-4,
        iman_davenport=12.0,
        iman_davenport_p=1e-5,
        cd=1.0,
        cliques=(("B", "C"),),
        alpha=0.05,
    )
    ax = plots.critical_difference_figure(cd).axes[0]
    colors = plots.algorithm_colors(ranks.index)
    starts = {}
    for line in ax.get_lines():
        for name, color in colors.items():
            if tuple(line.get_color()) == color:
                starts[name] = float(np.asarray(line.get_xdata(), float)[0])
    assert starts == pytest.approx(ranks.to_dict())  # each leader line starts at its rank
    texts = {t.get_text() for t in ax.texts}
    assert {"A (1.20)", "B (2.10)", "(2.40) C", "(3.90) D", "CD = 1.00"} <= texts
    bars = [c for c in ax.collections if np.isclose(c.get_linewidth()[0], 3.0)]
    assert len(bars) == 1  # one clique: B and C
    (segment,) = bars[0].get_segments()
    assert segment[0][0] == pytest.approx(2.1 - 0.03) and segment[1][0] == pytest.approx(2.4 + 0.03)
    assert "12 task blocks" in ax.get_title()


def test_files_are_written(tmp_path: Path) -> None:
    table = load_table(make_table({"A": -1.0, "B": 0.0, "C": 0.1, "D": 1.0}, n_seeds=3))
    _written(plots.plot_traces(table, tmp_path / "t", value="value", n_boot=20))
    _written(plots.plot_traces(table, tmp_path / "tb", value="value", per_task=True, n_boot=20))
    _written(plots.plot_mean_ranks(mean_ranks(table), tmp_path / "ranks"))
    _written(plots.plot_critical_difference(critical_difference(table, 5.0), tmp_path / "cd"))


def test_colors_are_stable_per_algorithm() -> None:
    a = plots.algorithm_colors(["RS", "PB", "HB"])
    b = plots.algorithm_colors(["HB", "PB", "RS", "HB"])
    assert a == b and len(set(a.values())) == 3
