"""BO and piBO on spaces with architectures: the joint GP, evolution of derivations, refinement."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest

import tunewise as tw
from tests.optimizers.loop import run_sequentially
from tests.requirements import unavailable
from tunewise import optimizers
from tunewise.nas.grammars import nb201_cell
from tunewise.trial import History, Trial, TrialStatus

CELL_SPACE = tw.Space(cell=tw.Architecture(nb201_cell()))
GOOD_PRIOR = {
    "none": 0.05,
    "skip_connect": 0.05,
    "nor_conv_1x1": 0.1,
    "nor_conv_3x3": 0.7,
    "avg_pool_3x3": 0.1,
}
MIXED = tw.Space(
    cell=tw.Architecture(nb201_cell()),
    lr=tw.Float(1e-4, 1e-1, log=True),
    opt=tw.Categorical(["adam", "sgd"]),
    momentum=tw.Float(0.0, 0.99, when={"opt": "sgd"}),
)


def cell_loss(config: dict, fidelity: object = None) -> float:
    """Minimum -6 at the all-3x3-convolution cell (a known optimum over the NB201 grammar)."""
    cell = config["cell"]
    return -cell.count("nor_conv_3x3") + 0.5 * cell.count("none")


def mixed_loss(config: dict, trial: object = None) -> float:
    """Minimum -6 at all-3x3 cells with lr = 1e-2 and sgd with momentum 0.9."""
    lr = (math.log10(config["lr"]) + 2.0) ** 2
    opt = 0.5 if config["opt"] == "adam" else 2.0 * (config["momentum"] - 0.9) ** 2
    return cell_loss(config) + lr + opt


def evaluations_until(
    optimizer: optimizers.Optimizer,
    space: tw.Space,
    loss: Callable[[dict], float],
    hit: Callable[[dict], bool],
    *,
    n: int,
    seed: int,
) -> int:
    """Sequential ask/tell until ``hit(config)``: how many evaluations that took, else ``n + 1``."""
    trials: list[Trial] = []
    for number in range(n):
        (s,) = optimizer.ask(History(space=space, seed=seed, trials=tuple(trials)), 1)
        if hit(dict(s.config)):
            return number + 1
        trials.append(
            Trial(
                number=number,
                config=s.config,
                status=TrialStatus.SUCCEEDED,
                slot=s.slot,
                objective=loss(dict(s.config)),
                info=s.info,
            )
        )
    return n + 1


def first_hit(trials: list[Trial], target: float) -> int:
    hits = [t.number for t in trials if t.objective is not None and t.objective <= target]
    return hits[0] if hits else len(trials)


@pytest.mark.slow
def test_bo_finds_the_best_cell_of_the_nb201_grammar() -> None:
    """Random search needs ~15,625 / 1 evaluations for this cell; BO needs a few dozen."""
    hits = [
        evaluations_until(
            optimizers.make("bayesian_optimization"),
            CELL_SPACE,
            cell_loss,
            lambda config: cell_loss(config) <= -6.0,
            n=35,
            seed=seed,
        )
        for seed in (0, 1)
    ]
    assert max(hits) <= 35, hits


def test_model_made_trials_record_their_costs_and_generations() -> None:
    trials = run_sequentially(
        optimizers.make("bayesian_optimization"), space=CELL_SPACE, loss=cell_loss, n=12
    )
    model_made = [t for t in trials if t.info.get("sampled_from") == "model"]
    assert len(model_made) == 2  # the design is 10 samples
    for t in model_made:
        assert t.info["fit_seconds"] >= 0 and t.info["acquisition_seconds"] > 0
        assert 10 <= t.info["generations"] <= 50
    assert len({t.config["cell"] for t in trials}) == len(trials)


@pytest.mark.slow
def test_mixed_space_end_to_end_through_run_beats_random_search(tmp_path) -> None:
    def best(optimizer: str) -> float:
        result = tw.run(
            mixed_loss,
            MIXED,
            root=tmp_path / optimizer,
            budget=28,
            optimizer=optimizer,
            seed=0,
            progress=False,
        )
        trials = result.trial_list
        assert len(trials) == 28 and all(t.status is TrialStatus.SUCCEEDED for t in trials)
        for t in trials:
            MIXED.validate_config(dict(t.config))
        return min(t.objective for t in trials)

    bo, random = best("bayesian_optimization"), best("random_search")
    assert bo < random - 1.0, (bo, random)
    assert bo < -4.5


def target_loss(config: dict, fidelity: object = None) -> float:
    """Minus the number of edges that match one cell (five 3x3 convolutions and one 1x1)."""
    ops = [op.strip() for op in config["cell"][len("Cell(") : -1].split(",")]
    return -float(sum(a == b for a, b in zip(ops, TARGET, strict=True)))


TARGET = [
    "nor_conv_3x3",
    "nor_conv_3x3",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "nor_conv_3x3",
    "nor_conv_3x3",
]


@pytest.mark.slow
def test_pibo_with_a_good_production_prior_finds_the_target_cell_sooner() -> None:
    prior_space = tw.Space(cell=tw.Architecture(nb201_cell(priors=GOOD_PRIOR)))
    hits = {"pibo": [], "bo": []}
    for seed in (0, 1):
        pibo = run_sequentially(
            optimizers.PiBO(prior_first=False), space=prior_space, loss=target_loss, n=16, seed=seed
        )
        bo = run_sequentially(
            optimizers.BayesianOptimization(), space=CELL_SPACE, loss=target_loss, n=16, seed=seed
        )
        # the same uniform design: the prior acts through the acquisition only
        assert [t.config for t in pibo[:10]] == [t.config for t in bo[:10]]
        model_made = [t for t in pibo if t.info.get("sampled_from") == "model"]
        assert model_made and all(t.info["prior_exponent"] > 0 for t in model_made)
        hits["pibo"].append(first_hit(pibo, -6.0))
        hits["bo"].append(first_hit(bo, -6.0))
    assert all(p < b for p, b in zip(hits["pibo"], hits["bo"], strict=True)), hits


def test_pending_trials_and_batches_get_new_cells_with_a_seeded_result() -> None:
    trials = run_sequentially(
        optimizers.make("bayesian_optimization"), space=CELL_SPACE, loss=cell_loss, n=10
    )
    # another worker is running two more trials: the model must not propose them again
    running = [
        Trial(number=10 + i, config={"cell": cell}, status=TrialStatus.RUNNING, slot=f"x:{i}")
        for i, cell in enumerate(
            [
                "Cell(" + ", ".join(["nor_conv_3x3"] * 5 + [op]) + ")"
                for op in ("none", "skip_connect")
            ]
        )
    ]
    history = History(space=CELL_SPACE, seed=0, trials=tuple(trials + running))
    asks = [optimizers.make("bayesian_optimization").ask(history, 2) for _ in range(2)]
    assert [s.config for s in asks[0]] == [s.config for s in asks[1]]
    cells = [s.config["cell"] for s in asks[0]]
    known = {t.config["cell"] for t in trials + running}
    assert len(set(cells)) == 2 and not set(cells) & known
    assert all(s.info["sampled_from"] == "model" for s in asks[0])


def test_architecture_spaces_are_accepted_and_validated() -> None:
    for name in ("bayesian_optimization", "pibo"):
        optimizers.make(name).check_space(MIXED)
    with pytest.raises(ValueError, match="combine"):
        optimizers.BayesianOptimization(combine="both")
    with pytest.raises(ValueError, match="wl_h"):
        optimizers.PiBO(wl_h=-1)


@pytest.mark.slow
def test_bo_finds_a_top_five_percent_nb201_cifar10_cell_in_60_evaluations() -> None:
    """The oracle (noise-free mean accuracy over seeds) of the ``nb201-cifar10`` benchmark; two of
    three seeds must reach the best 5% of the 15,625 cells within 60 evaluations."""
    try:
        from tunewise.benchmarks import get_benchmark

        bench = get_benchmark("nb201-cifar10")
        top = {bench.config(cell)["cell"] for cell in bench.table.ranked("top", 0.05)}
    except ModuleNotFoundError as missing:
        unavailable(f"NAS-Bench-201 tables: {missing}")
    space = bench.space()
    found = [
        evaluations_until(
            optimizers.make("bayesian_optimization"),
            space,
            bench.oracle,
            lambda config: config["cell"] in top,
            n=60,
            seed=seed,
        )
        for seed in range(3)
    ]
    assert sum(k <= 60 for k in found) >= 2, found


@pytest.mark.slow
@pytest.mark.parametrize(
    "optimizer",
    [
        optimizers.BayesianOptimization(acquisition="qlog_nei"),
        optimizers.BayesianOptimization(combine="additive"),
        optimizers.BayesianOptimization(wl_hierarchical=True),
    ],
    ids=["qlog_nei", "additive", "hierarchical_wl"],
)
def test_the_other_acquisition_kernel_and_feature_options_make_valid_model_trials(
    optimizer: optimizers.Optimizer,
) -> None:
    trials = run_sequentially(optimizer, space=MIXED, loss=lambda c, f: mixed_loss(c), n=11)
    last = trials[-1]
    assert last.info["sampled_from"] == "model"
    MIXED.validate_config(dict(last.config))
    assert last.objective < max(t.objective for t in trials[:10])  # not the design's worst
