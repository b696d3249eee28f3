"""The ``tunewise`` command as a whole: its subcommands, and ``python -m tunewise.cli``."""

from __future__ import annotations

import subprocess
import sys

from tunewise.cli import parser

COMMANDS = [
    "run",
    "status",
    "worker",
    "demo",
    "migrate",
    "bench",
    "analyze",
    "plot",
    "dashboard",
    "export",
    "import",
]


def test_every_subcommand_is_there_in_order() -> None:
    lines = parser().format_help().splitlines()
    # a command's line is indented 4 spaces; a help text wrapped onto more lines, further
    listed = [line.split()[0] for line in lines if line[:4] == "    " and line[4:5].strip()]
    assert listed == COMMANDS


def test_python_dash_m_runs_the_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tunewise.cli", "--help"], capture_output=True, text=True
    )
    assert done.returncode == 0
    assert all(command in done.stdout for command in COMMANDS)
