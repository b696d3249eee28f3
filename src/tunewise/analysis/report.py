"""One call from a results table to a report: ``analyze(table, out_dir) -> Report``.

Writes ``report.md`` (figures as relative PNG links) and a self-contained ``report.html``
(figures embedded as base64 data URIs), and returns every number in dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tunewise.analysis import lmem, plots, render
from tunewise.analysis.findings import DataSummary, Report
from tunewise.analysis.regret import (
    block_ranks,
    critical_difference,
    mean_ranks,
    mean_table,
    regret_bounds,
    with_derived,
)
from tunewise.analysis.table import (
    DERIVED,
    OPTIONAL,
    REQUIRED,
    budget_grid,
    default_task_columns,
    incumbent_traces,
    load_table,
    read_table,
    require_benchmarks,
    resolve_columns,
)

MAX_META_LEVELS = 10
#: The column ``tunewise bench`` writes to say what ``value`` holds, and its meanings.
VALUE_SOURCE = "value_source"


def analyze(
    table_or_path: pd.DataFrame | str | Path,
    out_dir: str | Path,
    *,
    budgets: Sequence[float] | None = None,
    value: str = "normalized_regret",
    columns: Mapping[str, str] | None = None,
    alpha: float = 0.05,
    task_columns: Sequence[str] | None = None,
    meta_features: Sequence[str] | None = None,
    lmem_tests: bool = True,
    n_boot: int = 1000,
) -> Report:
    """Analyse a tidy results table (see :mod:`tunewise.analysis`) and write the report.

    ``budgets``: where to test (default: four budgets spread over the grid, ending at the largest);
    the largest is the primary budget. ``value``: the modeled column, ``"normalized_regret"``
    (default), ``"log_regret"`` (log10 simple regret, for precision near the optimum), ``"rank"``
    (rank within each instance x seed x budget block), ``"value"`` (or another numeric column).
    Which objective ``value`` itself holds (a ``tunewise bench`` table's full-fidelity ``oracle``
    value, or what the optimizer ``observed``) is read from a ``value_source`` column and stated
    in the report; ``columns={"value": "observed"}`` analyses the other one. ``meta_features``:
    categorical columns constant within a task to test as fixed effects (default: detected).
    ``lmem_tests=False`` skips the models (traces, ranks and CD diagram only), e.g. for a single
    benchmark.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    source = str(table_or_path) if isinstance(table_or_path, str | Path) else "DataFrame"
    raw = read_table(table_or_path) if isinstance(table_or_path, str | Path) else table_or_path
    renamed = resolve_columns([str(c) for c in raw.columns], columns)
    table = load_table(raw, columns, task_columns=task_columns)
    if lmem_tests:
        require_benchmarks(table)
    grid = budget_grid(table)
    analysed = _analysed_budgets(grid, budgets, table)
    primary = analysed[-1]
    bounds = regret_bounds(table)
    traces = with_derived(incumbent_traces(table, np.union1d(grid, analysed)), bounds)
    frame = lmem.response_frame(traces, value)
    features = _meta_features(table) if meta_features is None else list(meta_features)
    for feature in features:
        if feature not in table.columns:
            raise ValueError(f"meta-feature {feature!r} is not a column of the table")
    task_cols = list(task_columns or default_task_columns(table.columns))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    report = Report(
        out_dir=out,
        markdown=out / "report.md",
        html=out / "report.html",
        summary=DataSummary(
            source=source,
            n_rows=len(table),
            algorithms=sorted(table["algorithm"].unique()),
            benchmarks=sorted(table["benchmark"].unique()),
            tasks=sorted(table["task"].unique()),
            task_columns=task_cols,
            n_seeds=int(table["seed"].nunique()),
            budgets=[float(b) for b in grid],
            analysed_budgets=analysed,
            primary_budget=primary,
            value=value,
            renamed=renamed,
            meta_features=features,
            value_sources=_value_sources(table, renamed),
        ),
        bounds=bounds,
        means=mean_table(frame, "y", analysed),
        ranks=mean_ranks(frame, "y"),
    )
    at = {b: frame[frame["budget"] == b] for b in analysed}
    if lmem_tests:
        for b in analysed:
            report.comparisons[b] = lmem.compare_algorithms(at[b], alpha=alpha)
        for feature in features:
            report.interactions[feature] = {
                b: lmem.interaction_test(at[b], feature, alpha=alpha) for b in analysed
            }
        if at[primary]["seed"].nunique() > 1:  # with one seed there is no seed effect to test
            report.seed = lmem.seed_check(at[primary], alpha=alpha)
            report.seed_slopes = lmem.seed_slope_check(at[primary], alpha=alpha)
        report.informativeness = lmem.benchmark_informativeness(at[primary], alpha=alpha)
        if len(analysed) > 1:
            multi = frame[frame["budget"].isin(analysed)]
            report.fidelity = lmem.fidelity_check(multi, alpha=alpha)
    if table["task"].nunique() > 1:
        report.critical_difference = critical_difference(frame, primary, value="y", alpha=alpha)
    report.rank_blocks = int(
        block_ranks(at[primary], "y")[["instance", "seed"]].drop_duplicates().shape[0]
    )
    _figures(report, frame, value, n_boot)
    report.warnings = _collect_warnings(report)
    doc = render.document(report)
    report.markdown.write_text(doc.markdown(), encoding="utf-8")
    report.html.write_text(doc.html(out), encoding="utf-8")
    return report


