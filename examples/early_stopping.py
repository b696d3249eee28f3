"""Early stopping: train each configuration in one long trial and stop the ones that fall behind.

Each trial trains a small PyTorch MLP on scikit-learn's digits for up to 20 epochs and reports
its validation error after every epoch. With ``early_stopping`` the answer of
``trial.report`` says whether this trial is behind the others at that epoch (the median rule)
or has no chance to beat the best one (the model rule); the loop then stops and returns the
error it reached. About 15 s of CPU::

    python examples/early_stopping.py                  # random search, the median rule
    python examples/early_stopping.py --rule model     # the learning-curve GP's verdict
    python examples/early_stopping.py --rule none      # every trial trains all 20 epochs
    tunewise status runs/early-stopping-median         # "stopped early: ..." and the best trial
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from torch import nn

import tunewise as tw
from tunewise.demo.mlp import load_digits_split

EPOCHS = 20
SPACE = tw.Space(
    lr=tw.Float(1e-4, 0.3, log=True),
    momentum=tw.Float(0.0, 0.95),
    width=tw.Integer(16, 256, log=True),
)


def evaluate(config: dict[str, Any], trial: tw.TrialContext) -> float:
    """Train for up to EPOCHS epochs; stop when early stopping says so; the validation error."""
    torch.set_num_threads(1)
    x_train, y_train, x_val, y_val = load_digits_split()
    generator = torch.Generator().manual_seed(trial.number)  # initialization and shuffling
    model = nn.Sequential(nn.Linear(64, config["width"]), nn.ReLU(), nn.Linear(config["width"], 10))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, std=layer.in_features**-0.5, generator=generator)
            nn.init.zeros_(layer.bias)
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    loss = nn.CrossEntropyLoss()
    error = 1.0
    for epoch in range(1, EPOCHS + 1):
        for batch in torch.split(torch.randperm(len(x_train), generator=generator), 64):
            optimizer.zero_grad()
            loss(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        with torch.no_grad():
            error = 1.0 - (model(x_val).argmax(dim=1) == y_val).float().mean().item()
        if trial.report(epoch, error):  # behind the others: stop here
            break
    return error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rule", choices=["median", "model", "none"], default="median")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--root", type=Path, default=None, help="default runs/early-stopping-RULE")
    args = parser.parse_args()
    rule = None if args.rule == "none" else tw.EarlyStopping(rule=args.rule, min_trials=4)
    root = args.root or Path("runs") / f"early-stopping-{args.rule}"
    result = tw.run(
        evaluate,
        SPACE,
        root=root,
        optimizer="random_search",
        budget=args.trials,
        seed=0,
        early_stopping=rule,
        progress=False,
    )
    trials = result.trial_list
    stopped = [t for t in trials if t.info.get("stopped_early")]
    epochs = sum(len(t.learning_curve) for t in trials)
    print(f"{len(stopped)} of {len(trials)} trials stopped early ({args.rule} rule)")
    print(f"epochs trained: {epochs} of {len(trials) * EPOCHS}")
    best = result.best
    assert best is not None
    print(f"best validation error: {best.objective:.4f} (trial {best.number}, {dict(best.config)})")
    print(f"see them all: tunewise status {root}")


if __name__ == "__main__":
    main()
