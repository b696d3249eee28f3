"""LMEM machinery: design matrices, maximum-likelihood fits, likelihood-ratio tests, post-hoc.

The named tests built from these pieces (the algorithm comparison, meta-feature interactions and
the sanity checks of Geburek et al. 2024) are in :mod:`tunewise.analysis.lmem.tests`.

Models are fitted by maximum likelihood (``reml=False``) with statsmodels' ``MixedLM`` so nested
models can be compared by likelihood-ratio tests (LRTs). The main model is
``y ~ algorithm + (1 | task)``: a fixed effect per algorithm and a random intercept per task
(benchmark, or benchmark x prior), because benchmarks differ in difficulty and we want conclusions
about algorithms that generalise over benchmarks. ``y`` is normalized regret by default.

Fixed effects use treatment coding (first level in sorted order is the reference) built here, not
through a formula engine, so the same coding serves estimated marginal means and contrasts. LRT df
count every parameter, variances included; a variance tested against zero uses the boundary
mixture 0.5*chi2(0) + 0.5*chi2(1). Post-hoc p-values are asymptotic (z, no Satterthwaite df) and
Tukey-adjusted with the studentized range distribution at infinite df. A variance estimated at
exactly 0 (statsmodels then reports an infinite log-likelihood, or cannot fit at all, as for ranks
whose mean is the same in every block) takes the likelihood of the model without that component,
which is the same at the boundary; the fit's ``warnings`` say so.
"""

from __future__ import annotations

import dataclasses
import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tunewise.analysis.format import P_FLOOR, p_text
from tunewise.analysis.regret import regret_bounds, with_derived
from tunewise.analysis.table import incumbent_traces

Terms = tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class Design:
    """Treatment-coded fixed effects.

    ``factors`` maps each factor to its levels (the first is the reference); ``terms`` are main
    effects ``("a",)`` and interactions ``("a", "b")``; an intercept is implied.
    """

    factors: dict[str, tuple[Any, ...]]
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

    def formula(
        self, random: Sequence[str], y: str = "y", slopes: tuple[str, str] | None = None
    ) -> str:
        """Readable lme4-style formula, e.g. ``y ~ algorithm + (1 | task)``; with ``slopes``
        ``(group, factor)`` a term ``(0 + factor | group)``."""
        fixed = " + ".join(":".join(t) for t in self.terms) or "1"
        parts = [f"{y} ~ {fixed}", *(f"(1 | {r})" for r in random)]
        if slopes is not None:
            parts.append(f"(0 + {slopes[1]} | {slopes[0]})")
        return " + ".join(parts)


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


def model_frame(
    table: pd.DataFrame,
    *,
    value: str = "normalized_regret",
    budgets: Sequence[float] | None = None,
) -> pd.DataFrame:
    """Response ``y`` = ``value`` of each run's incumbent at ``budgets`` (default: the largest).

    ``table`` is a validated table (:func:`~tunewise.analysis.table.load_table`). Incumbents are
    forward-filled to each budget. ``value`` is a column of the table or a derived response
    (:func:`~tunewise.analysis.regret.with_derived`: ``normalized_regret``, ``log_regret``,
    ``rank``), computed with the bounds of the whole table.
    """
    if budgets is None:
        budgets = [float(table["budget"].max())]
    traces = incumbent_traces(table, budgets)
    missing = sorted(set(map(float, budgets)) - set(traces["budget"]))
    if missing:
        raise ValueError(f"no run has an incumbent at budget(s) {missing}")
    return response_frame(with_derived(traces, regret_bounds(table)), value)


