"""analyze(): one call from a table to report.md / report.html and a Report of numbers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.analysis.synthetic import make_table
from tunewise.analysis import analyze

PLANTED = {"A": -1.0, "B": 0.0, "C": 0.0}


def test_report_files_and_numbers(tmp_path: Path) -> None:
    raw = make_table(
        PLANTED, priors=("good", "bad"), n_benchmarks=4, n_seeds=6, budgets=(1, 2, 3, 4, 5, 6)
    ).rename(columns={"budget": "used_fidelity"})
    report = analyze(raw, tmp_path / "out", budgets=[3, 6], n_boot=50)
    s = report.summary
    assert s.renamed == {"budget": "used_fidelity"} and s.meta_features == ["prior"]
    assert s.analysed_budgets == [3.0, 6.0] and s.primary_budget == 6.0 and len(s.tasks) == 8
    assert report.primary.algorithm_effect.significant
    assert report.primary.posthoc.contrast("A", "B")["better"] == "A"
    assert set(report.interactions["prior"]) == {3.0, 6.0}
    assert report.fidelity is not None and report.seed is not None
    assert (
        report.critical_difference is not None and report.critical_difference.ranks.index[0] == "A"
    )
    assert list(report.means.columns) == ["A", "B", "C"]

    md = report.markdown.read_text()
    for heading in ("## Data", "## LMEM at the primary budget (6)", "## Meta-feature: prior"):
        assert heading in md
    assert (
        "## Sanity checks" in md and "(traces.png)" in md and "y ~ algorithm + (1 \\| task)" in md
    )
    for name in ("traces", "traces_per_benchmark", "mean_ranks", "critical_difference"):
        assert (report.out_dir / f"{name}.png").stat().st_size > 0
        assert (report.out_dir / f"{name}.pdf").stat().st_size > 0
    # the two mean-rank figures say which blocks they rank
    assert "(48 at budget 6)" in md and "one per task" in md  # 8 tasks x 6 seeds vs 8 tasks
    assert report.rank_blocks == 48 and report.critical_difference.n_blocks == 8
    assert "**Seed (Geburek et al.'s test).**" in md and report.seed_slopes is not None
    assert "Benchmark informativeness (Geburek et al.'s test)" in md
    page = report.html.read_text()
    assert page.count("data:image/png;base64,") == 4 and 'src="traces.png"' not in page


def test_report_says_which_value_is_analysed(tmp_path: Path) -> None:
    raw = make_table(PLANTED, n_benchmarks=2, n_seeds=3)
    raw = raw.assign(value_source="oracle", observed=raw["value"] - 0.5)
    oracle = analyze(raw, tmp_path / "oracle", lmem_tests=False, n_boot=10)
    assert oracle.summary.value_sources == ["oracle"]
    assert "`oracle` = the incumbent's full-fidelity (oracle) value" in oracle.markdown.read_text()
    assert oracle.summary.meta_features == []  # value_source is not a meta-feature
    observed = analyze(
        raw, tmp_path / "observed", columns={"value": "observed"}, lmem_tests=False, n_boot=10
    )
    assert observed.summary.value_sources == []
    assert "`value` holds the input column `observed`" in observed.markdown.read_text()
    unsaid = analyze(raw.drop(columns="value_source"), tmp_path / "u", lmem_tests=False, n_boot=5)
    assert "the table does not say" in unsaid.markdown.read_text()


def test_log_regret_and_rank_can_be_modeled(tmp_path: Path) -> None:
    raw = make_table(PLANTED, n_benchmarks=3, n_seeds=4)
    with pytest.raises(ValueError, match="log_regret needs each benchmark's optimum"):
        analyze(raw, tmp_path / "none", value="log_regret", budgets=[5], n_boot=10)
    raw["optimum"] = raw.groupby("benchmark")["value"].transform("min") - 0.5
    for value in ("log_regret", "rank"):
        report = analyze(raw, tmp_path / value, value=value, budgets=[5], n_boot=10)
        assert report.primary.posthoc.contrast("A", "B")["better"] == "A"
        assert report.summary.value == value


def test_single_benchmark_needs_lmem_off(tmp_path: Path) -> None:
    raw = make_table(PLANTED, n_benchmarks=1, n_seeds=4)
    with pytest.raises(ValueError, match=r"needs at least 2 benchmarks.*lmem=False"):
        analyze(raw, tmp_path / "x")
    report = analyze(raw, tmp_path / "y", lmem_tests=False, n_boot=20)
    assert not report.comparisons and report.critical_difference is None
    assert report.markdown.exists() and "traces" in report.figures


def test_bad_budgets_and_value(tmp_path: Path) -> None:
    raw = make_table(n_benchmarks=2, n_seeds=2)
    with pytest.raises(ValueError, match=r"outside the recorded range \[1, 5\]"):
        analyze(raw, tmp_path, budgets=[9])
    with pytest.raises(ValueError, match="'loss' is not a numeric column"):
        analyze(raw, tmp_path, value="loss")


def test_import_stays_light() -> None:
    code = (
        "import sys, tunewise.analysis; "
        "print(any(m.split('.')[0] in ('statsmodels', 'matplotlib') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
