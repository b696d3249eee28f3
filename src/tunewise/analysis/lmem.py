"""Linear mixed-effects models (LMEMs) for comparing optimizers (Geburek et al. 2024).

Models are fitted by maximum likelihood (``reml=False``) with statsmodels' ``MixedLM`` so nested
models can be compared by likelihood-ratio tests (LRTs). The main model is
``y ~ algorithm + (1 | task)``: a fixed effect per algorithm and a random intercept per task
(benchmark, or benchmark x prior), because benchmarks differ in difficulty and we want conclusions
about algorithms that generalise over benchmarks. ``y`` is normalized regret by default.

Fixed effects use treatment coding (first level in sorted order is the reference) built here, not
through a formula engine, so the same coding serves estimated marginal means and contrasts. LRT df
count every parameter, variances included; a variance tested against zero uses the boundary
mixture 0.5*chi2(0) + 0.5*chi2(1). Post-hoc p-values are asymptotic (z, no Satterthwaite df) and
Tukey-adjusted with the studentized range distribution at infinite df.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tunewise.analysis.regret import normalized_regret, regret_bounds
from tunewise.analysis.table import incumbent_traces, require_benchmarks

Terms = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Design:
    """Treatment-coded fixed effects.

    ``factors`` maps each factor to its levels (the first is the reference); ``terms`` are main
    effects ``("a",)`` and interactions ``("a", "b")``; an intercept is implied.
    """

    factors: dict[str, tuple]
    terms: Terms

    @classmethod
    def build(cls, frame: pd.DataFrame, terms: Terms) -> Design:
        names = dict.fromkeys(name for term in terms for name in term)
        return cls({n: tuple(sorted(frame[n].unique())) for n in names}, terms)

    def columns(self) -> list[str]:
        cols = ["Intercept"]
        for term in self.terms:
            levels = [[f"{n}={v}" for v in self.factors[n][1:]] for n in term]
            cols += [":".join(combo) for combo in itertools.product(*levels)]
        return cols

    def matrix(self, frame: pd.DataFrame) -> np.ndarray:
        """Design matrix of ``frame``, shape ``(len(frame), len(self.columns()))``."""
        dummies = {
            n: (frame[n].to_numpy()[:, None] == np.array(levels[1:], dtype=object)[None, :])
            for n, levels in self.factors.items()
        }
        blocks = [np.ones((len(frame), 1))]
        for term in self.terms:
            block = np.ones((len(frame), 1))
            for name in term:
                block = (block[:, :, None] * dummies[name][:, None, :]).reshape(len(frame), -1)
            blocks.append(block)
        return np.hstack(blocks).astype(float)

    def formula(self, random: Sequence[str], y: str = "y") -> str:
        """Readable lme4-style formula, e.g. ``y ~ algorithm + (1 | task)``."""
        fixed = " + ".join(":".join(t) for t in self.terms) or "1"
        return " + ".join([f"{y} ~ {fixed}", *(f"(1 | {r})" for r in random)])


@dataclass(frozen=True)
class Fit:
    """A fitted model: log-likelihood, fixed effects with covariance, variances and warnings."""

    formula: str
    design: Design
    llf: float
    n_obs: int
    n_params: int  # fixed effects + variance parameters (residual included)
    params: pd.Series
    cov: pd.DataFrame
    variances: dict[str, float]
    converged: bool
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class LRT:
    """A likelihood-ratio test of ``larger`` against the nested ``smaller`` model."""

    name: str
    larger: str
    smaller: str
    statistic: float
    df: int
    p_value: float
    reference: str
    alpha: float
    conclusion: str
    warnings: tuple[str, ...] = ()

    @property
    def significant(self) -> bool:
        return self.p_value < self.alpha


@dataclass(frozen=True)
class PostHoc:
    """Estimated marginal means and Tukey-adjusted pairwise contrasts (``estimate`` = a - b)."""

    means: pd.DataFrame
    contrasts: pd.DataFrame
    by: str | None
    alpha: float
    method: str = (
        "Wald z from the fixed effects and their covariance; Tukey adjustment with the "
        "studentized range (k algorithms, df = inf), family = all pairs within a level"
    )

    def contrast(self, a: str, b: str, level: object = None) -> pd.Series:
        """The row for ``a - b`` (at ``level`` of ``by``), flipped if stored as ``b - a``."""
        rows = self.contrasts
        if self.by is not None:
            rows = rows[rows[self.by] == level]
        hit = rows[(rows["a"] == a) & (rows["b"] == b)]
        if len(hit):
            return hit.iloc[0]
        hit = rows[(rows["a"] == b) & (rows["b"] == a)]
        if not len(hit):
            raise KeyError(f"no contrast {a} - {b}" + (f" at {self.by}={level}" if self.by else ""))
        row = hit.iloc[0].copy()
        row["a"], row["b"] = a, b
        row["estimate"], row["z"] = -row["estimate"], -row["z"]
        row["ci_low"], row["ci_high"] = -row["ci_high"], -row["ci_low"]
        return row


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


def model_frame(
    table: pd.DataFrame,
    *,
    value: str = "normalized_regret",
    budgets: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Response ``y`` = ``value`` of each run's incumbent at ``budgets`` (default: the largest).

    ``table`` is a validated table (:func:`~tunewise.analysis.table.load_table`). Incumbents are
    forward-filled to each budget; normalized regret uses the bounds of the whole table.
    """
    if budgets is None:
        budgets = [float(table["budget"].max())]
    traces = incumbent_traces(table, budgets)
    missing = sorted(set(map(float, budgets)) - set(traces["budget"]))
    if missing:
        raise ValueError(f"no run has an incumbent at budget(s) {missing}")
    traces["normalized_regret"] = normalized_regret(traces, regret_bounds(table))
    return response_frame(traces, value)