def response_frame(traces: pd.DataFrame, value: str = "normalized_regret") -> pd.DataFrame:
    """Add ``y``, a copy of the numeric column ``value``, to traces.

    Rows where ``value`` is missing (``rank`` in a block that lacks an algorithm, an optional
    column a tool left empty) are left out.
    """
    if value not in traces.columns or not pd.api.types.is_numeric_dtype(traces[value]):
        numeric = [c for c in traces.columns if pd.api.types.is_numeric_dtype(traces[c])]
        raise ValueError(f"value {value!r} is not a numeric column; use one of {numeric}")
    if value == "log_regret" and traces[value].isna().any():
        missing = sorted(traces.loc[traces[value].isna(), "benchmark"].unique())
        raise ValueError(
            "log_regret needs each benchmark's optimum (column `optimum`); missing for "
            f"{', '.join(map(str, missing))}"
        )
    rows = traces[traces[value].notna()]
    if rows.empty:
        raise ValueError(f"value {value!r} is missing in every row")
    return rows.assign(y=rows[value].astype(float))


def fit(
    frame: pd.DataFrame,
    terms: Terms = (("algorithm",),),
    *,
    random: Sequence[str] = ("task",),
    slopes: tuple[str, str] | None = None,
) -> Fit:
    """Fit ``y ~ terms`` with random intercepts for the columns in ``random`` by ML.

    ``random=()`` fits OLS; one column is a grouping factor (``MixedLM(groups=...)``); several are
    crossed variance components in a single group. ``slopes=(group, factor)`` (with
    ``random=()``) fits lme4's ``(0 + factor | group)``: one random effect per level of ``factor``
    within each ``group``, unstructured covariance (q (q + 1) / 2 parameters for q levels).
    statsmodels warnings are captured in the result.
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
    if slopes is not None and random:
        raise ValueError("slopes and random intercepts together are not supported")
    formula = design.formula(random, slopes=slopes)
    cols = design.columns()
    if random and _no_group_variation(frame, exog, endog, random):
        # Every group has the same mean after the fixed effects (ranks within blocks do): the ML
        # variances are exactly 0, where MixedLM's matrices are singular. At that boundary the
        # model is OLS with the mixed model's parameter count.
        ols = fit(frame, terms, random=())
        return dataclasses.replace(
            ols,
            formula=formula,
            n_params=ols.n_params + len(random),
            variances={**dict.fromkeys(random, 0.0), **ols.variances},
            warnings=(
                *ols.warnings,
                f"note: no variation between the levels of {', '.join(random)} after the fixed "
                "effects; variance(s) 0, fitted as OLS",
            ),
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if slopes is not None:
                group, factor = slopes
                levels = np.array(sorted(frame[factor].unique()), dtype=object)
                exog_re = (frame[factor].to_numpy()[:, None] == levels[None, :]).astype(float)
                model = MixedLM(endog, exog, frame[group].astype(str).to_numpy(), exog_re=exog_re)
                result = model.fit(reml=False)
                p, q = exog.shape[1], len(levels)
                cov = np.asarray(result.cov_params())[:p, :p]
                cov_re = np.asarray(result.cov_re)
                variances = {
                    f"{group}:{factor}={v}": float(cov_re[i, i]) for i, v in enumerate(levels)
                }
                variances["residual"] = float(result.scale)
                n_params, converged = p + q * (q + 1) // 2 + 1, bool(result.converged)
            elif not random:
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
    llf = float(result.llf) - len(endog) * np.log(scale)
    notes = _messages(caught, converged)
    if not np.isfinite(llf):
        llf = _boundary_llf(frame, terms, random, slopes, variances)
        notes += (
            "note: a variance estimated at 0 made statsmodels' log-likelihood infinite; the "
            "model without that variance (the same likelihood at the boundary) gave it",
        )
    return Fit(
        formula=formula,
        design=design,
        llf=llf,
        n_obs=len(frame),
        n_params=n_params,
        params=pd.Series(params, index=cols),
        cov=pd.DataFrame(np.asarray(cov) * scale**2, index=cols, columns=cols),
        variances={name: v * scale**2 for name, v in variances.items()},
        converged=converged,
        warnings=notes,
    )


def _no_group_variation(
    frame: pd.DataFrame, exog: np.ndarray, endog: np.ndarray, random: Sequence[str]
) -> bool:
    """True when the OLS residuals have the same mean (0) in every level of every ``random``
    column, up to rounding: the random intercepts' ML variances are then exactly 0."""
    resid = endog - exog @ np.linalg.lstsq(exog, endog, rcond=None)[0]
    tolerance = 1e-9 * max(float(np.std(resid)), 1e-300)
    return all(
        float(np.abs(pd.Series(resid).groupby(frame[r].to_numpy()).mean()).max()) <= tolerance
        for r in random
    )


