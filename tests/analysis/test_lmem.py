"""LMEM tests (Geburek et al. 2024): planted effects are found, null tables are not rejected."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tests.analysis.synthetic import make_table
from tunewise.analysis import lmem
from tunewise.analysis.table import load_table

PLANTED = {"A": -0.8, "B": 0.0, "C": 0.0}


def frame(table_kwargs: dict | None = None, budgets: list[float] | None = None, **kw):  # type: ignore[no-untyped-def]
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


def test_seed_check_and_benchmark_informativeness() -> None:
    table = make_table({"A": -2.0, "B": 0.0, "C": 0.0}, n_benchmarks=4)
    flat = table["benchmark"] == "bench3"
    table.loc[flat, "value"] = 10.0 + np.random.default_rng(1).normal(0, 1, flat.sum())
    f = lmem.model_frame(load_table(table))
    seed = lmem.seed_check(f)
    assert seed.df == 1 and seed.reference.startswith("0.5") and 0 <= seed.p_value <= 1
    info = lmem.benchmark_informativeness(f).set_index("task")
    assert not info.loc["bench3", "informative"]
    assert info.loc[["bench0", "bench1", "bench2"], "informative"].all()


def test_warnings_are_captured_not_emitted() -> None:
    f = frame({"n_benchmarks": 3, "n_seeds": 3})  # tiny: boundary estimates are likely
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = lmem.seed_check(f)
    assert isinstance(result.warnings, tuple)


def test_bad_inputs_for_models() -> None:
    one = load_table(make_table(n_benchmarks=1))
    with pytest.raises(ValueError, match="needs at least 2 benchmarks"):
        lmem.compare_algorithms(lmem.model_frame(one))
    several = frame(budgets=[1.0, 5.0])
    with pytest.raises(ValueError, match="needs rows at one budget"):
        lmem.compare_algorithms(several)
    with pytest.raises(ValueError, match="'nope' is not a numeric column"):
        frame(value="nope")
