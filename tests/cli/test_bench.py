"""``tunewise bench`` from the command line: the prior-confidence sweep (real runs, tiny budget)."""

from __future__ import annotations

import pandas as pd

from tunewise.analysis.report import analyze
from tunewise.cli import main

SWEEP = ["bench", "--optimizers", "PB=priorband", "--references", "HB=hyperband"]
SWEEP += ["--benchmarks", "branin-high", "hartmann3-high", "--priors", "good", "bad"]
SWEEP += ["--seeds", "2", "--budget", "2x", "--step", "1"]


def test_bench_sweeps_confidences_and_analyze_compares_them_within_each_prior(
    tmp_path, capsys
) -> None:
    assert main([*SWEEP, "--confidences", "low", "high", "--out", str(tmp_path)]) == 0
    table = pd.read_parquet(tmp_path / "results.parquet")
    assert sorted(table["algorithm"].unique()) == ["HB", "PB@high", "PB@low"]
    assert (table.loc[table["algorithm"] == "PB@low", "confidence"] == "low").all()
    assert (table.loc[table["algorithm"] == "HB", "confidence"] == "medium").all()
    assert "confidence" in pd.read_csv(tmp_path / "results.csv").columns

    report = analyze(tmp_path / "results.parquet", tmp_path / "report", budgets=[2], n_boot=10)
    assert report.summary.algorithms == ["HB", "PB@high", "PB@low"]
    assert report.summary.meta_features == ["prior"]  # contrasts within each prior quality
    assert set(report.interactions["prior"]) == {2.0}


def test_bench_without_confidences_keeps_plain_labels_and_rejects_unknown_ones(
    tmp_path, capsys
) -> None:
    assert main([*SWEEP, "--seeds", "1", "--out", str(tmp_path / "plain")]) == 0
    table = pd.read_parquet(tmp_path / "plain" / "results.parquet")
    assert sorted(table["algorithm"].unique()) == ["HB", "PB"]
    assert (table["confidence"] == "medium").all()

    capsys.readouterr()
    assert main([*SWEEP, "--confidences", "wide", "--out", str(tmp_path / "bad")]) != 0
    err = capsys.readouterr().err
    assert "unknown confidence" in err and "'wide'" in err and "medium" in err
    assert not (tmp_path / "bad" / "results.parquet").exists()
