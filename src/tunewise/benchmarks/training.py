"""Real training tasks on scikit-learn's digits (PyTorch on CPU): ``mlp-digits`` and ``cnn-digits``.

Unlike the simulated benchmarks these train for real: ``cost`` is measured wall-clock seconds and
the tunewise objective continues from ``trial.previous_directory``'s checkpoint, so a promotion from
3 to 9 epochs trains 6 epochs. Both are exactly deterministic given ``(config, epochs, seed)``
(one ``torch.Generator`` drives initialization, shuffling and dropout, its state is checkpointed,
and training runs on one thread), so a continued run equals a run from scratch bit for bit.

- ``mlp-digits`` is :mod:`tunewise.demo.mlp` unchanged: its space and expert prior (``good``). The
  demo derives its torch seed from a hash of every non-fidelity config key, so the benchmark's
  ``seed`` (when not 0) enters as an extra ``benchmark_seed`` key of the config it passes on;
  ``seed=0`` is exactly the demo.
- ``cnn-digits``: two 3x3 convolutions (``channels1``, ``channels2``; ReLU, 2x2 max-pooling each:
  8x8 -> 4x4 -> 2x2), dropout, a linear head; AdamW with ``lr``, ``weight_decay`` and
  ``batch_size``; epochs ``Fidelity(1, 27)``.

The objective is the validation error (1 - accuracy) on a fixed stratified 450-image split.
Optima are best known values (``optimum_is_known`` is False), measured as documented on
:data:`BEST_KNOWN`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import tempfile
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from tunewise.benchmarks.base import Benchmark, Evaluation, check_seed
from tunewise.demo import mlp as demo
from tunewise.demo.checkpoints import load_checkpoint, save_checkpoint
from tunewise.runtime.context import TrialContext, searched_config
from tunewise.space import Categorical, Fidelity, Float, Integer, Space

__all__ = [
    "BEST_KNOWN",
    "CNNDigitsBenchmark",
    "MLPDigitsBenchmark",
    "TrainingObjective",
    "cnn_space",
    "fit",
    "train_cnn",
]

logger = logging.getLogger("tunewise")

BEST_KNOWN: dict[str, float] = {
    "mlp-digits": 8 / 450,  # 0.01778: 100 uniform configs + the 2 priors (good: 10 / 450)
    "cnn-digits": 5 / 450,  # 0.01111: 60 uniform configs + the 2 priors (good: 6 / 450)
}
"""Best validation error measured at 27 epochs with seed 0: the minimum over uniform random
configs (``space().sample_many(numpy.random.default_rng(0), n)``) and the prior configs, trained
in full (errors come in steps of 1/450). A full run took about 0.7 s (MLP) and 2.6 s (CNN) on one
CPU thread on average."""


_MLP_BAD = {
    "lr": 1e-4,
    "weight_decay": 1e-2,
    "width": 16,
    "depth": 1,
    "dropout": 0.5,
    "optimizer": "sgd",
    "momentum": 0.0,
}
_CNN_GOOD = {
    "lr": 3e-3,
    "weight_decay": 1e-4,
    "channels1": 16,
    "channels2": 32,
    "dropout": 0.1,
    "batch_size": 64,
}
_CNN_BAD = {
    "lr": 1e-4,
    "weight_decay": 1e-2,
    "channels1": 4,
    "channels2": 8,
    "dropout": 0.5,
    "batch_size": 256,
}


class _TrainingBenchmark(Benchmark):
    """Shared behaviour: real seconds as cost, evaluate = a from-scratch run in a temp folder."""

    epochs_name = "epochs"

    @property
    def optimum(self) -> float:
        """Best known validation error at 27 epochs (:data:`BEST_KNOWN`)."""
        return BEST_KNOWN[self.name]

    @property
    def optimum_is_known(self) -> bool:
        return False

    @property
    def simulated(self) -> bool:
        return False

    def _train(self, config: Mapping[str, Any], trial: TrialContext, seed: int) -> dict[str, Any]:
        """Train for ``trial.fidelity`` epochs (continuing when possible); the demo's dict."""
        raise NotImplementedError

    def evaluate(
        self, config: Mapping[str, Any], fidelity: float | int, *, seed: int = 0
    ) -> Evaluation:
        """Train from scratch at ``fidelity`` (epochs, or a data fraction) in a temporary folder.

        The objective and curve are deterministic; ``cost`` is the measured seconds, which vary
        from run to run.
        """
        fidelity = self._check_fidelity(fidelity)  # an int for an integer fidelity (epochs)
        check_seed(seed)
        config = searched_config(config, self.fidelity_name)
        demo.load_digits_split()  # once per process, not charged to the trial
        with tempfile.TemporaryDirectory(prefix="tunewise-bench-") as folder:
            trial = TrialContext(number=0, config=config, fidelity=fidelity, directory=Path(folder))
            start = time.perf_counter()
            result = self._train(config, trial, seed)
            seconds = time.perf_counter() - start
        curve = tuple((float(s), float(v)) for s, v in result["learning_curve"])
        return Evaluation(float(result["objective"]), seconds, curve)

    def objective(
        self, *, seed: int = 0
    ) -> Callable[[dict[str, Any], TrialContext], dict[str, Any]]:
        """A picklable evaluate function that trains for real (see :class:`TrainingObjective`)."""
        return TrainingObjective(self, seed=check_seed(seed))


