"""The demo objective: a small PyTorch MLP on scikit-learn's bundled digits data set.

``tunewise demo`` tunes this function to show the three things tunewise adds to a black-box tuner:

- **expert priors** — :func:`demo_space` states where a practitioner would start (AdamW,
  lr ~3e-3, width 64, two hidden layers), so prior-guided optimizers (piBO, PriorBand) find good
  configs early;
- **a fidelity** — the number of training epochs. A 1-epoch run costs 1/27 of a full run and already
  ranks configs roughly right (bad learning rates show at once), which is what Hyperband-style
  schedules exploit (Li et al., 2018; Mallik et al., 2023, PriorBand);
- **continuation** — a config promoted from 3 to 9 epochs resumes from the 3-epoch checkpoint in
  ``trial.previous_directory`` and trains only 6 more epochs. Training is exactly deterministic
  (all randomness comes from one ``torch.Generator`` whose state is checkpointed), so the resumed
  run equals a 9-epoch run from scratch, bit for bit.

The data (1797 8x8 images, 10 classes) ships with scikit-learn, so the demo needs no download,
and an epoch takes a few tens of milliseconds on one CPU thread.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tunewise.demo.checkpoints import load_checkpoint, save_checkpoint
from tunewise.runtime.context import TrialContext
from tunewise.space import Categorical, Fidelity, Float, Integer, Space

__all__ = ["FIDELITY", "demo_space", "evaluate", "load_digits_split"]

logger = logging.getLogger("tunewise")

FIDELITY = "epochs"
"""Name of the fidelity parameter in :func:`demo_space` (it never enters the training seed)."""
_BATCH_SIZE = 64
_DEFAULT_EPOCHS = 27


def demo_space() -> Space:
    """The demo's search space: priors a practitioner would state for an MLP on digits.

    An epoch fidelity 1..27 (eta=3 rungs 1/3/9/27) and a ``momentum`` that exists only when
    ``optimizer == "sgd"``.
    """
    # The expert belief: AdamW with lr around 3e-3 is the usual robust default for a small MLP on
    # standardized inputs; a little weight decay (1e-4) and dropout (0.1) help on 1.3k training
    # images but matter less than the learning rate (hence "low" confidence there); 64 units in 2
    # hidden layers are plenty for 64 input pixels; SGD, if chosen, wants classic momentum 0.9.
    return Space(
        lr=Float(1e-4, 1e-1, log=True, prior=3e-3, confidence="medium"),
        weight_decay=Float(1e-6, 1e-2, log=True, prior=1e-4, confidence="low"),
        width=Integer(16, 256, log=True, prior=64, confidence="medium"),
        depth=Integer(1, 3, prior=2, confidence="medium"),
        dropout=Float(0.0, 0.5, prior=0.1, confidence="low"),
        optimizer=Categorical(["adamw", "sgd"], prior="adamw", confidence="medium"),
        momentum=Float(0.0, 0.99, prior=0.9, confidence="medium", when={"optimizer": "sgd"}),
        epochs=Fidelity(1, 27),
    )


@functools.lru_cache(maxsize=4)
def load_digits_split(
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """A fixed stratified 75/25 split of scikit-learn's digits, standardized on the training part.

    Returns ``(x_train, y_train, x_val, y_val)``: float32 ``(1347, 64)``, int64 ``(1347,)``, float32
    ``(450, 64)``, int64 ``(450,)``. Cached per process; treat the tensors as read-only.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    x, y = load_digits(return_X_y=True)
    x_tr, x_va, y_tr, y_va = train_test_split(x, y, test_size=0.25, stratify=y, random_state=seed)
    scaler = StandardScaler().fit(x_tr)
    return (
        torch.tensor(scaler.transform(x_tr), dtype=torch.float32),
        torch.tensor(y_tr, dtype=torch.int64),
        torch.tensor(scaler.transform(x_va), dtype=torch.float32),
        torch.tensor(y_va, dtype=torch.int64),
    )


