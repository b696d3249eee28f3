"""benchmarks/learned_priors.py: the speedup to a reference loss, and a tiny leave-one-out run."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

from tests.requirements import unavailable
from tunewise.benchmarks.lcbench import resolve_data_dir

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "learned_priors.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("learned_priors", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["learned_priors"] = module
    spec.loader.exec_module(module)
    return module


def _runs(algorithm: str, seed: int, values: list[float]) -> list[dict[str, object]]:
    return [
        {"benchmark": "b", "algorithm": algorithm, "seed": seed, "budget": float(i + 1), "value": v}
        for i, v in enumerate(values)
    ]


def test_speedup_is_the_budget_ratio_to_reach_the_reference_and_censors_at_the_horizon() -> None:
    script = load()
    table = pd.DataFrame(
        [
            *_runs("PB", 0, [0.9, 0.8, 0.6, 0.5]),  # reaches 0.5 at 4 (the reference, at 4)
            *_runs("PB", 1, [0.9, 0.9, 0.9, 0.5]),
            *_runs("PB+learned", 0, [0.7, 0.5, 0.5, 0.4]),  # at 2: 2x
            *_runs("PB+learned", 1, [0.9, 0.9, 0.9, 0.9]),  # never: counts the horizon 4
            *_runs("PB+good", 0, [0.5, 0.5, 0.5, 0.5]),
            *_runs("PB+good", 1, [0.5, 0.5, 0.5, 0.5]),
        ]
    )
    frame = script.speedups(table, budget=4.0, horizon=4.0).set_index(["algorithm", "seed"])
    assert (frame["reference"] == 0.5).all()
    assert frame.loc[("PB+learned", 0), "speedup"] == 2.0
    assert frame.loc[("PB+learned", 1), "censored"]
    assert frame.loc[("PB+learned", 1), "speedup"] == 1.0
    assert frame.loc[("PB+good", 1), "speedup"] == 4.0
    summary = script.summarize(frame.reset_index())
    assert "| b | 0.5000 | 1.41× (1 censored) | 4.00× |" in summary, summary


def test_a_tiny_leave_one_out_run_writes_the_table_and_caches_the_old_studies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        resolve_data_dir()
    except FileNotFoundError as exc:
        unavailable(f"LCBench data absent: {exc}")
    script = load()
    arguments = ["--tasks", "189906", "--seeds", "1", "--sources", "2", "--old-budget", "3"]
    arguments += ["--budget", "2", "--horizon", "3", "--out", str(tmp_path)]
    script.main(arguments)
    out = capsys.readouterr().out
    assert "priors learned from 2 tasks" in out and "**all**" in out
    table = pd.read_parquet(tmp_path / "results.parquet")
    assert set(table["algorithm"]) == {"PB", "PB+learned", "PB+good"}
    assert set(table["priors"]) == {"none", "learned", "good"}
    assert len(list((tmp_path / "old" / "s0").iterdir())) == 2
