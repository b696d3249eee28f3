"""``mlp-digits-subset``: the demo MLP trained on a fraction of the digits training split.

The fidelity is the fraction of the 1347 training images, ``Fidelity(1/27, 1.0, log=True,
resumable=False)`` (eta = 3 rungs 1/27, 1/9, 1/3 and 1: 5, 15, 45 and all of the ~135 images of
each class); the epochs are fixed at 27, so the cost of a run grows with its fraction, as in
Fabolas (Klein et al., AISTATS 2017). Every evaluation trains from scratch on its subset and is
validated on the whole fixed 450-image validation split: a promotion to a larger fraction
retrains, costs the whole new run in measured seconds and counts its whole fraction in the
budget (the fidelity is not ``resumable``; ``trial.previous_directory`` is ignored).

Subsets are stratified, seeded and nested. For a benchmark seed, each class's training images are
put in a random order drawn from ``rng_for(seed)``; the subset at ``fraction`` takes the first
``max(1, round(fraction * n_class))`` of each class, so the subset at 1/9 contains the one at
1/27, and at fraction 1 it is the whole split in its original order. Model, optimizer, batch size
and the torch seed are the demo's (:mod:`tunewise.demo.mlp`), so ``mlp-digits-subset`` at fraction
1 is ``mlp-digits`` at 27 epochs, bit for bit, for every seed: same space without ``epochs``, same
priors (``good``: the demo's expert prior; ``bad``: SGD at lr 1e-4 that barely learns) and the same
best known value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from tunewise.benchmarks.training import BEST_KNOWN, MLPDigitsBenchmark, _TrainingBenchmark
from tunewise.demo import mlp as demo
from tunewise.runtime.context import TrialContext
from tunewise.space import Fidelity, Space
from tunewise.trial import rng_for

__all__ = ["EPOCHS", "FRACTION", "MLPDigitsSubsetBenchmark", "subset_indices", "train_on_subset"]

FRACTION = Fidelity(1 / 27, 1.0, log=True, resumable=False)
"""The fidelity of ``mlp-digits-subset``: the fraction of the training split a run trains on."""
EPOCHS = 27
"""Epochs of every run, whatever the fraction (the demo's full run)."""


def subset_indices(labels: torch.Tensor, fraction: float, *, seed: int) -> NDArray[np.int64]:
    """Sorted indices (k,) of a stratified, nested subset of ``labels`` (n,) at ``fraction``.

    Each class keeps ``max(1, round(fraction * n_class))`` images, the first of its own random
    order (drawn from ``rng_for(seed)``), so a larger fraction's subset contains a smaller one's;
    ``fraction == 1`` gives every index.
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    y = labels.numpy()
    rng = rng_for(seed)
    kept: list[NDArray[np.int64]] = []
    for label in np.unique(y):  # sorted, so every call draws the classes in the same order
        members = np.flatnonzero(y == label)
        order = rng.permutation(members)
        kept.append(order[: max(1, round(fraction * len(members)))])
    return np.sort(np.concatenate(kept))


def train_on_subset(
    config: Mapping[str, Any], trial: TrialContext, *, seed: int = 0
) -> dict[str, Any]:
    """Train the demo MLP for :data:`EPOCHS` epochs on the subset at ``trial.fidelity`` (1.0 when
    None); its validation error on the full validation split.

    Reports each epoch's validation error via ``trial.report``. Returns ``objective``,
    ``learning_curve`` (the 27 epochs) and ``info`` (``train_images``, ``val_accuracy``).
    """
    torch.set_num_threads(1)
    fraction = float(trial.fidelity) if trial.fidelity is not None else 1.0
    x_tr, y_tr, x_va, y_va = demo.load_digits_split()
    rows = torch.from_numpy(subset_indices(y_tr, fraction, seed=seed))
    x_tr, y_tr = x_tr[rows], y_tr[rows]
    keyed = dict(config) if seed == 0 else {**config, "benchmark_seed": seed}  # as mlp-digits
    generator = torch.Generator().manual_seed(demo._config_seed(keyed))
    model = demo._build_model(keyed, generator)
    optimizer = demo._build_optimizer(keyed, model)
    loss_fn = nn.CrossEntropyLoss()
    curve: list[list[float]] = []
    model.train()
    for epoch in range(1, EPOCHS + 1):
        order = torch.randperm(len(x_tr), generator=generator)
        for batch in torch.split(order, demo._BATCH_SIZE):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(x_tr[batch]), y_tr[batch]).backward()
            optimizer.step()
        error = demo._val_error(model, x_va, y_va)
        trial.report(epoch, error)
        curve.append([epoch, error])
    final = curve[-1][1]
    return {
        "objective": final,
        "learning_curve": curve,
        "info": {"train_images": len(rows), "val_accuracy": 1.0 - final},
    }


class MLPDigitsSubsetBenchmark(_TrainingBenchmark):
    """``mlp-digits-subset``: ``mlp-digits`` with the fraction of training data as the fidelity.

    Priors ``good`` and ``bad`` are ``mlp-digits``'s, with its per-parameter confidences unless a
    ``confidence`` is given; the optimum is its best known value (the two agree at fraction 1).
    """

    default_confidence = None

    def __init__(self) -> None:
        self.name = "mlp-digits-subset"
        self._mlp = MLPDigitsBenchmark()

    @property
    def optimum(self) -> float:
        """``mlp-digits``'s best known validation error (:data:`BEST_KNOWN`)."""
        return BEST_KNOWN["mlp-digits"]

    def space(self, prior: str = "none", *, confidence: str | None = None) -> Space:
        """``mlp-digits``'s space (priors included) with ``fraction`` instead of ``epochs``."""
        epochs = self._mlp.space(prior, confidence=confidence)
        searched = {n: p for n, p in epochs.parameters.items() if not isinstance(p, Fidelity)}
        return Space(**searched, fraction=FRACTION)

    def _build_space(self) -> Space:
        return self.space()

    def _prior_configs(self) -> dict[str, dict[str, Any]]:
        return {quality: self._mlp.prior_config(quality) for quality in ("good", "bad")}

    def _train(self, config: Mapping[str, Any], trial: TrialContext, seed: int) -> dict[str, Any]:
        return train_on_subset(config, trial, seed=seed)
