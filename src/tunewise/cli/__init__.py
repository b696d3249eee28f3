"""The ``tunewise`` command: a thin layer over ``tw.run``, the store, the worker loop, the suite
runner and the analysis.

One module per subcommand, each adding its parser with ``add_<command>_parser(commands)``
(:mod:`~tunewise.cli.run` also holds ``demo``, which runs the same way). A parser's ``handler``
does the work and returns the exit status; errors a user can fix are one line on stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from tunewise.cli.analyze import add_analyze_parser
from tunewise.cli.bench import add_bench_parser
from tunewise.cli.dashboard import add_dashboard_parser
from tunewise.cli.migrate import add_migrate_parser
from tunewise.cli.plot import add_plot_parser
from tunewise.cli.run import add_demo_parser, add_run_parser
from tunewise.cli.status import add_status_parser
from tunewise.cli.trials_io import add_export_parser, add_import_parser
from tunewise.cli.worker import add_worker_parser

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``tunewise ARGV``; returns the exit status."""
    args = parser().parse_args(argv)
    from tunewise.runtime.signals import Interrupted
    from tunewise.runtime.worker import TrialFailed

    try:
        return int(args.handler(args) or 0)
    except (KeyboardInterrupt, Interrupted):
        print(
            "\ntunewise: interrupted; running trials were re-queued. "
            "Run the same command again to resume.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except TrialFailed as exc:
        print(f"tunewise: {exc}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        print(f"tunewise: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def parser() -> argparse.ArgumentParser:
    """The ``tunewise`` argument parser with every subcommand."""
    top = argparse.ArgumentParser(
        prog="tunewise",
        description="Tune deep-learning pipelines with expert priors, fidelities and many workers.",
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_run_parser(commands)
    add_status_parser(commands)
    add_worker_parser(commands)
    add_demo_parser(commands)
    add_migrate_parser(commands)
    add_bench_parser(commands)
    add_analyze_parser(commands)
    add_plot_parser(commands)
    add_dashboard_parser(commands)
    add_export_parser(commands)
    add_import_parser(commands)
    return top
