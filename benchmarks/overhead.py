"""Per-trial framework overhead of tunewise, side by side with Optuna, on a trivial objective.

The objective returns at once, so everything a trial costs is the framework's: asking the optimizer
(random search over three parameters), claiming the trial in the store, and recording its result.
Each measurement runs in a fresh Python process on a fresh database; tunewise and Optuna
measurements are interleaved (their order rotates each repeat) so machine noise hits both alike.

    python benchmarks/overhead.py          # the full run behind benchmarks/README.md (~11 min)
    python benchmarks/overhead.py --quick  # smoke run, well under a minute
    # how workers scale when each evaluation takes 20 ms (~6 min):
    python benchmarks/overhead.py --trials 500 --sleep-ms 20 --out benchmarks/results/sleep20.csv

Figures per measurement (``finished`` = the trials' finish timestamps, sorted):

- ``ms_per_trial``: wall time of the whole run (study creation, worker start-up, all trials,
  tunewise's read-back of the results) divided by the number of trials;
- ``median_gap_ms`` (one worker): median time between consecutive finishes, i.e. the median cost
  of one trial, robust to the odd pause (checkpoint, garbage collection);
- ``first10_ms`` / ``last10_ms``: time per trial within the first and the last 10% of finishes
  (trials 4,500-5,000 of a 5,000-trial study): does a claim get dearer as the study grows?
- ``steady_per_s``: trials finished per second between the 10% and 90% finishes (excludes
  process start-up and the tail), used for the speed-up of 4 workers over 1;
- ``tenths_ms`` (CSV only): time per trial in each tenth of the finishes.

Import time is measured too: ``python -c "import tunewise"`` minus ``python -c pass``, median of
several fresh interpreters. PostgreSQL runs use database ``test`` but only the schema
``tunewise_bench``, which is dropped before and after the run.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

# Top-level imports stay in the standard library: worker processes (spawn) re-import this file.

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
BENCH_SCHEMA = "tunewise_bench"  # everything goes here, never into the tables the tests use
FRAMEWORKS = {
    # name: (framework, storage kind); tunewise's storage kinds come from --backends
    "tunewise-sqlite": ("tunewise", "sqlite"),
    "tunewise-postgresql": ("tunewise", "postgresql"),
    "optuna-sqlite": ("optuna", "sqlite"),
    "optuna-journal": ("optuna", "journal"),
    "optuna-postgresql": ("optuna", "postgresql"),
}
CHILD_TIMEOUT_S = 1200
# --sleep-ms reaches worker processes through the environment (they re-import this file)
SLEEP_ENV = "TUNEWISE_BENCH_SLEEP_MS"
SLEEP_S = float(os.environ.get(SLEEP_ENV, "0")) / 1e3
IMPORT_RUNS = 7


# -- the objectives (top level, so worker processes can import them) ------------------------------


def tunewise_objective(config: dict[str, Any], trial: Any) -> float:
    if SLEEP_S:
        time.sleep(SLEEP_S)
    return 0.0


def optuna_objective(trial: Any) -> float:
    # The same three parameters tunewise samples; suggesting them is part of Optuna's overhead.
    trial.suggest_float("x", 1e-5, 1e-1, log=True)
    trial.suggest_int("width", 16, 512, log=True)
    trial.suggest_categorical("optimizer", ["adamw", "sgd"])
    if SLEEP_S:
        time.sleep(SLEEP_S)
    return 0.0


def tunewise_space() -> Any:
    import tunewise as tw

    return tw.Space(
        x=tw.Float(1e-5, 1e-1, log=True),
        width=tw.Integer(16, 512, log=True),
        optimizer=tw.Categorical(["adamw", "sgd"]),
    )


# -- one measurement, in a fresh process ----------------------------------------------------------


def postgres_url(schema: str = BENCH_SCHEMA) -> str:
    """The benchmark's PostgreSQL URL: database ``test``, tables in their own schema."""
    return f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one study as ``spec`` says and return its timings (runs inside the child process)."""
    framework, kind = FRAMEWORKS[spec["case"]]
    workdir = Path(tempfile.mkdtemp(prefix="tw-overhead-"))
    try:
        if framework == "tunewise":
            finished, wall = _run_tunewise(spec, kind, workdir)
        else:
            finished, wall = _run_optuna(spec, kind, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if len(finished) != spec["trials"]:
        return {**spec, "error": f"{len(finished)} of {spec['trials']} trials succeeded"}
    return {
        **spec,
        **summarize(finished, wall=wall, trials=spec["trials"]),
        "n_done": len(finished),
    }


def _run_tunewise(spec: dict[str, Any], kind: str, workdir: Path) -> tuple[list[float], float]:
    import tunewise as tw

    space = tunewise_space()
    storage = postgres_url() if kind == "postgresql" else None
    t0 = time.perf_counter()
    result = tw.run(
        tunewise_objective,
        space,
        root=workdir / "root",
        optimizer="random_search",
        budget=tw.Budget(evaluations=spec["trials"]),
        workers=spec["workers"],
        storage=storage,
        study=spec["study"],
        seed=spec["seed"],
        progress=False,
    )
    wall = time.perf_counter() - t0
    finished = sorted(
        t.finished_at for t in result.trial_list if t.status.value == "succeeded" and t.finished_at
    )
    return finished, wall


def _optuna_storage(kind: str, workdir: Path) -> Any:
    import optuna
    from optuna.storages.journal import JournalFileBackend

    if kind == "journal":
        return optuna.storages.JournalStorage(JournalFileBackend(str(workdir / "optuna.log")))
    if kind == "sqlite":
        url = f"sqlite:///{workdir / 'optuna.db'}"
        # the same 60 s lock timeout tunewise uses (Python's default of 5 s fails with 4 writers)
        return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60.0}})
    if kind == "postgresql":
        return optuna.storages.RDBStorage(
            postgres_url().replace("postgresql://", "postgresql+psycopg://", 1)
        )
    raise ValueError(f"unknown optuna storage {kind!r}")


def optuna_worker(kind: str, workdir: str, study: str, n_trials: int, seed: int) -> None:
    """One Optuna worker process: load the study and run its share of the trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    loaded = optuna.load_study(
        study_name=study,
        storage=_optuna_storage(kind, Path(workdir)),
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    loaded.optimize(optuna_objective, n_trials=n_trials)


def _run_optuna(spec: dict[str, Any], kind: str, workdir: Path) -> tuple[list[float], float]:
    import multiprocessing

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    trials, workers, seed = spec["trials"], spec["workers"], spec["seed"]
    t0 = time.perf_counter()
    storage = _optuna_storage(kind, workdir)
    study = optuna.create_study(
        study_name=spec["study"],
        storage=storage,
        sampler=optuna.samplers.RandomSampler(seed=seed),
    )
    if workers == 1:
        study.optimize(optuna_objective, n_trials=trials)
    else:
        context = multiprocessing.get_context("spawn")
        shares = [trials // workers + (i < trials % workers) for i in range(workers)]
        processes = [
            context.Process(
                target=optuna_worker, args=(kind, str(workdir), spec["study"], share, seed + i)
            )
            for i, share in enumerate(shares)
        ]
        for process in processes:
            process.start()
        for process in processes:
            process.join()
        if any(process.exitcode != 0 for process in processes):
            raise RuntimeError("an Optuna worker process failed (traceback above)")
    wall = time.perf_counter() - t0
    done = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    finished = sorted(t.datetime_complete.timestamp() for t in done)
    return finished, wall


def summarize(finished: Sequence[float], *, wall: float, trials: int) -> dict[str, Any]:
    """Timing figures from the sorted finish timestamps (seconds) and the run's wall time."""
    out: dict[str, Any] = {"wall_s": wall, "ms_per_trial": 1e3 * wall / trials}
    n = len(finished)
    gaps = [b - a for a, b in itertools.pairwise(finished)]
    k = max(n // 10, 2)
    out["median_gap_ms"] = 1e3 * statistics.median(gaps) if gaps else math.nan
    out["first10_ms"] = 1e3 * (finished[k - 1] - finished[0]) / (k - 1) if n >= k else math.nan
    out["last10_ms"] = 1e3 * (finished[-1] - finished[-k]) / (k - 1) if n >= k else math.nan
    # time per trial in each tenth of the finishes, for a closer look at growth (CSV only)
    tenths = [finished[(i * n) // 10 : ((i + 1) * n) // 10] for i in range(10)]
    out["tenths_ms"] = " ".join(
        f"{1e3 * (t[-1] - t[0]) / (len(t) - 1):.3f}" if len(t) > 1 else "nan" for t in tenths
    )
    lo, hi = n // 10, (9 * n) // 10
    span = finished[hi - 1] - finished[lo] if hi - 1 > lo else 0.0
    out["steady_per_s"] = (hi - 1 - lo) / span if span > 0 else math.nan
    return out


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure ``spec`` in a fresh interpreter (clean imports, caches and memory)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    env = {**os.environ, SLEEP_ENV: str(spec["sleep_ms"])}
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S, check=False, env=env
        )
    except subprocess.TimeoutExpired:
        return {**spec, "error": f"timed out after {CHILD_TIMEOUT_S} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {**spec, "error": " | ".join(tail) or f"exit code {proc.returncode}"}
    return json.loads(lines[-1])


# -- import time ----------------------------------------------------------------------------------


def import_time(module: str, runs: int) -> dict[str, float]:
    """Median seconds to ``import module`` in a fresh interpreter, minus an empty interpreter."""

    def one(code: str) -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        return time.perf_counter() - t0

    empty, loaded = [], []
    for _ in range(runs):  # interleaved, like the runs
        empty.append(one("pass"))
        loaded.append(one(f"import {module}"))
    return {
        "module": module,
        "runs": runs,
        "median_s": statistics.median(loaded) - statistics.median(empty),
        "min_s": min(loaded) - min(empty),
    }


# -- PostgreSQL housekeeping ----------------------------------------------------------------------


def reset_postgres_schema(*, create: bool) -> None:
    """Drop (and recreate) the benchmark's own schema in database ``test``; nothing else."""
    import psycopg

    with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE")
        if create:
            conn.execute(f"CREATE SCHEMA {BENCH_SCHEMA}")


# -- the sweep and its report ---------------------------------------------------------------------


def plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    """All measurements, interleaved: for each repeat and size, every case once, order rotating."""
    cases = [f"tunewise-{b}" for b in args.backends] + [f"optuna-{b}" for b in args.optuna]
    specs = []
    for repeat in range(args.repeats):
        for trials in args.trials:
            for workers in args.workers:
                rotation = repeat % len(cases)
                for case in cases[rotation:] + cases[:rotation]:
                    slow = case == "optuna-sqlite" and trials >= args.slow_from
                    if slow and repeat >= args.slow_repeats:
                        continue
                    specs.append(
                        {
                            "case": case,
                            "trials": trials,
                            "workers": workers,
                            "sleep_ms": args.sleep_ms,
                            "repeat": repeat,
                            "seed": repeat,
                            "study": f"bench-{os.getpid()}-{len(specs)}",
                        }
                    )
    return specs


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (case, trials, workers): medians over repeats, and speed-ups and ratios."""
    groups: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for row in rows:
        if "error" not in row:
            groups.setdefault((row["case"], row["trials"], row["workers"]), []).append(row)
    fields = ["wall_s", "ms_per_trial", "median_gap_ms", "first10_ms", "last10_ms", "steady_per_s"]
    table = []
    for (case, trials, workers), group in groups.items():
        entry: dict[str, Any] = {"case": case, "trials": trials, "workers": workers}
        entry["repeats"] = len(group)
        for field in fields:
            values = [g[field] for g in group if not math.isnan(g[field])]
            entry[field] = statistics.median(values) if values else math.nan
        entry["last_over_first"] = entry["last10_ms"] / entry["first10_ms"]
        table.append(entry)
    by_key = {(e["case"], e["trials"], e["workers"]): e for e in table}
    for entry in table:
        one = by_key.get((entry["case"], entry["trials"], 1))
        entry["speedup"] = entry["steady_per_s"] / one["steady_per_s"] if one else math.nan
    order = list(FRAMEWORKS)
    table.sort(key=lambda e: (e["trials"], e["workers"], order.index(e["case"])))
    return table


def ratios(table: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Optuna's ms per trial over tunewise's (> 1: tunewise is faster), per size and workers."""
    by_key = {(e["case"], e["trials"], e["workers"]): e for e in table}
    out = []
    for entry in table:
        if not entry["case"].startswith("optuna-"):
            continue
        # Optuna's SQLite and journal file against tunewise's SQLite; PostgreSQL against PostgreSQL
        postgres = entry["case"].endswith("postgresql")
        reference = "tunewise-postgresql" if postgres else "tunewise-sqlite"
        tw = by_key.get((reference, entry["trials"], entry["workers"]))
        if tw is None:
            continue
        out.append(
            {
                "optuna": entry["case"],
                "tunewise": reference,
                "trials": entry["trials"],
                "workers": entry["workers"],
                "wall": entry["ms_per_trial"] / tw["ms_per_trial"],
                "last10": entry["last10_ms"] / tw["last10_ms"],
                "steady": tw["steady_per_s"] / entry["steady_per_s"],
            }
        )
    return out


def fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:,.{digits}f}"
    return str(value)


def markdown(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def report(
    table: list[dict[str, Any]],
    pairs: list[dict[str, Any]],
    imports: list[dict[str, Any]],
    *,
    sleep_ms: float,
) -> str:
    objective = f"sleeps {sleep_ms:g} ms" if sleep_ms else "returns at once"
    parts = [
        f"### Time per trial, objective {objective} (medians over repeats)",
        "",
        markdown(
            [
                "case",
                "trials",
                "workers",
                "n",
                "wall s",
                "ms/trial (wall)",
                "median ms (1 worker)",
                "first 10% ms/trial",
                "last 10% ms/trial",
                "last/first",
                "steady trials/s",
                "speed-up vs 1 worker",
            ],
            [
                [
                    e["case"],
                    e["trials"],
                    e["workers"],
                    e["repeats"],
                    e["wall_s"],
                    e["ms_per_trial"],
                    e["median_gap_ms"] if e["workers"] == 1 else math.nan,
                    e["first10_ms"],
                    e["last10_ms"],
                    e["last_over_first"],
                    e["steady_per_s"],
                    e["speedup"] if e["workers"] > 1 else math.nan,
                ]
                for e in table
            ],
        ),
    ]
    if pairs:
        parts += [
            "",
            "### Optuna / tunewise (> 1: tunewise is faster)",
            "",
            markdown(
                ["optuna", "tunewise", "trials", "workers", "wall", "last 10%", "steady"],
                [
                    [p[k] for k in ("optuna", "tunewise", "trials", "workers")]
                    + [p[k] for k in ("wall", "last10", "steady")]
                    for p in pairs
                ],
            ),
        ]
    if imports:
        parts += [
            "",
            "### Import time (fresh interpreter, minus `python -c pass`)",
            "",
            markdown(
                ["module", "runs", "median s", "best s"],
                [[i["module"], i["runs"], i["median_s"], i["min_s"]] for i in imports],
            ),
        ]
    return "\n".join(parts)


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def machine() -> str:
    return (
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {platform.node()}, "
        f"{os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}), "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, nargs="+", default=[100, 5000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgresql"], choices=["sqlite", "postgresql"]
    )
    parser.add_argument(
        "--optuna",
        nargs="*",
        default=["sqlite", "journal"],
        choices=["sqlite", "journal", "postgresql"],
        help="Optuna storages to compare with (none: tunewise only)",
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sleep-ms",
        type=float,
        default=0.0,
        help="make the objective sleep this long (0: return at once); shows how workers scale "
        "when evaluations take time, as real ones do",
    )
    parser.add_argument(
        "--slow-repeats",
        type=int,
        default=1,
        help="repeats for Optuna on SQLite at --slow-from trials or more (~25 ms a trial)",
    )
    parser.add_argument("--slow-from", type=int, default=1000)
    parser.add_argument("--no-import-time", action="store_true")
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat (< 60 s)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="raw CSV (default: benchmarks/results/overhead.csv; overhead_quick.csv if --quick)",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.repeats = [20, 100], 1
    if args.out is None:
        args.out = Path("benchmarks/results") / (
            "overhead_quick.csv" if args.quick else "overhead.csv"
        )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        print(json.dumps(measure(json.loads(args.child))), flush=True)
        return 0
    use_postgres = "postgresql" in args.backends or "postgresql" in args.optuna
    if use_postgres:
        reset_postgres_schema(create=True)
    specs = plan(args)
    started = machine()
    print(f"# tunewise overhead benchmark — {started}", flush=True)
    print(f"# {len(specs)} measurements; raw rows go to {args.out}", flush=True)
    rows = []
    t_start = time.perf_counter()
    try:
        for i, spec in enumerate(specs, 1):
            row = run_child(spec)
            rows.append(row)
            if "error" in row:
                detail = f"ERROR {row['error']}"
            else:
                detail = (
                    f"{row['ms_per_trial']:7.2f} ms/trial  last10 {row['last10_ms']:6.2f} ms  "
                    f"{row['steady_per_s']:7.1f}/s  wall {row['wall_s']:6.1f} s"
                )
            print(
                f"[{i:3d}/{len(specs)} {time.perf_counter() - t_start:6.0f} s] "
                f"{spec['case']:20s} trials={spec['trials']:<5d} workers={spec['workers']} "
                f"repeat={spec['repeat']}  {detail}",
                flush=True,
            )
    finally:
        if use_postgres:
            reset_postgres_schema(create=False)
    imports = []
    if not args.no_import_time:
        runs = 3 if args.quick else IMPORT_RUNS
        imports = [import_time(m, runs) for m in ("tunewise", "optuna")]
    table = medians(rows)
    text = report(table, ratios(table), imports, sleep_ms=args.sleep_ms)
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(args.out, rows)
    if imports:
        write_csv(args.out.with_name(args.out.stem + "_import.csv"), imports)
    command = "python " + " ".join(sys.argv)
    args.out.with_suffix(".md").write_text(
        f"`{command}`\n\nstarted {started}\nfinished {machine()}\n\n{text}\n"
    )
    failed = [r for r in rows if "error" in r]
    for row in failed:
        where = f"{row['case']} trials={row['trials']} workers={row['workers']}"
        print(f"FAILED: {where}: {row['error']}")
    print(f"\n# done in {time.perf_counter() - t_start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
