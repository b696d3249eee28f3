"""``nas-digits``: hierarchical architecture search on scikit-learn's 8x8 digits, trained for real.

The macro / stage / block structure of Schrodi et al. (NeurIPS 2023; ALGORITHMS.md §7) scaled down
to 8x8 images and a CPU (:data:`PRODUCTIONS`):

- **macro** ``S``: ``Linear3(STAGE, DOWN, STAGE)``, ``Linear2(STAGE, DOWN)`` or
  ``Linear2(DOWN, STAGE)``; ``down`` is a stride-2 ResNet block doubling the channels
  (8x8 -> 4x4);
- **stage** ``STAGE``: ``Residual2`` (3 blocks), ``Diamond2`` (4 blocks) or ``Linear2`` (2 blocks);
- **block** ``BLOCK``: an operation (``conv3x3``, ``conv1x1``, ``id``, ``zero``, ``avgpool3x3``)
  or, once (depth limit 2), ``Residual2``/``Linear2`` of blocks.

About 3.4e17 architectures. The body is built by :func:`tunewise.nas.build` at ``channels``
(``Integer(4, 16, log=True)``) and wrapped by :func:`tunewise.nas.classifier`; AdamW with ``lr``
(``Float(1e-4, 1e-1, log=True)``), weight decay 1e-4, batch 64, epochs ``Fidelity(1, 27)`` (eta
3: rungs 1/3/9/27). Training, checkpoints and continuation are those of ``cnn-digits``
(:func:`tunewise.benchmarks.training.fit`): a promoted trial resumes model, optimizer and
shuffling state from ``trial.previous_directory``, and runs are deterministic given ``(config,
epochs, seed)`` (weights initialized under ``torch.manual_seed`` of the run's key, one thread).

**Priors** are production priors on the grammar (:data:`PRODUCTION_PRIORS`) plus the numeric
values of :data:`NUMERIC_PRIORS`: ``good`` favours two residual stages of 3x3 convolutions at lr
3e-3 and 16 channels; ``bad`` favours one stage of zero / identity / pooling edges (no
convolution) at lr 1e-4 and 4 channels. The prior configuration (PriorBand's ``prior_first``) has
the prior's mode as architecture, the most probable production at every node.

The objective is the validation error on the fixed 450-image split of :mod:`tunewise.demo.mlp`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from tunewise.benchmarks.training import _seed, _TrainingBenchmark, fit
from tunewise.nas import Grammar
from tunewise.runtime.context import TrialContext
from tunewise.space import Architecture, Fidelity, Float, Integer, Space

__all__ = [
    "NUMERIC_PRIORS",
    "PRODUCTIONS",
    "PRODUCTION_PRIORS",
    "NASDigitsBenchmark",
    "nas_grammar",
    "train_nas",
]

OPS = ("conv3x3", "conv1x1", "id", "zero", "avgpool3x3")

PRODUCTIONS: dict[str, list[str]] = {
    "S": ["Linear3 STAGE DOWN STAGE", "Linear2 STAGE DOWN", "Linear2 DOWN STAGE"],
    "STAGE": [
        "Residual2 BLOCK BLOCK BLOCK",
        "Diamond2 BLOCK BLOCK BLOCK BLOCK",
        "Linear2 BLOCK BLOCK",
    ],
    "BLOCK": ["Residual2 BLOCK BLOCK BLOCK", "Linear2 BLOCK BLOCK", *OPS],
    "DOWN": ["down"],
}
"""The grammar: nonterminal -> right-hand sides (topology or primitive first, then the children)."""

DEPTH = {"BLOCK": 2}
TOPOLOGY_ARITY = {"Linear2": 2, "Linear3": 3, "Residual2": 3, "Diamond2": 4}

PRODUCTION_PRIORS: dict[str, dict[str, dict[str, float]]] = {
    "good": {
        "S": {
            "Linear3 STAGE DOWN STAGE": 0.6,
            "Linear2 STAGE DOWN": 0.2,
            "Linear2 DOWN STAGE": 0.2,
        },
        "STAGE": {
            "Residual2 BLOCK BLOCK BLOCK": 0.6,
            "Diamond2 BLOCK BLOCK BLOCK BLOCK": 0.2,
            "Linear2 BLOCK BLOCK": 0.2,
        },
        "BLOCK": {
            "Residual2 BLOCK BLOCK BLOCK": 0.1,
            "Linear2 BLOCK BLOCK": 0.05,
            "conv3x3": 0.5,
            "conv1x1": 0.15,
            "id": 0.1,
            "zero": 0.05,
            "avgpool3x3": 0.05,
        },
    },
    "bad": {
        "S": {
            "Linear3 STAGE DOWN STAGE": 0.2,
            "Linear2 STAGE DOWN": 0.6,
            "Linear2 DOWN STAGE": 0.2,
        },
        "STAGE": {
            "Residual2 BLOCK BLOCK BLOCK": 0.2,
            "Diamond2 BLOCK BLOCK BLOCK BLOCK": 0.2,
            "Linear2 BLOCK BLOCK": 0.6,
        },
        "BLOCK": {
            "Residual2 BLOCK BLOCK BLOCK": 0.05,
            "Linear2 BLOCK BLOCK": 0.05,
            "conv3x3": 0.025,
            "conv1x1": 0.025,
            "id": 0.25,
            "zero": 0.4,
            "avgpool3x3": 0.2,
        },
    },
}
"""Production priors by quality: nonterminal -> {right-hand side: probability}."""

NUMERIC_PRIORS: dict[str, dict[str, Any]] = {
    "good": {"lr": 3e-3, "channels": 16},
    "bad": {"lr": 1e-4, "channels": 4},
}
"""The hyperparameters' prior values by quality."""

