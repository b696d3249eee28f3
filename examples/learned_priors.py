"""Priors learned from an old study: tune on dataset A, then start PriorBand on dataset B from it.

Run it with ``python examples/learned_priors.py`` (a few seconds). The "training" is a small
closed-form stand-in for an MLP (validation error over learning rate, weight decay, width and
optimizer, falling with the epochs), so the example needs no data: on dataset B the best
learning rate, weight decay and width sit near, not at, those of dataset A.

1. The old study: Hyperband (what ``auto`` picks without priors) on dataset A, into
   ``runs/learned_priors/old``.
2. ``tw.priors_from("runs/learned_priors/old", space_b)`` learns priors for the new space, which
   also gained ``dropout`` (no prior: no old study searched it). The report of
   ``tunewise.transfer.learn_priors`` says what each prior is, its confidence and why.
3. PriorBand on dataset B with the learned priors and without priors, the same seed and budget;
   printed: both incumbents and their validation errors.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from typing import Any

import tunewise as tw
from tunewise.transfer import learn_priors, load_sources

OPTIMA = {
    "A": {"lr": 3e-2, "weight_decay": 1e-5, "width": 600},
    "B": {"lr": 2e-2, "weight_decay": 2e-5, "width": 450},
}
SPACE_A = tw.Space(
    lr=tw.Float(1e-5, 1e-1, log=True),
    weight_decay=tw.Float(1e-6, 1e-1, log=True),
    width=tw.Integer(16, 1024, log=True),
    optimizer=tw.Categorical(["adamw", "sgd", "rmsprop"]),
    epochs=tw.Fidelity(1, 27),
)
SPACE_B = tw.Space(  # the pipeline gained dropout since
    **{n: p for n, p in SPACE_A.parameters.items() if n != "epochs"},
    dropout=tw.Float(0.0, 0.5),
    epochs=tw.Fidelity(1, 27),
)


def error(config: dict[str, Any], epochs: float, dataset: str) -> float:
    """Validation error: a bowl in log-space around the dataset's optimum, plus under-training."""
    best = OPTIMA[dataset]
    distance = sum(
        (math.log10(config[name]) - math.log10(value)) ** 2 for name, value in best.items()
    )
    optimizer = {"adamw": 0.0, "rmsprop": 0.03, "sgd": 0.06}[config["optimizer"]]
    dropout = 0.2 * (config.get("dropout", 0.1) - 0.1) ** 2
    return 0.05 + 0.4 * (1 - math.exp(-distance / 2)) + optimizer + dropout + 0.3 / epochs


def objective(dataset: str) -> Callable[[dict[str, Any], tw.TrialContext], dict[str, float]]:
    def evaluate(config: dict[str, Any], trial: tw.TrialContext) -> dict[str, float]:
        epochs = float(trial.fidelity or 27)
        return {"objective": error(config, epochs, dataset), "cost": epochs}

    return evaluate


def main(budget: float = 20.0) -> dict[str, float]:
    """Run the three studies; return each PriorBand incumbent's error at 27 epochs on B."""
    old = tw.run(
        objective("A"),
        SPACE_A,
        root="runs/learned_priors/old",
        budget=tw.Budget(fidelity_units=budget),
        seed=0,
        progress=False,
    )
    print(f"old study on dataset A: {len(old.trial_list)} trials, best {old.best_config}")
    learned = learn_priors(load_sources("runs/learned_priors/old"), SPACE_B)
    print("learned priors for dataset B:")
    for line in learned.describe():
        print(f"  {line}")
    space = tw.priors_from("runs/learned_priors/old", SPACE_B)  # the same space, in one call
    assert space == learned.space
    finals = {}
    for name, chosen in (("learned priors", space), ("no priors", SPACE_B)):
        result = tw.run(
            objective("B"),
            chosen,
            root=f"runs/learned_priors/{name.replace(' ', '_')}",
            optimizer="priorband",
            budget=tw.Budget(fidelity_units=budget),
            seed=0,
            progress=False,
        )
        best = result.best_config or {}
        finals[name] = error(best, 27, "B")
        shown = {
            k: round(v, 5) if isinstance(v, float) else v for k, v in best.items() if k != "epochs"
        }
        print(f"PriorBand on B with {name}: error {finals[name]:.4f} at {shown}")
    return finals


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
