"""Tune a PyTorch Lightning CNN on scikit-learn's digits (8x8 MNIST-like images) with Hyperband.

Run it with ``python examples/lightning_mnist_like.py`` (about 30 seconds on two CPU cores; no
download); results go to ``runs/lightning_mnist_like``. The Lightning script becomes a tunewise
objective by adding one callback: ``TunewiseCallback`` reports ``val_error`` each epoch, saves
``last.ckpt`` in the trial's folder, and ``ckpt_path`` lets a promoted trial continue from the
checkpoint of the lower rung. Because ``max_epochs`` is the trial's fidelity, a promotion from 3 to
9 epochs trains epochs 4 to 9 only. ``--tensorboard`` also writes each trial to TensorBoard
(``tensorboard --logdir runs/lightning_mnist_like/tensorboard``). Needs
``pip install 'tunewise[lightning]'`` (and ``[tensorboard]`` for ``--tensorboard``).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any

import lightning.pytorch as pl
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import tunewise as tw
from tunewise.integrations.lightning import TunewiseCallback

SPACE = tw.Space(
    lr=tw.Float(1e-4, 1e-1, log=True, prior=3e-3, confidence="medium"),
    channels=tw.Integer(4, 32, log=True, prior=16),
    dropout=tw.Float(0.0, 0.5, prior=0.1),
    optimizer=tw.Categorical(["adam", "sgd"], prior="adam"),
    epochs=tw.Fidelity(1, 9),
)


class DigitsCNN(pl.LightningModule):
    """Two convolutions and a linear head; logs the validation error (1 - accuracy)."""

    def __init__(self, lr: float, channels: int, dropout: float, optimizer: str) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Conv2d(1, channels, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(channels * 16, 10),
        )

    def training_step(self, batch: Any, index: int) -> torch.Tensor:
        x, y = batch
        return nn.functional.cross_entropy(self.net(x), y)

    def validation_step(self, batch: Any, index: int) -> None:
        x, y = batch
        error = (self.net(x).argmax(dim=1) != y).float().mean()
        self.log("val_error", error, sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        if self.hparams["optimizer"] == "sgd":
            return torch.optim.SGD(self.parameters(), lr=self.hparams["lr"], momentum=0.9)
        return torch.optim.Adam(self.parameters(), lr=self.hparams["lr"])


def digits() -> tuple[DataLoader[Any], DataLoader[Any]]:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)

    def loader(x: Any, y: Any, shuffle: bool) -> DataLoader[Any]:
        images = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8)
        data = TensorDataset(images, torch.tensor(y))
        return DataLoader(data, batch_size=64, shuffle=shuffle)

    return loader(x_train, y_train, True), loader(x_val, y_val, False)


def evaluate(config: dict[str, Any], trial: tw.TrialContext) -> dict[str, Any]:
    """Train up to ``config["epochs"]`` epochs, continuing the lower rung's checkpoint."""
    pl.seed_everything(trial.number, verbose=False)
    callback = TunewiseCallback(trial, monitor="val_error")
    model = DigitsCNN(config["lr"], config["channels"], config["dropout"], config["optimizer"])
    trainer = pl.Trainer(
        max_epochs=config["epochs"],  # the fidelity: a promotion trains only the extra epochs
        callbacks=[callback],
        default_root_dir=trial.directory,
        logger=False,
        enable_checkpointing=False,  # TunewiseCallback keeps last.ckpt in trial.directory
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    train, val = digits()
    trainer.fit(model, train, val, ckpt_path=callback.ckpt_path)
    return callback.result()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=26)
    parser.add_argument("--root", default="runs/lightning_mnist_like")
    parser.add_argument("--tensorboard", action="store_true", help="also write TensorBoard runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)  # no banner per trial
    result = tw.run(
        evaluate, SPACE, root=args.root, optimizer="hyperband", budget=args.evaluations, seed=0
    )
    best = result.best
    assert best is not None, "no trial succeeded"
    print(f"best validation error {best.objective:.3f} at {best.fidelity} epochs: {best.config}")
    if args.tensorboard:
        from tunewise.integrations.tensorboard import write_trial

        folder = result.root / "tensorboard" if result.root else None
        assert folder is not None
        for trial in result.trial_list:
            write_trial(folder, trial, SPACE)
        print(f"TensorBoard: tensorboard --logdir {folder}")


if __name__ == "__main__":
    main()