BEST_KNOWN = 6 / 450  # 0.01333
"""Best validation error measured at 27 epochs with seed 0: the minimum over 60 uniform configs
(``space().sample_many(numpy.random.default_rng(0), 60)``) and the two prior configurations
(good: 11 / 450, bad: 0.9), trained in full. A full run took 5.5 s on average (one thread, two
busy cores); good-prior architectures, with more convolutions, take about 0.2 s an epoch at 16
channels, uniform ones 0.1 s, bad ones 0.07 s."""

WEIGHT_DECAY, BATCH_SIZE, MAX_EPOCHS = 1e-4, 64, 27


def nas_grammar(
    priors: Mapping[str, Mapping[str, float]] | None = None, confidence: str = "medium"
) -> Grammar:
    """The ``nas-digits`` grammar (:data:`PRODUCTIONS`), optionally with production priors."""
    return Grammar(
        PRODUCTIONS,
        "S",
        topologies=TOPOLOGY_ARITY,
        primitives=[*OPS, "down"],
        depth=DEPTH,
        priors=priors,
        confidence=confidence,
    )


class NASDigitsBenchmark(_TrainingBenchmark):
    """``nas-digits`` (module docstring): an architecture, ``lr`` and ``channels``; epochs 1..27."""

    def __init__(self) -> None:
        self.name = "nas-digits"

    @property
    def optimum(self) -> float:
        """Best known validation error at 27 epochs (:data:`BEST_KNOWN`)."""
        return BEST_KNOWN

    def _build_space(self) -> Space:
        return self._make_space(None, "medium")

    def _make_space(self, quality: str | None, confidence: str) -> Space:
        priors = None if quality is None else PRODUCTION_PRIORS[quality]
        return Space(
            architecture=Architecture(nas_grammar(priors, confidence)),
            lr=Float(1e-4, 1e-1, log=True),
            channels=Integer(4, 16, log=True),
            epochs=Fidelity(1, MAX_EPOCHS),
        )

    def _prior_configs(self) -> dict[str, dict[str, Any]]:
        return {
            quality: {
                "architecture": Architecture(nas_grammar(PRODUCTION_PRIORS[quality])).default,
                **NUMERIC_PRIORS[quality],
            }
            for quality in PRODUCTION_PRIORS
        }

    def space(self, prior: str = "none", *, confidence: str | None = None) -> Space:
        """The search space; ``prior`` puts its production priors into the grammar and centres
        ``lr`` and ``channels`` on :data:`NUMERIC_PRIORS`, all at ``confidence`` (medium)."""
        if prior == "none":
            return self._base_space()
        config = self.prior_config(prior)  # ValueError naming the qualities
        confidence = confidence or "medium"
        numeric = {name: config[name] for name in NUMERIC_PRIORS[prior]}
        return self._make_space(prior, confidence).with_priors(numeric, confidence=confidence)

    def _train(self, config: Mapping[str, Any], trial: TrialContext, seed: int) -> dict[str, Any]:
        return train_nas(config, trial, seed=seed)


def train_nas(config: Mapping[str, Any], trial: TrialContext, *, seed: int = 0) -> dict[str, Any]:
    """Build ``config["architecture"]`` at ``config["channels"]`` and train it with
    :func:`~tunewise.benchmarks.training.fit` (same return value) to ``trial.fidelity`` epochs."""
    from tunewise import nas

    torch.set_num_threads(1)
    key = _seed(config, seed)
    with torch.random.fork_rng(devices=[]):  # seed the initialization, leave the global RNG alone
        torch.manual_seed(key)
        body = nas.build(config["architecture"], channels=int(config["channels"]))
        model = nas.classifier(body, in_channels=1, num_classes=10)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=float(config["lr"]), weight_decay=WEIGHT_DECAY
    )
    generator = torch.Generator().manual_seed(key)
    return fit(
        model,
        optimizer,
        generator,
        trial,
        key=key,
        batch_size=BATCH_SIZE,
        max_epochs=MAX_EPOCHS,
        label="nas-digits",
    )
