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


@pytest.mark.slow
def test_analyze_with_defaults_works_on_bench_output(tmp_path: Path, capsys) -> None:
    from tunewise.cli import main

    # Random search has no incumbent before its first full evaluation (budget 1); Hyperband has
    # one at 0.5. The default budgets must be ones where both can be compared.
    bench = ["bench", "--optimizers", "RS=random_search", "HB=hyperband", "--seeds", "2"]
    bench += ["--benchmarks", "branin-high", "hartmann3-high", "--budget", "3x"]
    assert main([*bench, "--out", str(tmp_path / "b")]) == 0
    results = str(tmp_path / "b" / "results.parquet")
    assert main(["analyze", results, "--out", str(tmp_path / "rep")]) == 0
    assert "report:" in capsys.readouterr().out
    assert main(["analyze", results, "--out", str(tmp_path / "r2"), "--budgets", "0.5", "3"]) != 0
    err = capsys.readouterr().err
    assert "budget(s) 0.5" in err and "RS" in err and "--budgets 1 3" in err
