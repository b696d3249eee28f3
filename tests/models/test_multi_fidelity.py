"""The multi-fidelity GP's two-stage pick on the cube encoding (:class:`CubeInputs`)."""

from __future__ import annotations

import numpy as np
import pytest

import tunewise as tw
from tunewise.models import gp, multi_fidelity

SPACE = tw.Space(
    x=tw.Float(0.0, 1.0),
    kind=tw.Categorical(["a", "b"]),
    epochs=tw.Fidelity(1, 27),
)


def loss(config: dict, fidelity: float) -> float:
    return (config["x"] - 0.7) ** 2 + (0.0 if config["kind"] == "b" else 0.3) + 1.0 / fidelity


def data(n: int, seed: int = 0) -> tuple[list[dict], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    configs = SPACE.sample_many(rng, n)
    fidelity = rng.choice([1.0, 3.0, 9.0, 27.0], size=n)
    y = np.array([loss(c, f) for c, f in zip(configs, fidelity, strict=True)])
    return configs, fidelity, y


def test_rows_put_the_log_fidelity_in_the_last_column() -> None:
    inputs = multi_fidelity.CubeInputs.of(SPACE)
    configs, fidelity, _ = data(5)
    rows = inputs.rows(configs, fidelity)
    assert rows.shape == (5, 3) and inputs.column == 2
    np.testing.assert_allclose(rows[:, 2], [gp.fidelity_unit(SPACE, f) for f in fidelity])
    np.testing.assert_allclose(rows[:, :2], inputs.encoding.to_model(SPACE.encode_many(configs)))


@pytest.mark.parametrize("max_points", [300, 12])
def test_the_pick_is_near_the_optimum_also_with_a_capped_training_set(max_points: int) -> None:
    """Also when the model trains on a subset (``max_points``) and the keys are not in row
    order (the model reorders its rows by key; the incumbents come from all observations)."""
    configs, fidelity, y = data(30)
    candidates = SPACE.sample_many(np.random.default_rng(1), 300)
    picked = multi_fidelity.two_stage_pick(
        multi_fidelity.CubeInputs.of(SPACE),
        configs,
        fidelity,
        y,
        candidates,
        target_fidelity=3,
        seed=0,
        keys=np.arange(30, dtype=np.int64)[::-1].copy(),  # not in row order
        max_points=max_points,
    )
    assert picked is not None
    index, info = picked
    assert info["train_points"] == min(30, max_points)
    assert candidates[index]["kind"] == "b"
    assert abs(candidates[index]["x"] - 0.7) < 0.2


def test_too_few_observations_give_no_pick() -> None:
    configs, fidelity, y = data(1)
    inputs = multi_fidelity.CubeInputs.of(SPACE)
    assert (
        multi_fidelity.two_stage_pick(
            inputs, configs, fidelity, y, configs, target_fidelity=1, seed=0
        )
        is None
    )
