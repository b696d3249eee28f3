"""Figures of a study (:mod:`tunewise.analysis.study_plots`, through :mod:`tunewise.plot`): the
plotted numbers are the study tables' numbers, on real studies from ``tw.run``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib import image
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.figure import Figure

import tunewise as tw
from tunewise import plot
from tunewise.analysis import study as tables
from tunewise.analysis.importance import importance
from tunewise.analysis.study_plots import parallel_positions

SPACE = tw.Space(
    x=tw.Float(0.0, 1.0),
    lr=tw.Float(1e-4, 1.0, log=True),
    act=tw.Categorical(["relu", "tanh"]),
    epochs=tw.Fidelity(1, 9),
)


def evaluate(config: dict[str, object], trial: tw.TrialContext) -> float:
    """Reports one point per epoch; x matters most. The returned loss *rises* with epochs (as
    if overfitting), so the incumbent (highest fidelity first) is not the running minimum."""
    x, lr = float(config["x"]), float(config["lr"])  # type: ignore[arg-type]
    epochs = int(trial.fidelity)  # type: ignore[arg-type]
    for step in range(1, epochs + 1):
        trial.report(step, (x - 0.3) ** 2 + 1.0 / step)
    return (x - 0.3) ** 2 + 0.2 * epochs / 9 + 0.01 * lr + (0.05 if config["act"] == "tanh" else 0)


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> tw.Result:
    root = tmp_path_factory.mktemp("plots") / "hb"
    return tw.run(
        evaluate, SPACE, root=root, optimizer="hyperband", budget=tw.Budget(evaluations=40),
        seed=0, progress=False,
    )  # fmt: skip


def gid(fig: Figure, name: str) -> object:
    found = [a for ax in fig.axes for a in ax.get_children() if a.get_gid() == name]
    assert len(found) == 1, f"one artist with gid {name!r}, found {len(found)}"
    return found[0]


@pytest.mark.parametrize("x", ["budget", "elapsed"])
def test_incumbent_line_is_the_incumbent_trace(result, x) -> None:
    trace = tables.incumbent_trace(result.trial_list, result.space)
    fig = plot.incumbent(result, x=x)
    assert isinstance(fig, Figure)
    line = gid(fig, "incumbent")
    np.testing.assert_array_equal(line.get_xdata(), trace[x].to_numpy())  # type: ignore[attr-defined]
    np.testing.assert_array_equal(line.get_ydata(), trace["best"].to_numpy())  # type: ignore[attr-defined]
    assert line.get_ydata()[-1] == result.best.objective  # type: ignore[attr-defined,union-attr]
    assert (np.diff(trace["best"]) > 0).any()  # the rule shows: a higher fidelity's best is worse
    points = gid(fig, "trials")
    assert isinstance(points, PathCollection)
    np.testing.assert_array_equal(points.get_offsets()[:, 1], trace["objective"].dropna())
    np.testing.assert_array_equal(points.get_array(), trace["fidelity"][trace["objective"].notna()])
    with pytest.raises(ValueError, match="x must be one of budget, elapsed"):
        plot.incumbent(result, x="trials")


def test_learning_curves_are_the_reported_points(result) -> None:
    curves = tables.learning_curves(result.trial_list)
    fig = plot.learning_curves(result)
    for number, curve in curves.groupby("number"):
        line = gid(fig, f"trial-{number}")
        np.testing.assert_array_equal(line.get_xdata(), curve["step"])  # type: ignore[attr-defined]
        np.testing.assert_array_equal(line.get_ydata(), curve["value"])  # type: ignore[attr-defined]
    some = plot.learning_curves(result, numbers=[0, 12])
    assert sum(1 for line in some.axes[0].lines if line.get_gid()) == 2


def test_parallel_coordinates_place_trials_by_the_space_encoding(result) -> None:
    table = tables.parallel_coordinates(result.trial_list, result.space)
    axes, positions = parallel_positions(table, result.space)
    assert axes == ["fidelity", "x", "lr", "act", "objective"]
    assert (
        positions.shape == (len(table), 5)
        and np.nanmin(positions) >= 0 <= np.nanmax(positions) <= 1
    )
    row = table.iloc[0]
    expected_lr = (np.log(row["lr"]) - np.log(1e-4)) / (np.log(1.0) - np.log(1e-4))
    assert positions[0, 2] == pytest.approx(expected_lr)  # log scale
    assert positions[0, 3] == (0.0 if row["act"] == "relu" else 1.0)
    assert positions[0, 0] == pytest.approx((row["fidelity"] - 1) / 8)
    lines = gid(plot.parallel_coordinates(result), "trials")
    assert isinstance(lines, LineCollection)
    drawn = np.array([segment[:, 1] for segment in lines.get_segments()])
    # drawn worst first (the best on top): the same rows in another order
    order = table["objective"].to_numpy().argsort()[::-1]
    np.testing.assert_allclose(drawn, positions[order])
    np.testing.assert_array_equal(lines.get_array(), table["objective"].to_numpy()[order])


@pytest.mark.parametrize("method", ["ped_anova", "fanova"])
def test_importance_bars_are_the_importances(result, method) -> None:
    values = importance(result.trial_list, result.space, method=method)
    fig = plot.importance(result, method=method, rng=np.random.default_rng(0))
    (bars,) = fig.axes[0].containers
    assert bars.get_label() == "importance"
    widths = {label.get_text(): bar.get_width() for label, bar in zip(
        fig.axes[0].get_yticklabels(), bars, strict=True)}  # fmt: skip
    assert widths == pytest.approx(values)
    assert max(widths, key=widths.__getitem__) == "x"


def test_rung_bars_count_trials_per_fidelity_and_promotions(result) -> None:
    summary = tables.rung_summary(result.trial_list).set_index("fidelity")
    fig = plot.rungs(result)
    ax = fig.axes[0]
    fidelities = [float(t.get_text()) for t in ax.get_xticklabels()]
    assert fidelities == summary.index.tolist() == [1.0, 3.0, 9.0]
    totals = np.zeros(3)
    promoted = np.zeros(3)
    sources = set()
    for container in ax.containers:
        source, kind = container.get_label().split("|")
        sources.add(source)
        heights = np.array([bar.get_height() for bar in container])
        totals += heights
        if kind == "promoted":
            promoted += heights
    np.testing.assert_array_equal(totals, summary["trials"])
    np.testing.assert_array_equal(promoted, summary["promoted"])
    assert (
        sources == set(tables.rungs(result.trial_list)["sampled_from"]) == {"random", "promotion"}
    )


def test_compare_draws_each_study_incumbent(result, tmp_path: Path) -> None:
    other = tw.run(
        evaluate, SPACE, root=tmp_path / "rs", optimizer="random_search",
        budget=tw.Budget(evaluations=8), seed=1, progress=False,
    )  # fmt: skip
    fig = plot.compare([result, other, other])
    for label, res in (("hb", result), ("rs (2)", other), ("rs (3)", other)):
        trace = tables.incumbent_trace(res.trial_list, res.space)
        line = gid(fig, f"incumbent-{label}")
        np.testing.assert_array_equal(line.get_ydata(), trace["best"])  # type: ignore[attr-defined]
        np.testing.assert_array_equal(line.get_xdata(), trace["budget"])  # type: ignore[attr-defined]


def test_a_small_study_gets_every_plot_but_importance(tmp_path: Path) -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0))
    small = tw.run(
        lambda config, trial: float(config["x"]), space, root=tmp_path / "small",
        optimizer="random_search", budget=tw.Budget(evaluations=3), seed=0, progress=False,
    )  # fmt: skip
    for make in (plot.incumbent, plot.learning_curves, plot.parallel_coordinates, plot.rungs):
        assert isinstance(make(small), Figure)
    assert "no learning curves" in plot.learning_curves(small).axes[0].texts[0].get_text()
    ax = plot.rungs(small).axes[0]  # no fidelity: one bar of all trials, drawn at random
    assert [t.get_text() for t in ax.get_xticklabels()] == ["all trials"]
    (container,) = ax.containers
    assert container.get_label() == "random|kept" and container[0].get_height() == 3
    with pytest.raises(ValueError, match="at least 10 succeeded trials; this study has 3"):
        plot.importance(small)


def test_figures_leave_pyplot_alone(result) -> None:
    import matplotlib
    import matplotlib.pyplot as plt

    backend, before = matplotlib.get_backend(), plt.get_fignums()
    plot.incumbent(result)
    plot.rungs(result)
    assert plt.get_fignums() == before and matplotlib.get_backend() == backend


@pytest.mark.slow
def test_the_docs_first_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "plots.md").read_text()
    example = text.split("```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(example, "docs/plots.md", "exec"), namespace)
    for name in ("incumbent", "incumbent_time", "curves", "parallel", "importance", "rungs"):
        assert image.imread(tmp_path / f"{name}.png").ndim == 3
    result = namespace["result"]
    assert isinstance(result, tw.Result) and result.counts["succeeded"] == 40
    result.close()


@pytest.mark.slow  # a fresh interpreter imports tunewise (about 3 s)
def test_tw_plot_is_there_without_loading_pandas_or_matplotlib() -> None:
    import subprocess
    import sys

    code = (
        "import sys, tunewise as tw; assert callable(tw.plot.incumbent); "
        "print(sorted(m for m in ('pandas', 'matplotlib') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
