"""The fraction of training data as the fidelity: an RBF support vector machine on the digits.

Run it with ``python examples/data_subset.py`` (about half a minute). A cheap evaluation trains on
a small stratified part of the training split (as Fabolas does, Klein et al. 2017); PriorBand
(or ``--optimizer hyperband``) promotes the promising configurations to larger fractions, up to
all the data. An SVM cannot resume from a smaller subset, so every evaluation retrains from
scratch, and the fidelity says so: ``resumable=False`` makes the budget count each promotion's
whole fraction (a promotion from 1/3 to all the data costs a full evaluation, not 2/3 of one).

With ``eta = 3`` the rungs are anchored at the top, 1/9, 1/3 and 1 of the data (1/27 would be
below the lower bound 0.05). Results go to ``runs/data-subset-<optimizer>``; ``tunewise status``
shows them. Printed: how many evaluations ran on each fraction, the budget spent in full-data
evaluations, and the best configuration.
"""

from __future__ import annotations

import argparse
from collections import Counter
from functools import cache

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.svm import SVC

import tunewise as tw

SPACE = tw.Space(
    C=tw.Float(1e-2, 1e4, log=True, prior=10.0),
    gamma=tw.Float(1e-5, 10.0, log=True, prior=1e-2),
    fraction=tw.Fidelity(0.05, 1.0, log=True, resumable=False),
)


@cache
def data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """The digits split 75/25 (pixels scaled to [0, 1]) and each class's training rows in one
    fixed random order, so that a larger fraction trains on a superset of a smaller one."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x / 16.0, y, test_size=0.25, stratify=y, random_state=0
    )
    rng = np.random.default_rng(0)
    orders = [rng.permutation(np.flatnonzero(y_train == label)) for label in range(10)]
    return x_train, y_train, x_val, y_val, orders


def evaluate(config: dict, trial: tw.TrialContext) -> dict:
    """Fit the SVM on ``trial.fidelity`` of the training data (stratified); validation error."""
    x_train, y_train, x_val, y_val, orders = data()
    rows = np.concatenate([order[: max(1, round(trial.fidelity * len(order)))] for order in orders])
    model = SVC(C=config["C"], gamma=config["gamma"]).fit(x_train[rows], y_train[rows])
    error = 1.0 - model.score(x_val, y_val)
    return {"objective": error, "info": {"train_images": len(rows)}}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="an SVM tuned over fractions of its data")
    parser.add_argument("budget", nargs="?", type=float, default=15.0, help="full-data fits")
    parser.add_argument("--optimizer", choices=["priorband", "hyperband"], default="priorband")
    args = parser.parse_args()
    result = tw.run(
        evaluate,
        SPACE,
        root=f"runs/data-subset-{args.optimizer}",
        optimizer=args.optimizer,
        budget=tw.Budget(fidelity_units=args.budget),
        workers=2,
        seed=0,
        progress=False,
    )
    trials = result.trial_list
    per_fraction = Counter(round(t.fidelity, 3) for t in trials)
    print("evaluations per fraction:", dict(sorted(per_fraction.items())))
    print(f"budget spent: {result.totals.fidelity_spent:.2f} full-data fits")
    best = result.best
    print(
        f"best validation error {best.objective:.4f} with C={best.config['C']:.3g}, "
        f"gamma={best.config['gamma']:.3g} on {best.info['train_images']} images"
    )
