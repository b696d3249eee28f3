"""Figures of one study (or a few), drawn from the study tables of :mod:`tunewise.analysis.study`.

Each function takes a study's trials and space and returns a ``matplotlib.figure.Figure`` built
directly (no pyplot state, no backend switch), so it works in a notebook, a script and a headless
``tunewise plot`` alike. The plotted numbers are the tables' numbers: what a figure shows is what
:func:`~tunewise.analysis.study.incumbent_trace` and friends return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from tunewise.analysis import study as tables
from tunewise.analysis.importance import importance as compute_importance
from tunewise.analysis.plots import BUDGET_LABEL, algorithm_colors
from tunewise.trial import Trial

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from tunewise.space import Space

X_LABELS = {"budget": BUDGET_LABEL, "elapsed": "wall time (s)"}
SIZE = (6.0, 4.0)


def _figure(size: tuple[float, float] = SIZE) -> tuple[Figure, Axes]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.subplots()


def _check_x(x: str) -> None:
    if x not in X_LABELS:
        raise ValueError(f"x must be one of {', '.join(X_LABELS)}, not {x!r}")


def _note(ax: Axes, text: str) -> None:
    """An empty axes saying why it is empty (a figure is still written)."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])


def _finish_trace(ax: Axes, *, x: str, log_y: bool, ylabel: str, title: str) -> None:
    """The labels, scale, grid and legend of an incumbent-over-``x`` plot."""
    if log_y:
        ax.set_yscale("log", nonpositive="clip")
    ax.set_xlabel(X_LABELS[x])
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(frameon=False)


def _fidelity_norm(values: pd.Series) -> Any:
    from matplotlib.colors import Normalize

    finite = values.dropna()
    if finite.empty:
        return Normalize(0.0, 1.0)
    return Normalize(float(finite.min()), float(finite.max()))


def incumbent_figure(
    trials: Sequence[Trial], space: Space, *, x: str = "budget", log_y: bool = False
) -> Figure:
    """The incumbent's objective after each finished trial (a step line, gid ``"incumbent"``)
    over ``x`` = ``"budget"`` (full-fidelity units) or ``"elapsed"`` (seconds), with every
    finished trial's objective as a point coloured by its fidelity (gid ``"trials"``)."""
    _check_x(x)
    trace = tables.incumbent_trace(trials, space)
    fig, ax = _figure()
    if trace.empty:
        _note(ax, "no finished trials yet")
        return fig
    ok = trace["objective"].notna()
    if space.fidelity is not None:
        points = ax.scatter(
            trace.loc[ok, x],
            trace.loc[ok, "objective"],
            c=trace.loc[ok, "fidelity"],
            cmap="viridis",
            norm=_fidelity_norm(trace["fidelity"]),
            s=14,
            alpha=0.6,
            lw=0,
        )
        fig.colorbar(points, ax=ax, label=f"fidelity ({space.fidelity_name})")
    else:
        points = ax.scatter(
            trace.loc[ok, x], trace.loc[ok, "objective"], s=14, alpha=0.5, color="0.5", lw=0
        )
    points.set_gid("trials")
    (line,) = ax.step(
        trace[x].to_numpy(dtype=float),
        trace["best"].to_numpy(dtype=float),
        where="post",
        color="C3",
        lw=1.8,
        label="incumbent",
    )
    line.set_gid("incumbent")
    _finish_trace(
        ax,
        x=x,
        log_y=log_y,
        ylabel="objective (lower is better)",
        title="Incumbent (best at the highest fidelity reached)",
    )
    return fig


def learning_curves_figure(
    trials: Sequence[Trial],
    space: Space,
    *,
    numbers: Sequence[int] | None = None,
    log_y: bool = False,
) -> Figure:
    """One line per trial of its reported ``(step, value)`` points (gid ``"trial-<number>"``),
    coloured by fidelity; running trials dashed. ``numbers`` picks trials (default: all)."""
    curves = tables.learning_curves(trials)
    if numbers is not None:
        curves = curves[curves["number"].isin(list(numbers))]
    fig, ax = _figure()
    if curves.empty:
        _note(ax, "no learning curves reported (call trial.report(step, value))")
        return fig
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable

    cmap, norm = colormaps["viridis"], _fidelity_norm(curves["fidelity"])
    for number, curve in curves.groupby("number", sort=True):
        fidelity = curve["fidelity"].iloc[0]
        color = cmap(norm(fidelity)) if not math.isnan(fidelity) else "C0"
        running = curve["status"].iloc[0] == "running"
        (line,) = ax.plot(
            curve["step"].to_numpy(dtype=float),
            curve["value"].to_numpy(dtype=float),
            color=color,
            lw=1.0,
            alpha=0.7,
            ls="--" if running else "-",
            marker="o" if len(curve) == 1 else None,
            ms=2.5,
        )
        line.set_gid(f"trial-{number}")
    if space.fidelity is not None and curves["fidelity"].notna().any():
        fig.colorbar(
            ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=f"fidelity ({space.fidelity_name})"
        )
    if log_y:
        ax.set_yscale("log", nonpositive="clip")
    ax.set_xlabel("step")
    ax.set_ylabel("reported value")
    ax.set_title(f"Learning curves of {curves['number'].nunique()} trials (dashed: running)")
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3)
    return fig


