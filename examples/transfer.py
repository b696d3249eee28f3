"""Transfer after the code changed: tune v2 of a training script from the study of v1.

v1 trains a small PyTorch MLP on scikit-learn's digits with SGD and tunes lr, momentum and width
(batch size fixed at 64). v2 widens the lr range, makes the batch size a hyperparameter and adds
dropout. Instead of tuning v2 from scratch, ``transfer_from="runs/transfer-v1"`` maps v1's trials
onto v2's space (lr, momentum and width shared; batch size carried from v1's constant; dropout
new) and starts from them: the mapped v1 incumbent first, then samples from a model of v1's
ranking until v2's own GP takes over. The script runs v2 both ways with the same seed and prints
the best validation error after each evaluation. About a minute of CPU::

    python examples/transfer.py                      # v1, then v2 with and without transfer
    python examples/transfer.py --transfer only_new  # tune only what v2 added
    tunewise status runs/transfer-v2                 # what carried over, and the trials
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

import tunewise as tw
from tunewise.demo.mlp import load_digits_split

EPOCHS = 8
V1 = tw.Space(
    lr=tw.Float(1e-3, 0.3, log=True),
    momentum=tw.Float(0.0, 0.95),
    width=tw.Integer(16, 128, log=True),
    batch_size=tw.Constant(64),
)
V2 = tw.Space(
    lr=tw.Float(1e-4, 1.0, log=True),
    momentum=tw.Float(0.0, 0.95),
    width=tw.Integer(16, 256, log=True),
    batch_size=tw.Integer(16, 256, log=True),
    dropout=tw.Float(0.0, 0.5),
)


def evaluate(config: dict[str, Any], trial: tw.TrialContext) -> float:
    """Train for EPOCHS epochs with SGD; the validation error (v1 has no dropout)."""
    torch.set_num_threads(1)
    x_train, y_train, x_val, y_val = load_digits_split()
    generator = torch.Generator().manual_seed(trial.number)
    width, dropout = config["width"], config.get("dropout", 0.0)
    hidden = nn.Linear(64, width)
    model = nn.Sequential(hidden, nn.ReLU(), nn.Dropout(dropout), nn.Linear(width, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"])
    loss = nn.CrossEntropyLoss()
    for _ in range(EPOCHS):
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for batch in torch.split(order, config["batch_size"]):
            optimizer.zero_grad()
            loss(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        return 1.0 - (model(x_val).argmax(dim=1) == y_val).float().mean().item()


def best_so_far(result: tw.Result) -> list[float]:
    best, out = float("inf"), []
    for trial in result.trial_list:
        if trial.objective is not None:
            best = min(best, trial.objective)
        out.append(best)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transfer", choices=list(tw.transfer.METHODS), default="best_first+model")
    parser.add_argument("--v1-trials", type=int, default=20)
    parser.add_argument("--v2-trials", type=int, default=12)
    parser.add_argument("--runs", type=Path, default=Path("runs"))
    args = parser.parse_args()
    v1_root, v2_root, scratch_root = (args.runs / f"transfer-{n}" for n in ("v1", "v2", "scratch"))
    for root in (v2_root, scratch_root):  # v2 is tuned afresh each time; v1 is reused
        shutil.rmtree(root, ignore_errors=True)
    options: dict[str, Any] = dict(optimizer="bayesian_optimization", seed=0, progress=False)
    v1 = tw.run(evaluate, V1, root=v1_root, budget=args.v1_trials, **options)
    print(f"v1: {len(v1.trial_list)} trials, best error {min(best_so_far(v1)):.4f}")
    with_transfer = tw.run(
        evaluate,
        V2,
        root=v2_root,
        budget=args.v2_trials,
        transfer_from=v1_root,
        transfer=args.transfer,
        **{**options, "progress": None},  # prints what carried over
    )
    scratch = tw.run(evaluate, V2, root=scratch_root, budget=args.v2_trials, **options)
    print("\nbest validation error after each v2 evaluation")
    print(f"{'evaluations':>11}  {'transfer':>9}  {'scratch':>9}")
    traces = zip(best_so_far(with_transfer), best_so_far(scratch), strict=True)
    for n, (a, b) in enumerate(traces, start=1):
        print(f"{n:>11}  {a:>9.4f}  {b:>9.4f}")


if __name__ == "__main__":
    main()
