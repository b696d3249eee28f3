"""Priors learned from other LCBench tasks: how much sooner PriorBand reaches a good loss.

Leave one task out. For each held-out LCBench task and seed, the old studies are one earlier
study on each of ``--sources`` other tasks of the same surrogate (the same MLP pipeline on other
OpenML datasets): ``tw.run`` with the optimizer ``auto`` picks for the space without priors
(Hyperband), ``--old-budget`` full-fidelity evaluations' worth, seeded by the seed, into
``<out>/old/s<seed>/lcbench-<task>`` (a tunewise root each; a second run of the script finds them
done and only reads them back). ``tunewise.transfer.priors.learn_priors`` turns them into priors
for the held-out task's space (the median of the per-task incumbents in (log-)unit space, a
confidence per parameter from how tightly the tasks' top configurations agree).

Then PriorBand runs on the held-out task in simulated time (the suite's
:func:`~tunewise.runtime.simulation.simulate`, as ``tunewise bench`` does) three ways:

- ``PB``: no priors. PriorBand accepts such a space: its "prior" draws are uniform and its first
  configuration is the middle of every range, so it is Hyperband with an incumbent-mutation arm;
- ``PB+learned``: the learned priors;
- ``PB+good``: the benchmark's hand-made ``good`` prior (best of 50k random configurations of
  this very task, at the benchmark's default ``medium`` confidence), for reference.

Speedup (the issue's measure): per held-out task the reference loss is the median over seeds of
``PB``'s incumbent (full-fidelity value, the suite's ``oracle``) after ``--budget`` full-fidelity
evaluations' worth; each run needs the first budget (grid ``--step``) at which its incumbent is
at or below it. Runs go on to ``--horizon`` so slower runs are seen reaching it; one that never
does counts the horizon (censored, reported). Speedup = ``PB``'s budget / the other's, per task
and seed (same seed index), geometric mean over tasks and seeds, with a 95% bootstrap interval
over the task x seed pairs; also printed with the reference set at 5x and 10x.

The table (``<out>/results.parquet`` and ``.csv``) has the suite's columns (``tunewise analyze``
reads it; ``prior`` is left out so that the three variants are algorithms on one task, and the
``priors`` column says which priors a run used)::

    nice .venv/bin/python benchmarks/learned_priors.py                 # 5 tasks, 10 seeds
    nice .venv/bin/python benchmarks/learned_priors.py --seeds 2 --tasks 189906 --sources 5
    .venv/bin/tunewise analyze benchmarks/results/learned_priors/results.parquet \
        --out benchmarks/results/learned_priors/report --budgets 2 5 10 20
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import tunewise as tw
from tunewise.benchmarks.lcbench import TASK_IDS, LCBenchBenchmark
from tunewise.runtime.simulation import simulate
from tunewise.space import Space
from tunewise.suite import parse_algorithm
from tunewise.suite.baselines import make_algorithm
from tunewise.suite.runner import Job, trajectory
from tunewise.transfer.priors import LearnedPriors, learn_priors
from tunewise.transfer.sources import OldStudy, load_sources

HELD_OUT = ("126026", "167190", "168330", "168910", "189906")
"""The five tasks with hand-made good priors (those of the PriorBand paper)."""
VARIANTS = ("none", "learned", "good")
LABELS = {"none": "PB", "learned": "PB+learned", "good": "PB+good"}


def old_study(task: str, *, seed: int, budget: float, root: Path) -> OldStudy:
    """One earlier study on ``task`` (auto -> Hyperband, no priors), run once and read back."""
    benchmark = LCBenchBenchmark(task_id=task)
    result = tw.run(
        benchmark.objective(seed=0),
        benchmark.space("none"),
        root=root / f"lcbench-{task}",
        optimizer="auto",
        budget=tw.Budget(fidelity_units=budget),
        seed=seed,
        progress=False,
    )
    try:
        return load_sources(result)[0]
    finally:
        result.close()


def source_tasks(held_out: str, *, n: int | None, seed: int) -> list[str]:
    """The other tasks (all of them, or ``n`` drawn with ``default_rng([seed, held_out])``)."""
    others = [t for t in TASK_IDS if t != held_out]
    if n is None or n >= len(others):
        return others
    rng = np.random.default_rng([seed, int(held_out)])
    return sorted(rng.choice(others, size=n, replace=False).tolist(), key=TASK_IDS.index)


def learned_space(
    held_out: str, *, seed: int, args: argparse.Namespace
) -> tuple[Space, LearnedPriors]:
    tasks = source_tasks(held_out, n=args.sources, seed=seed)
    root = args.out / "old" / f"s{seed}"
    sources = [old_study(t, seed=seed, budget=args.old_budget, root=root) for t in tasks]
    space = LCBenchBenchmark(task_id=held_out).space("none")
    learned = learn_priors(sources, space, top_k=args.top_k, confidence=args.confidence)
    return learned.space, learned


def run_pb(task: str, variant: str, space: Space, *, seed: int, args: argparse.Namespace) -> Any:
    """One simulated PriorBand run; its incumbent trajectory in the suite's columns."""
    benchmark = LCBenchBenchmark(task_id=task)
    job = Job(
        parse_algorithm(f"{LABELS[variant]}=priorband"),
        benchmark.name,
        variant,
        seed,
        args.horizon,
        step=args.step,
    )
    events = simulate(
        benchmark.objective(seed=seed),
        space,
        optimizer=make_algorithm(job.algorithm.optimizer),
        seed=seed,
        fidelity_units=args.horizon,
        incumbent_value=lambda config: benchmark.oracle(config, seed=seed),
    )
    frame = trajectory(events, job=job, optimum=benchmark.optimum)
    frame = frame.rename(columns={"prior": "priors"})
    frame["confidence"] = "learned" if variant == "learned" else "medium"
    return frame


