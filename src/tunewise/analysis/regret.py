"""Normalized regret and mean ranks: numbers that are comparable across benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


def regret_bounds(table: pd.DataFrame) -> pd.DataFrame:
    """Per benchmark: ``best`` and ``worst`` used to normalize regret.

    ``best`` is the ``optimum`` column where given (one value per benchmark), else the smallest
    value any run reached on that benchmark. ``worst`` is the largest first incumbent over the
    benchmark's runs, i.e. the worst value at the smallest budget. Normalization is per benchmark,
    not per task: a prior changes the optimizer's start, not the objective, so one scale serves
    all priors.
    """
    first = table.sort_values("budget", kind="stable").groupby("run").head(1)
    bounds = pd.DataFrame(
        {
            "best": table.groupby("benchmark")["value"].min(),
            "worst": first.groupby("benchmark")["value"].max(),
        }
    )
    if "optimum" in table.columns:
        optimum = table.groupby("benchmark")["optimum"].min()
        bounds["best"] = optimum.where(optimum.notna(), bounds["best"])
    return bounds


def normalized_regret(table: pd.DataFrame, bounds: pd.DataFrame | None = None) -> pd.Series:
    """``(value - best) / (worst - best)`` per benchmark, clipped to [0, 1] (0 = optimum).

    ``bounds`` defaults to :func:`regret_bounds` of ``table``; pass the raw table's bounds when
    ``table`` holds traces on a grid. A benchmark where worst == best gets regret 0.
    """
    bounds = regret_bounds(table) if bounds is None else bounds
    best = table["benchmark"].map(bounds["best"]).to_numpy(dtype=float)
    worst = table["benchmark"].map(bounds["worst"]).to_numpy(dtype=float)
    span = worst - best
    values = table["value"].to_numpy(dtype=float) - best
    regret = np.divide(values, span, out=np.zeros_like(values), where=span > 0)
    return pd.Series(np.clip(regret, 0.0, 1.0), index=table.index, name="normalized_regret")


#: Simple regret below this fraction of a benchmark's (worst - best) span counts as the span
#: times this fraction, so ``log_regret`` stays finite at the optimum (and for values below a
#: best *known* optimum, as on LCBench).
LOG_REGRET_FLOOR = 1e-9


def log_regret(
    table: pd.DataFrame, bounds: pd.DataFrame | None = None, *, floor: float = LOG_REGRET_FLOOR
) -> pd.Series:
    """``log10(value - optimum)`` per row: log simple regret, unnormalized and unclipped above.

    Normalized regret compresses the last digits (0.003 and 0.0003 are both "near 0"); the log
    of simple regret keeps them, so it is the scale for claims about precision near the optimum.
    It needs the benchmark's optimum (the ``optimum`` column): against the best value any run
    reached, that run's regret would be 0 and its log an outlier. NaN where the optimum is
    missing. Regret below ``floor`` times the benchmark's (worst - optimum) span (a value at, or
    below a best *known*, optimum) is raised to it.
    """
    bounds = regret_bounds(table) if bounds is None else bounds
    if "optimum" not in table.columns:
        return pd.Series(np.nan, index=table.index, name="log_regret")
    optimum = table["optimum"].to_numpy(dtype=float)
    worst = table["benchmark"].map(bounds["worst"]).to_numpy(dtype=float)
    span = np.where(worst > optimum, worst - optimum, 1.0)
    with np.errstate(invalid="ignore"):
        regret = np.maximum(table["value"].to_numpy(dtype=float) - optimum, floor * span)
    return pd.Series(np.log10(regret), index=table.index, name="log_regret")


def with_derived(traces: pd.DataFrame, bounds: pd.DataFrame) -> pd.DataFrame:
    """``traces`` with the derived responses ``normalized_regret``, ``log_regret`` and ``rank``.

    ``bounds`` are those of the whole table (:func:`regret_bounds`). ``rank`` is the rank of
    ``value`` within its (instance, seed, budget) block (:func:`block_ranks`; NaN in blocks that
    lack an algorithm).
    """
    out = traces.assign(
        normalized_regret=normalized_regret(traces, bounds), log_regret=log_regret(traces, bounds)
    )
    keys = ["instance", "seed", "budget", "algorithm"]
    ranks = block_ranks(out, "value")
    return out.merge(ranks, on=keys, how="left", validate="many_to_one")


def block_ranks(table: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Rank algorithms within each (instance, seed, budget) block; 1 = best, ties share the mean.

    Only blocks where every algorithm has a row are kept, so each rank is out of the same ``k``.
    Returns the block columns plus ``algorithm`` and ``rank``.
    """
    keys = ["instance", "seed", "budget"]
    k = table["algorithm"].nunique()
    complete = table.groupby(keys)["algorithm"].transform("nunique") == k
    rows = table.loc[complete, [*keys, "algorithm", value]].copy()
    rows["rank"] = rows.groupby(keys)[value].rank(method="average")
    return rows.drop(columns=value)


