"""Normalized regret, mean ranks and the Friedman/Nemenyi critical difference (Demšar 2006)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.analysis.synthetic import make_table
from tunewise.analysis.regret import (
    cliques,
    critical_difference,
    log_regret,
    mean_ranks,
    normalized_regret,
    regret_bounds,
    with_derived,
)
from tunewise.analysis.table import load_table


def test_normalized_regret_is_in_unit_interval_with_best_zero() -> None:
    table = load_table(make_table({"A": -1.0, "B": 0.0, "C": 0.5}))
    regret = normalized_regret(table)
    assert regret.between(0, 1).all()
    per_benchmark = regret.groupby(table["benchmark"])
    assert (per_benchmark.min() == 0).all()  # the best value reached is regret 0
    first = table["budget"] == table["budget"].min()
    assert (regret[first].groupby(table["benchmark"]).max() == 1).all()  # worst start is 1


def test_optimum_column_sets_best_and_clips() -> None:
    raw = make_table(n_benchmarks=2)
    optimum = raw.groupby("benchmark")["value"].transform("min") - 1.0
    table = load_table(raw.assign(optimum=optimum))
    bounds = regret_bounds(table)
    assert np.allclose(bounds["best"], raw.groupby("benchmark")["value"].min() - 1.0)
    assert normalized_regret(table).min() > 0  # nobody reached the optimum
    # a best-known optimum that runs beat is clipped to regret 0
    beaten = load_table(raw.assign(optimum=optimum + 2.0))
    assert normalized_regret(beaten).min() == 0.0


def test_mean_ranks_find_the_planted_best() -> None:
    table = load_table(make_table({"A": -2.0, "B": 0.0, "C": 2.0}))
    ranks = mean_ranks(table)
    assert list(ranks.columns) == ["A", "B", "C"]
    final = ranks.iloc[-1]
    assert final["A"] < final["B"] < final["C"]
    assert np.allclose(ranks.sum(axis=1), 6.0)  # 1 + 2 + 3 in every block


def test_critical_difference_matches_demsar() -> None:
    table = load_table(make_table({"A": -2.0, "B": 0.0, "C": 2.0}, n_benchmarks=24, n_seeds=3))
    cd = critical_difference(table, 5.0)
    # Demšar (2006), Table 5: q_0.05 = 2.343 for k = 3; CD = q sqrt(k(k+1)/(6N))
    assert cd.cd == pytest.approx(2.343 * np.sqrt(3 * 4 / (6 * 24)), abs=1e-3)
    assert cd.n_blocks == 24 and list(cd.ranks.index) == ["A", "B", "C"]
    assert cd.significant and cd.friedman_p < 1e-6


def test_cliques_are_maximal_runs_within_cd() -> None:
    ranks = pd.Series({"a": 1.0, "b": 1.3, "c": 1.8, "d": 3.5, "e": 3.6})
    assert cliques(ranks, 0.9) == (("a", "b", "c"), ("d", "e"))
    assert cliques(ranks, 0.6) == (("a", "b"), ("b", "c"), ("d", "e"))
    assert cliques(ranks, 0.05) == ()


def test_critical_difference_bad_budget() -> None:
    with pytest.raises(ValueError, match="no rows at budget 7"):
        critical_difference(load_table(make_table()), 7.0)


def _hand_table() -> pd.DataFrame:
    """Two algorithms on one benchmark with optimum 1.0, two seeds, one budget."""
    return load_table(
        pd.DataFrame(
            {
                "algorithm": ["A", "B", "A", "B"],
                "benchmark": ["b"] * 4,
                "seed": [0, 0, 1, 1],
                "budget": [1.0] * 4,
                "value": [1.001, 1.1, 3.0, 1.0],
                "optimum": [1.0] * 4,
            }
        )
    )


def test_log_regret_keeps_the_digits_near_the_optimum() -> None:
    table = _hand_table()
    log = log_regret(table)
    # worst (largest first incumbent) 3.0, optimum 1.0: span 2, floor 2e-9
    assert log.tolist() == pytest.approx([-3.0, -1.0, np.log10(2.0), np.log10(2e-9)])
    assert log_regret(table.drop(columns="optimum")).isna().all()  # no optimum, no log regret
    # normalized regret compresses 0.001 and 0.1 to 0.0005 and 0.05
    assert normalized_regret(table).tolist() == pytest.approx([0.0005, 0.05, 1.0, 0.0])


def test_derived_responses_include_block_ranks() -> None:
    table = _hand_table()
    derived = with_derived(table, regret_bounds(table))
    assert derived["rank"].tolist() == [1.0, 2.0, 2.0, 1.0]
    assert derived["log_regret"].tolist() == pytest.approx(log_regret(table).tolist())