class TrainingObjective:
    """The tunewise evaluate function of a real-training benchmark.

    Trains for ``trial.fidelity`` epochs, continuing from ``trial.previous_directory``'s checkpoint
    when usable, saves one to ``trial.directory``, reports each epoch via ``trial.report`` and
    returns the validation error with ``cost`` = the seconds this call took (so a continuation
    costs only its added epochs; loading the data, once per process, is not charged).
    """

    def __init__(self, benchmark: _TrainingBenchmark, *, seed: int = 0) -> None:
        self.benchmark = benchmark
        self.seed = seed

    def __call__(self, config: dict[str, Any], trial: TrialContext) -> dict[str, Any]:
        bench = self.benchmark
        if trial.fidelity is not None:  # None: the full 27 epochs
            bench._check_fidelity(trial.fidelity)
        config = searched_config(config, bench.fidelity_name)
        demo.load_digits_split()  # once per process, not charged to the trial
        start = time.perf_counter()
        result = bench._train(config, trial, self.seed)
        info = {**result.get("info", {}), "benchmark": bench.name}
        return {
            "objective": result["objective"],
            "cost": time.perf_counter() - start,
            "learning_curve": result["learning_curve"],
            "info": info,
        }

    def __repr__(self) -> str:
        return f"TrainingObjective({self.benchmark.name!r}, seed={self.seed})"


class MLPDigitsBenchmark(_TrainingBenchmark):
    """``mlp-digits``: the demo MLP (:mod:`tunewise.demo.mlp`); priors ``good`` and ``bad``.

    ``good`` is the demo's expert prior (with the demo's per-parameter confidences unless a
    ``confidence`` is given); ``bad`` is plain SGD without momentum at lr 1e-4, one 16-unit layer,
    heavy dropout and weight decay: after 27 epochs it has barely started learning.
    """

    default_confidence = None

    def __init__(self) -> None:
        self.name = "mlp-digits"

    def _build_space(self) -> Space:
        from dataclasses import replace

        params = {}
        for name, param in demo.demo_space().parameters.items():
            if isinstance(param, Float | Integer | Categorical):
                param = replace(param, prior=None)
            params[name] = param
        return Space(**params)

    def _prior_configs(self) -> dict[str, dict[str, Any]]:
        return {"good": demo.demo_space().prior_config(), "bad": dict(_MLP_BAD)}

    def space(self, prior: str = "none", *, confidence: str | None = None) -> Space:
        """The demo's space; ``"good"`` is exactly :func:`tunewise.demo.mlp.demo_space`."""
        if prior == "none":
            return self._base_space()
        return demo.demo_space().with_priors(self.prior_config(prior), confidence=confidence)

    def _train(self, config: Mapping[str, Any], trial: TrialContext, seed: int) -> dict[str, Any]:
        config = dict(config) if seed == 0 else {**config, "benchmark_seed": seed}
        return demo.evaluate(config, trial)


def cnn_space() -> Space:
    """The CNN's search space (no priors); epochs 1..27 (eta = 3 rungs 1/3/9/27)."""
    return Space(
        lr=Float(1e-4, 1e-1, log=True),
        weight_decay=Float(1e-6, 1e-2, log=True),
        channels1=Integer(4, 64, log=True),
        channels2=Integer(8, 128, log=True),
        dropout=Float(0.0, 0.5),
        batch_size=Integer(16, 256, log=True),
        epochs=Fidelity(1, 27),
    )


class CNNDigitsBenchmark(_TrainingBenchmark):
    """``cnn-digits``: a small CNN on the 8x8 digit images (:func:`train_cnn`).

    Priors: ``good`` (AdamW lr 3e-3, weight decay 1e-4, 16/32 channels, dropout 0.1, batch 64: the
    usual small-CNN defaults) and ``bad`` (lr 1e-4 with batch 256: too few, too small steps, 4/8
    channels, dropout 0.5, weight decay 1e-2).
    """

    def __init__(self) -> None:
        self.name = "cnn-digits"

    def _build_space(self) -> Space:
        return cnn_space()

    def _prior_configs(self) -> dict[str, dict[str, Any]]:
        return {"good": dict(_CNN_GOOD), "bad": dict(_CNN_BAD)}

    def _train(self, config: Mapping[str, Any], trial: TrialContext, seed: int) -> dict[str, Any]:
        return train_cnn(config, trial, seed=seed)


# -- the CNN -----------------------------------------------------------------------------------


