"""The named LMEM tests of Geburek et al. (2024), built on :mod:`tunewise.analysis.lmem.model`.

- :func:`compare_algorithms`: do algorithms differ at one budget? (LRTs and Tukey post-hoc);
- :func:`interaction_test`, :func:`fidelity_check`: does a meta-feature (prior quality) or the
  budget change the algorithm differences?
- sanity checks: :func:`seed_slope_check` (the paper's seed test), :func:`seed_check` (a crossed
  seed intercept, tunewise's additional check) and :func:`benchmark_informativeness`.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tunewise.analysis.lmem.model import (
    LRT,
    Design,
    Fit,
    PostHoc,
    Terms,
    fit,
    likelihood_ratio,
    posthoc,
)
from tunewise.analysis.table import require_benchmarks

#: Geburek et al.'s rule for a significant seed test: flag algorithms whose seed-slope variance
#: is within this factor of the largest.
SEED_FLAG_RATIO = 10.0


@dataclass(frozen=True)
class Comparison:
    """The LMEM comparison at one budget: random-effect LRT, algorithm LRT and post-hoc."""

    budget: float
    fit: Fit
    random_effect: LRT
    algorithm_effect: LRT
    posthoc: PostHoc


@dataclass(frozen=True)
class InteractionTest:
    """Does ``feature`` change the algorithm differences? ``interaction``: algorithm x feature vs
    algorithm + feature; ``main``: algorithm + feature vs algorithm; ``posthoc`` per feature level
    from the interaction model and ``pooled`` from the additive model."""

    feature: str
    main: LRT
    interaction: LRT
    posthoc: PostHoc
    pooled: PostHoc
    fits: tuple[Fit, ...] = field(default=(), repr=False)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class SeedSlopes:
    """Geburek et al.'s seed check: ``y ~ algorithm + (0 + algorithm | seed)`` against
    ``y ~ algorithm``. ``variances``: each algorithm's seed-slope variance; ``flagged``: when the
    test is significant, the algorithms whose variance is within 10x of the largest (the ones whose
    results depend on the seed), else empty."""

    test: LRT
    variances: pd.Series
    flagged: tuple[str, ...]


def compare_algorithms(frame: pd.DataFrame, *, alpha: float = 0.05) -> Comparison:
    """The LMEM comparison at one budget (Geburek et al. 2024).

    LRT 1: ``y ~ algorithm + (1|task)`` vs OLS ``y ~ algorithm`` (do benchmarks differ in
    difficulty, i.e. is the random effect needed? boundary mixture). LRT 2: the same model vs
    ``y ~ 1 + (1|task)`` (do algorithms differ? chi2 with k - 1 df). Then Tukey-adjusted pairwise
    contrasts. The random effect stays in the model either way: with a variance near zero its
    contrasts are those of OLS.
    """
    budget = _single_budget(frame)
    require_benchmarks(frame)
    full = fit(frame, (("algorithm",),))
    random_effect = likelihood_ratio(
        full,
        fit(frame, (("algorithm",),), random=()),
        name="benchmark random effect",
        claim="benchmarks differ in difficulty",
        then="the random effect is needed",
        otherwise="the random effect adds nothing over OLS here (the model keeps it; with a "
        "variance near zero its contrasts are those of OLS)",
        alpha=alpha,
        boundary=True,
    )
    algorithm_effect = likelihood_ratio(
        full, fit(frame, ()), name="algorithm effect", claim="algorithms differ", alpha=alpha
    )
    return Comparison(budget, full, random_effect, algorithm_effect, posthoc(full, alpha=alpha))


def interaction_test(
    frame: pd.DataFrame,
    feature: str,
    *,
    alpha: float = 0.05,
    random: Sequence[str] = ("task",),
    nuisance: Sequence[str] = (),
) -> InteractionTest:
    """Test a meta-feature (or budget) as a fixed effect and its interaction with algorithm.

    ``y ~ algorithm * feature + (1|task)`` vs ``y ~ algorithm + feature + (1|task)`` (df =
    (k - 1)(m - 1)); the feature's main effect is tested against ``y ~ algorithm + (1|task)``.
    ``nuisance`` factors enter every model additively. Categorical features only.
    """
    if frame[feature].nunique() < 2:
        raise ValueError(f"meta-feature {feature!r} has a single level; nothing to test")
    base: Terms = (("algorithm",), *((n,) for n in nuisance))
    only = fit(frame, base, random=random)
    additive = fit(frame, (*base, (feature,)), random=random)
    full = fit(frame, (*base, (feature,), ("algorithm", feature)), random=random)
    main = likelihood_ratio(
        additive, only, name=f"{feature} main effect", claim=f"{feature} matters", alpha=alpha
    )
    inter = likelihood_ratio(
        full,
        additive,
        name=f"algorithm × {feature}",
        claim=f"the algorithm differences depend on {feature}",
        alpha=alpha,
    )
    return InteractionTest(
        feature=feature,
        main=main,
        interaction=inter,
        posthoc=posthoc(full, by=feature, alpha=alpha),
        pooled=posthoc(additive, alpha=alpha),
        fits=(only, additive, full),
    )


def fidelity_check(frame: pd.DataFrame, *, alpha: float = 0.05) -> InteractionTest:
    """Does the ranking of algorithms change with budget? An algorithm x budget interaction LRT.

    Budget is a categorical fixed effect: ``y ~ algorithm * budget + (1|task)`` vs the additive
    model, as in Geburek et al. (2024). ``frame`` holds each run at several budgets; the model
    treats these repeated measures as independent (a random intercept per run is too slow and
    unstable in ``MixedLM`` for thousands of runs). For positive within-run correlation this makes
    the interaction test conservative but pooled contrasts optimistic, so per-budget contrasts
    should come from :func:`compare_algorithms` at each budget. The estimated within-run
    correlation of residuals is given in ``notes``.
    """
    if frame["budget"].nunique() < 2:
        raise ValueError("the fidelity check needs at least two budgets")
    result = interaction_test(frame, "budget", alpha=alpha)
    rho = _within_run_correlation(frame)
    note = (
        f"within-run residual correlation across budgets (one-way ANOVA estimate): {rho:.3f}; "
        "the model treats a run's budgets as independent"
    )
    return dataclasses.replace(result, notes=(*result.notes, note))


def seed_slope_check(frame: pd.DataFrame, *, alpha: float = 0.05) -> SeedSlopes:
    """Geburek et al.'s seed check: ``y ~ algorithm + (0 + algorithm | seed)`` vs ``y ~ algorithm``.

    A random effect per algorithm within each seed index (unstructured covariance) against OLS,
    both without the benchmark effect, as in the paper. Significant: some algorithm's results
    depend on the seed index more than on chance (shared random streams, too few seeds); the
    algorithms whose slope variance is within 10x of the largest are flagged. df = q (q + 1) / 2
    for q algorithms, referred to χ²(df): conservative, since variances sit on the boundary of
    their range under the null.
    """
    _single_budget(frame)
    larger = fit(frame, (("algorithm",),), random=(), slopes=("seed", "algorithm"))
    test = likelihood_ratio(
        larger,
        fit(frame, (("algorithm",),), random=()),
        name="seed slopes",
        claim="some algorithm's results depend on the seed index",
        alpha=alpha,
    )
    prefix = "seed:algorithm="
    variances = pd.Series(
        {k[len(prefix) :]: v for k, v in larger.variances.items() if k.startswith(prefix)},
        name="seed-slope variance",
    )
    flagged: tuple[str, ...] = ()
    if test.significant and variances.max() > 0:
        flagged = tuple(variances.index[variances >= variances.max() / SEED_FLAG_RATIO])
    return SeedSlopes(test=test, variances=variances, flagged=flagged)


def seed_check(frame: pd.DataFrame, *, alpha: float = 0.05) -> LRT:
    """Does a crossed seed random intercept improve ``y ~ algorithm + (1|task)``?

    tunewise's additional check, not the paper's (that is :func:`seed_slope_check`): a shift
    shared by all algorithms under one seed index, tested with the boundary mixture. Seeds should
    be exchangeable replicates; a significant seed effect hints at shared random streams (e.g. the
    same benchmark noise for every algorithm under one seed) or too few seeds.
    """
    _single_budget(frame)
    return likelihood_ratio(
        fit(frame, (("algorithm",),), random=("task", "seed")),
        fit(frame, (("algorithm",),)),
        name="seed intercept",
        claim="results depend on the seed index",
        alpha=alpha,
        boundary=True,
    )


def benchmark_informativeness(frame: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per task at one budget: does ``y ~ algorithm`` beat ``y ~ 1``? (Geburek et al.'s check.)

    ``chi2``, ``df`` and ``p_value``: the likelihood-ratio test of the paper (OLS fits, χ²(k - 1)),
    which decides ``informative``: a task where algorithms do not differ (p >= alpha) adds a
    benchmark to the count without telling the algorithms apart. ``F`` and ``anova_p``: the
    one-way ANOVA F-test of the same hypothesis (exact for normal errors, tunewise's earlier
    check), for comparison; the two agree except near alpha with few seeds.
    """
    from scipy.stats import f_oneway

    _single_budget(frame)
    rows = []
    for task, group in frame.groupby("task", sort=True):
        samples = [g["y"].to_numpy() for _, g in group.groupby("algorithm")]
        means = group.groupby("algorithm")["y"].mean()
        within = max((float(np.ptp(x)) for x in samples), default=0.0)
        if len(samples) < 2 or np.ptp(group["y"].to_numpy()) == 0:
            statistic, df, p = 0.0, len(samples) - 1, 1.0  # nothing varies
        elif within == 0:
            statistic, df, p = np.inf, len(samples) - 1, 0.0  # only the algorithm varies
        else:
            lrt = likelihood_ratio(
                fit(group, (("algorithm",),), random=()),
                fit(group, (), random=()),
                name=f"informativeness of {task}",
                claim="algorithms differ",
                alpha=alpha,
            )
            statistic, df, p = lrt.statistic, lrt.df, lrt.p_value
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f_stat, f_p = f_oneway(*samples) if len(samples) > 1 else (np.nan, np.nan)
        rows.append(
            {
                "task": task,
                "chi2": statistic,
                "df": df,
                "p_value": p,
                "informative": p < alpha,
                "F": float(f_stat),
                "anova_p": float(f_p) if np.isfinite(f_p) else 1.0,
                "best": means.idxmin(),
                "n": len(group),
            }
        )
    return pd.DataFrame(rows)


def _single_budget(frame: pd.DataFrame) -> float:
    budgets = frame["budget"].unique()
    if len(budgets) != 1:
        raise ValueError(
            f"this test needs rows at one budget, got {len(budgets)}; use model_frame(table, "
            "budgets=[b]) or fidelity_check for several budgets"
        )
    return float(budgets[0])


def _within_run_correlation(frame: pd.DataFrame) -> float:
    """Intraclass correlation of OLS residuals (``y ~ algorithm * budget + task``) within runs."""
    design = Design.build(frame, (("algorithm",), ("task",), ("budget",), ("algorithm", "budget")))
    x = design.matrix(frame)
    y = frame["y"].to_numpy(dtype=float)
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    groups = pd.Series(resid).groupby(frame["run"].to_numpy())
    sizes, means = groups.size(), groups.mean()
    n, g = len(resid), len(sizes)
    if g < 2 or n <= g:
        return float("nan")
    m = float(sizes.mean())
    ms_between = float((sizes * means**2).sum()) / (g - 1)
    ms_within = float(((resid - groups.transform("mean").to_numpy()) ** 2).sum()) / (n - g)
    denominator = ms_between + (m - 1) * ms_within
    return (ms_between - ms_within) / denominator if denominator > 0 else float("nan")
