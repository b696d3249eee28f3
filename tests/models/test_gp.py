"""The GP's input encoding, imputation of inactive dimensions, training-set cap and anchored fit."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import torch

import tunewise as tw
from tunewise.models import gp

SPACE = tw.Space(
    lr=tw.Float(1e-5, 1e-1, log=True, prior=3e-4),
    depth=tw.Integer(1, 4),
    optimizer=tw.Categorical(["adamw", "sgd", "rmsprop"], prior="adamw"),
    momentum=tw.Float(0.0, 0.99, when={"optimizer": "sgd"}),
)


def test_encoding_codes_categoricals_and_imputes_inactive_dimensions() -> None:
    enc = gp.Encoding.of(SPACE)
    assert enc.cat_dims == {2: 3}
    assert enc.int_dims[1] == [0.0, 1 / 3, 2 / 3, 1.0]
    configs = [
        {"lr": 1e-3, "depth": 2, "optimizer": "sgd", "momentum": 0.5},
        {"lr": 1e-3, "depth": 2, "optimizer": "rmsprop"},
    ]
    x = enc.to_model(SPACE.encode_many(configs))
    assert x[:, 2].tolist() == [1.0, 2.0]
    assert x[0, 3] == SPACE["momentum"].to_unit(0.5)
    assert x[1, 3] == enc.impute[3] == 0.5  # the default of an inactive momentum
    decoded = [SPACE.decode(u) for u in enc.to_unit(x)]
    assert [{**d, "lr": round(d["lr"], 12)} for d in decoded] == configs
    assert enc.bounds().tolist() == [[0, 0, 0, 0], [1, 1, 2, 1]]


def test_the_model_ignores_inactive_values() -> None:
    enc = gp.Encoding.of(SPACE)
    rng = np.random.default_rng(0)
    configs = SPACE.sample_many(rng, 12)
    x = enc.to_model(SPACE.encode_many(configs))
    model, _, _ = gp.fitted_model(x, rng.normal(size=12), enc, seed=0)
    a = torch.tensor([[0.3, 0.5, 0.0, 0.1], [0.3, 0.5, 0.0, 0.9]], dtype=gp.DTYPE)
    mean = model.posterior(a).mean.squeeze(-1)
    assert torch.allclose(mean[0], mean[1])  # adamw: momentum inactive, same prediction


def test_training_subset_keeps_the_best_half_and_is_seeded() -> None:
    y = np.arange(100, dtype=np.float64)[::-1].copy()
    keys = np.arange(100)
    idx = gp.training_subset(y, keys, 20, seed=3)
    assert len(idx) == 20 and set(range(90, 100)) <= set(idx.tolist())
    assert idx.tolist() == gp.training_subset(y, keys, 20, seed=3).tolist()
    assert gp.training_subset(y, keys, 200, seed=3).tolist() == list(range(100))


def test_a_cached_anchor_gives_the_same_model_as_a_cold_fit() -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0))
    rng = np.random.default_rng(1)
    x = rng.uniform(size=(11, 1))
    y = np.sin(6 * x[:, 0])
    enc = gp.Encoding.of(space)
    cache = gp.FitCache()
    gp.fitted_model(x[:8], y[:8], enc, seed=0, cache=cache)  # fills the anchor for n = 8..15
    warm, _, _ = gp.fitted_model(x, y, enc, seed=0, cache=cache)
    cold, _, _ = gp.fitted_model(x, y, enc, seed=0)
    test = torch.linspace(0, 1, 7, dtype=gp.DTYPE).unsqueeze(-1)
    assert torch.allclose(warm.posterior(test).mean, cold.posterior(test).mean)


def test_failed_evaluations_are_imputed_with_the_worst_value() -> None:
    y = np.array([1.0, math.nan, 5.0, math.inf, -2.0])
    assert gp.impute_failures(y).tolist() == [1.0, 5.0, 5.0, 5.0, -2.0]
    assert np.isnan(gp.impute_failures(np.array([math.nan, math.nan]))).all()


def test_fitted_model_orders_rows_by_key() -> None:
    space = tw.Space(x=tw.Float(0.0, 1.0))
    enc = gp.Encoding.of(space)
    x = np.linspace(0, 1, 9).reshape(-1, 1)
    y = np.cos(5 * x[:, 0])
    keys = np.array([4, 2, 7, 0, 1, 8, 3, 6, 5])
    shuffled, tx, _ = gp.fitted_model(x, y, enc, keys=keys, seed=0)
    order = np.argsort(keys)
    ordered, _, _ = gp.fitted_model(x[order], y[order], enc, seed=0)
    assert tx.tolist() == x[order].tolist()
    test = torch.linspace(0, 1, 5, dtype=gp.DTYPE).unsqueeze(-1)
    assert torch.allclose(shuffled.posterior(test).mean, ordered.posterior(test).mean)


def _posterior_moments(model: torch.nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
    x = x.clone().requires_grad_(True)
    post = model.posterior(x)  # type: ignore[operator]
    (grad,) = torch.autograd.grad((post.mean.sum() + post.variance.sum()), x)
    return post.mean.detach(), post.variance.detach(), grad


def test_the_cached_posterior_equals_the_models_posterior() -> None:
    """Mean, variance and their gradient, on a mixed conditional space (categorical kernel,
    inactive imputation), for batches of single points and for a model conditioned on lies."""
    enc = gp.Encoding.of(SPACE)
    rng = np.random.default_rng(2)
    x = enc.to_model(SPACE.encode_many(SPACE.sample_many(rng, 30)))
    model, _, _ = gp.fitted_model(x, rng.normal(size=30), enc, seed=0)
    test = torch.tensor(enc.to_model(SPACE.encode_many(SPACE.sample_many(rng, 16))))
    pending = torch.tensor(enc.to_model(SPACE.encode_many(SPACE.sample_many(rng, 2))))
    model.posterior(pending[:1])
    lied = model.condition_on_observations(pending, torch.full((2, 1), -3.0, dtype=gp.DTYPE))
    for m in (model, lied):
        for batch in (test.unsqueeze(1), test[:3].unsqueeze(0)):  # 16 x 1 x d and 1 x 3 x d
            for a, b in zip(
                _posterior_moments(m, batch),
                _posterior_moments(gp.CachedPosterior(m), batch),
                strict=True,
            ):
                assert a.shape == b.shape
                assert torch.allclose(a, b, rtol=1e-8, atol=1e-10), (a - b).abs().max()


def test_models_import_nothing_of_the_optimizers() -> None:
    """Models take arrays; the History -> observations step lives in optimizers/ (DESIGN.md §2)."""
    models = Path(gp.__file__).parent
    for path in models.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not name.startswith("tunewise.optimizers"), f"{path.name} imports {name}"
                assert not name.startswith("tunewise.storage"), f"{path.name} imports {name}"
                assert not name.startswith("tunewise.runtime"), f"{path.name} imports {name}"


def test_the_fit_loss_equals_gpytorchs_negative_marginal_likelihood() -> None:
    """Value and gradient of :func:`gp.negative_mll` against ExactMarginalLogLikelihood, on a
    mixed conditional space (priors on lengthscales and noise included)."""
    from botorch.optim.closures import get_loss_closure_with_grads
    from botorch.optim.utils import get_parameters
    from gpytorch.mlls import ExactMarginalLogLikelihood

    enc = gp.Encoding.of(SPACE)
    rng = np.random.default_rng(3)
    x = enc.to_model(SPACE.encode_many(SPACE.sample_many(rng, 25)))
    model = gp.build_model(x, rng.normal(size=25), enc)
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    mll.train()
    with torch.no_grad():  # away from the initial values, where gradients are small
        for p in model.parameters():
            p.add_(torch.rand_like(p) * 0.5)
    parameters = get_parameters(mll, requires_grad=True)
    ours = gp.ForwardBackwardClosure(gp.negative_mll(mll), parameters)()
    theirs = get_loss_closure_with_grads(mll, parameters)()
    assert torch.allclose(ours[0], theirs[0], rtol=1e-10)
    for a, b in zip(ours[1], theirs[1], strict=True):
        assert a is not None and b is not None
        assert torch.allclose(a, b, rtol=1e-8, atol=1e-12)
