"""Sweep optimizers x benchmarks x prior qualities x seeds in parallel, into one tidy table.

Each run is simulated (virtual workers, virtual clock; see :mod:`tunewise.runtime.simulation`) and
written to its own file under ``<out>/runs/`` as soon as it finishes, so an interrupted sweep
resumes where it stopped; the combined table is ``<out>/results.parquet`` (and ``.csv``).

Table columns (the contract of :mod:`tunewise.analysis`): ``algorithm``, ``benchmark``, ``prior``,
``seed``, ``budget`` (fidelity spent, in full-fidelity evaluations, as in the PriorBand paper), at
each budget for the run's incumbent (the best trial at the highest fidelity reached):

- ``observed``: the objective the optimizer observed for it, at the fidelity it was evaluated;
- ``oracle``: its full-fidelity value, the benchmark evaluated at full fidelity for the incumbent's
  configuration (what the user would get); simulated benchmarks only, NaN for real training;
- ``value``: the one analysed, ``oracle`` by default (:func:`plan`'s ``value``), ``observed``
  where no oracle value exists; ``value_source`` says which, row by row;

and ``optimum`` (the benchmark's known or best known optimum), ``time`` (virtual seconds),
``trials`` (finished so far), ``workers``. The two values differ while the incumbent has been
evaluated only at a lower (biased, noisy) fidelity; once it ran at full fidelity they agree (a
benchmark's evaluation is deterministic given the run's seed).
"""

from __future__ import annotations

import fnmatch
import hashlib
import math
import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunewise.runtime.simulation import Event, simulate
from tunewise.suite.baselines import make_algorithm
from tunewise.suite.spec import AlgorithmSpec

#: What ``value`` can be: the incumbent's full-fidelity value, or what the optimizer observed.
VALUES = ("oracle", "observed")

COLUMNS = [
    "algorithm",
    "benchmark",
    "prior",
    "seed",
    "budget",
    "value",
    "value_source",
    "observed",
    "oracle",
    "optimum",
    "time",
    "trials",
    "workers",
]


@dataclass(frozen=True)
class Job:
    """One simulated run."""

    algorithm: AlgorithmSpec
    benchmark: str
    prior: str
    seed: int
    budget: float
    workers: int = 1
    step: float = 0.5
    value: str = "oracle"

    @property
    def key(self) -> str:
        """A file name that changes whenever anything about the run changes."""
        text = "|".join(
            [
                self.algorithm.to_json(),
                self.benchmark,
                self.prior,
                str(self.seed),
                repr(self.budget),
                str(self.workers),
                repr(self.step),
                self.value,
            ]
        )
        digest = hashlib.sha1(text.encode()).hexdigest()[:12]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.algorithm.label)
        return f"{self.benchmark}__{self.prior}__{safe}__s{self.seed}__{digest}"


def resolve_benchmarks(patterns: Sequence[str]) -> list[str]:
    """Benchmark names matching the patterns (``lcbench-*``, ``branin-high``), in given order."""
    from tunewise.benchmarks import benchmark_names

    known = benchmark_names()
    chosen: list[str] = []
    for pattern in patterns:
        matches = fnmatch.filter(known, pattern)
        if not matches:
            raise ValueError(f"no benchmark matches {pattern!r}; known: {', '.join(known)}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def plan(
    *,
    algorithms: Sequence[AlgorithmSpec],
    benchmarks: Sequence[str],
    priors: Sequence[str],
    seeds: int,
    budget: float,
    workers: int = 1,
    step: float = 0.5,
    value: str = "oracle",
) -> list[Job]:
    """All runs of the sweep; prior qualities a benchmark does not have are left out.

    ``value``: which incumbent value the table's ``value`` column holds, ``"oracle"`` (default;
    full fidelity, where the benchmark is simulated) or ``"observed"``; both are recorded.
    """
    from tunewise.benchmarks import get_benchmark

    if value not in VALUES:
        raise ValueError(f"value must be one of {list(VALUES)}, not {value!r}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, not {seeds}")
    labels = [a.label for a in algorithms]
    if len(set(labels)) != len(labels):
        raise ValueError(f"algorithm labels must be unique, got {labels}; name them label=spec")
    jobs = []
    for name in benchmarks:
        available = get_benchmark(name).priors
        for prior in priors:
            if prior not in available:
                continue
            for algorithm in algorithms:
                for seed in range(seeds):
                    jobs.append(Job(algorithm, name, prior, seed, budget, workers, step, value))
    if not jobs:
        raise ValueError(f"no runs: none of the benchmarks has any of the priors {list(priors)}")
    return jobs


