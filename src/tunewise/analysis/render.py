"""Rendering a :class:`~tunewise.analysis.report.Report`: one block list, Markdown and HTML.

:func:`document` turns the numbers of a report into headings, paragraphs, tables and figures;
:class:`_Doc` writes those blocks as Markdown (figures as relative PNG links) or as a
self-contained HTML page (figures embedded as base64 data URIs). Nothing here computes a test.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tunewise.analysis import lmem
from tunewise.analysis.findings import Report
from tunewise.analysis.format import fmt_p, p_text

#: What ``value`` holds, by the ``value_source`` entry ``tunewise bench`` writes.
VALUE_SOURCES = {
    "oracle": "the incumbent's full-fidelity (oracle) value: the benchmark evaluated at full "
    "fidelity for the configuration the optimizer holds as best (what a user would get)",
    "observed": "the objective the optimizer observed for its incumbent, at the fidelity it was "
    "evaluated (what the optimizer believes)",
}


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


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str


@dataclass(frozen=True)
class _Items:
    lines: tuple[str, ...]


@dataclass(frozen=True)
class _Table:
    frame: pd.DataFrame  # already formatted as strings (:func:`_tidy`)


@dataclass(frozen=True)
class _Image:
    path: Path
    alt: str


_Block = _Heading | str | _Items | _Table | _Image  # a str is a paragraph


class _Doc:
    """Blocks rendered to Markdown and HTML from one source."""

    def __init__(self) -> None:
        self.blocks: list[_Block] = []

    def h(self, level: int, text: str) -> None:
        self.blocks.append(_Heading(level, text))

    def p(self, text: str) -> None:
        self.blocks.append(text)

    def items(self, lines: Sequence[str]) -> None:
        self.blocks.append(_Items(tuple(lines)))

    def table(self, df: pd.DataFrame, index: bool = False) -> None:
        self.blocks.append(_Table(_tidy(df, index)))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(_Image(path, alt))

    def markdown(self) -> str:
        parts = []
        for block in self.blocks:
            if isinstance(block, _Heading):
                parts.append("#" * block.level + f" {block.text}")
            elif isinstance(block, str):
                parts.append(block)
            elif isinstance(block, _Items):
                parts.append("\n".join(f"- {line}" for line in block.lines))
            elif isinstance(block, _Table):
                df = block.frame
                head = "| " + " | ".join(df.columns) + " |"
                rule = "|" + "|".join("---" for _ in df.columns) + "|"
                rows = [
                    "| " + " | ".join(str(v).replace("|", "\\|") for v in r) + " |"
                    for r in df.itertuples(index=False)
                ]
                parts.append("\n".join([head, rule, *rows]))
            else:
                parts.append(f"![{block.alt}]({block.path.name})")
        return "\n\n".join(parts) + "\n"

    def html(self, out: Path) -> str:
        parts = []
        for block in self.blocks:
            if isinstance(block, _Heading):
                parts.append(f"<h{block.level}>{html.escape(block.text)}</h{block.level}>")
            elif isinstance(block, str):
                parts.append(f"<p>{_inline(block)}</p>")
            elif isinstance(block, _Items):
                lis = "".join(f"<li>{_inline(line)}</li>" for line in block.lines)
                parts.append(f"<ul>{lis}</ul>")
            elif isinstance(block, _Table):
                parts.append(block.frame.to_html(index=False, border=0))
            else:
                data = base64.b64encode((out / block.path.name).read_bytes()).decode("ascii")
                alt = html.escape(block.alt)
                parts.append(f'<img alt="{alt}" src="data:image/png;base64,{data}">')
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


def _contrast_rows(ph: lmem.PostHoc, extra: dict[str, float] | None = None) -> pd.DataFrame:
    rows = ph.contrasts.copy()
    rows.insert(2, "contrast", rows["a"] + " − " + rows["b"])
    rows = rows.drop(columns=["a", "b"])
    for key, val in (extra or {}).items():
        rows.insert(0, key, val)
    return rows


def document(r: Report) -> _Doc:
    """The report's text, tables and figures as blocks, to write as Markdown or HTML."""
    s, doc = r.summary, _Doc()
    value_text = {
        "normalized_regret": "normalized regret (value − best) / (worst − best) per benchmark, "
        "clipped to [0, 1]; best = the `optimum` column or the best value any run reached, worst "
        "= the worst first incumbent of any run",
        "log_regret": "log10 simple regret, log10(value − optimum) with the `optimum` column "
        "(regret below 1e-9 of the benchmark's range counts as that), which keeps the "
        "differences near the optimum that normalized regret compresses",
        "rank": "the rank of `value` among the algorithms within each problem instance × seed × "
        "budget block (1 = best; blocks lacking an algorithm left out)",
        "value": "the raw objective value (lower is better)",
    }.get(s.value, f"the column `{s.value}`")
    if s.value_sources:
        source_text = "; ".join(
            f"`{v}` = {VALUE_SOURCES.get(v, 'as the table says')}" for v in s.value_sources
        )
        source_item = f"`value` holds (column `value_source`): {source_text}"
    elif "value" in s.renamed:
        source_item = f"`value` holds the input column `{s.renamed['value']}`"
    else:
        source_item = "`value`: the table does not say whether it is an observed or a "
        source_item += "full-fidelity (oracle) value (no `value_source` column)"
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
            source_item,
            "column renames: "
            + (", ".join(f"`{v}` → `{k}`" for k, v in s.renamed.items()) or "none"),
            f"meta-features tested: {', '.join(s.meta_features) or 'none'}",
        ]
    )
    doc.h(2, "Performance")
    doc.p("Mean `y` over tasks and seeds at the analysed budgets (lower is better):")
    doc.table(r.means, index=True)
    cd_blocks = (
        f"; the critical-difference diagram below ranks one seed-mean per task instead "
        f"({r.critical_difference.n_blocks} blocks), so its average ranks differ from these"
        if r.critical_difference is not None
        else ""
    )
    doc.p(
        "Mean rank (1 = best) of `y` within each problem instance × seed block, averaged over "
        f"the blocks ({r.rank_blocks} at budget {s.primary_budget:g}){cd_blocks}:"
    )
    doc.table(r.ranks.loc[r.ranks.index.isin(s.analysed_budgets)], index=True)
    doc.h(2, "Figures")
    captions = {
        "traces": "Incumbent traces, mean over tasks (95% bootstrap band over seeds)",
        "traces_per_benchmark": "Incumbent traces per task",
        "ranks": "Mean rank over budget (instance × seed blocks, as in the table above)",
        "critical_difference": "Critical-difference diagram at the primary budget (ranks of "
        "seed-means per task, as in the section below)",
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
            f"At budget {cd.budget:g}, ranks of the seed-mean `y` per task ({cd.n_blocks} blocks, "
            "one per task; the mean-rank table under Performance ranks every instance × seed "
            f"block, {r.rank_blocks} of them, so its figures differ): "
            f"Friedman χ² = {cd.friedman:.3g} ({p_text(cd.friedman_p)}), Iman–Davenport F = "
            f"{cd.iman_davenport:.3g} ({p_text(cd.iman_davenport_p)}). Nemenyi CD = {cd.cd:.3g} "
            f"at α = {cd.alpha}. Not significantly different: "
            + ("; ".join("{" + ", ".join(c) + "}" for c in cd.cliques) or "none (all pairs differ)")
        )
        doc.table(cd.ranks.rename("average rank").to_frame(), index=True)
    doc.h(2, "Fit warnings")
    doc.p(
        "statsmodels warnings captured during fitting. A boundary warning is expected when a "
        "variance is estimated near zero (e.g. the seed variances in the seed checks)."
    )
    doc.items(r.warnings or ["none"])
    return doc


