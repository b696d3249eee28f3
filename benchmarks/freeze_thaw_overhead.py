"""Seconds per freeze_thaw ask against the number of recorded learning-curve points.

Builds a History of chains as a freeze-thaw run leaves them (configurations continued one epoch
at a time, each trial reporting its epoch's value) from a benchmark's curves, then times
``FreezeThaw().ask`` on it: ``warm`` asks reuse the optimizer's fit cache (a running worker),
``cold`` asks use a fresh optimizer (a new worker, which refits the anchor). Prints the median
and the fit / acquisition split recorded in the suggestion's info.

    python benchmarks/freeze_thaw_overhead.py --points 250 500 1000 2000 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from tunewise.benchmarks.registry import get_benchmark
from tunewise.optimizers.freeze_thaw import FreezeThaw
from tunewise.trial import History, Trial, TrialStatus


def history_with(points: int, *, benchmark: str, epochs: int, seed: int) -> History:
    """``points / epochs`` configurations, each continued one epoch at a time to ``epochs``."""
    bench = get_benchmark(benchmark)
    space = bench.space("none")
    rng = np.random.default_rng(seed)
    trials: list[Trial] = []
    for config in space.sample_many(rng, points // epochs):
        curve = bench.evaluate(config, epochs).learning_curve
        previous = None
        for step, value in curve[:epochs]:
            number = len(trials)
            trials.append(
                Trial(
                    number=number,
                    config=config,
                    status=TrialStatus.SUCCEEDED,
                    fidelity=int(step),
                    objective=value,
                    learning_curve=((step, value),),
                    previous_trial=previous,
                    slot=f"ft:{number}",
                )
            )
            previous = number
    return History(space, seed, tuple(trials))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[250, 500, 1000, 2000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--benchmark", default="lcbench-189906")
    parser.add_argument("--epochs", type=int, default=10, help="curve points per configuration")
    args = parser.parse_args()
    print("| points | warm ask s (median) | fit s | acquisition s | cold ask s (median) |")
    print("|---:|---:|---:|---:|---:|")
    for points in args.points:
        history = history_with(points, benchmark=args.benchmark, epochs=args.epochs, seed=0)
        warm, fit, acq, cold = [], [], [], []
        optimizer = FreezeThaw()
        optimizer.ask(history)  # fills the fit cache, as a running worker has it
        for _ in range(args.repeats):
            start = time.perf_counter()
            (s,) = optimizer.ask(history)
            warm.append(time.perf_counter() - start)
            fit.append(s.info["fit_seconds"])
            acq.append(s.info["acquisition_seconds"])
            start = time.perf_counter()
            FreezeThaw().ask(history)
            cold.append(time.perf_counter() - start)
        print(
            f"| {len(history)} | {statistics.median(warm):.3f} | {statistics.median(fit):.3f} | "
            f"{statistics.median(acq):.3f} | {statistics.median(cold):.3f} |"
        )


if __name__ == "__main__":
    main()