class _Dropout(nn.Module):
    """Dropout drawing its mask from an explicit generator (``nn.Dropout`` uses the global RNG)."""

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p, self.generator = p, generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0.0:
            return x
        keep = 1.0 - self.p
        return x * torch.empty_like(x).bernoulli_(keep, generator=self.generator) / keep


def _build_cnn(config: Mapping[str, Any], generator: torch.Generator) -> nn.Sequential:
    """(n, 1, 8, 8) -> conv3x3(c1), ReLU, pool -> conv3x3(c2), ReLU, pool -> (n, c2 * 4) -> dropout
    -> Linear(10), initialized like PyTorch's defaults but from ``generator``."""
    c1, c2 = int(config["channels1"]), int(config["channels2"])
    model = nn.Sequential(
        nn.Conv2d(1, c1, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(c1, c2, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        _Dropout(float(config["dropout"]), generator),
        nn.Linear(c2 * 4, 10),
    )
    for layer in model:
        if isinstance(layer, nn.Conv2d | nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
            bound = 1.0 / math.sqrt(layer.weight[0].numel())
            assert layer.bias is not None  # both layer kinds are built with a bias
            nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return model


def _seed(config: Mapping[str, Any], seed: int) -> int:
    """A stable 63-bit training seed from the config (without fidelity) and the benchmark seed."""
    blob = json.dumps({"config": dict(config), "seed": seed}, sort_keys=True, default=str)
    return int.from_bytes(hashlib.sha256(blob.encode()).digest()[:8], "big") >> 1


def train_cnn(config: Mapping[str, Any], trial: TrialContext, *, seed: int = 0) -> dict[str, Any]:
    """Train the CNN to ``trial.fidelity`` epochs in total; the validation error and curve.

    Continues from ``trial.previous_directory`` when it holds a checkpoint of the same config and
    seed; reports each new epoch via ``trial.report``; checkpoints model, optimizer, generator
    state and curve to ``trial.directory``. Returns ``objective``, ``cost`` (epochs trained here),
    ``learning_curve`` (the new epochs) and ``info``.
    """
    torch.set_num_threads(1)
    key = _seed(config, seed)
    generator = torch.Generator().manual_seed(key)
    model = _build_cnn(config, generator)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=float(config["lr"]), weight_decay=float(config["weight_decay"])
    )
    return fit(
        model,
        optimizer,
        generator,
        trial,
        key=key,
        batch_size=int(config["batch_size"]),
        max_epochs=27,
        label="cnn-digits",
    )


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    trial: TrialContext,
    *,
    key: int,
    batch_size: int,
    max_epochs: int,
    label: str,
) -> dict[str, Any]:
    """Train an image classifier on the digits to ``trial.fidelity`` epochs (``max_epochs`` when
    None); the shared loop of the real-training benchmarks.

    ``model`` maps ``(n, 1, 8, 8)`` images to logits ``(n, 10)``; ``generator`` drives the
    shuffling (and whatever else the model draws at training time) and ``key`` is the run's seed,
    checked against the checkpoint. Continues from ``trial.previous_directory`` when it holds a
    checkpoint with the same ``key`` (model, optimizer, generator state and curve), reports each
    new epoch via ``trial.report`` and checkpoints to ``trial.directory``. Returns ``objective``
    (the validation error), ``cost`` (epochs trained here), ``learning_curve`` (the new epochs)
    and ``info``.
    """
    torch.set_num_threads(1)
    epochs = round(trial.fidelity if trial.fidelity is not None else max_epochs)
    if epochs < 1:
        raise ValueError(f"the epoch fidelity must be >= 1, got {trial.fidelity!r}")
    x_tr, y_tr, x_va, y_va = demo.load_digits_split()
    x_tr, x_va = x_tr.view(-1, 1, 8, 8), x_va.view(-1, 1, 8, 8)
    done, curve = 0, []
    state = load_checkpoint(trial.previous_directory, seed=key, epochs=epochs, label=label)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        generator.set_state(state["rng_state"])
        done, curve = int(state["epochs_done"]), [list(p) for p in state["curve"]]
    resumed_from = done

    loss_fn = nn.CrossEntropyLoss()
    new_points: list[list[float]] = []
    model.train()
    for epoch in range(done + 1, epochs + 1):
        for batch in torch.split(torch.randperm(len(x_tr), generator=generator), batch_size):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x_tr[batch]), y_tr[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            error = 1.0 - (model(x_va).argmax(dim=1) == y_va).double().mean().item()
        model.train()
        trial.report(epoch, error)
        new_points.append([epoch, error])
    curve += new_points
    save_checkpoint(
        Path(trial.directory),
        {
            "seed": key,
            "epochs_done": epochs,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng_state": generator.get_state(),
            "curve": curve,
        },
    )
    final = curve[-1][1]
    return {
        "objective": final,
        "cost": epochs - resumed_from,
        "learning_curve": new_points,
        "info": {
            "val_accuracy": 1.0 - final,
            "epochs_trained": epochs - resumed_from,
            "resumed_from_epoch": resumed_from,
        },
    }