def needed(frame: pd.DataFrame, reference: float, horizon: float) -> tuple[float, bool]:
    """The first budget at which the run's value is <= ``reference`` (else the horizon, True)."""
    reached = frame.loc[frame["value"] <= reference + 1e-12, "budget"]
    if reached.empty:
        return horizon, True
    return float(reached.min()), False


def speedups(table: pd.DataFrame, *, budget: float, horizon: float) -> pd.DataFrame:
    """Per task, seed and variant: budget needed to reach the reference, speedup over ``PB``."""
    rows = []
    for benchmark, task_frame in table.groupby("benchmark"):
        plain = task_frame[task_frame["algorithm"] == LABELS["none"]]
        at_budget = plain[np.isclose(plain["budget"], budget)]
        reference = float(at_budget["value"].median())
        for (algorithm, seed), run in task_frame.groupby(["algorithm", "seed"]):
            need, censored = needed(run, reference, horizon)
            rows.append(
                {
                    "benchmark": benchmark,
                    "algorithm": algorithm,
                    "seed": seed,
                    "reference": reference,
                    "needed": need,
                    "censored": censored,
                }
            )
    frame = pd.DataFrame(rows)
    base = frame[frame["algorithm"] == LABELS["none"]].set_index(["benchmark", "seed"])["needed"]
    frame["speedup"] = [
        base[(r.benchmark, r.seed)] / r.needed for r in frame.itertuples(index=False)
    ]
    return frame


def geometric_mean(values: Sequence[float]) -> float:
    return float(math.exp(np.mean(np.log(np.asarray(values, dtype=np.float64)))))


def summarize(frame: pd.DataFrame) -> str:
    """Markdown: geometric-mean speedup over ``PB`` per task and overall, censored counts."""
    others = [LABELS[v] for v in VARIANTS if v != "none"]
    head = "| task | reference | " + " | ".join(f"{a} speedup" for a in others) + " |"
    lines = [head, "|" + "---|" * (2 + len(others))]
    for benchmark, part in frame.groupby("benchmark"):
        cells = []
        for algorithm in others:
            runs = part[part["algorithm"] == algorithm]
            censored = int(runs["censored"].sum())
            note = f" ({censored} censored)" if censored else ""
            cells.append(f"{geometric_mean(runs['speedup']):.2f}×{note}")
        reference = float(part["reference"].iloc[0])
        lines.append(f"| {benchmark} | {reference:.4f} | " + " | ".join(cells) + " |")
    overall = [geometric_mean(frame[frame["algorithm"] == a]["speedup"]) for a in others]
    lines.append("| **all** | | " + " | ".join(f"**{s:.2f}×**" for s in overall) + " |")
    plain = frame[frame["algorithm"] == LABELS["none"]]
    lines.append(
        f"\nPB itself censored (never reached the reference by the horizon): "
        f"{int(plain['censored'].sum())} of {len(plain)} runs"
    )
    return "\n".join(lines)


