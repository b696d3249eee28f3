"""``tunewise bench``: the suite runner from the command line."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from tunewise.cli.common import Commands


def add_bench_parser(commands: Commands) -> None:
    bench = commands.add_parser(
        "bench",
        help="sweep optimizers x benchmarks x priors x seeds in simulated time",
        description=(
            "Runs every combination (and, with --confidences, every prior width) in simulated "
            "time and writes one tidy table (OUT/results.parquet and .csv). Interrupted sweeps "
            "resume: finished runs are kept."
        ),
    )
    bench.add_argument(
        "--optimizers",
        nargs="+",
        required=True,
        metavar="SPEC",
        help=(
            "e.g. random_search 'RS+prior=random_search:use_priors=true'; Hyperband that "
            "evaluates the prior configuration first (PriorBand's baseline): "
            "'HB+prior=hyperband:prior_first=true'; Optuna's samplers as baselines: "
            "'TPE=optuna:sampler=tpe' 'GP=optuna:sampler=gp'"
        ),
    )
    bench.add_argument(
        "--benchmarks", nargs="+", required=True, metavar="NAME", help="names or patterns"
    )
    bench.add_argument(
        "--priors", nargs="+", default=["none"], help="prior qualities (default: none)"
    )
    bench.add_argument(
        "--confidences",
        nargs="+",
        metavar="LEVEL",
        help=(
            "prior widths to sweep (low medium high: sd 0.5/0.25/0.125 of the unit range); each "
            "optimizer runs at each and is labelled LABEL@LEVEL (e.g. PB@low) in the algorithm "
            "column, so `tunewise analyze` compares the widths within each prior quality "
            "(tasks are benchmark x prior). Default: each benchmark's own (medium), plain labels, "
            "resume keys as before. The column confidence records the width in every case"
        ),
    )
    bench.add_argument(
        "--references",
        nargs="+",
        default=[],
        metavar="SPEC",
        help=(
            "optimizers run once at the default confidence under their plain label whatever "
            "--confidences says: those that ignore the prior's width, e.g. HB=hyperband"
        ),
    )
    bench.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    bench.add_argument("--budget", default="20x", help="full-fidelity evaluations (default 20x)")
    bench.add_argument("--workers", type=int, default=1, help="virtual workers per run")
    bench.add_argument("--jobs", type=int, default=1, help="runs in parallel processes")
    bench.add_argument("--step", type=float, default=0.5, help="budget grid step (default 0.5)")
    bench.add_argument(
        "--value",
        choices=["oracle", "observed"],
        default="oracle",
        help=(
            "what the table's value column holds for each incumbent: its full-fidelity (oracle) "
            "value (default; real-training benchmarks fall back to observed) or the objective "
            "the optimizer observed; both are recorded (columns oracle, observed, value_source)"
        ),
    )
    bench.add_argument("--out", type=Path, default=Path("bench-results"))
    bench.set_defaults(handler=bench_command)


def bench_command(args: argparse.Namespace) -> int:
    from tunewise.suite import parse_algorithm, parse_budget, plan, run_suite
    from tunewise.suite.runner import resolve_benchmarks

    jobs = plan(
        algorithms=[parse_algorithm(text) for text in args.optimizers],
        references=[parse_algorithm(text) for text in args.references],
        confidences=args.confidences,
        benchmarks=resolve_benchmarks(args.benchmarks),
        priors=args.priors,
        seeds=args.seeds,
        budget=parse_budget(args.budget),
        workers=args.workers,
        step=args.step,
        value=args.value,
    )
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if done == total or now - last[0] > 5:
            last[0] = now
            print(f"tunewise bench: {done}/{total} runs done", file=sys.stderr)

    table = run_suite(jobs, args.out, processes=args.jobs, on_progress=progress)
    seconds = time.perf_counter() - started
    print(
        f"{len(jobs)} runs, {len(table)} rows in {args.out / 'results.parquet'} "
        f"({seconds:.1f} s); analyse with: tunewise analyze {args.out / 'results.parquet'}"
    )
    return 0
