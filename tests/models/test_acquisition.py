"""The prior module of piBO and the acquisition optimizer over mixed spaces."""

from __future__ import annotations

import numpy as np
import torch

import tunewise as tw
from tunewise.models import acquisition, gp

SPACE = tw.Space(
    lr=tw.Float(1e-5, 1e-1, log=True, prior=3e-4, confidence="high"),
    width=tw.Integer(16, 512, log=True, prior=128),
    optimizer=tw.Categorical(["adamw", "sgd"], prior="adamw", confidence="low"),
    momentum=tw.Float(0.0, 0.99, when={"optimizer": "sgd"}, prior=0.9),
    other=tw.Float(0.0, 1.0),
)


def test_log_prior_module_equals_the_space_log_prior() -> None:
    enc = gp.Encoding.of(SPACE)
    u = SPACE.encode_many(SPACE.sample_many(np.random.default_rng(0), 50))
    x = enc.to_model(u)
    expected = SPACE.log_prior_unit(u)
    got = acquisition.LogPrior(enc)(torch.tensor(x, dtype=gp.DTYPE).unsqueeze(-2))
    assert got.shape == (50, 1)
    np.testing.assert_allclose(got.squeeze(-1).numpy(), expected, rtol=1e-9, atol=1e-9)


def test_the_prior_has_a_gradient_on_numbers() -> None:
    enc = gp.Encoding.of(SPACE)
    x = torch.tensor([[[0.9, 0.5, 0.0, 0.5, 0.5]]], dtype=gp.DTYPE, requires_grad=True)
    acquisition.LogPrior(enc)(x).sum().backward()
    assert x.grad[0, 0, 0] < 0  # lr above its prior: the density grows downwards
    assert x.grad[0, 0, 3] == 0  # momentum inactive under adamw


def test_optimize_returns_a_valid_point_of_the_mixed_space() -> None:
    enc = gp.Encoding.of(SPACE)
    rng = np.random.default_rng(0)
    u = SPACE.encode_many(SPACE.sample_many(rng, 10))
    y = rng.normal(size=10)
    model, tx, ty = gp.fitted_model(enc.to_model(u), y, enc, seed=0)
    acq = acquisition.acquisition_function(
        "log_ei", model, torch.tensor(tx), -float(ty.min()), None, seed=0
    )
    x = acquisition.optimize(acq, enc, restarts=2, raw_samples=64, seed=0)
    assert x.shape == (5,) and x[2] in (0.0, 1.0)
    SPACE.validate_config(SPACE.decode(enc.to_unit(x.numpy())[0]))
