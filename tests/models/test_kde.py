"""BOHB's KDE pair (Falkner et al. 2018; TPE, Bergstra et al. 2011): densities and ratio."""

from __future__ import annotations

import numpy as np
import pytest

import tunewise as tw
from tunewise.models.kde import KDE, GoodBadKDE, fill_inactive, normal_reference_bandwidth

CONT = np.array([0], dtype=np.int64)


def test_density_integrates_to_one_in_1d_and_concentrates_on_the_data() -> None:
    rng = np.random.default_rng(0)
    data = np.clip(0.3 + 0.05 * rng.standard_normal((40, 1)), 0, 1)
    kde = KDE.fit(data, CONT)
    grid = np.linspace(-2.0, 3.0, 20001)[:, None]
    density = kde.pdf(grid)
    assert np.trapezoid(density, grid[:, 0]) == pytest.approx(1.0, abs=1e-3)
    near = np.abs(grid[:, 0] - 0.3) < 0.15
    assert np.trapezoid(density[near], grid[near, 0]) > 0.95
    assert kde.pdf(np.array([[0.3]]))[0] > 50 * kde.pdf(np.array([[0.8]]))[0]


def test_categorical_kernel_sums_to_one_over_the_choices() -> None:
    k = 4
    data = (np.array([[0], [0], [0], [2], [1]]) + 0.5) / k
    kde = KDE.fit(data, np.array([k]))
    mass = kde.pdf((np.arange(k)[:, None] + 0.5) / k)
    assert mass.sum() == pytest.approx(1.0)
    assert mass.argmax() == 0 and mass[3] == mass.min()


@pytest.mark.filterwarnings("ignore::FutureWarning")  # statsmodels via pandas
def test_bandwidths_match_statsmodels_normal_reference() -> None:
    from statsmodels.nonparametric import kernel_density

    rng = np.random.default_rng(1)
    x = np.c_[rng.random(30), (rng.integers(2, size=30) + 0.5) / 2, rng.random(30)]
    choices = np.array([0, 2, 0])
    ours = KDE.fit(x, choices)
    columns = [x[:, 0], np.floor(x[:, 1] * 2), x[:, 2]]
    theirs = kernel_density.KDEMultivariate(columns, var_type="cuc", bw="normal_reference")
    np.testing.assert_allclose(ours.bandwidth, theirs.bw)
    query = np.c_[rng.random(7), (rng.integers(2, size=7) + 0.5) / 2, rng.random(7)]
    expected = theirs.pdf([query[:, 0], np.floor(query[:, 1] * 2), query[:, 2]])
    np.testing.assert_allclose(ours.pdf(query), expected, rtol=1e-10)


def test_bandwidth_is_clipped_below_at_min_bandwidth_and_categoricals_above() -> None:
    x = np.array([[0.5, 0.125], [0.5, 0.875], [0.5, 0.375], [0.5, 0.625]])
    choices = np.array([0, 4])
    bw = normal_reference_bandwidth(x, choices, min_bandwidth=0.01)
    assert bw[0] == 0.01  # no spread at all: the floor
    assert bw[1] == pytest.approx(3 / 4)  # index std 1.12 -> > 1: capped where the kernel is flat
    assert normal_reference_bandwidth(x, choices, min_bandwidth=0.2)[0] == 0.2
    kde = KDE.fit(x, choices, min_bandwidth=0.01)
    assert np.isfinite(kde.log_pdf(np.array([[0.9, 0.125]]))).all()


def test_fill_inactive_uses_active_rows_else_uniform() -> None:
    x = np.array([[0.1, np.nan, np.nan], [0.2, 0.7, np.nan], [0.3, np.nan, np.nan]])
    filled = fill_inactive(x, np.array([0, 0, 4]), np.random.default_rng(0))
    assert not np.isnan(filled).any()
    assert np.isnan(x).sum() == 5, "the input is not modified"
    assert (filled[:, 1] == 0.7).all()  # the only active value
    assert set(np.round(filled[:, 2] * 4 - 0.5, 9)) <= {0, 1, 2, 3}  # a choice's bin centre


def test_ratio_prefers_candidates_near_good_points() -> None:
    rng = np.random.default_rng(2)
    x = rng.random((60, 2))
    y = ((x - 0.7) ** 2).sum(axis=1)
    model = GoodBadKDE.fit(x, y, np.array([0, 0]), rng, min_points=3)
    assert model is not None
    assert model.good.data.shape[0] == 9 and model.bad.data.shape[0] == 51  # 15 % / 85 %
    near, far = np.array([[0.7, 0.7]]), np.array([[0.1, 0.2]])
    assert model.score(near)[0] < model.score(far)[0]
    best = model.propose(rng, 64)
    assert best is not None and np.abs(best - 0.7).max() < 0.25
    candidates = model.candidates(rng, 500)
    assert candidates.shape == (500, 2) and (candidates >= 0).all() and (candidates <= 1).all()


def test_split_rules_skip_small_sets() -> None:
    rng = np.random.default_rng(3)
    d = 3
    x, y = rng.random((7, d)), rng.random(7)
    assert GoodBadKDE.fit(x, y, np.zeros(d, np.int64), rng, min_points=d + 1) is None  # bad: 3 rows
    x, y = rng.random((8, d)), rng.random(8)
    model = GoodBadKDE.fit(x, y, np.zeros(d, np.int64), rng, min_points=d + 1)
    assert model is not None and model.good.data.shape[0] == model.bad.data.shape[0] == 4
    y[0] = np.inf  # a failure is a bad point
    model = GoodBadKDE.fit(x, y, np.zeros(d, np.int64), rng, min_points=d + 1)
    assert model is not None and any((row == x[0]).all() for row in model.bad.data)


def test_candidates_decode_to_valid_configs_on_a_conditional_space() -> None:
    space = tw.Space(
        opt=tw.Categorical(["adam", "sgd", "rmsprop"]),
        momentum=tw.Float(0.0, 0.99, when={"opt": "sgd"}),
        lr=tw.Float(1e-5, 1e-1, log=True),
        layers=tw.Integer(1, 6),
    )
    rng = np.random.default_rng(4)
    configs = space.sample_many(rng, 40)
    x = space.encode_many(configs)
    assert np.isnan(x).any()
    y = np.array([c["lr"] for c in configs])
    model = GoodBadKDE.fit(x, y, np.array([3, 0, 0, 0]), rng, min_points=5)
    assert model is not None
    for u in model.candidates(rng, 200):
        space.validate_config(space.decode(u))