def parallel_positions(table: pd.DataFrame, space: Space) -> tuple[list[str], np.ndarray]:
    """The axes of a parallel-coordinates plot and each trial's position on them in [0, 1].

    ``table`` is :func:`~tunewise.analysis.study.parallel_coordinates`' output. Axes: the
    fidelity (if the space has one), each searched parameter, the objective. Numbers are placed
    by the space's unit encoding (log-scaled ones on their log scale), a categorical's choice
    ``i`` of ``k`` at ``i / (k - 1)``, architectures by their sorted distinct values, the
    fidelity by its bounds and the objective between its minimum and maximum. Inactive: NaN.
    Returns ``(axis names, positions of shape (n_trials, n_axes))``.
    """
    names = tables.parameter_names(space)
    axes = (["fidelity"] if space.fidelity is not None else []) + names + ["objective"]
    out = np.full((len(table), len(axes)), np.nan)
    for j, name in enumerate(axes):
        column = table[name]
        if name == "fidelity":
            assert space.fidelity is not None
            low, high = float(space.fidelity.lower), float(space.fidelity.upper)
            out[:, j] = (column.to_numpy(dtype=float) - low) / (high - low or 1.0)
        elif name == "objective":
            values = column.to_numpy(dtype=float)
            finite = values[np.isfinite(values)]
            low, high = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
            out[:, j] = (values - low) / (high - low) if high > low else 0.5
        elif name in space.architectures:
            levels = sorted(column.dropna().unique())
            out[:, j] = [_level(v, levels) for v in column]
        else:
            param = space.searchable[name]
            choices = getattr(param, "choices", None)
            if choices is not None:
                out[:, j] = [_level(v, [str(c) for c in choices]) for v in column]
            else:
                out[:, j] = [math.nan if pd.isna(v) else param.to_unit(float(v)) for v in column]
    return axes, out


def _level(value: Any, levels: Sequence[str]) -> float:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return math.nan
    return levels.index(value) / (len(levels) - 1) if len(levels) > 1 else 0.5


def _axis_ticks(name: str, table: pd.DataFrame, space: Space) -> tuple[list[float], list[str]]:
    """Tick positions and labels for one parallel axis: its ends, or its choices."""
    if name == "objective":
        values = table["objective"].dropna()
        if values.empty:
            return [], []
        return [0.0, 1.0], [f"{values.min():.4g}", f"{values.max():.4g}"]
    if name == "fidelity":
        assert space.fidelity is not None
        return [0.0, 1.0], [f"{space.fidelity.lower:g}", f"{space.fidelity.upper:g}"]
    if name in space.architectures:
        levels = sorted(table[name].dropna().unique())
        if len(levels) > 6:
            return [], []
        return [_level(v, levels) for v in levels], [v[:12] for v in levels]
    param = space.searchable[name]
    choices = getattr(param, "choices", None)
    if choices is not None:
        labels = [str(c) for c in choices]
        return [_level(v, labels) for v in labels], labels
    lower, upper = getattr(param, "lower", 0.0), getattr(param, "upper", 1.0)
    return [0.0, 1.0], [f"{lower:g}", f"{upper:g}"]


