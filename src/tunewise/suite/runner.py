"""Sweep optimizers x benchmarks x prior qualities x prior confidences x seeds in parallel, into
one tidy table.

Each run is simulated (virtual workers, virtual clock; see :mod:`tunewise.runtime.simulation`) and
written to its own file under ``<out>/runs/`` as soon as it finishes, so an interrupted sweep
resumes where it stopped; the combined table is ``<out>/results.parquet`` (and ``.csv``).

Table columns (the contract of :mod:`tunewise.analysis`): ``algorithm``, ``benchmark``, ``prior``,
``confidence``, ``seed``, ``budget`` (fidelity spent, in full-fidelity evaluations, as in the
PriorBand paper), at each budget for the run's incumbent (the best trial at the highest fidelity
reached):

- ``observed``: the objective the optimizer observed for it, at the fidelity it was evaluated;
- ``oracle``: its full-fidelity value, the benchmark evaluated at full fidelity for the incumbent's
  configuration (what the user would get); simulated benchmarks only, NaN for real training;
- ``value``: the one analysed, ``oracle`` by default (:func:`plan`'s ``value``), ``observed``
  where no oracle value exists; ``value_source`` says which, row by row;

and ``optimum`` (the benchmark's known or best known optimum), ``time`` (virtual seconds),
``trials`` (finished so far), ``workers``. The two values differ while the incumbent has been
evaluated only at a lower (biased, noisy) fidelity; once it ran at full fidelity they agree (a
benchmark's evaluation is deterministic given the run's seed).

``confidence`` is the width of the priors in the run's space (``low``/``medium``/``high``, see
:mod:`tunewise.space.priors`): the benchmark's default unless :func:`plan` sweeps
``confidences``; then ``algorithm`` is ``label@confidence`` (``PB@low``), so that the analysis,
whose tasks are benchmark x prior, compares the optimizer-at-a-confidence variants within each
prior quality ("with a good prior, which confidence is best for PriorBand?"). ``references``
(optimizers that ignore the prior's width, such as Hyperband) run once, under their plain label.
"""

from __future__ import annotations

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

from tunewise.benchmarks.registry import matching
from tunewise.runtime.simulation import Event, simulate
from tunewise.space.priors import CONFIDENCES
from tunewise.suite.baselines import make_algorithm
from tunewise.suite.spec import AlgorithmSpec

#: What ``value`` can be: the incumbent's full-fidelity value, or what the optimizer observed.
VALUES = ("oracle", "observed")

COLUMNS = [
    "algorithm",
    "benchmark",
    "prior",
    "confidence",
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
    confidence: str | None = None
    """The priors' confidence; None: the benchmark's default (and the label stays plain)."""

    @property
    def label(self) -> str:
        """The table's ``algorithm``: the spec's label, ``@confidence`` when one was chosen."""
        if self.confidence is None:
            return self.algorithm.label
        return f"{self.algorithm.label}@{self.confidence}"

    @property
    def key(self) -> str:
        """A file name that changes whenever anything about the run changes (a run at the
        benchmark's default confidence keeps the key it had before confidences existed)."""
        chosen = [] if self.confidence is None else [f"confidence={self.confidence}"]
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
                *chosen,
            ]
        )
        digest = hashlib.sha1(text.encode()).hexdigest()[:12]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.label)
        return f"{self.benchmark}__{self.prior}__{safe}__s{self.seed}__{digest}"


