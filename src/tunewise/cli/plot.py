"""``tunewise plot``: a study's figures written to a folder, one file per plot."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tunewise.cli.common import Commands, add_location, locate

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from tunewise.runtime.result import Result

FORMATS = ("png", "pdf", "svg")


def add_plot_parser(commands: Commands) -> None:
    """Add ``plot`` to an ``argparse`` subparsers object (from ``add_subparsers``)."""
    parser = commands.add_parser(
        "plot",
        help="write a study's figures (incumbent, curves, rungs, ...) to files",
        description=(
            "Write one file per figure of a study: the incumbent over budget and over wall "
            "time, learning curves, parallel coordinates, trials per fidelity (rungs) and "
            "parameter importance (skipped, with a note, while too few trials succeeded)."
        ),
    )
    add_location(parser)
    parser.add_argument(
        "--out",
        type=Path,
        help="folder for the files (default: ROOT/plots; required for a URL or a file)",
    )
    parser.add_argument("--format", choices=FORMATS, default="png", help="file format (png)")
    parser.add_argument(
        "--importance",
        choices=("ped_anova", "fanova"),
        default="ped_anova",
        help="importance method (default ped_anova)",
    )
    parser.add_argument("--log-y", action="store_true", help="log-scaled objective axes")
    parser.set_defaults(handler=plot_command)


def plot_command(args: argparse.Namespace) -> int:
    from tunewise.runtime.result import load

    root, storage = locate(args.location)
    out = args.out
    if out is None:
        if root is None:
            raise ValueError("--out DIR is required unless ROOT_OR_URL is a root folder")
        out = root / "plots"
    with load(root, storage=storage, study=args.study) as result:
        written = write_plots(
            result, Path(out), fmt=args.format, method=args.importance, log_y=args.log_y
        )
    for path in written:
        print(path)
    return 0


def write_plots(
    result: Result, out: Path, *, fmt: str = "png", method: str = "ped_anova", log_y: bool = False
) -> list[Path]:
    """Save every figure of ``result`` under ``out`` as ``<name>.<fmt>``; returns the paths.

    Importance is skipped with a one-line note on stdout when it cannot be computed yet.
    """
    from tunewise import plot

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    figures: dict[str, Callable[[], Figure]] = {
        "incumbent_budget": lambda: plot.incumbent(result, x="budget", log_y=log_y),
        "incumbent_time": lambda: plot.incumbent(result, x="elapsed", log_y=log_y),
        "learning_curves": lambda: plot.learning_curves(result, log_y=log_y),
        "parallel_coordinates": lambda: plot.parallel_coordinates(result),
        "rungs": lambda: plot.rungs(result),
        "importance": lambda: plot.importance(result, method=method),
    }
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in figures.items():
        try:
            figure = make()
        except ValueError as error:
            if name != "importance":
                raise
            print(f"importance skipped: {error}")
            continue
        path = out / f"{name}.{fmt}"
        figure.savefig(path, dpi=150, bbox_inches="tight")
        written.append(path)
    return written
