"""What several subcommands share: where a study is, and how a run's outcome is printed."""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any

from tunewise.runtime.result import Result
from tunewise.storage.locations import split_location
from tunewise.trial import Trial

Commands = Any
"""What ``ArgumentParser.add_subparsers`` returns (argparse's type for it is private)."""


def add_location(parser: argparse.ArgumentParser) -> None:
    """The ``ROOT_OR_URL`` argument and ``--study`` option of commands on a stored study."""
    parser.add_argument("location", metavar="ROOT_OR_URL", help="a root folder or storage URL")
    parser.add_argument("--study", help="study name (default: the only one, or the root's)")


def locate(location: str) -> tuple[Path | None, str | None]:
    """``(root, storage)`` for a ``ROOT_OR_URL`` argument: a storage URL, a SQLite file, or a
    root folder that holds a store."""
    root, storage = split_location(location)
    if root is None:
        return None, storage
    if not (root / "tunewise.db").is_file():
        raise ValueError(f"no tunewise study at {location!r} (no tunewise.db there)")
    return root, None


def open_result(location: str, study: str | None) -> Result:
    """The results of the study at ``ROOT_OR_URL``."""
    from tunewise.runtime.result import load

    root, storage = locate(location)
    return load(root, storage=storage, study=study)


def tunewise_command() -> str:
    """How to run ``tunewise`` again from this shell: ``tunewise`` when that is this command on
    PATH, else the script's own path (``.venv/bin/tunewise`` outside the venv), else
    ``python -m tunewise`` with this interpreter."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    on_path = shutil.which("tunewise")
    if script is not None and script.name == "tunewise" and script.is_file():
        if on_path is not None and Path(on_path).resolve() == script.resolve():
            return "tunewise"
        shown = os.path.relpath(script) if not script.is_absolute() else str(script)
        return shlex.quote(shown if "/" in shown else f"./{shown}")
    if on_path is not None and Path(on_path).parent == Path(sys.executable).parent:
        return "tunewise"
    return f"{shlex.quote(sys.executable)} -m tunewise"


def print_best(result: Result) -> Trial | None:
    """Print the trial counts and the best trial of a finished run; returns that trial."""
    best = result.best
    counts = result.counts
    print(
        f"{counts['succeeded']} succeeded, {counts['failed']} failed, "
        f"{counts['crashed']} crashed, {counts['pending']} pending"
    )
    if best is None:
        print("no successful trial yet")
        return None
    fidelity = f" at fidelity {best.fidelity}" if best.fidelity is not None else ""
    print(f"best: trial {best.number}, objective {best.objective:.6g}{fidelity}")
    for key, value in best.config.items():
        print(f"  {key} = {value!r}")
    return best
