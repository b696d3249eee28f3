"""benchmarks/transfer.py: evaluations to reach a reference, the speedup, one tiny task run."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tunewise.benchmarks.adjustments import get_adjustment

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "transfer.py"


@pytest.fixture(scope="module")
def script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("transfer_benchmark", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["transfer_benchmark"] = module
    spec.loader.exec_module(module)
    return module


def _row(method: str, seed: int, losses: list[float], old_budget: int | str = 10) -> dict:
    return {
        "task": "t",
        "misleading": "True",
        "d_new": 2,
        "method": method,
        "old_budget": "" if method == "none" else old_budget,
        "seed": seed,
        "budget": len(losses),
        "losses": json.dumps(losses),
    }


def test_evaluations_to_reach_counts_from_one_and_caps_a_miss(script: ModuleType) -> None:
    assert script.evaluations_to_reach([5.0, 3.0, 1.0], 3.0, cap=10) == (2, True)
    assert script.evaluations_to_reach([5.0, 4.0], 3.0, cap=10) == (10, False)
    assert script.evaluations_to_reach([math.inf, 2.0], 3.0, cap=10) == (2, True)


def test_speedup_is_the_base_count_over_the_method_count(script: ModuleType) -> None:
    # base: best after 2 evaluations is 4 on both seeds -> reference 4, reached at 2 and 2
    base = [_row("none", s, [9.0, 4.0, 3.0, 1.0]) for s in (0, 1)]
    fast = [_row("best_first", s, [4.0, 9.0, 9.0, 9.0]) for s in (0, 1)]  # 1 evaluation
    slow = [_row("model", s, [9.0, 9.0, 9.0, 9.0]) for s in (0, 1)]  # never: the cap, 4
    results = script.speedups(base + fast + slow, reference_evals=[2])
    by = {r["method"]: r for r in results}
    assert by["best_first"]["reference"] == 4.0
    assert by["best_first"]["speedup"] == pytest.approx(2.0)
    assert by["model"]["speedup"] == pytest.approx(0.5) and by["model"]["reached"] == 0
    assert by["model"]["misleading"] is True and by["model"]["base_reached"] == 2
    table = script.tables(results)
    assert "| best_first | 1 | 2.00 |" in table and "| model (misleading) | 1 | 0.50 |" in table


def test_a_not_applicable_method_is_left_out(script: ModuleType) -> None:
    rows = [_row("none", 0, [2.0, 1.0])]
    rows.append({**_row("only_new", 0, []), "losses": json.dumps({"not_applicable": "x"})})
    assert script.speedups(rows, reference_evals=[1]) == []


def test_one_tiny_task_runs_every_method(script: ModuleType) -> None:
    task = get_adjustment("synthetic-dim")
    rows = list(
        script.run_task(
            task,
            seeds=[0],
            methods=["best_first", "only_new"],
            old_budgets=[2],
            new_budget=2,
            optimizer="random_search",
        )
    )
    assert [(r["method"], r["old_budget"]) for r in rows] == [
        ("none", ""),
        ("best_first", 2),
        ("only_new", 2),
    ]
    assert all(r["evaluations"] == 12 == r["budget"] for r in rows)
    results = script.speedups(rows, reference_evals=[5])
    assert {r["method"] for r in results} == {"best_first", "only_new"}