def parallel_coordinates_figure(trials: Sequence[Trial], space: Space) -> Figure:
    """Succeeded trials as lines across one vertical axis per parameter (see
    :func:`parallel_positions`), coloured by objective (dark = low = good); the lines are one
    ``LineCollection`` with gid ``"trials"``, the best trials drawn on top."""
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    table = tables.parallel_coordinates(trials, space)
    fig, ax = _figure((max(6.0, 1.3 * (len(tables.parameter_names(space)) + 2)), 4.0))
    if table.empty:
        _note(ax, "no succeeded trials yet")
        return fig
    order = table["objective"].to_numpy(dtype=float).argsort()[::-1]  # worst first, best on top
    table = table.iloc[order].reset_index(drop=True)
    axes, positions = parallel_positions(table, space)
    xs = np.arange(len(axes), dtype=float)
    segments = [np.column_stack([xs, row]) for row in positions]
    objective = table["objective"].to_numpy(dtype=float)
    lines = LineCollection(
        segments,
        array=objective,
        cmap="viridis",
        norm=Normalize(float(np.nanmin(objective)), float(np.nanmax(objective))),
        lw=1.0,
        alpha=0.6,
    )
    lines.set_gid("trials")
    ax.add_collection(lines)
    fig.colorbar(lines, ax=ax, label="objective")
    for j, name in enumerate(axes):
        ax.axvline(j, color="0.3", lw=0.8)
        ticks, labels = _axis_ticks(name, table, space)
        for tick, label in zip(ticks, labels, strict=True):
            ax.text(j + 0.04, tick, label, fontsize=7, va="center", color="0.2")
    ax.set_xlim(-0.2, len(axes) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    names = [f"{space.fidelity_name} (fidelity)" if a == "fidelity" else a for a in axes]
    ax.set_xticks(xs, names, rotation=20, fontsize=8)
    ax.set_yticks([])
    ax.set_title(f"Parallel coordinates of {len(table)} succeeded trials", fontsize=10)
    return fig


def importance_figure(
    trials: Sequence[Trial],
    space: Space,
    *,
    method: str = "ped_anova",
    min_trials: int = 10,
    rng: np.random.Generator | None = None,
) -> Figure:
    """Horizontal bars of :func:`~tunewise.analysis.importance.importance`, largest on top (one
    bar container labelled ``"importance"``, its widths the importances). Raises
    ``ValueError`` with too few succeeded trials."""
    values = compute_importance(trials, space, method=method, min_trials=min_trials, rng=rng)
    fig, ax = _figure((6.0, 1.2 + 0.35 * max(len(values), 1)))
    if not values:
        _note(ax, "no parameters to rank (architectures are not ranked)")
        return fig
    ranked = sorted(values.items(), key=lambda item: item[1])
    bars = ax.barh(
        [name for name, _ in ranked], [v for _, v in ranked], color="C0", label="importance"
    )
    ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=2)
    ax.set_xlim(0, max(1e-9, max(values.values())) * 1.15)
    ax.set_xlabel("importance (fraction, sums to 1)")
    label = {"ped_anova": "PED-ANOVA", "fanova": "fANOVA"}.get(method, method)
    ax.set_title(f"Parameter importance ({label})", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


def rungs_figure(trials: Sequence[Trial], space: Space) -> Figure:
    """Trials per fidelity as stacked bars, one colour per ``sampled_from``, the promoted part
    of each hatched; each bar container is labelled ``"<source>|promoted"`` or
    ``"<source>|kept"``."""
    from matplotlib.patches import Patch

    table = tables.rungs(trials)
    fig, ax = _figure()
    if table.empty:
        _note(ax, "no trials yet")
        return fig
    table = table.assign(
        source=table["sampled_from"].fillna("not recorded").astype(str),
        promoted=table["promoted_to"].notna(),
    )
    fidelities = sorted(table["fidelity"].dropna().unique().tolist())
    has_none = bool(table["fidelity"].isna().any())
    labels = [f"{f:g}" for f in fidelities] + (["all trials"] if has_none else [])
    keys = [*fidelities, math.nan] if has_none else fidelities
    sources = sorted(table["source"].unique())
    colors = algorithm_colors(sources)
    bottom = np.zeros(len(keys))
    for source in sources:
        for promoted in (True, False):
            mine = table[(table["source"] == source) & (table["promoted"] == promoted)]
            counts = np.array(
                [
                    int(mine["fidelity"].isna().sum())
                    if isinstance(key, float) and math.isnan(key)
                    else int((mine["fidelity"] == key).sum())
                    for key in keys
                ],
                dtype=float,
            )
            if not counts.any():
                continue
            ax.bar(
                range(len(keys)),
                counts,
                bottom=bottom,
                color=colors[source],
                hatch="//" if promoted else None,
                edgecolor="white",
                lw=0.5,
                label=f"{source}|{'promoted' if promoted else 'kept'}",
            )
            bottom += counts
    for i, total in enumerate(bottom):
        ax.text(i, total, f"{int(total)}", ha="center", va="bottom", fontsize=8)
    rgba = {s: cast("tuple[float, float, float, float]", colors[s]) for s in sources}
    handles = [Patch(facecolor=rgba[s], label=s) for s in sources]
    handles.append(Patch(facecolor="white", edgecolor="0.3", hatch="//", label="promoted"))
    ax.legend(
        handles=handles, fontsize=8, title="sampled from", title_fontsize=8, loc="upper right"
    )
    ax.set_ylim(0, max(float(bottom.max()), 1.0) * 1.3)  # room for the legend above the bars
    ax.set_xticks(range(len(keys)), labels)
    name = space.fidelity_name
    ax.set_xlabel(f"{name} (fidelity)" if name else "the space has no fidelity")
    ax.set_ylabel("trials (crashed not counted)")
    ax.set_title("Trials per fidelity: where they came from, which were promoted", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return fig


def compare_figure(
    studies: Sequence[tuple[str, Sequence[Trial], Space]],
    *,
    x: str = "budget",
    log_y: bool = False,
) -> Figure:
    """The incumbent traces of several studies (``(label, trials, space)``) on one axes, one
    colour per label; each line has gid ``"incumbent-<label>"``."""
    _check_x(x)
    fig, ax = _figure()
    colors = algorithm_colors(label for label, _, _ in studies)
    drawn = 0
    for label, trials, space in studies:
        trace = tables.incumbent_trace(trials, space)
        if trace.empty:
            continue
        (line,) = ax.step(
            trace[x].to_numpy(dtype=float),
            trace["best"].to_numpy(dtype=float),
            where="post",
            color=colors[label],
            lw=1.6,
            label=label,
        )
        line.set_gid(f"incumbent-{label}")
        drawn += 1
    if not drawn:
        _note(ax, "no finished trials in these studies")
        return fig
    _finish_trace(
        ax,
        x=x,
        log_y=log_y,
        ylabel="incumbent objective (lower is better)",
        title="Incumbents compared",
    )
    return fig