def mean_ranks(table: pd.DataFrame, value: str = "value") -> pd.DataFrame:
    """Mean rank of each algorithm at each budget, averaged over (instance, seed) blocks.

    Returns a frame indexed by budget with one column per algorithm, shape ``(n_budgets, k)``.
    """
    ranks = block_ranks(table, value)
    return ranks.pivot_table(index="budget", columns="algorithm", values="rank", aggfunc="mean")


def mean_table(table: pd.DataFrame, value: str, budgets: list[float]) -> pd.DataFrame:
    """Mean of ``value`` over tasks and seeds per algorithm at ``budgets`` (rows: budgets)."""
    rows = table[table["budget"].isin(budgets)]
    return rows.pivot_table(index="budget", columns="algorithm", values=value, aggfunc="mean")


@dataclass(frozen=True)
class CriticalDifference:
    """Average ranks at one budget with the Friedman test and the Nemenyi critical difference.

    ``ranks`` is sorted best first; ``cliques`` are maximal groups of algorithms whose average ranks
    differ by less than ``cd`` (not significantly different, Demšar 2006).
    """

    budget: float
    ranks: pd.Series
    n_blocks: int
    blocks: str
    friedman: float
    friedman_p: float
    iman_davenport: float
    iman_davenport_p: float
    cd: float
    cliques: tuple[tuple[str, ...], ...]
    alpha: float

    @property
    def significant(self) -> bool:
        return self.iman_davenport_p < self.alpha


def critical_difference(
    table: pd.DataFrame,
    budget: float,
    *,
    value: str = "value",
    alpha: float = 0.05,
    blocks: str = "task",
) -> CriticalDifference:
    """Friedman test and Nemenyi post-hoc on average ranks at ``budget`` (Demšar 2006).

    ``blocks="task"`` ranks the seed-mean of ``value`` per task (Demšar's data sets: N = tasks);
    ``blocks="task_seed"`` ranks every (task, seed). Only blocks with all algorithms count. CD =
    q_alpha / sqrt(2) * sqrt(k (k + 1) / (6 N)) with q_alpha from the studentized range (df = inf).
    Significance uses the Iman-Davenport F form of the Friedman statistic, as Demšar recommends.
    """
    from scipy.stats import chi2, f, studentized_range

    rows = table[table["budget"] == budget]
    if rows.empty:
        raise ValueError(f"no rows at budget {budget}")
    keys = {"task": ["task"], "task_seed": ["task", "instance", "seed"]}.get(blocks)
    if keys is None:
        raise ValueError(f"blocks must be 'task' or 'task_seed', got {blocks!r}")
    wide = rows.pivot_table(index=keys, columns="algorithm", values=value, aggfunc="mean").dropna()
    n, k = wide.shape
    if n == 0:
        raise ValueError(f"no {blocks} block at budget {budget} has results for every algorithm")
    avg = wide.rank(axis=1, method="average").mean().sort_values()
    chi = 12 * n / (k * (k + 1)) * (float((avg**2).sum()) - k * (k + 1) ** 2 / 4)
    chi_p = float(chi2.sf(chi, k - 1))
    denominator = n * (k - 1) - chi
    if n > 1 and denominator > 0:
        ff = (n - 1) * chi / denominator
        ff_p = float(f.sf(ff, k - 1, (k - 1) * (n - 1)))
    else:
        ff, ff_p = float("inf") if n > 1 else float("nan"), 0.0 if n > 1 else 1.0
    q = float(studentized_range.ppf(1 - alpha, k, np.inf))
    cd = q / np.sqrt(2) * np.sqrt(k * (k + 1) / (6 * n))
    return CriticalDifference(
        budget=float(budget),
        ranks=avg,
        n_blocks=n,
        blocks=blocks,
        friedman=chi,
        friedman_p=chi_p,
        iman_davenport=ff,
        iman_davenport_p=ff_p,
        cd=float(cd),
        cliques=cliques(avg, cd),
        alpha=alpha,
    )


def cliques(ranks: pd.Series, cd: float) -> tuple[tuple[str, ...], ...]:
    """Maximal runs of rank-sorted algorithms spanning less than ``cd`` (size >= 2)."""
    ordered = ranks.sort_values()
    names, values = list(ordered.index), ordered.to_numpy()
    spans: list[tuple[int, int]] = []
    for i in range(len(names)):
        j = i
        while j + 1 < len(names) and values[j + 1] - values[i] < cd:
            j += 1
        if j > i and not any(a <= i and j <= b for a, b in spans):
            spans.append((i, j))
    return tuple(tuple(names[a : b + 1]) for a, b in spans)
