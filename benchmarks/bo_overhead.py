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

The median step time is reported. Run from the repository root::

    .venv/bin/python benchmarks/bo_overhead.py                      # 50, 200, 1000 trials
    .venv/bin/python benchmarks/bo_overhead.py --sizes 50 --repeats 3   # smoke run

It prints a markdown table and writes ``benchmarks/results/bo_overhead.csv``.
"""

from __future__ import annotations

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


def tunewise_times(configs: list[dict[str, Any]], repeats: int) -> list[float]:
    trials = [
        Trial(n, c, TrialStatus.SUCCEEDED, objective=objective(c)) for n, c in enumerate(configs)
    ]
    optimizer = BayesianOptimization()
    optimizer.ask(History(space=SPACE, seed=0, trials=tuple(trials[:-1])), 1)  # warm-up
    times = []
    for _ in range(repeats):
        history = History(space=SPACE, seed=0, trials=tuple(trials))
        start = time.perf_counter()
        (s,) = optimizer.ask(history, 1)
        trials.append(
            Trial(len(trials), s.config, TrialStatus.SUCCEEDED, objective=objective(dict(s.config)))
        )
        times.append(time.perf_counter() - start)
    return times


def optuna_times(configs: list[dict[str, Any]], repeats: int) -> list[float]:
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
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/bo_overhead.csv"))
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        configs = SPACE.sample_many(np.random.default_rng(size), size)
        for name, measure in (("tunewise", tunewise_times), ("optuna", optuna_times)):
            times = measure(configs, args.repeats)
            rows.append(
                {
                    "optimizer": name,
                    "trials": size,
                    "median_s": statistics.median(times),
                    "max_s": max(times),
                    "repeats": args.repeats,
                }
            )
            print(
                f"{name:>9} {size:>5} trials: median {statistics.median(times):.3f} s", flush=True
            )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    by = {(r["optimizer"], r["trials"]): r for r in rows}
    print("\n| finished trials | tunewise BO median s (max) | Optuna GPSampler median s (max) |")
    print("|---:|---:|---:|")
    for size in args.sizes:
        t, o = by[("tunewise", size)], by[("optuna", size)]
        print(
            f"| {size} | {t['median_s']:.3f} ({t['max_s']:.3f}) "
            f"| {o['median_s']:.3f} ({o['max_s']:.3f}) |"
        )


if __name__ == "__main__":
    main()
