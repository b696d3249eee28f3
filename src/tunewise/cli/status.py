"""``tunewise status``: a study's optimizer, counts, budget, running and best trials and failures
as rich tables; ``--trial N`` one trial in full (its config, fidelity, info and traceback)."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from tunewise.cli.common import Commands, add_location, open_result
from tunewise.runtime.liveness import worker_gone
from tunewise.runtime.result import Result
from tunewise.transfer.layer import describe
from tunewise.trial import Trial, TrialStatus


def add_status_parser(commands: Commands) -> None:
    status = commands.add_parser(
        "status", help="optimizer, counts, running and best trials and failures of a study"
    )
    add_location(status)
    status.add_argument("--failures", type=int, default=10, help="failures to list (default 10)")
    status.add_argument(
        "--trial", type=int, metavar="N", help="show trial N in full, with its whole traceback"
    )
    status.set_defaults(handler=status_command)


def status_command(args: argparse.Namespace) -> int:
    with open_result(args.location, args.study) as result:
        if args.trial is not None:
            trial = result.trial(args.trial)
            if trial is None:
                raise ValueError(
                    f"study {result.study!r} has no trial {args.trial} "
                    f"(it has {len(result.trial_list)})"
                )
            print_trial(result, trial)
        else:
            print_status(result, failures=args.failures)
    return 0


def print_status(result: Result, *, failures: int = 10, console: Console | None = None) -> None:
    """Print ``result``'s optimizer and seed, trial counts and budget, its running trials (with
    their heartbeat's age, and dead where their process is gone), its best trial and its first
    ``failures``."""
    console = console or Console()
    trials = result.trial_list
    counts = result.counts
    budget = result.budget()

    record = result.record
    spec = dict(record.optimizer)
    name = spec.pop("name", "?")
    report: dict[str, Any] | None = None
    if name == "transfer":  # the layer's stored old configurations are not options to show
        report = spec.get("report") or {}
        spec = dict(spec["base"])
        name = f"{spec.pop('name', '?')} with transfer ({report.get('method', '?')})"
    options = ", ".join(f"{k}={v!r}" for k, v in spec.items())
    console.print(f"optimizer: {name}; seed {record.seed}", highlight=False)
    if options:
        console.print(f"optimizer options: {options}")
    if report is not None:
        print_transfer(report, trials, console=console)

    overview = Table(title=f"study {result.study!r}", show_header=True)
    for status in TrialStatus:
        overview.add_column(status.value, justify="right")
    overview.add_column("budget")
    limits = ", ".join(f"{k}={v:g}" for k, v in budget.items() if v is not None and k != "deadline")
    overview.add_row(*(str(counts[s.value]) for s in TrialStatus), limits or "none")
    console.print(overview)
    stopped = [t for t in trials if t.info.get("stopped_early")]
    if stopped:
        rules = ", ".join(sorted({str(t.info.get("stop_rule")) for t in stopped}))
        console.print(
            f"stopped early: {len(stopped)} of {counts['succeeded']} succeeded trials "
            f"({rules} rule; their objective is the value they reached)"
        )

    running = [t for t in trials if t.status is TrialStatus.RUNNING]
    if running:
        _print_running(result, running, console)

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
        table.caption = "the whole traceback: tunewise status ROOT --trial N"
        if len(broken) > failures:
            table.caption = f"{len(broken) - failures} more not shown (--failures N); " + (
                table.caption
            )
        console.print(table)


def _print_running(result: Result, running: list[Trial], console: Console) -> None:
    stale_after = float(result.record.settings.get("stale_after", 60.0))
    beats = result.heartbeats()
    now = time.time()
    table = Table(title=f"running ({len(running)})", show_header=True)
    for column in ("trial", "fidelity", "worker", "running for", "last heartbeat", "state"):
        table.add_column(column, justify="right" if column == "trial" else "left")
    for t in running:
        beat = beats.get(t.number)
        age = None if beat is None else max(0.0, now - beat)
        if worker_gone(t.worker, started_at=t.started_at):
            state = "dead: its process is gone (recovered on resume)"
        elif age is not None and age > stale_after:
            state = f"silent (over stale_after={stale_after:g} s)"
        else:
            state = "alive"
        table.add_row(
            str(t.number),
            "" if t.fidelity is None else str(t.fidelity),
            t.worker or "",
            _age(None if t.started_at is None else now - t.started_at),
            "none yet" if age is None else _age(age) + " ago",
            state,
        )
    console.print(table)


def print_trial(result: Result, trial: Trial, *, console: Console | None = None) -> None:
    """Print one trial in full: status, fidelity, objective, config, info, timing, lineage, the
    learning curve's length and the whole error traceback."""
    console = console or Console()
    table = Table(title=f"trial {trial.number} of study {result.study!r}", show_header=True)
    table.add_column("field")
    table.add_column("value", overflow="fold")
    table.add_row("status", trial.status.value)
    if trial.fidelity is not None:
        table.add_row(f"{result.space.fidelity_name} (fidelity)", str(trial.fidelity))
    table.add_row("objective", "" if trial.objective is None else f"{trial.objective:.6g}")
    table.add_row("cost", "" if trial.cost is None else f"{trial.cost:.6g}")
    for key, value in trial.config.items():
        table.add_row(f"config.{key}", repr(value))
    for key, value in trial.info.items():
        table.add_row(f"info.{key}", repr(value))
    for label, value in (
        ("worker", trial.worker),
        ("device", trial.device),
        ("previous_trial", trial.previous_trial),
        ("retry_of", trial.retry_of),
        ("slot", trial.slot),
        ("started", _when(trial.started_at)),
        ("finished", _when(trial.finished_at)),
    ):
        if value is not None:
            table.add_row(label, str(value))
    if trial.learning_curve:
        last = trial.learning_curve[-1]
        table.add_row("learning curve", f"{len(trial.learning_curve)} points, last {last}")
    console.print(table)
    if trial.error:
        console.print("error:", style="bold")
        console.print(trial.error, markup=False, highlight=False, soft_wrap=True)


def _age(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _when(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def print_transfer(report: dict[str, Any], trials: list[Trial], *, console: Console) -> None:
    """What the study's transfer carried over, and how many trials came from the old studies."""
    for line in describe(report):
        console.print(f"transfer: {line}", highlight=False, markup=False)
    sources = Counter(str(t.info.get("sampled_from")) for t in trials)
    made = {
        "transfer_best": "the old incumbent",
        "transfer_model": "from the old studies' model",
        "transfer_top": "around the old top configurations",
    }
    parts = [f"{sources[key]} {what}" for key, what in made.items() if sources[key]]
    if parts:
        console.print(f"transfer: trials {', '.join(parts)}", highlight=False, markup=False)
