"""Loading and validating results tables; incumbent traces on a budget grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.analysis.synthetic import make_table
from tunewise.analysis.table import (
    budget_grid,
    incumbent_traces,
    load_table,
    read_table,
    require_benchmarks,
    resolve_columns,
)


def test_used_fidelity_alias_is_detected() -> None:
    raw = make_table().rename(columns={"budget": "used_fidelity"})
    assert resolve_columns(list(raw.columns)) == {"budget": "used_fidelity"}
    table = load_table(raw)
    assert "budget" in table and "used_fidelity" not in table
    assert table["budget"].tolist() == raw["used_fidelity"].tolist()


def test_explicit_column_mapping() -> None:
    raw = make_table().rename(columns={"value": "loss", "algorithm": "method"})
    table = load_table(raw, {"value": "loss", "algorithm": "method"})
    assert set(table["algorithm"]) == {"A", "B", "C"}
    with pytest.raises(ValueError, match="'value' to 'nope', which is not in the table"):
        load_table(raw, {"value": "nope"})
    with pytest.raises(ValueError, match="cannot map unknown column 'loss'"):
        load_table(raw, {"loss": "value"})


def test_missing_columns_are_named_with_present_ones() -> None:
    raw = make_table().drop(columns=["seed", "value"])
    with pytest.raises(ValueError, match=r"missing required column\(s\) 'seed', 'value'") as info:
        load_table(raw)
    assert "present columns: ['algorithm', 'benchmark', 'budget']" in str(info.value)


def test_non_finite_values_say_how_many_and_where() -> None:
    raw = make_table()
    raw.loc[[3, 7], "value"] = np.nan
    raw.loc[9, "value"] = np.inf
    with pytest.raises(ValueError, match=r"'value' has 3 non-finite value\(s\).*row 3 \(A, bench0"):
        load_table(raw)
    raw = make_table()
    raw.loc[0, "budget"] = np.nan
    with pytest.raises(ValueError, match=r"'budget' has 1 non-finite"):
        load_table(raw)


def test_non_numeric_budget_and_empty_table() -> None:
    raw = make_table()
    raw["budget"] = raw["budget"].astype(object)
    raw.loc[5, "budget"] = "five"
    with pytest.raises(
        ValueError, match=r"'budget' must be numeric; 1 row\(s\) are not, e.g. 'five'"
    ):
        load_table(raw)
    with pytest.raises(ValueError, match="empty"):
        load_table(make_table().iloc[:0])


def test_single_algorithm_and_single_benchmark() -> None:
    raw = make_table()
    with pytest.raises(ValueError, match=r"needs at least two algorithms to compare.*'A'"):
        load_table(raw[raw["algorithm"] == "A"])
    one = load_table(raw[raw["benchmark"] == "bench0"])  # loading works ...
    with pytest.raises(ValueError, match=r"needs at least 2 benchmarks.*mean ranks.*still work"):
        require_benchmarks(one)  # ... but an LMEM does not


def test_prior_makes_benchmark_prior_tasks_unless_overridden() -> None:
    raw = make_table(priors=("good", "bad"), n_benchmarks=2)
    assert sorted(load_table(raw)["task"].unique()) == [
        "bench0/bad",
        "bench0/good",
        "bench1/bad",
        "bench1/good",
    ]
    pooled = load_table(raw, task_columns=("benchmark",))
    assert sorted(pooled["task"].unique()) == ["bench0", "bench1"]
    # pooling priors into one task must not merge the runs of different priors
    assert pooled["run"].nunique() == load_table(raw)["run"].nunique() == 2 * 2 * 3 * 10
    traces = incumbent_traces(pooled, [1.0, 5.0])
    assert len(traces) == 2 * 2 * 2 * 3 * 10


def test_derived_input_columns_are_kept_aside() -> None:
    raw = make_table().assign(normalized_regret=0.5)
    table = load_table(raw)
    assert "normalized_regret_input" in table and "normalized_regret" not in table


def test_incumbent_traces_forward_fill_irregular_budgets() -> None:
    raw = pd.DataFrame(
        {
            "algorithm": ["A", "A", "A", "B", "B"],
            "benchmark": "b",
            "seed": 0,
            "budget": [0.5, 1.7, 3.2, 1.0, 2.0],
            "value": [5.0, 4.0, 1.0, 3.0, 2.0],
        }
    )
    traces = incumbent_traces(load_table(raw), [1.0, 2.0, 3.0, 4.0])
    a = traces[traces["algorithm"] == "A"].set_index("budget")["value"]
    b = traces[traces["algorithm"] == "B"].set_index("budget")["value"]
    assert a.to_dict() == {1.0: 5.0, 2.0: 4.0, 3.0: 4.0, 4.0: 1.0}
    assert b.to_dict() == {1.0: 3.0, 2.0: 2.0, 3.0: 2.0, 4.0: 2.0}
    early = incumbent_traces(load_table(raw), [0.7])  # B has no incumbent yet at 0.7
    assert early["algorithm"].tolist() == ["A"]


def test_budget_grid_regular_and_irregular() -> None:
    table = load_table(make_table())
    assert budget_grid(table).tolist() == [1, 2, 3, 4, 5]
    rng = np.random.default_rng(0)
    raw = make_table(n_benchmarks=2, n_seeds=60)
    raw["budget"] = raw["budget"] + rng.uniform(0, 0.5, len(raw))
    grid = budget_grid(load_table(raw), n=20)
    assert len(grid) == 20 and grid[0] >= 1.0


def test_read_table_by_extension(tmp_path) -> None:  # type: ignore[no-untyped-def]
    raw = make_table(n_benchmarks=2, n_seeds=2)
    raw.to_csv(tmp_path / "r.csv", index=False)
    raw.to_parquet(tmp_path / "r.parquet")
    assert (
        len(read_table(tmp_path / "r.csv")) == len(read_table(tmp_path / "r.parquet")) == len(raw)
    )
    with pytest.raises(ValueError, match=r"unsupported file type '.xlsx'"):
        read_table(tmp_path / "r.xlsx")
