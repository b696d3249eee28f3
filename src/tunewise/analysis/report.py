"""One call from a results table to a report: ``analyze(table, out_dir) -> Report``.

Writes ``report.md`` (figures as relative PNG links) and a self-contained ``report.html``
(figures embedded as base64 data URIs), and returns every number in dataclasses.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from tunewise.analysis import lmem, plots
from tunewise.analysis.regret import (
    CriticalDifference,
    critical_difference,
    mean_ranks,
    mean_table,
    normalized_regret,
    regret_bounds,
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


@dataclass(frozen=True)
class DataSummary:
    """What was analysed: sizes, budgets, the modeled value and column renames."""

    source: str
    n_rows: int
    algorithms: list[str]
    benchmarks: list[str]
    tasks: list[str]
    task_columns: list[str]
    n_seeds: int
    budgets: list[float]
    analysed_budgets: list[float]
    primary_budget: float
    value: str
    renamed: dict[str, str]
    meta_features: list[str]


@dataclass
class Report:
    """Numbers and files of one analysis; ``comparisons``/``interactions`` are keyed by budget."""

    out_dir: Path
    markdown: Path
    html: Path
    summary: DataSummary
    bounds: pd.DataFrame
    means: pd.DataFrame
    ranks: pd.DataFrame
    comparisons: dict[float, lmem.Comparison] = field(default_factory=dict)
    interactions: dict[str, dict[float, lmem.InteractionTest]] = field(default_factory=dict)
    seed: lmem.LRT | None = None
    informativeness: pd.DataFrame | None = None
    fidelity: lmem.InteractionTest | None = None
    critical_difference: CriticalDifference | None = None
    figures: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def primary(self) -> lmem.Comparison:
        """The LMEM comparison at the primary (largest analysed) budget."""
        return self.comparisons[self.summary.primary_budget]


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
    (default) or ``"value"`` (or another numeric column). ``meta_features``: categorical columns
    constant within a task to test as fixed effects (default: detected). ``lmem_tests=False``
    skips the models (traces, ranks and CD diagram only), e.g. for a single benchmark.
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
    analysed = _analysed_budgets(grid, budgets)
    primary = analysed[-1]
    bounds = regret_bounds(table)
    traces = incumbent_traces(table, np.union1d(grid, analysed))
    traces["normalized_regret"] = normalized_regret(traces, bounds)
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
        report.seed = lmem.seed_check(at[primary], alpha=alpha)
        report.informativeness = lmem.benchmark_informativeness(at[primary], alpha=alpha)
        if len(analysed) > 1:
            multi = frame[frame["budget"].isin(analysed)]
            report.fidelity = lmem.fidelity_check(multi, alpha=alpha)
    if table["task"].nunique() > 1:
        report.critical_difference = critical_difference(frame, primary, value="y", alpha=alpha)
    _figures(report, frame, value, n_boot)
    report.warnings = _collect_warnings(report)
    doc = _document(report)
    report.markdown.write_text(doc.markdown(), encoding="utf-8")
    report.html.write_text(doc.html(out), encoding="utf-8")
    return report


def _analysed_budgets(grid: np.ndarray, budgets: Sequence[float] | None) -> list[float]:
    if budgets is None:
        picks = np.unique(np.round(np.linspace(0, len(grid) - 1, min(4, len(grid)))).astype(int))
        return [float(grid[i]) for i in picks]
    chosen = sorted({float(b) for b in budgets})
    if not chosen:
        raise ValueError("budgets is empty")
    low, high = float(grid[0]), float(grid[-1])
    outside = [b for b in chosen if b < low or b > high]
    if outside:
        raise ValueError(f"budget(s) {outside} outside the recorded range [{low:g}, {high:g}]")
    return chosen


def _meta_features(table: pd.DataFrame) -> list[str]:
    """Columns constant within each task with 2..10 levels, each level covering >= 2 tasks and
    every algorithm (so the algorithm x feature interaction is estimable)."""
    skip = set(REQUIRED) | (set(OPTIONAL) - {"prior"}) | set(DERIVED)
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
    kwargs = {"value": "y", "label": label, "log_y": log_y, "n_boot": n_boot}
    figures["traces"] = plots.plot_traces(grid, out / "traces", **kwargs)[0]
    figures["traces_per_benchmark"] = plots.plot_traces(
        grid, out / "traces_per_benchmark", per_task=True, **kwargs
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
    counts: dict[str, list[str]] = {}
    for t in tests:
        for message in t.warnings:
            counts.setdefault(message, [])
            if t.name not in counts[message]:
                counts[message].append(t.name)
    return [f"{m} (in: {', '.join(names)})" for m, names in counts.items()]


# --- rendering -------------------------------------------------------------------------------


def fmt_p(p: float) -> str:
    """A p-value for humans: three significant digits, ``< 1e-16`` below machine precision."""
    return "< 1e-16" if p < 1e-16 else f"{p:.3g}"


def p_text(p: float) -> str:
    """``p = 0.012`` or ``p < 1e-16``."""
    return "p < 1e-16" if p < 1e-16 else f"p = {p:.3g}"


def _fmt(x: object) -> str:
    if isinstance(x, bool | np.bool_):
        return "yes" if x else "no"
    if isinstance(x, float | np.floating):
        return "" if np.isnan(x) else f"{x:.4g}"
    return str(x)


def _tidy(df: pd.DataFrame, index: bool = False) -> pd.DataFrame:
    df = df.reset_index() if index else df.reset_index(drop=True)
    df.columns = [str(c) for c in df.columns]
    out = df.astype(object).copy()
    for col in df.columns:
        is_p = col in ("p", "p_value", "p_adjusted") or col.endswith(" p")
        out[col] = [v if isinstance(v, str) else (fmt_p if is_p else _fmt)(v) for v in df[col]]
    return out


class _Doc:
    """Blocks rendered to Markdown and HTML from one source."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, object]] = []

    def h(self, level: int, text: str) -> None:
        self.blocks.append((f"h{level}", text))

    def p(self, text: str) -> None:
        self.blocks.append(("p", text))

    def items(self, lines: Sequence[str]) -> None:
        self.blocks.append(("ul", list(lines)))

    def table(self, df: pd.DataFrame, index: bool = False) -> None:
        self.blocks.append(("table", _tidy(df, index)))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(("img", (path, alt)))

    def markdown(self) -> str:
        parts = []
        for kind, body in self.blocks:
            if kind.startswith("h"):
                parts.append("#" * int(kind[1]) + f" {body}")
            elif kind == "p":
                parts.append(str(body))
            elif kind == "ul":
                parts.append("\n".join(f"- {line}" for line in body))  # type: ignore[attr-defined]
            elif kind == "table":
                df = body  # type: ignore[assignment]
                head = "| " + " | ".join(df.columns) + " |"
                rule = "|" + "|".join("---" for _ in df.columns) + "|"
                rows = [
                    "| " + " | ".join(str(v).replace("|", "\\|") for v in r) + " |"
                    for r in df.itertuples(index=False)
                ]
                parts.append("\n".join([head, rule, *rows]))
            elif kind == "img":
                path, alt = body  # type: ignore[misc]
                parts.append(f"![{alt}]({path.name})")
        return "\n\n".join(parts) + "\n"

    def html(self, out: Path) -> str:
        parts = []
        for kind, body in self.blocks:
            if kind.startswith("h"):
                parts.append(f"<{kind}>{html.escape(str(body))}</{kind}>")
            elif kind == "p":
                parts.append(f"<p>{_inline(str(body))}</p>")
            elif kind == "ul":
                lis = "".join(f"<li>{_inline(line)}</li>" for line in body)  # type: ignore[attr-defined]
                parts.append(f"<ul>{lis}</ul>")
            elif kind == "table":
                parts.append(body.to_html(index=False, border=0))  # type: ignore[attr-defined]
            elif kind == "img":
                path, alt = body  # type: ignore[misc]
                data = base64.b64encode((out / path.name).read_bytes()).decode("ascii")
                parts.append(f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">')
        style = (
            "body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.45}"
            "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
            "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            "img{max-width:100%}code{background:#f4f4f4}"
        )
        body = "\n".join(parts)
        return (
            "<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>tunewise analysis</title>"
            f"<style>{style}</style></head><body>\n{body}\n</body></html>\n"
        )


def _inline(text: str) -> str:
    """Escape, then turn `code` spans into <code>."""
    pieces = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(pieces))


def _lrt_rows(tests: Sequence[lmem.LRT]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "test": t.name,
                "model": t.larger,
                "against": t.smaller,
                "χ²": t.statistic,
                "df": t.df,
                "reference": t.reference,
                "p": t.p_value,
                "significant": t.significant,
            }
            for t in tests
        ]
    )