def response_frame(traces: pd.DataFrame, value: str = "normalized_regret") -> pd.DataFrame:
    """Add ``y``, a copy of the numeric column ``value``, to traces."""
    if value not in traces.columns or not pd.api.types.is_numeric_dtype(traces[value]):
        numeric = [c for c in traces.columns if pd.api.types.is_numeric_dtype(traces[c])]
        raise ValueError(f"value {value!r} is not a numeric column; use one of {numeric}")
    return traces.assign(y=traces[value].astype(float))


def fit(
    frame: pd.DataFrame,
    terms: Terms = (("algorithm",),),
    *,
    random: Sequence[str] = ("task",),
) -> Fit:
    """Fit ``y ~ terms`` with random intercepts for the columns in ``random`` by ML.

    ``random=()`` fits OLS; one column is a grouping factor (``MixedLM(groups=...)``); several are
    crossed variance components in a single group. statsmodels warnings are captured in the result.
    """
    import statsmodels.api as sm
    from statsmodels.regression.mixed_linear_model import MixedLM, VCSpec

    design = Design.build(frame, terms)
    _check_cells(frame, terms)
    exog = design.matrix(frame)
    endog = frame["y"].to_numpy(dtype=float)
    # Fit on y / sd(y): better conditioning, and statsmodels' absolute boundary threshold (0.01)
    # then means "small relative to the data". Estimates are scaled back below.
    scale = float(np.std(endog)) or 1.0
    endog = endog / scale
    formula = design.formula(random)
    cols = design.columns()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if not random:
                result = sm.OLS(endog, exog).fit()
                cov, variances = result.cov_params(), {"residual": float(result.scale)}
                n_params, converged = exog.shape[1] + 1, True
            else:
                if len(random) == 1:
                    groups = frame[random[0]].astype(str).to_numpy()
                    model = MixedLM(endog, exog, groups, exog_re=np.ones((len(frame), 1)))
                else:
                    mats = [[pd.get_dummies(frame[r].astype(str)).to_numpy(float)] for r in random]
                    names = [
                        [f"{r}={v}" for v in sorted(frame[r].astype(str).unique())] for r in random
                    ]
                    vc = VCSpec(list(random), [[n] for n in names], mats)
                    model = MixedLM(endog, exog, np.zeros(len(frame)), exog_vc=vc)
                result = model.fit(reml=False)
                p = exog.shape[1]
                cov = np.asarray(result.cov_params())[:p, :p]
                if len(random) == 1:
                    variances = {random[0]: float(np.asarray(result.cov_re)[0, 0])}
                else:
                    variances = {r: float(v) for r, v in zip(random, result.vcomp, strict=True)}
                variances["residual"] = float(result.scale)
                n_params, converged = p + len(random) + 1, bool(result.converged)
        except (np.linalg.LinAlgError, ValueError) as exc:
            raise RuntimeError(f"fitting {formula} failed: {exc}") from exc
    params = np.asarray(result.params)[: len(cols)] * scale
    return Fit(
        formula=formula,
        design=design,
        llf=float(result.llf) - len(endog) * np.log(scale),
        n_obs=len(frame),
        n_params=n_params,
        params=pd.Series(params, index=cols),
        cov=pd.DataFrame(np.asarray(cov) * scale**2, index=cols, columns=cols),
        variances={name: v * scale**2 for name, v in variances.items()},
        converged=converged,
        warnings=_messages(caught, converged),
    )


