"""``mlp-digits-subset``: stratified nested subsets, retraining from scratch, full cost."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from tunewise.benchmarks import get_benchmark
from tunewise.benchmarks.data_subset import FRACTION, subset_indices
from tunewise.demo import load_digits_split
from tunewise.optimizers.brackets import Rungs
from tunewise.runtime.context import TrialContext
from tunewise.trial import fidelity_units


def test_subsets_are_stratified_nested_and_seeded() -> None:
    _, labels, _, _ = load_digits_split()
    y = labels.numpy()
    per_class = np.bincount(y)
    small = subset_indices(labels, 1 / 27, seed=0)
    large = subset_indices(labels, 1 / 3, seed=0)
    assert np.array_equal(np.bincount(y[small]), np.maximum(1, np.round(per_class / 27)))
    assert np.array_equal(np.bincount(y[large]), np.round(per_class / 3))
    assert set(small) <= set(large)  # nested: a promotion trains on more of the same images
    assert np.array_equal(subset_indices(labels, 1.0, seed=3), np.arange(len(y)))
    assert np.array_equal(subset_indices(labels, 1 / 3, seed=0), large)
    assert not np.array_equal(subset_indices(labels, 1 / 3, seed=1), large)
    with pytest.raises(ValueError, match="fraction must be in"):
        subset_indices(labels, 0.0, seed=0)


def test_the_space_is_mlp_digits_with_a_fraction_that_is_retrained() -> None:
    bench = get_benchmark("mlp-digits-subset")
    mlp = get_benchmark("mlp-digits")
    assert bench.priors == mlp.priors == ("none", "good", "bad")
    assert bench.space().fidelity == FRACTION and not FRACTION.resumable
    assert bench.space().fidelity_name == "fraction"
    for prior in bench.priors:
        ours, theirs = bench.space(prior).parameters, mlp.space(prior).parameters
        assert {n: p for n, p in ours.items() if n != "fraction"} == {
            n: p for n, p in theirs.items() if n != "epochs"
        }
    rungs = Rungs.of(bench.space().fidelity, eta=3)
    assert rungs.fidelities == pytest.approx((1 / 27, 1 / 9, 1 / 3, 1.0), rel=1e-12)
    assert not bench.simulated and bench.optimum == mlp.optimum


@pytest.mark.slow
def test_at_fraction_one_it_is_mlp_digits_at_27_epochs() -> None:
    bench, mlp = get_benchmark("mlp-digits-subset"), get_benchmark("mlp-digits")
    for quality, seed in (("good", 0), ("bad", 2)):
        config = bench.prior_config(quality)
        ours = bench.evaluate(config, 1.0, seed=seed)
        theirs = mlp.evaluate(config, 27, seed=seed)
        assert ours.objective == theirs.objective
        assert ours.learning_curve == theirs.learning_curve


def test_more_data_helps_the_good_prior_and_not_the_bad_one() -> None:
    bench = get_benchmark("mlp-digits-subset")
    good = [bench.evaluate(bench.prior_config("good"), f).objective for f in (1 / 27, 1 / 3)]
    bad = bench.evaluate(bench.prior_config("bad"), 1 / 3).objective
    # measured: good 0.169 on 1/27 and 0.047 on 1/3 of the data; bad 0.958 on 1/3
    assert good[1] < good[0] < 0.3 < 0.9 < bad


def test_a_promotion_retrains_and_is_charged_in_full(tmp_path: Path) -> None:
    """The objective ignores the lower fraction's folder: the result equals a run from scratch,
    the cost is this run's seconds, and the budget counts the whole fraction."""
    bench = get_benchmark("mlp-digits-subset")
    objective = pickle.loads(pickle.dumps(bench.objective(seed=1)))
    config = bench.prior_config("good")
    low = objective({**config, "fraction": 1 / 27}, _trial(1 / 27, tmp_path / "a"))
    trial = _trial(1 / 9, tmp_path / "b", previous=(1 / 27, tmp_path / "a"))
    high = objective({**config, "fraction": 1 / 9}, trial)
    scratch = bench.evaluate(config, 1 / 9, seed=1)
    assert high["objective"] == scratch.objective != low["objective"]
    assert [p[0] for p in high["learning_curve"]] == list(range(1, 28))  # all 27 epochs again
    assert trial.learning_curve == [tuple(p) for p in high["learning_curve"]]
    assert high["info"]["train_images"] == 150 and high["info"]["benchmark"] == bench.name
    assert 0.0 < high["cost"] < 10.0
    assert fidelity_units(bench.space(), 1 / 9, 1 / 27) == pytest.approx(1 / 9)


def _trial(
    fraction: float, directory: Path, previous: tuple[float, Path] | None = None
) -> TrialContext:
    return TrialContext(
        number=0,
        config={},
        fidelity=fraction,
        directory=directory,
        previous_fidelity=None if previous is None else previous[0],
        previous_directory=None if previous is None else previous[1],
    )
