"""The suite runner: specs, planning, simulated sweeps into a tidy table, resuming."""

from __future__ import annotations

import pandas as pd
import pytest

from tunewise.suite import parse_algorithm, parse_budget, plan, run_suite
from tunewise.suite.runner import COLUMNS, resolve_benchmarks

RS = parse_algorithm("random_search")
RS_PRIOR = parse_algorithm("RS+prior=random_search:use_priors=true")


def test_algorithm_specs() -> None:
    assert RS.label == "random_search" and RS.optimizer == {"name": "random_search"}
    assert RS_PRIOR.label == "RS+prior"
    assert RS_PRIOR.optimizer == {"name": "random_search", "use_priors": True}
    grid = parse_algorithm("grid_search:points_per_dimension=3")
    assert grid.label == "grid_search(points_per_dimension=3)"
    with pytest.raises(ValueError, match="unknown optimizer"):
        parse_algorithm("nope")
    with pytest.raises(ValueError, match="has no parameter"):
        parse_algorithm("random_search:prior=1")
    with pytest.raises(ValueError, match="key=value"):
        parse_algorithm("random_search:use_priors")


def test_budget_specs() -> None:
    assert parse_budget("20x") == parse_budget("20") == 20.0
    assert parse_budget("2.5x") == 2.5
    for bad in ("0x", "-3", "many"):
        with pytest.raises(ValueError, match="budget"):
            parse_budget(bad)


def test_plan_leaves_out_priors_a_benchmark_lacks_and_needs_unique_labels() -> None:
    names = resolve_benchmarks(["branin-*"])
    assert names and all(n.startswith("branin-") for n in names)
    jobs = plan(
        algorithms=[RS, RS_PRIOR],
        benchmarks=["branin-high"],
        priors=["good", "no-such-prior"],
        seeds=3,
        budget=5,
    )
    assert len(jobs) == 2 * 3 and {j.prior for j in jobs} == {"good"}
    with pytest.raises(ValueError, match="unique"):
        plan(algorithms=[RS, RS], benchmarks=["branin-high"], priors=["none"], seeds=1, budget=5)
    with pytest.raises(ValueError, match="no benchmark matches"):
        resolve_benchmarks(["nothing-*"])


def test_sweep_writes_a_tidy_table_and_resumes(tmp_path) -> None:
    jobs = plan(
        algorithms=[RS, RS_PRIOR],
        benchmarks=["branin-high"],
        priors=["good", "bad"],
        seeds=2,
        budget=4,
        step=1.0,
    )
    table = run_suite(jobs, tmp_path)
    assert list(table.columns) == COLUMNS
    assert len(table) == len(jobs) * 4  # budgets 1, 2, 3, 4
    assert sorted(table["budget"].unique()) == [1.0, 2.0, 3.0, 4.0]
    for _, run in table.groupby(["algorithm", "prior", "seed"]):
        assert run["value"].is_monotonic_decreasing  # an incumbent only improves
    assert (table["value"] >= table["optimum"] - 1e-9).all()
    assert pd.read_parquet(tmp_path / "results.parquet").equals(table)

    # Resume: only the missing run is simulated again, and the table is the same.
    next((tmp_path / "runs").glob("*.parquet")).unlink()
    progress = []
    again = run_suite(jobs, tmp_path, on_progress=lambda done, total: progress.append(done))
    assert progress[0] == len(jobs) - 1
    pd.testing.assert_frame_equal(again, table)


def test_good_prior_beats_uniform_random_search_early_and_bad_prior_does_not(tmp_path) -> None:
    jobs = plan(
        algorithms=[RS, RS_PRIOR],
        benchmarks=["branin-high"],
        priors=["good", "bad"],
        seeds=10,
        budget=5,
        step=1.0,
    )
    table = run_suite(jobs, tmp_path)
    early = table[table["budget"] == 3.0].groupby(["prior", "algorithm"])["value"].mean()
    assert early["good", "RS+prior"] < early["good", "random_search"]
    assert early["bad", "RS+prior"] > early["bad", "random_search"]


def test_oracle_and_observed_values_are_both_recorded(tmp_path) -> None:
    from tunewise.benchmarks import get_benchmark

    hb = parse_algorithm("HB=hyperband")
    jobs = plan(algorithms=[hb, RS], benchmarks=["branin-low"], priors=["none"], seeds=1, budget=3)
    table = run_suite(jobs, tmp_path)
    assert (table["value_source"] == "oracle").all()
    assert (table["value"] == table["oracle"]).all()
    # Hyperband's first incumbents are low-fidelity trials: what it observed differs from the
    # full-fidelity value, which the benchmark gives for the same configuration.
    early = table[(table["algorithm"] == "HB") & (table["budget"] == 0.5)]
    assert len(early) == 1 and early["observed"].iloc[0] != early["oracle"].iloc[0]
    # random search evaluates at full fidelity only: both values agree
    rs = table[table["algorithm"] == "random_search"]
    assert (rs["observed"] == rs["oracle"]).all()
    bench = get_benchmark("branin-low")
    assert (table["oracle"] >= bench.optimum - 1e-9).all()

    observed = run_suite(
        plan(
            algorithms=[hb, RS],
            benchmarks=["branin-low"],
            priors=["none"],
            seeds=1,
            budget=3,
            value="observed",
        ),
        tmp_path / "observed",
    )
    assert (observed["value_source"] == "observed").all()
    assert (observed["value"] == observed["observed"]).all()
    pd.testing.assert_series_equal(observed["oracle"], table["oracle"])
    with pytest.raises(ValueError, match="value must be one of"):
        plan(
            algorithms=[RS],
            benchmarks=["branin-low"],
            priors=["none"],
            seeds=1,
            budget=1,
            value="best",
        )


