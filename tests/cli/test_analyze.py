"""The analyze subcommand, wired into a stand-alone parser the way tunewise.cli wires it."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from tests.analysis.synthetic import make_table
from tunewise.cli.analyze import add_analyze_parser


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tunewise")
    add_analyze_parser(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_analyze_command_writes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "runs.csv"
    make_table({"A": -1.0, "B": 0.0}, n_seeds=4).rename(columns={"value": "loss"}).to_csv(
        path, index=False
    )
    args = _parse(
        ["analyze", str(path), "--out", str(tmp_path / "rep"), "--budgets", "2", "5",
         "--column", "value=loss", "--alpha", "0.01"]
    )  # fmt: skip
    assert args.handler(args) == 0
    out = capsys.readouterr().out
    assert str(tmp_path / "rep" / "report.md") in out and "algorithms differ" in out


def test_bad_column_option_is_a_value_error(tmp_path: Path) -> None:
    args = _parse(["analyze", str(tmp_path / "r.csv"), "--column", "budget"])
    with pytest.raises(ValueError, match="--column expects NAME=SOURCE"):
        args.handler(args)