class _Dropout(nn.Module):
    """Dropout drawing its mask from an explicit generator (``nn.Dropout`` uses the global RNG)."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0.0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator)
        return x * mask / keep


def _build_model(config: Mapping[str, Any], generator: torch.Generator) -> nn.Sequential:
    """``depth`` x (Linear(width), ReLU, dropout), then Linear(10), seeded by ``generator``."""
    width, depth, dropout = int(config["width"]), int(config["depth"]), float(config["dropout"])
    layers: list[nn.Module] = []
    n_in = 64
    for _ in range(depth):
        layers += [nn.Linear(n_in, width), nn.ReLU(), _Dropout(dropout, generator)]
        n_in = width
    layers.append(nn.Linear(n_in, 10))
    model = nn.Sequential(*layers)
    for layer in model:
        if isinstance(layer, nn.Linear):  # PyTorch's default Linear init, but from our generator
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.in_features)
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return model


def _build_optimizer(config: Mapping[str, Any], model: nn.Module) -> torch.optim.Optimizer:
    lr, wd = float(config["lr"]), float(config["weight_decay"])
    name = config["optimizer"]
    if name == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=wd)
    if name == "sgd":
        momentum = float(config.get("momentum") or 0.0)
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=wd)
    raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {name!r}")


def _config_seed(config: Mapping[str, Any]) -> int:
    """A stable 63-bit seed from the config without its fidelity (Python's ``hash`` is salted)."""
    key = {k: v for k, v in config.items() if k != FIDELITY and v is not None}
    blob = json.dumps(key, sort_keys=True, default=str).encode()
    return int.from_bytes(hashlib.sha256(blob).digest()[:8], "big") >> 1


@torch.no_grad()
def _val_error(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    model.eval()
    accuracy = float((model(x).argmax(dim=1) == y).double().mean().item())
    model.train()
    return 1.0 - accuracy


def evaluate(config: Mapping[str, Any], trial: TrialContext) -> dict[str, Any]:
    """Train the MLP for ``trial.fidelity`` epochs in total and return its validation error.

    Continues from ``trial.previous_directory``'s checkpoint when there is a usable one (training
    only the remaining epochs), reports each epoch's validation error via ``trial.report``, and
    saves a checkpoint to ``trial.directory``. ``cost`` = epochs trained in this call.
    """
    torch.set_num_threads(1)
    start = time.perf_counter()
    fidelity = trial.fidelity if trial.fidelity is not None else config.get(FIDELITY)
    epochs = round(fidelity) if fidelity is not None else _DEFAULT_EPOCHS
    if epochs < 1:
        raise ValueError(f"the epoch fidelity must be >= 1, got {fidelity!r}")
    x_tr, y_tr, x_va, y_va = load_digits_split()

    seed = _config_seed(config)
    generator = torch.Generator().manual_seed(seed)
    model = _build_model(config, generator)
    optimizer = _build_optimizer(config, model)
    done, curve = 0, []
    state = load_checkpoint(trial.previous_directory, seed=seed, epochs=epochs, label="demo")
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
            generator.set_state(state["rng_state"])
            done, curve = int(state["epochs_done"]), [list(p) for p in state["curve"]]
        except Exception as exc:  # a checkpoint of the right version but wrong shapes
            logger.warning("demo: checkpoint unusable (%s); training from scratch", exc)
            generator = torch.Generator().manual_seed(seed)
            model = _build_model(config, generator)
            optimizer = _build_optimizer(config, model)
            done, curve = 0, []
    resumed_from = done

    loss_fn = nn.CrossEntropyLoss()
    model.train()
    new_points: list[list[float]] = []
    for epoch in range(done + 1, epochs + 1):
        order = torch.randperm(len(x_tr), generator=generator)
        for batch in torch.split(order, _BATCH_SIZE):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x_tr[batch]), y_tr[batch]).backward()
            optimizer.step()
        error = _val_error(model, x_va, y_va)
        trial.report(epoch, error)
        new_points.append([epoch, error])
    curve += new_points
    final_error = curve[-1][1] if curve else _val_error(model, x_va, y_va)

    save_checkpoint(
        Path(trial.directory),
        {
            "seed": seed,
            "epochs_done": epochs,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng_state": generator.get_state(),
            "curve": curve,
        },
    )
    trained = epochs - resumed_from
    return {
        "objective": final_error,
        "cost": trained,
        "learning_curve": new_points,
        "info": {
            "val_accuracy": 1.0 - final_error,
            "epochs_trained": trained,
            "resumed_from_epoch": resumed_from,
            "train_seconds": time.perf_counter() - start,
        },
    }