def test_hyperband_with_the_prior_first_is_a_baseline(tmp_path) -> None:
    from tunewise.benchmarks import get_benchmark

    hb_prior = parse_algorithm("HB+prior=hyperband:prior_first=true")
    assert hb_prior.optimizer == {"name": "hyperband", "prior_first": True}
    jobs = plan(
        algorithms=[hb_prior, parse_algorithm("HB=hyperband")],
        benchmarks=["branin-high"],
        priors=["good"],
        seeds=1,
        budget=2,
        step=0.5,
    )
    table = run_suite(jobs, tmp_path).set_index(["algorithm", "budget"])
    bench = get_benchmark("branin-high")
    prior_value = bench.evaluate(bench.prior_config("good"), bench.fidelity.upper).objective
    # the good prior configuration is its first trial and the best of the first rung at 0.5x
    assert table.loc[("HB+prior", 0.5), "oracle"] == pytest.approx(prior_value)
    assert table.loc[("HB", 0.5), "oracle"] != pytest.approx(prior_value)


@pytest.mark.slow
def test_parallel_processes_give_the_same_table(tmp_path) -> None:
    jobs = plan(
        algorithms=[RS, RS_PRIOR], benchmarks=["branin-high"], priors=["good"], seeds=2, budget=3
    )
    serial = run_suite(jobs, tmp_path / "serial")
    parallel = run_suite(jobs, tmp_path / "parallel", processes=2)
    pd.testing.assert_frame_equal(serial, parallel)


def test_bench_command_value_option(tmp_path, capsys) -> None:
    from tunewise.cli import main

    common = ["bench", "--optimizers", "HB=hyperband", "random_search", "--benchmarks"]
    common += ["branin-low", "--seeds", "1", "--budget", "2x", "--step", "1"]
    assert main([*common, "--out", str(tmp_path / "a"), "--value", "observed"]) == 0
    table = pd.read_parquet(tmp_path / "a" / "results.parquet")
    assert (table["value_source"] == "observed").all()
    assert (table["value"] == table["observed"]).all()
    assert main([*common, "--out", str(tmp_path / "b")]) == 0  # default: oracle
    assert (pd.read_parquet(tmp_path / "b" / "results.parquet")["value_source"] == "oracle").all()
    with pytest.raises(SystemExit):
        main([*common, "--out", str(tmp_path / "c"), "--value", "best"])
    assert "invalid choice" in capsys.readouterr().err


def test_confidences_are_a_sweep_dimension_with_references_run_once(tmp_path) -> None:
    import hashlib

    hb = parse_algorithm("HB=hyperband")
    jobs = plan(
        algorithms=[RS_PRIOR],
        references=[hb],
        confidences=["low", "high"],
        benchmarks=["branin-high"],
        priors=["good"],
        seeds=2,
        budget=3,
        step=1.0,
    )
    assert sorted({j.label for j in jobs}) == ["HB", "RS+prior@high", "RS+prior@low"]
    assert len(jobs) == 3 * 2 and len({j.key for j in jobs}) == len(jobs)
    table = run_suite(jobs, tmp_path)
    assert list(table.columns) == COLUMNS
    confidence = table.groupby("algorithm")["confidence"].unique().map(list).to_dict()
    assert confidence == {"HB": ["medium"], "RS+prior@high": ["high"], "RS+prior@low": ["low"]}
    # The width is what changes: the same seeds sample other configurations.
    values = table.set_index(["algorithm", "seed", "budget"])["value"]
    assert not values["RS+prior@low"].equals(values["RS+prior@high"])

    # Without confidences, labels and run keys are those of sweeps made before they existed.
    (default,) = plan(
        algorithms=[RS_PRIOR], benchmarks=["branin-high"], priors=["good"], seeds=1, budget=3
    )
    text = "|".join([RS_PRIOR.to_json(), "branin-high", "good", "0", "3", "1", "0.5", "oracle"])
    digest = hashlib.sha1(text.encode()).hexdigest()[:12]
    assert default.label == "RS+prior" and default.confidence is None
    assert default.key == f"branin-high__good__RS_prior__s0__{digest}"

    with pytest.raises(ValueError, match=r"unknown confidence.*'wide'.*low"):
        plan(algorithms=[RS_PRIOR], confidences=["wide"], **_one_run())
    with pytest.raises(ValueError, match="unique"):
        plan(algorithms=[hb], references=[hb], confidences=None, **_one_run())
    with pytest.raises(ValueError, match="unique"):
        plan(algorithms=[RS_PRIOR], confidences=["low", "low"], **_one_run())


def _one_run() -> dict:
    return {"benchmarks": ["branin-high"], "priors": ["good"], "seeds": 1, "budget": 1}


def test_runs_saved_before_the_confidence_column_resume_with_it(tmp_path) -> None:
    jobs = plan(algorithms=[RS], benchmarks=["branin-high"], priors=["good"], seeds=1, budget=2)
    run_suite(jobs, tmp_path)
    (path,) = (tmp_path / "runs").glob("*.parquet")
    pd.read_parquet(path).drop(columns="confidence").to_parquet(path, index=False)
    table = run_suite(jobs, tmp_path)
    assert list(table.columns) == COLUMNS and (table["confidence"] == "medium").all()