def _lmem_sections(r: Report, doc: _Doc) -> None:
    s, c = r.summary, r.primary
    doc.h(2, f"LMEM at the primary budget ({s.primary_budget:g})")
    doc.p(
        "Fitted by maximum likelihood (statsmodels MixedLM, reml=False). The benchmark test "
        "(do benchmarks differ in difficulty?) compares against OLS with the boundary mixture "
        "0.5·χ²(0) + 0.5·χ²(1); the algorithm test compares against the model without "
        "`algorithm` (χ² with k − 1 df)."
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
    doc.p(f"At budget {s.primary_budget:g}.")
    if r.seed_slopes is not None:
        t = r.seed_slopes.test
        flagged_seeds = ", ".join(r.seed_slopes.flagged)
        doc.p(
            f"**Seed (Geburek et al.'s test).** `{t.larger}` against `{t.smaller}` (χ²({t.df}), "
            f"conservative at the variance boundary): {t.conclusion}."
            + (
                f" Flagged (slope variance within 10× of the largest): {flagged_seeds}."
                if flagged_seeds
                else ""
            )
        )
        doc.table(r.seed_slopes.variances.rename_axis("algorithm").to_frame(), index=True)
    if r.seed is not None:
        doc.p(
            f"**Seed intercept (tunewise's additional check).** `{r.seed.larger}` against "
            f"`{r.seed.smaller}`, a shift shared by all algorithms under one seed index: "
            f"{r.seed.conclusion}."
        )
    if r.informativeness is not None:
        info = r.informativeness
        flagged = info.loc[~info["informative"], "task"].tolist()
        doc.p(
            "**Benchmark informativeness (Geburek et al.'s test).** Per task, `y ~ algorithm` "
            "against `y ~ 1` by a likelihood-ratio test (OLS, χ²(k − 1)); uninformative "
            "(p ≥ alpha): "
            + (", ".join(flagged) or "none")
            + ". `F` and `anova_p`: the one-way ANOVA F-test of the same hypothesis, for "
            "comparison."
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
