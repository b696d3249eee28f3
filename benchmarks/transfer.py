"""HT-AA speedup: how much faster a transfer method reaches a reference loss than no transfer.

The protocol of Stoll, Franke, Wagner, Selg & Hutter (2020, "Hyperparameter Transfer Across
Developer Adjustments"; hp-transfer/htaa_experiments ``analyse/compute_reference.py``,
``read_results.py``, ``plot_speedup.py``), on the tasks of :mod:`tunewise.benchmarks.adjustments`
and in simulated time (:func:`tunewise.runtime.simulation.simulate_study`). For each task, seed
and old budget:

1. **Old study**: the base optimizer (``--optimizer``, default ``tpe``) on the old problem for
   ``old_budget × d_old`` evaluations (``--old-budgets 10 20 40``, d_old: the old space's
   searched hyperparameters), seed ``10_000 + seed`` (so it does not replay the new run's draws),
   wrapped as :class:`tunewise.transfer.OldStudy`.
2. **New runs**: ``tunewise.transfer.prepare(base, space=new_space, sources=[old], method=m)``
   for each method of ``--methods``, and the base without transfer (shared across old budgets),
   each for ``--new-budget × d_new`` evaluations (default 20) with the seed ``seed``. A method the
   task does not admit (``only_new`` when the new space adds no hyperparameter) is recorded as
   not applicable and left out of the means.

**Reference losses** (the paper's): the mean over seeds of the best loss the base *without*
transfer has after k evaluations, k in ``--reference-evals`` (10, 20, 40). **Evaluations to
reach** a reference: the first evaluation (1-based, in the order they finished; one worker)
whose observed loss is at most the reference; a run that never gets there within its budget
counts the budget (the paper fills 400). That cap underestimates the count of a run that misses,
so it *understates* a speedup where the base misses and *overstates* it where the transfer run
misses; the CSV keeps a ``reached`` column to see how often either happens.

**Speedup** per task, method, old budget and reference: the base's evaluations to reach over
the method's, as a geometric mean over seeds (= the geometric mean of per-seed ratios; the
``paper`` column: the ratio of the arithmetic means, as ``plot_speedup.py``), then the
geometric mean over tasks. The *misleading* row covers the tasks flagged ``misleading`` (the old
optimum leads away from the new one: :func:`tunewise.benchmarks.adjustments.transfer_regret`).

Run from the repository root (``nice`` on a shared machine; about 2 minutes of one core per task
at 10 seeds)::

    nice .venv/bin/python benchmarks/transfer.py --seeds 10 --tasks 'nb201-*' 'synthetic-*'
    nice .venv/bin/python benchmarks/transfer.py --seeds 2 --tasks synthetic-shift-small  # smoke
    .venv/bin/python benchmarks/transfer.py --table benchmarks/results/transfer/runs.csv  # again

It writes ``<out>/runs.csv`` (one row per run: task, method, old budget, seed, the loss of every
evaluation as JSON, evaluations to reach each reference), ``<out>/speedups.csv`` (one row per
task, method, old budget and reference) and prints markdown tables.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import csv
import json
import logging
import math
import statistics
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from tunewise.benchmarks.adjustments import Adjustment, adjustment_names, get_adjustment
from tunewise.optimizers import make
from tunewise.runtime.simulation import simulate_study
from tunewise.transfer import METHODS, OldStudy, prepare
from tunewise.trial import TrialStatus

BASE = "none"
"""The method label of the base optimizer without transfer."""
DEFAULT_TASKS = (
    "nb201-ops-cifar10",
    "nb201-conv-cifar10",
    "fcnet-added-protein_structure",
    "fcnet-schedule-protein_structure",
    "lcbench-ranges-126026",
    "lcbench-added-126026",
    "lcbench-task-126026",
    "lcbench-task-167190",
    "synthetic-shift-small",
    "synthetic-shift-large",
    "synthetic-dim",
)
"""One task of each kind (plus a misleading LCBench pair); ``--tasks '*'`` runs all 32."""
RUN_FIELDS = (
    "task",
    "misleading",
    "d_old",
    "d_new",
    "method",
    "old_budget",
    "seed",
    "budget",
    "evaluations",
    "best",
    "seconds",
    "losses",
)


def losses_of(study_trials: Sequence[Any]) -> list[float]:
    """The observed loss of every evaluation in trial order (a failed one counts +inf)."""
    return [
        float(t.objective)
        if t.status is TrialStatus.SUCCEEDED and t.objective is not None
        else math.inf
        for t in study_trials
    ]


def run_task(
    task: Adjustment,
    *,
    seeds: Sequence[int],
    methods: Sequence[str],
    old_budgets: Sequence[int],
    new_budget: int,
    optimizer: str,
) -> Iterable[dict[str, Any]]:
    """Every run of one task: the base per seed, then per old budget and seed the old study and
    one new run per method. Yields run rows (:data:`RUN_FIELDS`)."""
    d_old, d_new = task.old.dimension, task.new.dimension
    budget = new_budget * d_new
    common = {"task": task.name, "misleading": task.misleading, "d_old": d_old, "d_new": d_new}

    def new_run(method: str, old_budget: int | str, seed: int, opt: Any) -> dict[str, Any]:
        started = time.perf_counter()
        study = simulate_study(
            task.new.objective(seed=seed),
            task.new.space,
            optimizer=opt,
            seed=seed,
            fidelity_units=budget,
        )
        losses = losses_of(study.trials)
        return {
            **common,
            "method": method,
            "old_budget": old_budget,
            "seed": seed,
            "budget": budget,
            "evaluations": len(losses),
            "best": min(losses, default=math.inf),
            "seconds": round(time.perf_counter() - started, 3),
            "losses": json.dumps(losses),
        }

    for seed in seeds:
        yield new_run(BASE, "", seed, make(optimizer))
    for old_budget in old_budgets:
        for seed in seeds:
            old = simulate_study(
                task.old.objective(seed=10_000 + seed),
                task.old.space,
                optimizer=make(optimizer),
                seed=10_000 + seed,
                fidelity_units=old_budget * d_old,
            )
            source = OldStudy(
                space=task.old.space,
                trials=old.trials,
                label=f"{task.name} old {old_budget}x seed {seed}",
            )
            for method in methods:
                try:
                    layer, _ = prepare(
                        make(optimizer), space=task.new.space, sources=[source], method=method
                    )
                except ValueError as error:  # e.g. only_new without new hyperparameters
                    yield {
                        **common,
                        "method": method,
                        "old_budget": old_budget,
                        "seed": seed,
                        "budget": budget,
                        "evaluations": 0,
                        "best": "",
                        "seconds": 0.0,
                        "losses": json.dumps({"not_applicable": str(error)}),
                    }
                    continue
                yield new_run(method, old_budget, seed, layer)


# -- the speedup --------------------------------------------------------------------------------


def evaluations_to_reach(losses: Sequence[float], reference: float, cap: int) -> tuple[int, bool]:
    """The 1-based index of the first loss ``<= reference``, or ``cap`` when none is."""
    for i, loss in enumerate(losses, start=1):
        if loss <= reference:
            return i, True
    return cap, False


def _geomean(values: Sequence[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def speedups(
    rows: Sequence[dict[str, Any]], *, reference_evals: Sequence[int]
) -> list[dict[str, Any]]:
    """Per task, method, old budget and reference level: the speedup over the base (module
    docstring), the paper's ratio of means, and how many runs reached the reference."""
    out: list[dict[str, Any]] = []
    for task in dict.fromkeys(r["task"] for r in rows):
        task_rows = [r for r in rows if r["task"] == task]
        base = {int(r["seed"]): json.loads(r["losses"]) for r in task_rows if r["method"] == BASE}
        if not base:
            continue
        cap = int(task_rows[0]["budget"])  # the new runs' budget
        for k in reference_evals:
            reference = statistics.fmean(min(v[:k]) for v in base.values())
            base_counts = {s: evaluations_to_reach(v, reference, cap) for s, v in base.items()}
            groups: dict[tuple[str, int], dict[int, Any]] = {}
            for r in task_rows:
                if r["method"] != BASE:
                    groups.setdefault((r["method"], int(r["old_budget"])), {})[int(r["seed"])] = (
                        json.loads(r["losses"])
                    )
            for (method, old_budget), runs in groups.items():
                if any(isinstance(v, dict) for v in runs.values()):
                    continue  # not applicable to this task
                seeds = sorted(set(runs) & set(base_counts))
                counts = [evaluations_to_reach(runs[s], reference, cap) for s in seeds]
                mine = [c for c, _ in counts]
                theirs = [base_counts[s][0] for s in seeds]
                out.append(
                    {
                        "task": task,
                        "misleading": str(task_rows[0]["misleading"]) == "True",
                        "method": method,
                        "old_budget": old_budget,
                        "reference_evals": k,
                        "reference": reference,
                        "seeds": len(seeds),
                        "speedup": _geomean(theirs) / _geomean(mine),
                        "paper": statistics.fmean(theirs) / statistics.fmean(mine),
                        "reached": sum(ok for _, ok in counts),
                        "base_reached": sum(base_counts[s][1] for s in seeds),
                        "evals": statistics.fmean(mine),
                        "base_evals": statistics.fmean(theirs),
                    }
                )
    return out


