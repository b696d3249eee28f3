"""Seconds per ``ask`` of Bayesian optimization on architecture spaces (WL kernel, evolution).

A synthetic study per space and size ``N``: ``N`` finished trials of uniformly sampled
architectures with values from a cheap function of the derivation string. Per size, a fresh
``BayesianOptimization`` asks once untimed at ``N - 1`` trials (imports; the anchor fit that a
running study has cached by then), then ``--repeats`` timed steps, each one suggestion followed by
recording its result, so the study grows by one per step. The History is built outside the timer.
Reported: the median wall-clock and CPU seconds of a step (torch runs on one thread inside an
ask), and the median ``fit_seconds``, ``acquisition_seconds`` and ``generations`` the trials record.

Spaces: ``cell`` (the NAS-Bench-201 cell grammar, 15,625 cells) and ``hierarchical`` (the
hierarchical NAS-Bench-201 grammar, about 10^446 architectures; plain WL on the full graph, and
``--hierarchical-wl`` for the level-graph kernel); ``--wl-h``: the WL iterations (default: the
optimizer's). Run from the repository root::

    .venv/bin/python benchmarks/wl_bo_overhead.py                       # 50, 200, 500; cell
    .venv/bin/python benchmarks/wl_bo_overhead.py --spaces hierarchical --sizes 50 200
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import hashlib
import statistics
import time
from typing import Any

import numpy as np

import tunewise as tw
from tunewise.nas.grammars import hierarchical_nb201, nb201_cell
from tunewise.optimizers import BayesianOptimization
from tunewise.optimizers.bayesian_optimization import WL_H
from tunewise.trial import History, Trial, TrialStatus

SPACES = {
    "cell": lambda: tw.Space(cell=tw.Architecture(nb201_cell())),
    "hierarchical": lambda: tw.Space(net=tw.Architecture(hierarchical_nb201())),
}


def value(config: dict[str, Any]) -> float:
    """A cheap deterministic objective: op counts plus a hash-based jitter."""
    text = next(iter(config.values()))
    jitter = int(hashlib.sha1(text.encode()).hexdigest()[:6], 16) / 16**6
    return -text.count("conv3x3") - text.count("nor_conv_3x3") + 0.5 * text.count("none") + jitter


def trial(number: int, config: dict[str, Any], slot: str) -> Trial:
    return Trial(
        number=number,
        config=config,
        status=TrialStatus.SUCCEEDED,
        slot=slot,
        objective=value(config),
    )


def measure(
    space: tw.Space, size: int, repeats: int, hierarchical: bool, h: int
) -> dict[str, float]:
    rng = np.random.default_rng(size)
    trials = [trial(i, c, f"x:{i}") for i, c in enumerate(space.sample_many(rng, size - 1))]
    optimizer = BayesianOptimization(wl_hierarchical=hierarchical, wl_h=h)
    optimizer.ask(History(space=space, seed=0, trials=tuple(trials)), 1)  # untimed warm-up
    walls, cpus, infos = [], [], []
    for _ in range(repeats):
        history = History(space=space, seed=0, trials=tuple(trials))
        wall, cpu = time.perf_counter(), time.process_time()
        (s,) = optimizer.ask(history, 1)
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
        infos.append(s.info)
        trials.append(trial(len(trials), dict(s.config), s.slot))
    return {
        "wall": statistics.median(walls),
        "cpu": statistics.median(cpus),
        "fit": statistics.median(i["fit_seconds"] for i in infos),
        "acq": statistics.median(i["acquisition_seconds"] for i in infos),
        "gen": statistics.median(i["generations"] for i in infos),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50, 200, 500])
    parser.add_argument("--spaces", nargs="+", choices=sorted(SPACES), default=["cell"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hierarchical-wl", action="store_true")
    parser.add_argument("--wl-h", type=int, default=WL_H, help=f"WL iterations (default {WL_H})")
    args = parser.parse_args()
    print("| space | kernel | evaluated | s/ask (wall) | s/ask (CPU) | fit s | acq. s | gens |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.spaces:
        space = SPACES[name]()
        for size in args.sizes:
            r = measure(space, size, args.repeats, args.hierarchical_wl, args.wl_h)
            kernel = f"{'hWL' if args.hierarchical_wl else 'WL'} h={args.wl_h}"
            print(
                f"| {name} | {kernel} | {size} | {r['wall']:.2f} | {r['cpu']:.2f} | "
                f"{r['fit']:.2f} | {r['acq']:.2f} | {r['gen']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
