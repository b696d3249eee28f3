"""Real training of the demo objective, no mocks: quality, continuation, robustness, determinism."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tunewise.demo import demo_space, evaluate, load_digits_split
from tunewise.runtime.context import TrialContext

GOOD = {
    "lr": 3e-3,
    "weight_decay": 1e-4,
    "width": 64,
    "depth": 2,
    "dropout": 0.1,
    "optimizer": "adamw",
}
SGD = {**GOOD, "lr": 3e-2, "optimizer": "sgd", "momentum": 0.9}
SILLY = {**GOOD, "lr": 1e-4, "optimizer": "sgd", "momentum": 0.0}


def _run(
    config: dict[str, Any],
    epochs: int,
    directory: Path,
    previous: Path | None = None,
    number: int = 0,
) -> tuple[dict[str, Any], TrialContext]:
    trial = TrialContext(
        number=number,
        config=config,
        fidelity=epochs,
        directory=directory,
        previous_directory=previous,
    )
    return evaluate(config, trial), trial


def test_data_split_shapes_and_standardization() -> None:
    x_tr, y_tr, x_va, y_va = load_digits_split()
    assert x_tr.shape == (1347, 64) and x_va.shape == (450, 64)
    assert x_tr.dtype == torch.float32 and y_tr.dtype == torch.int64
    assert set(y_va.tolist()) == set(range(10))
    assert abs(x_tr.mean().item()) < 1e-4
    assert load_digits_split() is load_digits_split()  # cached per process


def test_good_configs_learn_and_silly_config_is_worse(tmp_path: Path) -> None:
    good = [_run(c, 9, tmp_path / f"g{i}")[0] for i, c in enumerate([GOOD, SGD])]
    silly, _ = _run(SILLY, 1, tmp_path / "silly")
    best = min(good, key=lambda r: r["objective"])
    # Measured: about 0.96 (AdamW) and 0.95 (SGD + momentum) after 9 epochs; 0.1 for the silly one.
    assert best["info"]["val_accuracy"] > 0.9
    assert silly["objective"] > best["objective"] + 0.3
    for result in [*good, silly]:
        assert set(result) == {"objective", "cost", "learning_curve", "info"}
        assert 0.0 <= result["objective"] <= 1.0
    assert good[0]["cost"] == 9 and [p[0] for p in good[0]["learning_curve"]] == list(range(1, 10))


def test_continuation_equals_training_from_scratch(tmp_path: Path) -> None:
    low, _ = _run(GOOD, 3, tmp_path / "a", number=0)
    high, trial = _run(GOOD, 9, tmp_path / "b", previous=tmp_path / "a", number=1)
    scratch, _ = _run(GOOD, 9, tmp_path / "c", number=2)

    assert low["info"]["resumed_from_epoch"] == 0 and low["cost"] == 3
    assert high["info"]["resumed_from_epoch"] == 3
    assert high["cost"] == high["info"]["epochs_trained"] == 6
    assert [p[0] for p in high["learning_curve"]] == [4, 5, 6, 7, 8, 9]
    assert [list(p) for p in trial.learning_curve] == high["learning_curve"]
    # Exact: model, optimizer and generator state (shuffling, dropout) all travel in the checkpoint,
    # the seed ignores the fidelity and training runs on one thread.
    assert high["objective"] == scratch["objective"]
    assert high["learning_curve"] == scratch["learning_curve"][3:]
    assert (tmp_path / "b" / "checkpoint.pt").is_file()

    # Promoting again (9 -> 27 not needed): continuing to the same epoch trains nothing.
    same, _ = _run(GOOD, 9, tmp_path / "d", previous=tmp_path / "b")
    assert same["cost"] == 0 and same["learning_curve"] == []
    assert same["objective"] == scratch["objective"]


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_corrupt_or_missing_checkpoint_trains_from_scratch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: bytes | None
) -> None:
    previous = tmp_path / "prev"
    previous.mkdir()
    if content is not None:
        (previous / "checkpoint.pt").write_bytes(content)
    with caplog.at_level(logging.WARNING, logger="tunewise"):
        result, _ = _run(GOOD, 2, tmp_path / "t", previous=previous)
    assert result["info"]["resumed_from_epoch"] == 0 and result["cost"] == 2
    assert [p[0] for p in result["learning_curve"]] == [1, 2]
    assert "training from scratch" in caplog.text


def test_checkpoint_of_another_config_is_not_used(tmp_path: Path) -> None:
    _run(SGD, 1, tmp_path / "a")
    result, _ = _run(GOOD, 2, tmp_path / "b", previous=tmp_path / "a")
    assert result["info"]["resumed_from_epoch"] == 0


def test_same_config_gives_same_result(tmp_path: Path) -> None:
    first, _ = _run(SGD, 2, tmp_path / "a", number=0)
    second, _ = _run(SGD, 2, tmp_path / "b", number=5)
    assert first["objective"] == second["objective"]
    assert first["learning_curve"] == second["learning_curve"]


def test_demo_space_has_priors_fidelity_and_condition() -> None:
    space = demo_space()
    assert space.has_priors and space.has_conditions
    assert space.fidelity_name == "epochs"
    assert (space.fidelity.lower, space.fidelity.upper) == (1, 27)
    assert space["lr"].prior == pytest.approx(3e-3) and space["lr"].log
    assert space["optimizer"].prior == "adamw"
    assert space.is_active("momentum", {"optimizer": "sgd"})
    assert not space.is_active("momentum", {"optimizer": "adamw"})
    assert "momentum" not in space.prior_config()


def test_sampled_configs_train(tmp_path: Path) -> None:
    space = demo_space()
    prior = space.prior_config()
    space.validate_config(prior)
    configs = [prior, *space.sample_many(np.random.default_rng(0), 3)]
    for i, config in enumerate(configs):
        result, _ = _run(config, 1, tmp_path / f"s{i}")
        assert 0.0 <= result["objective"] <= 1.0 and result["cost"] == 1
