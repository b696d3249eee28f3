"""The ``tunewise analyze`` subcommand: a results table in, a report folder out."""

from __future__ import annotations

import argparse
from pathlib import Path

from tunewise.cli.common import Commands


def add_analyze_parser(commands: Commands) -> None:
    """Add ``analyze`` to an ``argparse`` subparsers object (from ``add_subparsers``)."""
    parser = commands.add_parser(
        "analyze",
        help="LMEM significance tests, ranks and plots for a results table",
        description=(
            "Analyse a tidy results table (CSV or parquet; columns algorithm, benchmark, seed, "
            "budget, value, optional prior/optimum) with LMEMs (Geburek et al. 2024) and "
            "critical-difference diagrams (Demšar 2006); writes report.md and report.html."
        ),
    )
    parser.add_argument("results", type=Path, metavar="RESULTS", help="a .csv or .parquet table")
    parser.add_argument("--out", type=Path, help="report folder (default: <RESULTS stem>_analysis)")
    parser.add_argument(
        "--budgets", type=float, nargs="+", help="budgets to test at (default: 4 spread out)"
    )
    parser.add_argument(
        "--value",
        default="normalized_regret",
        help=(
            "modeled column: normalized_regret (default), log_regret (log10 simple regret; needs "
            "an optimum column), rank, value, or another numeric column"
        ),
    )
    parser.add_argument(
        "--column",
        action="append",
        default=[],
        metavar="NAME=SOURCE",
        help="use column SOURCE as NAME, e.g. --column budget=used_fidelity (repeatable)",
    )
    parser.add_argument(
        "--task-columns",
        nargs="+",
        help="columns forming one task (default: benchmark prior, or benchmark)",
    )
    parser.add_argument("--alpha", type=float, default=0.05, help="significance level")
    parser.add_argument(
        "--no-lmem", action="store_true", help="skip the models (traces, ranks, CD only)"
    )
    parser.set_defaults(handler=analyze_command)


def analyze_command(args: argparse.Namespace) -> int:
    """Run the analysis for parsed ``args``; prints where the report went. Returns 0."""
    from tunewise.analysis.report import analyze

    columns = {}
    for item in args.column:
        name, sep, source = item.partition("=")
        if not sep or not name or not source:
            raise ValueError(
                f"--column expects NAME=SOURCE (e.g. budget=used_fidelity), got {item!r}"
            )
        columns[name.strip()] = source.strip()
    out = args.out or Path(f"{Path(args.results).stem}_analysis")
    report = analyze(
        args.results,
        out,
        budgets=args.budgets,
        value=args.value,
        columns=columns,
        alpha=args.alpha,
        task_columns=args.task_columns,
        lmem_tests=not args.no_lmem,
    )
    print(f"report: {report.markdown} and {report.html}")
    if report.comparisons:
        c = report.primary
        print(f"at budget {c.budget:g}: {c.algorithm_effect.conclusion}")
    return 0
