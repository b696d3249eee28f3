"""Architecture throughput: grammar operations per second, and what an architecture adds to a claim.

1. **Operations** on the paper's hierarchical NAS-Bench-201 grammar (about 10^446 architectures,
   :func:`tunewise.nas.grammars.hierarchical_nb201`) and on the NB201 cell: uniform sampling,
   subtree mutation, crossover, parsing a stored string back (what validation does), the prior
   log-density, and compiling to a ``torch.nn.Module`` (:func:`tunewise.nas.build`, 8 channels;
   the module is built, not run). Each is timed over ``--rounds`` rounds; the median rate is
   reported.
2. **Claims.** The store's public API in a loop, as a worker makes it per trial: ``random_search``
   asks on the study's History, ``StudyStore.claim`` inserts the trial (validating its config),
   ``StudyStore.finish`` records the result; on a fresh SQLite file per measurement. Two spaces
   rotate round by round so machine noise hits all alike: three hyperparameters, the same plus an
   NB201-cell architecture, and plus a hierarchical-NB201 architecture (derivations of about 450
   nodes, 6 kB strings). Reported: median milliseconds per trial (ask + claim + finish) and the
   ratio to the first.

    python benchmarks/nas_throughput.py           # the run behind benchmarks/README.md (~3 min)
    python benchmarks/nas_throughput.py --quick   # smoke run (< 30 s)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def rate(fn: Callable[[int], Any], n: int, rounds: int) -> float:
    """Median operations per second of ``fn(i)`` over ``rounds`` rounds of ``n`` calls."""
    rates = []
    for _ in range(rounds):
        start = time.perf_counter()
        for i in range(n):
            fn(i)
        rates.append(n / (time.perf_counter() - start))
    return statistics.median(rates)


def _operations(grammar: Any, pool: list[Any], rng: np.random.Generator) -> dict[str, Any]:
    import tunewise as tw
    from tunewise import nas

    texts = [str(d) for d in pool]
    arch = tw.Architecture(grammar, prior=texts[0])  # a prior centred on one architecture
    return {
        "sample": lambda i: grammar.sample(rng),
        "mutate": lambda i: nas.mutate(grammar, pool[i], rng),
        "crossover": lambda i: nas.crossover(grammar, pool[i], pool[-1 - i], rng),
        "parse": lambda i: grammar.parse(texts[i]),
        "log_prior": lambda i: arch.log_prior(texts[i]),
        "build (torch)": lambda i: tw.nas.build(texts[i], channels=8),
    }


def operations(n: int, rounds: int) -> list[tuple[str, str, float]]:
    import torch

    from tunewise.nas.grammars import hierarchical_nb201, nb201_cell

    torch.set_num_threads(1)
    out = []
    for label, grammar in (
        ("hierarchical NB201", hierarchical_nb201()),
        ("NB201 cell", nb201_cell()),
    ):
        rng = np.random.default_rng(0)
        pool = [grammar.sample(rng) for _ in range(n)]
        for name, fn in _operations(grammar, pool, rng).items():
            k = max(n // 10, 5) if name.startswith("build") else n
            out.append((label, name, rate(fn, k, rounds)))
            print(f"{label:20s} {name:14s} {out[-1][2]:12,.0f} /s", flush=True)
    return out


def claim_ms(space: Any, trials: int, workdir: Path) -> float:
    """Median ms of ask + claim + finish over ``trials`` trials on a fresh SQLite study."""
    import tunewise as tw
    from tunewise.optimizers import make
    from tunewise.runtime.worker import Settings
    from tunewise.storage import Limits, Store, storage_url

    root = Path(tempfile.mkdtemp(dir=workdir))
    store = Store(storage_url(root=root))
    optimizer = make("random_search")
    try:
        store.create_or_open_study(
            "s",
            space=space,
            optimizer=optimizer.spec(),
            seed=0,
            budget=tw.Budget(evaluations=trials).to_stored(),
            settings=Settings().to_stored(),
        )
        study = store.study("s")
        times = []
        for _ in range(trials):
            start = time.perf_counter()
            history = tw.History(space=space, seed=0, trials=study.trials())
            (suggestion,) = optimizer.ask(history, 1)
            claim = study.claim(suggestion, worker="w", limits=Limits(max_trials=trials))
            assert claim.trial is not None, claim.outcome
            study.finish(
                claim.trial.number,
                worker="w",
                status=tw.TrialStatus.SUCCEEDED,
                objective=0.0,
                cost=0.0,
            )
            times.append(1e3 * (time.perf_counter() - start))
        return statistics.median(times)
    finally:
        store.close()
        shutil.rmtree(root, ignore_errors=True)


def claims(trials: int, rounds: int) -> dict[str, list[float]]:
    import tunewise as tw
    from tunewise.nas.grammars import hierarchical_nb201, nb201_cell

    flat = tw.Space(
        lr=tw.Float(1e-5, 1e-1, log=True),
        width=tw.Integer(16, 512, log=True),
        optimizer=tw.Categorical(["adamw", "sgd"]),
    )
    spaces = {
        "three hyperparameters": flat,
        "+ NB201 cell": tw.Space(**flat.parameters, net=tw.Architecture(nb201_cell())),
        "+ hierarchical NB201": tw.Space(
            **flat.parameters, net=tw.Architecture(hierarchical_nb201())
        ),
    }
    workdir = Path(tempfile.mkdtemp(prefix="tw-nas-claims-"))
    out: dict[str, list[float]] = {label: [] for label in spaces}
    try:
        for r in range(rounds):
            labels = list(spaces)
            for label in labels[r % 3 :] + labels[: r % 3]:  # rotate the order each round
                out[label].append(claim_ms(spaces[label], trials, workdir))
            print(f"round {r}: " + ", ".join(f"{k} {v[-1]:.2f} ms" for k, v in out.items()))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    args = parser.parse_args()
    n, rounds, trials, claim_rounds = (50, 2, 50, 2) if args.quick else (400, 5, 300, 6)
    operations(n, rounds)
    times = claims(trials, claim_rounds)
    base = statistics.median(times["three hyperparameters"])
    print(f"ask + claim + finish, median of {claim_rounds} rounds (each the median of {trials}):")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"  {label:22s} {median:6.2f} ms  ratio {median / base:.2f}")


if __name__ == "__main__":
    main()
