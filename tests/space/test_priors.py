"""The prior distributions in unit space, checked against scipy.stats as the oracle."""

import numpy as np
import pytest
from scipy import stats

from tunewise.space.priors import (
    CATEGORICAL_WEIGHT,
    NUMERIC_SD,
    categorical_probabilities,
    truncnorm_logpdf,
    truncnorm_sample,
)


def _oracle(mean: float, sd: float) -> stats.rv_continuous:
    return stats.truncnorm((0 - mean) / sd, (1 - mean) / sd, loc=mean, scale=sd)


def test_neps_old_values() -> None:
    assert NUMERIC_SD == {"low": 0.5, "medium": 0.25, "high": 0.125}
    assert CATEGORICAL_WEIGHT == {"low": 2.0, "medium": 4.0, "high": 6.0}


@pytest.mark.parametrize("mean", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("sd", [0.5, 0.125])
def test_logpdf_matches_scipy(mean: float, sd: float) -> None:
    u = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(truncnorm_logpdf(u, mean, sd), _oracle(mean, sd).logpdf(u))


def test_logpdf_is_minus_inf_outside_the_unit_interval() -> None:
    assert np.all(np.isneginf(truncnorm_logpdf(np.array([-0.01, 1.01]), 0.5, 0.25)))


@pytest.mark.parametrize("mean", [0.0, 0.2, 0.9])
def test_sample_moments_match_scipy(mean: float) -> None:
    draws = truncnorm_sample(np.random.default_rng(0), mean, 0.25, 4000)
    oracle = _oracle(mean, 0.25)
    assert draws.shape == (4000,)
    assert draws.min() >= 0.0 and draws.max() <= 1.0
    assert abs(draws.mean() - oracle.mean()) < 0.015
    assert abs(draws.std() - oracle.std()) < 0.015


def test_sample_takes_one_centre_per_draw() -> None:
    means = np.array([0.1, 0.9] * 2000)
    draws = truncnorm_sample(np.random.default_rng(1), means, 0.05)
    assert draws.shape == means.shape
    assert abs(draws[0::2].mean() - 0.1) < 0.01
    assert abs(draws[1::2].mean() - 0.9) < 0.01


def test_categorical_probabilities() -> None:
    np.testing.assert_allclose(categorical_probabilities(4, None, "high"), [0.25] * 4)
    np.testing.assert_allclose(categorical_probabilities(3, 1, "medium"), [1 / 6, 4 / 6, 1 / 6])
    np.testing.assert_allclose(categorical_probabilities(2, 0, "low"), [2 / 3, 1 / 3])
