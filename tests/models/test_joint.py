"""The joint GP over cube columns and WL features: rows, kernel, conditions and ranking."""

from __future__ import annotations

import numpy as np
import torch

import tunewise as tw
from tunewise.models import gp, joint
from tunewise.nas.grammars import nb201_cell

CELL = nb201_cell()
ARCH_ONLY = tw.Space(cell=tw.Architecture(CELL))
MIXED = tw.Space(
    cell=tw.Architecture(CELL, when={"head": "cell"}),
    head=tw.Categorical(["linear", "cell"]),
    lr=tw.Float(1e-4, 1e-1, log=True),
)


def conv_score(config: dict) -> float:
    """Minimized: minus the number of 3x3 convolutions, plus a little for each ``none``."""
    cell = config["cell"]
    return -cell.count("nor_conv_3x3") + 0.3 * cell.count("none") - 0.1 * cell.count("skip")


def test_rows_are_normalized_and_an_inactive_architecture_gets_its_indicator() -> None:
    configs = MIXED.sample_many(np.random.default_rng(0), 30)
    features = joint.JointFeatures.of(MIXED)
    rows = features.fit(configs)
    assert rows.shape == (30, features.dim)
    (block,) = features.blocks
    cols = slice(features.offsets()[0], features.offsets()[0] + block.width)
    gram = rows[:, cols] @ rows[:, cols].T
    np.testing.assert_allclose(np.diag(gram), 1.0)  # fitted rows: unit norm, indicator included
    inactive = np.array(["cell" not in c for c in configs])
    assert inactive.any() and (~inactive).any()
    np.testing.assert_allclose(gram[np.ix_(inactive, inactive)], 1.0)
    np.testing.assert_allclose(gram[np.ix_(inactive, ~inactive)], 0.0)
    assert np.all(rows[:, -1] == 0.0)  # the log-prior column: 0 without with_prior
    again = features.transform(configs)  # the same vocabulary: the same rows
    np.testing.assert_allclose(again, rows)


def test_kernel_is_psd_on_training_and_candidates_for_both_combinations() -> None:
    rng = np.random.default_rng(1)
    configs = MIXED.sample_many(rng, 25)
    y = np.array([conv_score(c) if "cell" in c else 0.0 for c in configs])
    features = joint.JointFeatures.of(MIXED)
    x = features.fit(configs)
    candidates = features.transform(MIXED.sample_many(rng, 25))
    for combine in joint.COMBINES:
        model = joint.build_model(x, y, features, combine)
        model.eval()
        both = torch.tensor(np.vstack([x, candidates]), dtype=gp.DTYPE)
        with torch.no_grad():
            k = model.covar_module(model.transform_inputs(both)).to_dense()
        assert torch.linalg.eigvalsh(k).min() > -1e-8


def test_the_fitted_gp_ranks_held_out_cells_better_than_chance() -> None:
    from scipy.stats import kendalltau

    rng = np.random.default_rng(2)
    configs = ARCH_ONLY.sample_many(rng, 80)
    y = np.array([conv_score(c) for c in configs])
    features = joint.JointFeatures.of(ARCH_ONLY)
    model, _, _, _ = joint.fitted_model(configs[:40], y[:40], features, keys=np.arange(40), seed=0)
    rows = torch.tensor(features.transform(configs[40:]), dtype=gp.DTYPE)
    with torch.no_grad():
        predicted = -model.posterior(rows).mean.squeeze(-1).numpy()
    tau = kendalltau(predicted, y[40:]).statistic
    assert tau > 0.3, tau  # chance: 0, sd about 0.11 at 40 cells


def test_failed_trials_as_worst_and_the_fit_is_reproducible_with_a_cache() -> None:
    rng = np.random.default_rng(3)
    configs = ARCH_ONLY.sample_many(rng, 20)
    y = gp.impute_failures(
        np.array([np.nan if i % 5 == 0 else conv_score(c) for i, c in enumerate(configs)])
    )
    assert np.isfinite(y).all()

    def fit(cache: gp.FitCache | None) -> dict[str, torch.Tensor]:
        features = joint.JointFeatures.of(ARCH_ONLY)
        model, _, _, _ = joint.fitted_model(
            configs, y, features, keys=np.arange(20), seed=0, cache=cache
        )
        return gp.hyperparameters(model)

    cache = gp.FitCache()
    fit(cache)
    warm, cold = fit(cache), fit(None)
    assert warm.keys() == cold.keys()
    for name in cold:
        torch.testing.assert_close(warm[name], cold[name])


def test_log_prior_column_holds_the_production_prior() -> None:
    grammar = nb201_cell(
        priors={
            "none": 0.05,
            "skip_connect": 0.05,
            "nor_conv_1x1": 0.1,
            "nor_conv_3x3": 0.7,
            "avg_pool_3x3": 0.1,
        }
    )
    space = tw.Space(cell=tw.Architecture(grammar))
    configs = space.sample_many(np.random.default_rng(4), 5)
    features = joint.JointFeatures.of(space, with_prior=True)
    rows = features.fit(configs)
    expected = [space.log_prior(c) for c in configs]
    np.testing.assert_allclose(rows[:, -1], expected)