def _analysed_budgets(
    grid: np.ndarray, budgets: Sequence[float] | None, table: pd.DataFrame
) -> list[float]:
    """The budgets to test at: four spread over the part of the grid where every run has an
    incumbent (a full-fidelity-only optimizer has none before its first full evaluation, while a
    multi-fidelity one does: a model cannot compare them where one has no rows), or the given
    ones, checked to lie there."""
    first = table.groupby("run")["budget"].min()
    start = float(first.max())
    common = grid[grid >= start]
    if budgets is None:
        if len(common) == 0:  # pragma: no cover - the grid always reaches the largest budget
            common = grid[-1:]
        picks = np.unique(
            np.round(np.linspace(0, len(common) - 1, min(4, len(common)))).astype(int)
        )
        return [float(common[i]) for i in picks]
    chosen = sorted({float(b) for b in budgets})
    if not chosen:
        raise ValueError("budgets is empty")
    low, high = float(grid[0]), float(grid[-1])
    outside = [b for b in chosen if b < low or b > high]
    if outside:
        raise ValueError(f"budget(s) {outside} outside the recorded range [{low:g}, {high:g}]")
    early = [b for b in chosen if b < start]
    if early:
        late = first[first > early[0]]
        algorithms = sorted(table.loc[table["run"].isin(late.index), "algorithm"].unique())
        raise ValueError(
            f"budget(s) {', '.join(f'{b:g}' for b in early)}: some runs have no result yet "
            f"(algorithm(s) {', '.join(algorithms)} start later), so the algorithms cannot be "
            f"compared there; test at budgets >= {start:g} (e.g. --budgets {start:g} "
            f"{high:g}), or leave --budgets out to pick them"
        )
    return chosen


def _value_sources(table: pd.DataFrame, renamed: Mapping[str, str]) -> list[str]:
    """The ``value_source`` entries of a table, unless ``value`` was mapped from another column."""
    if VALUE_SOURCE not in table.columns or "value" in renamed:
        return []
    return sorted(str(v) for v in table[VALUE_SOURCE].dropna().unique())


def _meta_features(table: pd.DataFrame) -> list[str]:
    """Columns constant within each task with 2..10 levels, each level covering >= 2 tasks and
    every algorithm (so the algorithm x feature interaction is estimable)."""
    skip = set(REQUIRED) | (set(OPTIONAL) - {"prior"}) | set(DERIVED) | {VALUE_SOURCE}
    found = []
    for name in table.columns:
        if name in skip or name.endswith("_input"):
            continue
        per_task = table.groupby("task")[name].nunique(dropna=False)
        levels = table.groupby(name)["task"].nunique()
        cells = table.groupby([name, "algorithm"]).size()
        complete = len(cells) == len(levels) * table["algorithm"].nunique()
        if per_task.max() == 1 and 2 <= len(levels) <= MAX_META_LEVELS and levels.min() >= 2:
            found += [name] if complete else []
    return found


def _figures(report: Report, frame: pd.DataFrame, value: str, n_boot: int) -> None:
    out, figures = report.out_dir, report.figures
    log_y = value == "normalized_regret"
    grid = frame[frame["budget"].isin(report.summary.budgets)]
    label = plots.LABELS.get(value, value)
    for key, per_task in (("traces", False), ("traces_per_benchmark", True)):
        figures[key] = plots.plot_traces(
            grid, out / key, value="y", label=label, per_task=per_task, log_y=log_y, n_boot=n_boot
        )[0]
    figures["ranks"] = plots.plot_mean_ranks(report.ranks, out / "mean_ranks")[0]
    if report.critical_difference is not None:
        figures["critical_difference"] = plots.plot_critical_difference(
            report.critical_difference, out / "critical_difference"
        )[0]


def _collect_warnings(report: Report) -> list[str]:
    tests: list[lmem.LRT] = []
    for c in report.comparisons.values():
        tests += [c.random_effect, c.algorithm_effect]
    for by_budget in report.interactions.values():
        for it in by_budget.values():
            tests += [it.main, it.interaction]
    if report.fidelity is not None:
        tests += [report.fidelity.main, report.fidelity.interaction]
    if report.seed is not None:
        tests.append(report.seed)
    if report.seed_slopes is not None:
        tests.append(report.seed_slopes.test)
    counts: dict[str, list[str]] = {}
    for t in tests:
        for message in t.warnings:
            counts.setdefault(message, [])
            if t.name not in counts[message]:
                counts[message].append(t.name)
    return [f"{m} (in: {', '.join(names)})" for m, names in counts.items()]