def _boundary_llf(
    frame: pd.DataFrame,
    terms: Terms,
    random: Sequence[str],
    slopes: tuple[str, str] | None,
    variances: dict[str, float],
) -> float:
    """The log-likelihood of a fit whose zero variances made statsmodels' ``llf`` infinite
    (``cov_re`` singular): at a variance of exactly 0 the model's likelihood is that of the model
    without the component, so refit that one. ``variances`` are on the fit's internal scale."""
    tiny = 1e-10 * variances["residual"]
    if slopes is not None:
        if all(v <= tiny for k, v in variances.items() if k != "residual"):
            return fit(frame, terms, random=()).llf
        raise RuntimeError("fitting the random slopes gave a non-finite log-likelihood")
    kept = [r for r in random if variances[r] > tiny]
    if len(kept) == len(random):
        raise RuntimeError("fitting gave a non-finite log-likelihood with no variance at 0")
    return fit(frame, terms, random=kept).llf


def likelihood_ratio(
    larger: Fit,
    smaller: Fit,
    *,
    name: str,
    claim: str,
    alpha: float = 0.05,
    boundary: bool = False,
    then: str = "",
    otherwise: str = "",
) -> LRT:
    """LRT statistic ``2 (llf_larger - llf_smaller)`` (floored at 0) with df = parameter difference.

    ``boundary=True`` is for one variance tested against 0: p from 0.5*chi2(0) + 0.5*chi2(1).
    ``claim`` words the alternative, e.g. "algorithms differ", for the one-line conclusion:
    "<claim> (χ², p)" when significant, else "no evidence that <claim> (χ², p)". ``then`` and
    ``otherwise`` add what follows from either result (e.g. "so the random effect is needed").
    """
    from scipy.stats import chi2

    if not (np.isfinite(larger.llf) and np.isfinite(smaller.llf)):
        raise ValueError(f"{name}: a log-likelihood is not finite; the test has no result")
    statistic = float(max(0.0, 2.0 * (larger.llf - smaller.llf)))
    df = larger.n_params - smaller.n_params
    if boundary:
        p_value = 0.5 * float(chi2.sf(statistic, 1)) if statistic > 0 else 1.0
        reference = "0.5·χ²(0) + 0.5·χ²(1)"
    else:
        p_value = float(chi2.sf(statistic, df))
        reference = f"χ²({df})"
    p_words = p_text(p_value)
    p_words += "" if p_value < P_FLOOR else (f" < {alpha}" if p_value < alpha else f" ≥ {alpha}")
    stat_text = f"χ²({df}) = {statistic:.3g}" if not boundary else f"χ² = {statistic:.3g}"
    if p_value < alpha:
        conclusion = f"{claim} ({stat_text}, {p_words})" + (f"; {then}" if then else "")
    else:
        conclusion = f"no evidence that {claim} ({stat_text}, {p_words})" + (
            f"; {otherwise}" if otherwise else ""
        )
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


def _check_cells(frame: pd.DataFrame, terms: Terms) -> None:
    for term in terms:
        if len(term) < 2:
            continue
        seen = frame.groupby(list(term)).size()
        expected = np.prod([frame[n].nunique() for n in term])
        if len(seen) < expected:
            every = pd.MultiIndex.from_product([sorted(frame[n].unique()) for n in term])
            missing = [m for m in every if m not in seen.index]
            shown = ", ".join(
                "(" + ", ".join(f"{n}={v}" for n, v in zip(term, m, strict=True)) + ")"
                for m in missing[:5]
            )
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise ValueError(
                f"cannot estimate {':'.join(term)}: {len(missing)} of {expected} level "
                f"combinations have no rows: {shown}{more}. Leave those out of the table, or "
                "(for budgets where some algorithm has no result yet) choose budgets at which "
                "every algorithm has one (tunewise analyze --budgets ...)"
            )


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
