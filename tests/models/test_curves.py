"""The learning-curve GP: rows, log-EI numerics, pointwise posterior, and what it learns."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from botorch.acquisition.analytic import LogExpectedImprovement
from scipy import stats

import tunewise as tw
from tunewise.models import curves, gp

SPACE = tw.Space(x=tw.Float(0.0, 1.0), y=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 10))
FIT = {"space": SPACE, "step_range": (1, 10), "seed": 0, "warm_iterations": 0}


def value(config: dict[str, float], epoch: float) -> float:
    """Curves that decay to an asymptote set by the config; early values rank configs loosely."""
    asymptote = (config["x"] - 0.3) ** 2 + 0.5 * (config["y"] - 0.6) ** 2
    return asymptote + (0.4 + 0.3 * config["y"]) / epoch


def observed(
    n: int, epochs: int, seed: int
) -> tuple[list[dict[str, float]], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    configs = SPACE.sample_many(rng, n)
    rows = [(c, e) for c in configs for e in range(1, epochs + 1)]
    return (
        [c for c, _ in rows],
        np.array([e for _, e in rows], dtype=np.float64),
        np.array([value(c, e) for c, e in rows]),
    )


def test_step_unit_is_the_log_scale_of_the_range() -> None:
    z = curves.step_unit(np.array([1.0, 4.0, 16.0, 0.5, 32.0]), (1.0, 16.0))
    assert z.tolist() == pytest.approx([0.0, 0.5, 1.0, 0.0, 1.0])


def test_log_expected_improvement_matches_botorch_far_below_the_incumbent() -> None:
    mean = np.linspace(-1.0, 40.0, 60)
    std = np.full(60, 0.7)
    best = np.zeros(60)
    ours = curves.log_expected_improvement(mean, std, best)

    class Fixed(torch.nn.Module):  # a "model" whose posterior is the given normal
        num_outputs = 1

        def posterior(self, X, **_):  # type: ignore[no-untyped-def]
            from botorch.posteriors import GPyTorchPosterior
            from gpytorch.distributions import MultivariateNormal

            i = X[..., 0].long().reshape(-1)
            m = -torch.tensor(mean)[i].reshape(-1, 1)
            cov = torch.diag_embed(torch.tensor(std)[i].reshape(-1, 1) ** 2)
            return GPyTorchPosterior(MultivariateNormal(m, cov))

    acq = LogExpectedImprovement(Fixed(), best_f=0.0)
    theirs = acq(torch.arange(60, dtype=torch.float64).reshape(60, 1, 1)).numpy()
    assert np.all(np.isfinite(ours))
    assert ours == pytest.approx(theirs, rel=1e-6, abs=1e-6)


def test_pointwise_posterior_equals_the_models() -> None:
    configs, steps, y = observed(8, 4, seed=0)
    model = curves.fit_curve_model(configs, steps, y, **FIT)
    x = model.rows.rows(configs[:7], steps[:7] + 3)
    mean, std = model.predict_rows(x)
    gp_model = model.model._gp[0]  # the fitted GP the cached posterior was built from
    with torch.no_grad():
        post = gp_model.posterior(torch.tensor(x).unsqueeze(1))
    assert mean == pytest.approx(-post.mean.reshape(-1).numpy(), rel=1e-8, abs=1e-10)
    assert std == pytest.approx(post.variance.sqrt().reshape(-1).numpy(), rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("kernel", ["rbf", "exponential_decay"])
def test_the_model_extrapolates_final_values_from_partial_curves(kernel: str) -> None:
    # 20 configurations seen to epoch 10, 20 more seen only to epoch 2: rank the latter at 10
    full, full_steps, full_y = observed(20, 10, seed=1)
    part, part_steps, part_y = observed(20, 2, seed=2)
    model = curves.fit_curve_model(
        full + part,
        np.concatenate([full_steps, part_steps]),
        np.concatenate([full_y, part_y]),
        **FIT,
        kernel=kernel,
    )
    held = part[::2]
    mean, std = model.predict(held, np.full(len(held), 10.0))
    truth = np.array([value(c, 10) for c in held])
    assert stats.spearmanr(mean, truth).statistic > 0.8
    assert np.all(std > 0)
    assert np.mean(np.abs(mean - truth)) < 0.5 * np.mean(np.abs(truth - truth.mean()))


def test_pending_points_are_a_pessimistic_liar_and_failures_the_worst_value() -> None:
    configs, steps, y = observed(8, 3, seed=3)
    y[5] = np.nan  # a failed step
    config = {"x": 0.3, "y": 0.6}
    free = curves.fit_curve_model(configs, steps, y, **FIT)
    lied = curves.fit_curve_model(
        configs,
        steps,
        y,
        **FIT,
        pending=[config],
        pending_steps=np.array([5.0]),
    )
    (m_free,), _ = free.predict([config], np.array([5.0]))
    (m_lied,), _ = lied.predict([config], np.array([5.0]))
    assert m_lied > m_free  # told the worst value seen is coming there
    with pytest.raises(ValueError, match="kernel must be one of"):
        curves.fit_curve_model(configs, steps, y, **FIT,
                               kernel="linear")  # fmt: skip
    with pytest.raises(ValueError, match="step_range"):
        curves.CurveRows.of(SPACE, (0.0, 20.0))
    assert isinstance(free.model, gp.CachedPosterior)