def likelihood_ratio(
    larger: Fit,
    smaller: Fit,
    *,
    name: str,
    claim: str,
    alpha: float = 0.05,
    boundary: bool = False,
) -> LRT:
    """LRT statistic ``2 (llf_larger - llf_smaller)`` (floored at 0) with df = parameter difference.

    ``boundary=True`` is for one variance tested against 0: p from 0.5*chi2(0) + 0.5*chi2(1).
    ``claim`` words the alternative, e.g. "algorithms differ", for the one-line conclusion.
    """
    from scipy.stats import chi2

    statistic = float(max(0.0, 2.0 * (larger.llf - smaller.llf)))
    df = larger.n_params - smaller.n_params
    if boundary:
        p_value = 0.5 * float(chi2.sf(statistic, 1)) if statistic > 0 else 1.0
        reference = "0.5·χ²(0) + 0.5·χ²(1)"
    else:
        p_value = float(chi2.sf(statistic, df))
        reference = f"χ²({df})"
    p_text = "p < 1e-16" if p_value < 1e-16 else f"p = {p_value:.3g}"
    p_text += "" if p_value < 1e-16 else (f" < {alpha}" if p_value < alpha else f" ≥ {alpha}")
    stat_text = f"χ²({df}) = {statistic:.3g}" if not boundary else f"χ² = {statistic:.3g}"
    if p_value < alpha:
        conclusion = f"{claim} ({stat_text}, {p_text})"
    else:
        conclusion = f"no evidence that {claim} ({stat_text}, {p_text})"
    return LRT(
        name=name,
        larger=larger.formula,
        smaller=smaller.formula,
        statistic=statistic,
        df=df,
        p_value=p_value,
        reference=reference,
        alpha=alpha,
        conclusion=conclusion,
        warnings=tuple(dict.fromkeys(larger.warnings + smaller.warnings)),
    )


def posthoc(model: Fit, *, by: str | None = None, alpha: float = 0.05) -> PostHoc:
    """Pairwise algorithm contrasts from estimated marginal means of ``model``.

    Means average the model's predictions over a grid of all factor levels with equal weights
    (emmeans-style); with ``by``, contrasts are computed within each level of that factor.
    """
    from scipy.stats import studentized_range

    factors = model.design.factors
    grid = pd.DataFrame(list(itertools.product(*factors.values())), columns=list(factors))
    x_grid = model.design.matrix(grid)
    beta, cov = model.params.to_numpy(), model.cov.to_numpy()
    algorithms = factors["algorithm"]
    k = len(algorithms)
    q_crit = float(studentized_range.ppf(1 - alpha, k, np.inf)) / np.sqrt(2) if k > 1 else np.nan
    levels = factors[by] if by is not None else (None,)
    means, contrasts = [], []
    for level in levels:
        rows = {}
        for algorithm in algorithms:
            mask = grid["algorithm"] == algorithm
            if by is not None:
                mask &= grid[by] == level
            rows[algorithm] = x_grid[mask.to_numpy()].mean(axis=0)
            est, se = _linear(rows[algorithm], beta, cov)
            means.append({by or "_": level, "algorithm": algorithm, "mean": est, "se": se})
        for a, b in itertools.combinations(algorithms, 2):
            est, se = _linear(rows[a] - rows[b], beta, cov)
            z = est / se if se > 0 else np.inf * np.sign(est)
            p = float(studentized_range.sf(abs(z) * np.sqrt(2), k, np.inf)) if se > 0 else 0.0
            p = min(1.0, p)
            winner = (a if est < 0 else b) if p < alpha else ""
            contrasts.append(
                {
                    by or "_": level,
                    "a": a,
                    "b": b,
                    "estimate": est,
                    "se": se,
                    "z": z,
                    "p_adjusted": p,
                    "ci_low": est - q_crit * se,
                    "ci_high": est + q_crit * se,
                    "significant": p < alpha,
                    "better": winner,
                }
            )
    drop = [] if by is not None else ["_"]
    return PostHoc(
        means=pd.DataFrame(means).drop(columns=drop),
        contrasts=pd.DataFrame(contrasts).drop(columns=drop),
        by=by,
        alpha=alpha,
    )


