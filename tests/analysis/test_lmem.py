"""LMEM tests (Geburek et al. 2024): planted effects are found, null tables are not rejected."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.analysis.synthetic import make_table
from tunewise.analysis import lmem
from tunewise.analysis.table import load_table

PLANTED = {"A": -0.8, "B": 0.0, "C": 0.0}


def frame(
    table_kwargs: dict[str, Any] | None = None, budgets: list[float] | None = None, **kw: Any
) -> pd.DataFrame:
    return lmem.model_frame(load_table(make_table(**(table_kwargs or {}))), budgets=budgets, **kw)


def test_planted_effect_is_found_and_posthoc_names_the_pairs() -> None:
    result = lmem.compare_algorithms(frame({"effects": PLANTED}))
    assert result.budget == 5.0
    assert result.algorithm_effect.significant and result.algorithm_effect.df == 2
    assert result.random_effect.significant  # benchmark offsets are large
    assert result.random_effect.reference.startswith("0.5")
    ph = result.posthoc
    for other in ("B", "C"):
        row = ph.contrast("A", other)
        assert row["estimate"] < 0 and row["p_adjusted"] < 0.05 and row["better"] == "A"
    assert ph.contrast("B", "C")["p_adjusted"] > 0.05  # B and C are the same
    assert ph.contrast("C", "B")["estimate"] == pytest.approx(-ph.contrast("B", "C")["estimate"])
    assert "conclusion" not in result.algorithm_effect.conclusion
    assert result.algorithm_effect.conclusion.startswith("algorithms differ")


def test_no_effect_is_rarely_rejected_across_repetitions() -> None:
    rejections = familywise = 0
    for rep in range(20):
        result = lmem.compare_algorithms(frame({"seed": 100 + rep}))  # 3 x 8 x 10 null tables
        rejections += result.algorithm_effect.significant
        familywise += bool(result.posthoc.contrasts["significant"].any())
    assert rejections <= 3, f"{rejections}/20 null tables rejected at alpha 0.05"
    assert familywise <= 3, f"{familywise}/20 null tables had a Tukey-significant pair"


def test_raw_value_can_be_modeled() -> None:
    result = lmem.compare_algorithms(frame({"effects": PLANTED}, value="value"))
    assert result.posthoc.contrast("A", "B")["better"] == "A"


def test_prior_interaction_is_detected() -> None:
    kwargs = {
        "priors": ("good", "bad"),
        "prior_effects": {("A", "good"): -1.0},
        "n_benchmarks": 6,
    }
    result = lmem.interaction_test(frame(kwargs), "prior")
    assert result.interaction.significant and result.interaction.df == 2
    assert result.posthoc.contrast("A", "B", "good")["better"] == "A"
    assert not result.posthoc.contrast("A", "B", "bad")["significant"]


def test_fidelity_check_detects_a_budget_dependent_ranking() -> None:
    table = make_table({"A": 0.0, "B": 0.0, "C": 0.0}, budgets=(1, 2, 3), n_benchmarks=6)
    late = (table["algorithm"] == "A") & (table["budget"] == 3)
    table.loc[late, "value"] -= 2.0  # A only pulls ahead at the last budget
    f = lmem.model_frame(load_table(table), budgets=[1, 2, 3])
    result = lmem.fidelity_check(f)
    assert result.interaction.significant and result.interaction.df == 4
    assert "within-run residual correlation" in result.notes[0]
    with pytest.raises(ValueError, match="at least two budgets"):
        lmem.fidelity_check(f[f["budget"] == 3])


def test_seed_slope_check_finds_a_seed_dependent_algorithm_and_only_when_planted() -> None:
    kwargs = {"effects": {"A": -1.0, "B": 0.0, "C": 0.0}, "n_benchmarks": 6, "seed": 3}
    planted = lmem.seed_slope_check(frame({**kwargs, "seed_slopes": {"B": 1.5}}))
    assert planted.test.significant and planted.test.df == 6  # 3 x 3 covariance: 6 parameters
    assert planted.test.smaller == "y ~ algorithm"
    assert "(0 + algorithm | seed)" in planted.test.larger
    assert planted.flagged == ("B",)
    assert planted.variances.idxmax() == "B"
    absent = lmem.seed_slope_check(frame(kwargs))
    assert not absent.test.significant and absent.flagged == ()


def test_seed_intercept_check_finds_a_shared_seed_shift_and_only_when_planted() -> None:
    kwargs = {"effects": {"A": -1.0, "B": 0.0, "C": 0.0}, "n_benchmarks": 6, "seed": 4}
    planted = lmem.seed_check(frame({**kwargs, "seed_shift": 1.0}))
    assert planted.significant and planted.df == 1 and planted.reference.startswith("0.5")
    assert planted.p_value < 1e-3
    absent = lmem.seed_check(frame(kwargs))
    assert not absent.significant


def test_benchmark_informativeness_is_the_papers_lrt() -> None:
    table = make_table({"A": -2.0, "B": 0.0, "C": 0.0}, n_benchmarks=4)
    flat = table["benchmark"] == "bench3"
    table.loc[flat, "value"] = 10.0 + np.random.default_rng(1).normal(0, 1, flat.sum())
    f = lmem.model_frame(load_table(table), value="value")
    info = lmem.benchmark_informativeness(f).set_index("task")
    assert not info.loc["bench3", "informative"] and info.loc["bench3", "p_value"] >= 0.05
    assert info.loc[["bench0", "bench1", "bench2"], "informative"].all()
    assert (info["df"] == 2).all()
    # For OLS fits by ML the LRT statistic is n log(RSS_null / RSS_algorithm), with RSS from
    # the grand mean and from the algorithm means: computed here without any model code.
    for task, rows in f.groupby("task"):
        y = rows["y"].to_numpy()
        rss0 = float(((y - y.mean()) ** 2).sum())
        rss1 = float(((rows["y"] - rows.groupby("algorithm")["y"].transform("mean")) ** 2).sum())
        assert info.loc[task, "chi2"] == pytest.approx(len(y) * np.log(rss0 / rss1), rel=1e-6)


def test_informativeness_of_deterministic_tasks() -> None:
    f = frame({"n_benchmarks": 2, "n_seeds": 3})
    first = f["task"] == "bench0"
    f.loc[first, "y"] = f.loc[first, "algorithm"].map({"A": 0.1, "B": 0.2, "C": 0.3})
    f.loc[~first, "y"] = 0.5  # nothing varies
    info = lmem.benchmark_informativeness(f).set_index("task")
    assert info.loc["bench0", "informative"] and info.loc["bench0", "p_value"] == 0.0
    assert not info.loc["bench1", "informative"] and info.loc["bench1", "p_value"] == 1.0


def test_random_effect_conclusion_follows_its_test() -> None:
    present = lmem.compare_algorithms(frame({"effects": PLANTED}))
    assert present.random_effect.significant
    assert present.random_effect.conclusion.startswith("benchmarks differ in difficulty")
    assert "the random effect is needed" in present.random_effect.conclusion
    f = frame({"effects": PLANTED, "n_benchmarks": 6}, value="value")
    f["y"] -= f.groupby("task")["y"].transform("mean")  # every benchmark equally difficult
    absent = lmem.compare_algorithms(f)
    assert not absent.random_effect.significant
    assert absent.random_effect.conclusion.startswith("no evidence that benchmarks differ")
    assert "is needed" not in absent.random_effect.conclusion


def test_statsmodels_warnings_are_recorded_in_the_fit_and_not_emitted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from statsmodels.regression.mixed_linear_model import MixedLM

    original = MixedLM.fit

    def noisy_fit(self: MixedLM, *args: Any, **kwargs: Any) -> Any:
        warnings.warn("planted warning", UserWarning, stacklevel=2)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(MixedLM, "fit", noisy_fit)
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        result = lmem.fit(frame({"effects": PLANTED}))
    assert "UserWarning: planted warning" in result.warnings
    assert escaped == []


def test_statsmodels_own_convergence_warnings_reach_the_test() -> None:
    f = frame({"n_benchmarks": 3, "n_seeds": 3})  # no seed effect: its variance sits at 0
    with warnings.catch_warnings(record=True) as escaped:
        warnings.simplefilter("always")
        result = lmem.seed_check(f)
    assert result.statistic == pytest.approx(0.0, abs=1e-6)
    assert any(w.startswith("ConvergenceWarning") for w in result.warnings)
    assert escaped == []


def test_bad_inputs_for_models() -> None:
    one = load_table(make_table(n_benchmarks=1))
    with pytest.raises(ValueError, match="needs at least 2 benchmarks"):
        lmem.compare_algorithms(lmem.model_frame(one))
    several = frame(budgets=[1.0, 5.0])
    with pytest.raises(ValueError, match="needs rows at one budget"):
        lmem.compare_algorithms(several)
    with pytest.raises(ValueError, match="'nope' is not a numeric column"):
        frame(value="nope")


def test_missing_level_combinations_are_named_with_the_way_out() -> None:
    table = make_table({"A": 0.0, "B": 0.0}, budgets=(1, 2, 3), n_benchmarks=4, n_seeds=3)
    table = table[~((table["algorithm"] == "B") & (table["budget"] == 1))]  # B starts later
    f = lmem.model_frame(load_table(table), budgets=[1, 2, 3])
    with pytest.raises(ValueError, match="algorithm:budget") as caught:
        lmem.fidelity_check(f)
    text = str(caught.value)
    assert "(algorithm=B, budget=1" in text and "--budgets" in text