def run_job(job: Job) -> pd.DataFrame:
    """Simulate one run and return its incumbent trajectory on the budget grid."""
    from tunewise.benchmarks import get_benchmark

    benchmark = get_benchmark(job.benchmark)
    space = benchmark.space(job.prior)
    full = benchmark.fidelity.upper

    def full_fidelity_value(config: Mapping[str, Any]) -> float:
        return benchmark.evaluate(config, full, seed=job.seed).objective

    events = simulate(
        benchmark.objective(seed=job.seed),
        space,
        optimizer=make_algorithm(job.algorithm.optimizer),
        seed=job.seed,
        fidelity_units=job.budget,
        workers=job.workers,
        incumbent_value=full_fidelity_value if benchmark.simulated else None,
    )
    return trajectory(events, job=job, optimum=benchmark.optimum, oracle=benchmark.simulated)


def trajectory(
    events: Sequence[Event], *, job: Job, optimum: float, oracle: bool = True
) -> pd.DataFrame:
    """The incumbent after all trials finished within each budget step (rows before any result
    are left out). ``oracle``: whether the events' ``incumbent_value`` is the full-fidelity value
    (else it repeats the observed objective and the ``oracle`` column is NaN)."""
    grid = np.arange(1, math.floor(job.budget / job.step + 1e-9) + 1) * job.step
    spent = np.array([e.budget for e in events])
    rows = []
    for b in grid:
        index = int(np.searchsorted(spent, b + 1e-9, side="right")) - 1
        if index < 0 or events[index].incumbent_value is None:
            continue
        event = events[index]
        oracle_value = event.incumbent_value if oracle else math.nan
        use_oracle = job.value == "oracle" and oracle
        rows.append(
            {
                "algorithm": job.algorithm.label,
                "benchmark": job.benchmark,
                "prior": job.prior,
                "seed": job.seed,
                "budget": float(b),
                "value": oracle_value if use_oracle else event.incumbent_objective,
                "value_source": "oracle" if use_oracle else "observed",
                "observed": event.incumbent_objective,
                "oracle": oracle_value,
                "optimum": optimum,
                "time": event.time,
                "trials": index + 1,
                "workers": job.workers,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)


def run_suite(
    jobs: Sequence[Job],
    out: str | os.PathLike[str],
    *,
    processes: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Run the jobs not already done under ``out`` (in ``processes`` processes) and combine all."""
    out = Path(out)
    runs = out / "runs"
    runs.mkdir(parents=True, exist_ok=True)
    todo = [job for job in jobs if not (runs / f"{job.key}.parquet").exists()]
    done = len(jobs) - len(todo)
    if on_progress is not None:
        on_progress(done, len(jobs))
    if processes <= 1:
        for job in todo:
            _save(run_job(job), runs / f"{job.key}.parquet")
            done += 1
            if on_progress is not None:
                on_progress(done, len(jobs))
    elif todo:
        with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
            pending = {pool.submit(run_job, job): job for job in todo}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    job = pending.pop(future)
                    _save(future.result(), runs / f"{job.key}.parquet")
                    done += 1
                    if on_progress is not None:
                        on_progress(done, len(jobs))
    table = pd.concat(
        [pd.read_parquet(runs / f"{job.key}.parquet") for job in jobs], ignore_index=True
    )
    _save(table, out / "results.parquet")
    table.to_csv(out / "results.csv", index=False)
    return table


def _save(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically, so an interrupted sweep never leaves a half-written run behind."""
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)