def compare_algorithms(frame: pd.DataFrame, *, alpha: float = 0.05) -> Comparison:
    """The LMEM comparison at one budget (Geburek et al. 2024).

    LRT 1: ``y ~ algorithm + (1|task)`` vs OLS ``y ~ algorithm`` (is the benchmark random effect
    needed? boundary mixture). LRT 2: the same model vs ``y ~ 1 + (1|task)`` (do algorithms differ?
    chi2 with k - 1 df). Then Tukey-adjusted pairwise contrasts.
    """
    budget = _single_budget(frame)
    require_benchmarks(frame)
    full = fit(frame, (("algorithm",),))
    random_effect = likelihood_ratio(
        full,
        fit(frame, (("algorithm",),), random=()),
        name="benchmark random effect",
        claim="benchmarks differ in difficulty, so the random effect is needed",
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


def seed_check(frame: pd.DataFrame, *, alpha: float = 0.05) -> LRT:
    """Sanity check: does a crossed seed random intercept improve ``y ~ algorithm + (1|task)``?

    Seeds should be exchangeable replicates; a significant seed effect (boundary-mixture LRT)
    hints at shared random streams or too few seeds.
    """
    _single_budget(frame)
    return likelihood_ratio(
        fit(frame, (("algorithm",),), random=("task", "seed")),
        fit(frame, (("algorithm",),)),
        name="seed random effect",
        claim="results depend on the seed index",
        alpha=alpha,
        boundary=True,
    )


def benchmark_informativeness(frame: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per task at one budget: a one-way ANOVA F-test of ``y ~ algorithm``.

    A task where algorithms do not differ (p >= alpha) is flagged ``informative=False``: it adds
    benchmarks to the count without telling the algorithms apart.
    """
    from scipy.stats import f_oneway

    _single_budget(frame)
    rows = []
    for task, group in frame.groupby("task", sort=True):
        samples = [g["y"].to_numpy() for _, g in group.groupby("algorithm")]
        means = group.groupby("algorithm")["y"].mean()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            stat, p = f_oneway(*samples) if len(samples) > 1 else (np.nan, np.nan)
        p = 1.0 if not np.isfinite(p) else float(p)
        rows.append(
            {
                "task": task,
                "F": float(stat),
                "p_value": p,
                "informative": p < alpha,
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


def _check_cells(frame: pd.DataFrame, terms: Terms) -> None:
    for term in terms:
        if len(term) < 2:
            continue
        seen = frame.groupby(list(term)).size()
        expected = np.prod([frame[n].nunique() for n in term])
        if len(seen) < expected:
            raise ValueError(
                f"cannot estimate {':'.join(term)}: some level combinations have no rows "
                f"({len(seen)} of {expected} present)"
            )


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


def _linear(row: np.ndarray, beta: np.ndarray, cov: np.ndarray) -> tuple[float, float]:
    return float(row @ beta), float(np.sqrt(max(row @ cov @ row, 0.0)))


def _messages(caught: list[warnings.WarningMessage], converged: bool) -> tuple[str, ...]:
    """Deduplicated warning texts; an optimizer retry that ended converged becomes one note."""
    texts = list(dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught))
    retry = ("failed to converge", "Retrying MixedLM")
    if converged and any(r in t for t in texts for r in retry):
        texts = [t for t in texts if not any(r in t for r in retry)]
        texts.append("note: the first optimizer (bfgs) did not converge; a retry converged")
    return tuple(texts)
