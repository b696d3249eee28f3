"""Figures for papers: incumbent traces, mean ranks and critical-difference diagrams.

Figures are drawn on ``matplotlib.figure.Figure`` objects (Agg rendering, no pyplot state, no
global backend switch) and saved as PNG and PDF. Each algorithm keeps one color in every figure.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from tunewise.analysis.format import p_text
from tunewise.analysis.regret import CriticalDifference

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BUDGET_LABEL = "budget (full-fidelity evaluations)"
LABELS = {
    "normalized_regret": "normalized regret",
    "log_regret": "log10 simple regret",
    "rank": "rank (1 = best)",
    "value": "objective value",
}


def algorithm_colors(algorithms: Iterable[str]) -> dict[str, tuple[float, ...]]:
    """One color per algorithm (sorted names, tab10 then tab20), stable across figures."""
    from matplotlib import colormaps

    names = sorted(set(algorithms))
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: tuple(cmap(i % cmap.N)) for i, name in enumerate(names)}


def save(fig: Figure, stem: str | Path) -> list[Path]:
    """Write ``stem.png`` (150 dpi) and ``stem.pdf``; returns both paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return paths


def bootstrap_band(
    matrices: Sequence[np.ndarray], *, n_boot: int = 1000, level: float = 0.95, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over matrices of their column means, with a percentile bootstrap band.

    Each matrix has shape ``(n_runs, n_budgets)`` (one task; NaN = no incumbent yet). Runs are
    resampled within each matrix (a stratified bootstrap), so the band reflects seed variation.
    Returns ``(mean, low, high)``, each of shape ``(n_budgets,)``.
    """
    rng = np.random.default_rng(seed)
    boots, means = [], []
    for m in matrices:
        idx = rng.integers(0, len(m), size=(n_boot, len(m)))
        boots.append(np.nanmean(m[idx], axis=1))
        means.append(np.nanmean(m, axis=0))
    boot = np.nanmean(np.stack(boots), axis=0)
    tail = (1 - level) / 2 * 100
    low, high = np.nanpercentile(boot, [tail, 100 - tail], axis=0)
    return np.nanmean(np.stack(means), axis=0), low, high


def plot_traces(
    traces: pd.DataFrame,
    stem: str | Path,
    *,
    value: str = "normalized_regret",
    label: str | None = None,
    per_task: bool = False,
    log_y: bool = False,
    n_boot: int = 1000,
) -> list[Path]:
    """:func:`traces_figure` saved as ``stem.png`` and ``stem.pdf``."""
    figure = traces_figure(
        traces, value=value, label=label, per_task=per_task, log_y=log_y, n_boot=n_boot
    )
    return save(figure, stem)


def traces_figure(
    traces: pd.DataFrame,
    *,
    value: str = "normalized_regret",
    label: str | None = None,
    per_task: bool = False,
    log_y: bool = False,
    n_boot: int = 1000,
) -> Figure:
    """Mean ``value`` over seeds per algorithm vs budget with 95% bootstrap bands.

    Aggregated: the mean over tasks of per-task means (each task weighs the same). ``per_task``
    draws one panel per task instead (tasks sorted, row by row). ``label`` names the value on the
    y axis. One line per algorithm and panel, labelled with the algorithm's name.
    """
    import warnings

    from matplotlib.figure import Figure

    label = label or LABELS.get(value, value)
    colors = algorithm_colors(traces["algorithm"])
    tasks = sorted(traces["task"].unique()) if per_task else [None]
    ncols = min(4, len(tasks))
    nrows = math.ceil(len(tasks) / ncols)
    size = (3.3 * ncols, 2.5 * nrows + 0.6) if per_task else (6.0, 4.0)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, task in zip(axes, tasks, strict=False):
        rows = traces if task is None else traces[traces["task"] == task]
        for algorithm, color in colors.items():
            mine = rows[rows["algorithm"] == algorithm]
            if mine.empty:
                continue
            wide = mine.pivot_table(index=["task", "run"], columns="budget", values=value)
            budgets = wide.columns.to_numpy(dtype=float)
            mats = [g.to_numpy(dtype=float) for _, g in wide.groupby(level="task")]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean, low, high = bootstrap_band(mats, n_boot=n_boot)
            ax.plot(budgets, mean, color=color, label=algorithm, lw=1.6)
            ax.fill_between(budgets, low, high, color=color, alpha=0.2, lw=0)
        if log_y:
            ax.set_yscale("log", nonpositive="clip")
        ax.grid(alpha=0.3)
        if per_task:
            ax.set_title(task, fontsize=8)
            ax.tick_params(which="both", labelsize=7)
    for ax in axes[len(tasks) :]:
        ax.set_visible(False)
    band = "band: 95% percentile bootstrap over seeds"
    if per_task:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncols=len(labels), frameon=False)
        fig.supxlabel(BUDGET_LABEL, fontsize=9)
        fig.supylabel(f"mean incumbent {label} ({band})", fontsize=9)
    else:
        ax = axes[0]
        ax.set_xlabel(BUDGET_LABEL)
        ax.set_ylabel(f"mean incumbent {label}")
        ax.set_title(f"Mean over benchmarks ({band})", fontsize=9)
        ax.legend(frameon=False)
    return fig


def plot_mean_ranks(ranks: pd.DataFrame, stem: str | Path) -> list[Path]:
    """:func:`mean_ranks_figure` saved as ``stem.png`` and ``stem.pdf``."""
    return save(mean_ranks_figure(ranks), stem)


def mean_ranks_figure(ranks: pd.DataFrame) -> Figure:
    """Mean rank (over instance x seed blocks) of each algorithm vs budget; ``ranks`` from
    :func:`~tunewise.analysis.regret.mean_ranks`."""
    from matplotlib.figure import Figure

    colors = algorithm_colors(ranks.columns)
    fig = Figure(figsize=(6.0, 4.0), layout="constrained")
    ax = fig.subplots()
    for algorithm in ranks.columns:
        ax.plot(ranks.index, ranks[algorithm], color=colors[algorithm], label=algorithm, lw=1.6)
    ax.set_xlabel(BUDGET_LABEL)
    ax.set_ylabel("mean rank (1 = best)")
    ax.set_ylim(0.9, len(ranks.columns) + 0.1)
    ax.set_title("Mean rank over (instance × seed) blocks", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)
    return fig


def plot_critical_difference(cd: CriticalDifference, stem: str | Path) -> list[Path]:
    """:func:`critical_difference_figure` saved as ``stem.png`` and ``stem.pdf``."""
    return save(critical_difference_figure(cd), stem)


def critical_difference_figure(cd: CriticalDifference) -> Figure:
    """Critical-difference diagram (Demšar 2006): average ranks on an axis from 1 (best) to k,
    algorithms labelled left/right, bars joining cliques that are not significantly different."""
    from matplotlib.figure import Figure

    names = list(cd.ranks.index)
    k = len(names)
    colors = algorithm_colors(names)
    half = math.ceil(k / 2)
    step, depth = 0.35, 0.35 * (half + 1) + 0.4
    fig = Figure(figsize=(6.5, 1.6 + 0.35 * half + 0.15 * len(cd.cliques)))
    ax = fig.subplots()
    ax.set_axis_off()
    left, right = 0.2, k + 0.8
    ax.set_xlim(left - 0.8, right + 0.8)
    ax.set_ylim(-depth - 0.2 * len(cd.cliques), 1.1)
    ax.hlines(0, 1, k, color="black", lw=1)
    for r in range(1, k + 1):
        ax.vlines(r, 0, 0.1, color="black", lw=1)
        ax.text(r, 0.15, str(r), ha="center", va="bottom", fontsize=9)
    # the critical difference as a reference bar above the axis
    ax.hlines(0.75, 1, 1 + cd.cd, color="black", lw=1.5)
    ax.vlines([1, 1 + cd.cd], 0.7, 0.8, color="black", lw=1.5)
    ax.text(1 + cd.cd / 2, 0.85, f"CD = {cd.cd:.2f}", ha="center", va="bottom", fontsize=9)
    for i, name in enumerate(names):
        rank = float(cd.ranks[name])
        on_left = i < half
        y = -step * ((i if on_left else k - 1 - i) + 1)
        end = left if on_left else right
        ax.plot([rank, rank, end], [0, y, y], color=colors[name], lw=1.3)
        label = f"{name} ({rank:.2f})" if on_left else f"({rank:.2f}) {name}"
        ax.text(end, y, label, ha="right" if on_left else "left", va="center", fontsize=9)
    for j, clique in enumerate(cd.cliques):
        lo, hi = (float(cd.ranks[c]) for c in (clique[0], clique[-1]))
        ax.hlines(-0.12 - 0.12 * j, lo - 0.03, hi + 0.03, color="black", lw=3)
    verdict = "differ" if cd.significant else "do not differ"
    p = p_text(cd.iman_davenport_p, 2)
    ax.set_title(
        f"Budget {cd.budget:g}: average ranks over {cd.n_blocks} {cd.blocks.replace('_', '×')} "
        f"blocks; Friedman (Iman-Davenport) {p}, ranks {verdict}; Nemenyi α = {cd.alpha}",
        fontsize=8,
    )
    return fig