def tables(results: Sequence[dict[str, Any]]) -> str:
    """Markdown: the geometric mean over tasks (all, misleading) per method and old budget for
    each reference level, and a per-task table at the middle reference level."""
    if not results:
        return "no results"
    methods = list(dict.fromkeys(r["method"] for r in results))
    budgets = sorted({r["old_budget"] for r in results})
    levels = sorted({r["reference_evals"] for r in results})
    head = " | ".join(f"{b}x / ref {k}" for b in budgets for k in levels)
    lines = [
        "Speedup over no transfer (geometric mean over tasks of the per-task geometric mean "
        "over seeds; old budget x d / reference = the base's mean best after k evaluations; "
        "misleading: over the misleading tasks; worst: the lowest misleading task):",
        "",
        f"| method | tasks | {head} |",
        "|---|---|" + "---|" * (len(budgets) * len(levels)),
    ]
    groups = (("all", _geomean, True), ("misleading", _geomean, False), ("worst", min, False))
    for label, aggregate, everyone in groups:
        for method in methods:
            cells, n_tasks = [], 0
            for b in budgets:
                for k in levels:
                    picked = [
                        r
                        for r in results
                        if r["method"] == method
                        and r["old_budget"] == b
                        and r["reference_evals"] == k
                        and (everyone or r["misleading"])
                    ]
                    n_tasks = max(n_tasks, len(picked))
                    values = [r["speedup"] for r in picked]
                    cells.append(f"{aggregate(values):.2f}" if picked else "-")
            name = {
                "all": method,
                "misleading": f"{method} (misleading)",
                "worst": f"{method} (worst misleading task)",
            }[label]
            lines.append(f"| {name} | {n_tasks} | {' | '.join(cells)} |")
    middle = levels[len(levels) // 2]
    lines += [
        "",
        f"Per task (reference: the base's mean best after {middle} evaluations; "
        "speedup per old budget; * misleading):",
        "",
        "| task | " + " | ".join(f"{m} {b}x" for m in methods for b in budgets) + " |",
        "|---|" + "---|" * (len(methods) * len(budgets)),
    ]
    for task in dict.fromkeys(r["task"] for r in results):
        cells = []
        misleading = False
        for m in methods:
            for b in budgets:
                found = [
                    r
                    for r in results
                    if r["task"] == task
                    and r["method"] == m
                    and r["old_budget"] == b
                    and r["reference_evals"] == middle
                ]
                misleading = misleading or any(r["misleading"] for r in found)
                cells.append(f"{found[0]['speedup']:.2f}" if found else "n/a")
        lines.append(f"| {task}{' *' if misleading else ''} | {' | '.join(cells)} |")
    return "\n".join(lines)


def _write(path: Path, rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(fields))
        writer.writeheader()
        writer.writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument(
        "--tasks", nargs="+", default=list(DEFAULT_TASKS), help="names or shell patterns"
    )
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--old-budgets", nargs="+", type=int, default=[10, 20, 40])
    parser.add_argument("--new-budget", type=int, default=20, help="new-run evaluations / d")
    parser.add_argument("--reference-evals", nargs="+", type=int, default=[10, 20, 40])
    parser.add_argument("--optimizer", default="tpe", help="the base optimizer")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/transfer"))
    parser.add_argument(
        "--table", type=Path, nargs="+", help="print the tables of runs.csv files written before"
    )
    args = parser.parse_args()
    for name, values in (("--old-budgets", args.old_budgets), ("--reference-evals",
                         args.reference_evals)):  # fmt: skip
        if any(v < 1 for v in values):
            parser.error(f"{name} must be positive integers, got {values}")
    if args.seeds < 1 or args.new_budget < 1:
        parser.error("--seeds and --new-budget must be >= 1")
    if args.table is not None:
        stored: list[dict[str, Any]] = []
        for path in args.table:
            with path.open() as f:
                stored.extend(csv.DictReader(f))
        print(tables(speedups(stored, reference_evals=args.reference_evals)))
        return
    try:
        names = adjustment_names(args.tasks)
    except ValueError as error:
        parser.error(str(error))
    logging.getLogger("tunewise").setLevel(logging.WARNING)
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for name in names:
        task = get_adjustment(name)
        started = time.perf_counter()
        for row in run_task(
            task,
            seeds=range(args.seeds),
            methods=args.methods,
            old_budgets=args.old_budgets,
            new_budget=args.new_budget,
            optimizer=args.optimizer,
        ):
            rows.append(row)
        print(f"{name}: {time.perf_counter() - started:.0f} s", flush=True)
        _write(args.out / "runs.csv", rows, RUN_FIELDS)
        results = speedups(rows, reference_evals=args.reference_evals)
        if results:
            _write(args.out / "speedups.csv", results, list(results[0]))
    print()
    print(tables(speedups(rows, reference_evals=args.reference_evals)))


if __name__ == "__main__":
    main()
