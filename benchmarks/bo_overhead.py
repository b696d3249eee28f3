"""Seconds per ``ask`` of tunewise's Bayesian optimization against Optuna's GPSampler.

Both get the same synthetic study: ``N`` finished trials of uniform random configs on a 6-D mixed
space (two log floats, a float, a log integer, an integer, a 3-way categorical), with values from a
cheap function. Per size, each optimizer first asks once untimed (imports, kernel-parameter caches:
tunewise's anchor fit, Optuna's cached kernel parameters), then ``--repeats`` timed steps, each
one suggestion followed by recording its result, so that the study grows by one per step:

- tunewise: ``BayesianOptimization().ask(History(...), 1)`` (the History is built outside the
  timer; recording a result is appending a Trial);
- Optuna: ``study.ask(distributions)`` + ``study.tell(trial, value)`` on an in-memory study built
  with ``add_trials`` of the same points.

The median step time of each measurement is one figure, in wall-clock and in CPU seconds of the
process (``time.process_time``; both optimizers compute on one thread, see below, so CPU time is
the work done, less sensitive than wall time to other jobs on a shared machine). The two
optimizers are measured in ``--rounds`` paired rounds per size, alternating which goes first,
each round from a fresh optimizer / study, so that load on a shared machine hits both alike; the
tables give the median over rounds of each one's figure and of the per-round ratio tunewise /
Optuna. Run from the repository root::

    .venv/bin/python benchmarks/bo_overhead.py                 # 50, 200, 1000 trials, 5 rounds
    .venv/bin/python benchmarks/bo_overhead.py --sizes 50 --rounds 1   # smoke run

It prints a markdown table and writes ``benchmarks/results/bo_overhead.csv`` (one row per
optimizer, size and round). Install the ``bench`` extra: without ``greenlet`` Optuna runs its
L-BFGS-B restarts one by one and is several times slower.
"""

from __future__ import annotations

import os

# One BLAS / OpenMP thread, set before numpy and torch load them, so that both optimizers compute
# on one core, as both intend: tunewise's ask runs torch on one thread (models.gp.one_thread);
# Optuna's GPSampler limits torch threads around its acquisition optimization and sets
# OPENBLAS_NUM_THREADS there, too late for an OpenBLAS already loaded. Without these, on the shared
# two-core machine one Optuna ask at 50 trials took 2.4-3.7 s instead of 0.5-0.8 s (threads
# waiting for busy cores), which would flatter tunewise.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import csv
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

import tunewise as tw
from tunewise.optimizers import BayesianOptimization
from tunewise.trial import History, Trial, TrialStatus

SPACE = tw.Space(
    lr=tw.Float(1e-5, 1e-1, log=True),
    weight_decay=tw.Float(1e-6, 1e-1, log=True),
    dropout=tw.Float(0.0, 0.8),
    width=tw.Integer(16, 512, log=True),
    depth=tw.Integer(1, 8),
    optimizer=tw.Categorical(["adamw", "sgd", "rmsprop"]),
)


def objective(config: dict[str, Any]) -> float:
    """A cheap smooth function with an optimum inside the space and a categorical effect."""
    value = (math.log10(config["lr"]) + 3.0) ** 2
    value += 0.3 * (math.log10(config["weight_decay"]) + 4.0) ** 2
    value += (config["dropout"] - 0.2) ** 2 * 4 + (math.log2(config["width"]) - 7.0) ** 2 * 0.2
    value += 0.1 * (config["depth"] - 3) ** 2
    return value + {"adamw": 0.0, "sgd": 0.5, "rmsprop": 0.3}[config["optimizer"]]


def tunewise_times(configs: list[dict[str, Any]], repeats: int) -> list[tuple[float, float]]:
    trials = [
        Trial(n, c, TrialStatus.SUCCEEDED, objective=objective(c)) for n, c in enumerate(configs)
    ]
    optimizer = BayesianOptimization()
    optimizer.ask(History(space=SPACE, seed=0, trials=tuple(trials[:-1])), 1)  # warm-up
    times = []
    for _ in range(repeats):
        history = History(space=SPACE, seed=0, trials=tuple(trials))
        start, cpu = time.perf_counter(), time.process_time()
        (s,) = optimizer.ask(history, 1)
        trials.append(
            Trial(len(trials), s.config, TrialStatus.SUCCEEDED, objective=objective(dict(s.config)))
        )
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def optuna_times(configs: list[dict[str, Any]], repeats: int) -> list[tuple[float, float]]:
    import optuna
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {
        "lr": FloatDistribution(1e-5, 1e-1, log=True),
        "weight_decay": FloatDistribution(1e-6, 1e-1, log=True),
        "dropout": FloatDistribution(0.0, 0.8),
        "width": IntDistribution(16, 512, log=True),
        "depth": IntDistribution(1, 8),
        "optimizer": CategoricalDistribution(["adamw", "sgd", "rmsprop"]),
    }
    study = optuna.create_study(sampler=optuna.samplers.GPSampler(seed=0))
    study.add_trials(
        [
            optuna.trial.create_trial(params=c, distributions=dists, value=objective(c))
            for c in configs[:-1]
        ]
    )

    def step() -> None:
        trial = study.ask(dists)
        study.tell(trial, objective(trial.params))

    step()  # warm-up: the last of the N points is replaced by the sampler's own
    times = []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        step()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bo_overhead.csv"))
    args = parser.parse_args()
    print(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    rows = []
    for size in args.sizes:
        configs = SPACE.sample_many(np.random.default_rng(size), size)
        for r in range(args.rounds):
            cases = [("tunewise", tunewise_times), ("optuna", optuna_times)]
            for name, measure in cases if r % 2 == 0 else cases[::-1]:
                times = measure(configs, args.repeats)
                rows.append(
                    {
                        "optimizer": name,
                        "trials": size,
                        "round": r,
                        "median_s": statistics.median(t for t, _ in times),
                        "max_s": max(t for t, _ in times),
                        "median_cpu_s": statistics.median(c for _, c in times),
                        "repeats": args.repeats,
                        "load1": os.getloadavg()[0],
                    }
                )
            t, o = rows[-2:] if r % 2 == 0 else rows[-1:-3:-1]
            print(
                f"{size:>5} trials, round {r}: tunewise {t['median_s']:.3f} s "
                f"(CPU {t['median_cpu_s']:.3f}), optuna {o['median_s']:.3f} s "
                f"(CPU {o['median_cpu_s']:.3f}), ratio {t['median_s'] / o['median_s']:.2f}",
                flush=True,
            )
    print(f"load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for column, what in (("median_s", "wall"), ("median_cpu_s", "CPU")):
        print(
            f"\n| finished trials | tunewise BO median {what} s (range) "
            f"| Optuna GPSampler median {what} s (range) | ratio, median (range) | rounds |"
        )
        print("|---:|---:|---:|---:|---:|")
        for size in args.sizes:
            per = {
                name: [r[column] for r in rows if r["trials"] == size and r["optimizer"] == name]
                for name in ("tunewise", "optuna")
            }
            ratios = [t / o for t, o in zip(per["tunewise"], per["optuna"], strict=True)]
            print(
                f"| {size} | {_summary(per['tunewise'])} | {_summary(per['optuna'])} "
                f"| {_summary(ratios, 2)} | {len(ratios)} |"
            )


def _summary(values: list[float], digits: int = 3) -> str:
    return (
        f"{statistics.median(values):.{digits}f} "
        f"({min(values):.{digits}f}–{max(values):.{digits}f})"
    )


if __name__ == "__main__":
    main()