def resolve_benchmarks(patterns: Sequence[str]) -> list[str]:
    """Benchmark names matching the patterns (``lcbench-*``, ``branin-high``), in given order."""
    from tunewise.benchmarks import benchmark_names

    return matching(benchmark_names(), patterns, what="benchmark")


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
    confidences: Sequence[str] | None = None,
    references: Sequence[AlgorithmSpec] = (),
) -> list[Job]:
    """All runs of the sweep; prior qualities a benchmark does not have are left out.

    ``value``: which incumbent value the table's ``value`` column holds, ``"oracle"`` (default;
    full fidelity, where the benchmark is simulated) or ``"observed"``; both are recorded.
    ``confidences`` (e.g. ``["low", "medium", "high"]``): run every one of ``algorithms`` with
    the priors at each confidence, labelled ``label@confidence``; None (default): once, at each
    benchmark's default confidence, under the plain label (and with the run keys of sweeps made
    before confidences could be chosen). ``references``: algorithms run once at the default
    confidence under their plain label whatever ``confidences`` is (Hyperband beside
    ``PB@low``, ``PB@medium``...: running an optimizer that ignores the prior's width at three
    widths would only triplicate it).
    """
    from tunewise.benchmarks import get_benchmark

    if value not in VALUES:
        raise ValueError(f"value must be one of {list(VALUES)}, not {value!r}")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, not {seeds}")
    levels: list[str | None] = [None]
    if confidences is not None:
        unknown = [c for c in confidences if c not in CONFIDENCES]
        if unknown or not confidences:
            raise ValueError(
                f"unknown confidence(s) {unknown}; choose from {list(CONFIDENCES)}"
                if unknown
                else f"confidences must not be empty; choose from {list(CONFIDENCES)}"
            )
        if len(set(confidences)) != len(confidences):
            raise ValueError(f"confidences must be unique, got {list(confidences)}")
        levels = list(confidences)
    variants = [(a, c) for a in algorithms for c in levels] + [(a, None) for a in references]
    labels = [a.label if c is None else f"{a.label}@{c}" for a, c in variants]
    if len(set(labels)) != len(labels):
        raise ValueError(f"algorithm labels must be unique, got {labels}; name them label=spec")
    jobs = []
    for name in benchmarks:
        available = get_benchmark(name).priors
        for prior in priors:
            if prior not in available:
                continue
            for algorithm, confidence in variants:
                for seed in range(seeds):
                    jobs.append(
                        Job(algorithm, name, prior, seed, budget, workers, step, value, confidence)
                    )
    if not jobs:
        raise ValueError(f"no runs: none of the benchmarks has any of the priors {list(priors)}")
    return jobs


def run_job(job: Job) -> pd.DataFrame:
    """Simulate one run and return its incumbent trajectory on the budget grid."""
    from tunewise.benchmarks import get_benchmark

    benchmark = get_benchmark(job.benchmark)
    space = benchmark.space(job.prior, confidence=job.confidence)

    def full_fidelity_value(config: Mapping[str, Any]) -> float:
        return benchmark.oracle(config, seed=job.seed)

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
    confidence = job.confidence or default_confidence(job.benchmark)
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
                "algorithm": job.label,
                "benchmark": job.benchmark,
                "prior": job.prior,
                "confidence": confidence,
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


def default_confidence(benchmark: str) -> str:
    """The confidence a benchmark's :meth:`space` gives its priors by default (``per-parameter``
    where each prior has its own, as in the demo training benchmark)."""
    from tunewise.benchmarks import get_benchmark

    return get_benchmark(benchmark).default_confidence or "per-parameter"


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
    table = pd.concat([_load(job, runs / f"{job.key}.parquet") for job in jobs], ignore_index=True)
    _save(table, out / "results.parquet")
    table.to_csv(out / "results.csv", index=False)
    return table


def _load(job: Job, path: Path) -> pd.DataFrame:
    """A finished run's rows; runs saved before the ``confidence`` column existed get it."""
    frame = pd.read_parquet(path)
    if "confidence" not in frame.columns:
        frame.insert(COLUMNS.index("confidence"), "confidence", default_confidence(job.benchmark))
    return frame


def _save(frame: pd.DataFrame, path: Path) -> None:
    """Write atomically, so an interrupted sweep never leaves a half-written run behind."""
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, index=False)
    partial.replace(path)
