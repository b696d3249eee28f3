"""``tunewise status``: a study's counts, budget, best trial and failures as rich tables."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from tunewise.cli.common import Commands, add_location, open_result
from tunewise.runtime.result import Result
from tunewise.trial import TrialStatus


def add_status_parser(commands: Commands) -> None:
    status = commands.add_parser("status", help="counts, best trial and failures of a study")
    add_location(status)
    status.add_argument("--failures", type=int, default=10, help="failures to list (default 10)")
    status.set_defaults(handler=status_command)


def status_command(args: argparse.Namespace) -> int:
    with open_result(args.location, args.study) as result:
        print_status(result, failures=args.failures)
    return 0


def print_status(result: Result, *, failures: int = 10, console: Console | None = None) -> None:
    """Print ``result``'s trial counts and budget, its best trial and its first ``failures``."""
    console = console or Console()
    trials = result.trial_list
    counts = result.counts
    budget = result.budget()

    overview = Table(title=f"study {result.study!r}", show_header=True)
    for status in TrialStatus:
        overview.add_column(status.value, justify="right")
    overview.add_column("budget")
    limits = ", ".join(f"{k}={v:g}" for k, v in budget.items() if v is not None and k != "deadline")
    overview.add_row(*(str(counts[s.value]) for s in TrialStatus), limits or "none")
    console.print(overview)

    best = result.best
    if best is None:
        console.print("no successful trial yet")
    else:
        table = Table(title=f"best: trial {best.number}", show_header=True)
        table.add_column("parameter")
        table.add_column("value")
        table.add_row("objective", f"{best.objective:.6g}")
        if best.fidelity is not None:
            table.add_row(f"{result.space.fidelity_name} (fidelity)", str(best.fidelity))
        for key, value in best.config.items():
            table.add_row(key, repr(value))
        for key, value in best.info.items():
            table.add_row(f"info.{key}", repr(value))
        console.print(table)

    broken = [t for t in trials if t.status in (TrialStatus.FAILED, TrialStatus.CRASHED)]
    if broken:
        table = Table(title=f"failures ({len(broken)})", show_header=True)
        table.add_column("trial", justify="right")
        table.add_column("status")
        table.add_column("first error line", overflow="fold")
        for t in broken[:failures]:
            first = (t.error or "").splitlines()[0] if t.error else ""
            table.add_row(str(t.number), t.status.value, first)
        if len(broken) > failures:
            table.caption = f"{len(broken) - failures} more not shown (--failures N)"
        console.print(table)