def _contrast_rows(ph: lmem.PostHoc, extra: dict[str, object] | None = None) -> pd.DataFrame:
    rows = ph.contrasts.copy()
    rows.insert(2, "contrast", rows["a"] + " − " + rows["b"])
    rows = rows.drop(columns=["a", "b"])
    for key, val in (extra or {}).items():
        rows.insert(0, key, val)
    return rows


def _document(r: Report) -> _Doc:
    s, doc = r.summary, _Doc()
    value_text = {
        "normalized_regret": "normalized regret (value − best) / (worst − best) per benchmark, "
        "clipped to [0, 1]; best = the `optimum` column or the best value any run reached, worst "
        "= the worst first incumbent of any run",
        "value": "the raw objective value (lower is better)",
    }.get(s.value, f"the column `{s.value}`")
    doc.h(1, "tunewise analysis report")
    doc.p(
        "Linear mixed-effects model (LMEM) analysis after Geburek et al. (2024), average ranks "
        "and critical-difference diagrams after Demšar (2006)."
    )
    doc.h(2, "Data")
    budgets = s.budgets
    doc.items(
        [
            f"source: `{s.source}`; {s.n_rows} rows",
            f"algorithms ({len(s.algorithms)}): {', '.join(s.algorithms)}",
            f"benchmarks ({len(s.benchmarks)}): {', '.join(s.benchmarks)}",
            f"random-effect unit (task) = {' × '.join(s.task_columns)}: {len(s.tasks)} tasks "
            "(a prior changes the optimizer's problem, so each benchmark × prior pair is its own "
            "task)"
            if "prior" in s.task_columns
            else f"random-effect unit (task) = {' × '.join(s.task_columns)}: {len(s.tasks)} tasks",
            f"seeds: {s.n_seeds}",
            f"budget grid: {len(budgets)} points from {budgets[0]:g} to {budgets[-1]:g} "
            "(full-fidelity evaluations; incumbents forward-filled)",
            f"analysed budgets: {', '.join(f'{b:g}' for b in s.analysed_budgets)}; primary "
            f"(largest): {s.primary_budget:g}",
            f"modeled value `y`: {value_text}",
            "column renames: "
            + (", ".join(f"`{v}` → `{k}`" for k, v in s.renamed.items()) or "none"),
            f"meta-features tested: {', '.join(s.meta_features) or 'none'}",
        ]
    )
    doc.h(2, "Performance")
    doc.p("Mean `y` over tasks and seeds at the analysed budgets (lower is better):")
    doc.table(r.means, index=True)
    doc.p("Mean rank (1 = best) within each problem instance × seed block, averaged:")
    doc.table(r.ranks.loc[r.ranks.index.isin(s.analysed_budgets)], index=True)
    doc.h(2, "Figures")
    captions = {
        "traces": "Incumbent traces, mean over tasks (95% bootstrap band over seeds)",
        "traces_per_benchmark": "Incumbent traces per task",
        "ranks": "Mean rank over budget",
        "critical_difference": "Critical-difference diagram at the primary budget",
    }
    for key, path in r.figures.items():
        doc.p(f"{captions[key]} (PDF: `{path.with_suffix('.pdf').name}`)")
        doc.image(path, captions[key])
    if r.comparisons:
        _lmem_sections(r, doc)
    if r.critical_difference is not None:
        cd = r.critical_difference
        doc.h(2, "Critical difference (Demšar 2006)")
        doc.p(
            f"At budget {cd.budget:g}, ranks of the seed-mean `y` per task ({cd.n_blocks} blocks): "
            f"Friedman χ² = {cd.friedman:.3g} ({p_text(cd.friedman_p)}), Iman–Davenport F = "
            f"{cd.iman_davenport:.3g} ({p_text(cd.iman_davenport_p)}). Nemenyi CD = {cd.cd:.3g} "
            f"at α = {cd.alpha}. Not significantly different: "
            + ("; ".join("{" + ", ".join(c) + "}" for c in cd.cliques) or "none (all pairs differ)")
        )
        doc.table(cd.ranks.rename("average rank").to_frame(), index=True)
    doc.h(2, "Fit warnings")
    doc.p(
        "statsmodels warnings captured during fitting. A boundary warning is expected when a "
        "variance is estimated near zero (e.g. the seed variance in the seed check)."
    )
    doc.items(r.warnings or ["none"])
    return doc