def interval(speedups: Sequence[float], *, draws: int = 5000) -> tuple[float, float]:
    """95% bootstrap interval of the geometric mean over the task x seed pairs (resampled
    with ``default_rng(0)``)."""
    logs = np.log(np.asarray(speedups, dtype=np.float64))
    rng = np.random.default_rng(0)
    means = rng.choice(logs, size=(draws, len(logs))).mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(math.exp(low)), float(math.exp(high))


def by_reference(table: pd.DataFrame, *, budgets: Sequence[float], horizon: float) -> str:
    """One line per reference budget: each variant's overall speedup and its interval."""
    lines = []
    for budget in budgets:
        frame = speedups(table, budget=budget, horizon=horizon)
        cells = []
        for variant in VARIANTS[1:]:
            values = frame[frame["algorithm"] == LABELS[variant]]["speedup"]
            low, high = interval(values.tolist())
            cells.append(f"{LABELS[variant]} {geometric_mean(values):.2f}× [{low:.2f}, {high:.2f}]")
        lines.append(f"reference at {budget:g}x: " + "; ".join(cells))
    return "\n".join(lines)


def describe(learned: LearnedPriors) -> str:
    return "\n".join(f"    {line}" for line in learned.describe())


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", nargs="+", default=list(HELD_OUT), help="held-out task ids")
    parser.add_argument("--sources", type=int, default=None, help="other tasks per held-out one")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--top-k", type=int, default=None, help="learn_priors' top_k")
    parser.add_argument("--confidence", default=None, help="learn_priors' confidence override")
    parser.add_argument("--old-budget", type=float, default=20.0, help="each old study's budget")
    parser.add_argument("--budget", type=float, default=20.0, help="the reference's budget")
    parser.add_argument("--horizon", type=float, default=40.0, help="how long each run goes on")
    parser.add_argument("--step", type=float, default=0.25, help="the budget grid's step")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/learned_priors"))
    args = parser.parse_args(argv)
    unknown = [t for t in args.tasks if t not in TASK_IDS]
    if unknown:
        parser.error(f"unknown LCBench task(s) {unknown}; known: {', '.join(TASK_IDS)}")
    if args.horizon < args.budget:
        parser.error("--horizon must be >= --budget")
    args.out.mkdir(parents=True, exist_ok=True)
    frames = []
    start = time.perf_counter()
    for task in args.tasks:
        benchmark = LCBenchBenchmark(task_id=task)
        for seed in range(args.seeds):
            space, learned = learned_space(task, seed=seed, args=args)
            if seed == 0:
                print(f"lcbench-{task}, seed 0: priors learned from {len(learned.sources)} tasks")
                print(describe(learned))
            spaces = {
                "none": benchmark.space("none"),
                "learned": space,
                "good": benchmark.space("good"),
            }
            for variant in VARIANTS:
                frames.append(run_pb(task, variant, spaces[variant], seed=seed, args=args))
        print(f"lcbench-{task} done ({time.perf_counter() - start:.0f} s)", flush=True)
    table = pd.concat(frames, ignore_index=True)
    table.to_parquet(args.out / "results.parquet")
    table.to_csv(args.out / "results.csv", index=False)
    frame = speedups(table, budget=args.budget, horizon=args.horizon)
    frame.to_csv(args.out / "speedups.csv", index=False)
    print()
    print(summarize(frame))
    print("\nspeedup by where the reference is set (95% bootstrap interval over task x seed):")
    references = sorted({b for b in (5.0, 10.0, args.budget) if b <= args.budget})
    print(by_reference(table, budgets=references, horizon=args.horizon))
    print(f"\n{time.perf_counter() - start:.0f} s; table: {args.out / 'results.parquet'}")


if __name__ == "__main__":
    main()
