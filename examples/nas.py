"""Neural architecture search: a hierarchical CNN space with production priors, tuned by PriorBand.

Run it with ``python examples/nas.py`` (about a minute on 2 cores); results go to
``runs/nas-priorband`` and ``tunewise status runs/nas-priorband`` shows them. ``--optimizer
priorband-bo`` lets a graph-kernel GP propose PriorBand's new configurations, ``--optimizer pibo``
runs piBO at the full 9 epochs (both: docs/architecture-bo.md).

The space is a context-free grammar (Schrodi et al., NeurIPS 2023): a network is a few *stages*
with a down-sampling block between them, a stage is a small graph (a chain, a residual or a
diamond) of *blocks*, and a block is an operation or, one level down, again a small graph of
operations. Next to the architecture the space holds two hyperparameters, the learning rate and the
width. A config holds the architecture as a plain string such as ``"Linear3(Residual2(conv3x3, id,
conv3x3), down, Linear2(conv1x1, conv3x3))"``; the objective builds it into a PyTorch network with
``tw.nas.build`` and trains it on scikit-learn's 8x8 digits, continuing from the checkpoint of the
rung below when PriorBand promotes a configuration.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import tunewise as tw
from tunewise.demo.mlp import load_digits_split  # the digits, standardized, a fixed 75/25 split

OPERATIONS = ["conv3x3", "conv1x1", "id", "zero", "avgpool3x3"]

# Each right-hand side is a topology (how many edges it has is its arity) followed by the
# nonterminals that fill its edges, or a primitive operation alone.
GRAMMAR = {
    "productions": {
        "NET": ["Linear3 STAGE DOWN STAGE", "Linear2 STAGE DOWN", "Linear2 DOWN STAGE"],
        "STAGE": [
            "Residual2 BLOCK BLOCK BLOCK",
            "Diamond2 BLOCK BLOCK BLOCK BLOCK",
            "Linear2 BLOCK BLOCK",
        ],
        "BLOCK": ["Residual2 BLOCK BLOCK BLOCK", "Linear2 BLOCK BLOCK", *OPERATIONS],
        "DOWN": ["down"],  # a stride-2 ResNet block: 8x8 -> 4x4, twice the channels
    },
    "start": "NET",
    "topologies": {"Linear2": 2, "Linear3": 3, "Residual2": 3, "Diamond2": 4},
    "primitives": [*OPERATIONS, "down"],
    "depth": {"BLOCK": 2},  # a block may contain blocks, but only one level deep
    # What we believe before searching: two stages are better than one, residual stages train
    # best, and a block should mostly be a 3x3 convolution (a zero edge, an identity or pooling
    # learn nothing). A nonterminal without priors (DOWN) is uniform over its productions.
    "priors": {
        "NET": {
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
}

SPACE = tw.Space(
    architecture=tw.Architecture(GRAMMAR),
    lr=tw.Float(1e-4, 1e-1, log=True, prior=3e-3),
    channels=tw.Integer(4, 16, log=True, prior=12),
    epochs=tw.Fidelity(1, 9),
)


def evaluate(config: dict, trial: tw.TrialContext) -> dict:
    """Build ``config["architecture"]``, train it to ``trial.fidelity`` epochs; validation error."""
    torch.set_num_threads(1)
    torch.manual_seed(trial.number)
    body = tw.nas.build(config["architecture"], channels=config["channels"])
    model = tw.nas.classifier(body, in_channels=1, num_classes=10)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config["lr"], weight_decay=1e-4)
    done = 0
    if trial.previous_directory and (trial.previous_directory / "model.pt").exists():
        state = torch.load(trial.previous_directory / "model.pt", weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        done = state["epochs"]

    x_train, y_train, x_val, y_val = load_digits_split()
    x_train, x_val = x_train.view(-1, 1, 8, 8), x_val.view(-1, 1, 8, 8)
    loss = nn.CrossEntropyLoss()
    error = 1.0
    for epoch in range(done + 1, trial.fidelity + 1):
        model.train()
        for batch in torch.randperm(len(x_train)).split(64):
            optimizer.zero_grad()
            loss(model(x_train[batch]), y_train[batch]).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            error = (model(x_val).argmax(dim=1) != y_val).float().mean().item()
        trial.report(epoch, error)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epochs": trial.fidelity,
    }
    torch.save(state, trial.directory / "model.pt")
    return {"objective": error, "info": {"parameters": sum(p.numel() for p in model.parameters())}}


OPTIMIZERS = {
    "priorband": "priorband",
    # PriorBand's new configurations from the joint GP: WL graph kernel x the hyperparameters'
    # kernel, with the epochs as one more input (docs/architecture-bo.md)
    "priorband-bo": {"name": "priorband", "model_based": True},
    # piBO at the full 9 epochs: the production priors and the lr/channels priors weight log-EI
    "pibo": "pibo",
}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="NAS on the digits with a hierarchical grammar")
    parser.add_argument("budget", nargs="?", type=float, default=20.0, help="9-epoch trainings")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="priorband")
    args = parser.parse_args()
    result = tw.run(
        evaluate,
        SPACE,
        root=f"runs/nas-{args.optimizer}",
        optimizer=OPTIMIZERS[args.optimizer],
        budget=tw.Budget(fidelity_units=args.budget),
        workers=2,
        seed=0,
        progress=False,
    )
    best = result.best
    print(f"{len(result.trial_list)} trials; best validation error {best.objective:.3f}", end="")
    print(f" at {best.fidelity} epochs, {best.info['parameters']} parameters")
    print(f"best architecture: {best.config['architecture']}")
    print(f"  lr {best.config['lr']:.2g}, channels {best.config['channels']}")