def _lmem_sections(r: Report, doc: _Doc) -> None:
    s, c = r.summary, r.primary
    doc.h(2, f"LMEM at the primary budget ({s.primary_budget:g})")
    doc.p(
        "Fitted by maximum likelihood (statsmodels MixedLM, reml=False). The benchmark test "
        "compares against OLS with the boundary mixture 0.5·χ²(0) + 0.5·χ²(1); the algorithm "
        "test compares against the model without `algorithm` (χ² with k − 1 df)."
    )
    doc.table(_lrt_rows([c.random_effect, c.algorithm_effect]))
    doc.items([f"{t.name}: {t.conclusion}" for t in (c.random_effect, c.algorithm_effect)])
    doc.p(f"Post-hoc contrasts ({c.posthoc.method}); negative estimate = first one better:")
    doc.table(_contrast_rows(c.posthoc))
    doc.p("Estimated marginal means:")
    doc.table(c.posthoc.means)

    doc.h(2, "LMEM at each analysed budget")
    doc.table(
        pd.DataFrame(
            [
                {
                    "budget": b,
                    "σ² task": cmp.fit.variances.get("task", np.nan),
                    "algorithm χ²": cmp.algorithm_effect.statistic,
                    "df": cmp.algorithm_effect.df,
                    "p": cmp.algorithm_effect.p_value,
                    "random-effect p": cmp.random_effect.p_value,
                }
                for b, cmp in r.comparisons.items()
            ]
        )
    )
    doc.table(
        pd.concat([_contrast_rows(cmp.posthoc, {"budget": b}) for b, cmp in r.comparisons.items()])
    )

    for feature, by_budget in r.interactions.items():
        doc.h(2, f"Meta-feature: {feature}")
        doc.p(
            f"`y ~ algorithm * {feature} + (1 | task)` against the additive model (does {feature} "
            f"change the algorithm differences?) and `y ~ algorithm + {feature} + (1 | task)` "
            f"against `y ~ algorithm + (1 | task)`; contrasts within each level of {feature}."
        )
        tests = []
        for b, it in by_budget.items():
            for t in (it.interaction, it.main):
                tests.append({"budget": b, **_lrt_rows([t]).iloc[0].drop(["model", "against"])})
        doc.table(pd.DataFrame(tests))
        doc.items([f"budget {b:g}: {it.interaction.conclusion}" for b, it in by_budget.items()])
        doc.table(
            pd.concat([_contrast_rows(it.posthoc, {"budget": b}) for b, it in by_budget.items()])
        )

    doc.h(2, "Sanity checks")
    if r.seed is not None:
        doc.p(f"**Seed.** `{r.seed.larger}` against `{r.seed.smaller}`: {r.seed.conclusion}.")
    if r.informativeness is not None:
        info = r.informativeness
        flagged = info.loc[~info["informative"], "task"].tolist()
        doc.p(
            "**Benchmark informativeness.** One-way ANOVA F-test of `y ~ algorithm` per task at "
            f"budget {s.primary_budget:g}; uninformative (p ≥ alpha): "
            + (", ".join(flagged) or "none")
        )
        doc.table(info)
    if r.fidelity is not None:
        f = r.fidelity
        doc.p(
            "**Fidelity.** Budget as a categorical fixed effect over the analysed budgets: "
            f"{f.main.conclusion}; interaction `{f.interaction.larger}`: "
            f"{f.interaction.conclusion}."
            " " + " ".join(n[0].upper() + n[1:] + "." for n in f.notes)
        )
        doc.table(_lrt_rows([f.main, f.interaction]))
