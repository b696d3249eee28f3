"""Quickstart: tune a linear classifier on scikit-learn's digits, with priors and a fidelity.

Run it with ``python examples/quickstart.py`` (about 10 seconds); results go to ``runs/quickstart``
and ``tunewise status runs/quickstart`` shows them. The objective shows the three things an
``evaluate`` function does: read ``config``, train up to ``trial.fidelity`` epochs (continuing from
``trial.previous_directory`` when there is one), and return the validation error.
"""

from __future__ import annotations

import pickle
import sys

import numpy as np
from sklearn.datasets import load_digits
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import train_test_split

import tunewise as tw

SPACE = tw.Space(
    eta0=tw.Float(1e-4, 1.0, log=True, prior=1e-2, confidence="medium"),
    alpha=tw.Float(1e-6, 1e-1, log=True, prior=1e-4),
    loss=tw.Categorical(["hinge", "log_loss", "modified_huber"], prior="log_loss"),
    power_t=tw.Float(0.1, 0.9, when={"loss": ["hinge", "modified_huber"]}),
    epochs=tw.Fidelity(1, 20),
)


def evaluate(config: dict, trial: tw.TrialContext) -> dict:
    """Train ``config`` for ``trial.fidelity`` epochs; return the validation error."""
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)
    model, done = None, 0
    if trial.previous_directory and (trial.previous_directory / "model.pkl").exists():
        model, done = pickle.loads((trial.previous_directory / "model.pkl").read_bytes())
    if model is None:
        model = SGDClassifier(
            loss=config["loss"],
            alpha=config["alpha"],
            eta0=config["eta0"],
            power_t=config.get("power_t", 0.5),
            learning_rate="invscaling",
            random_state=trial.number,
        )
    rng = np.random.default_rng(trial.number)
    for epoch in range(done + 1, trial.fidelity + 1):
        order = rng.permutation(len(x_train))
        model.partial_fit(x_train[order], y_train[order], classes=np.arange(10))
        trial.report(epoch, 1.0 - model.score(x_val, y_val))
    (trial.directory / "model.pkl").write_bytes(pickle.dumps((model, trial.fidelity)))
    error = 1.0 - model.score(x_val, y_val)
    return {"objective": error, "info": {"val_accuracy": 1.0 - error}}


if __name__ == "__main__":
    evaluations = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    result = tw.run(
        evaluate,
        SPACE,
        root="runs/quickstart",
        optimizer={"name": "random_search", "use_priors": True},
        budget=tw.Budget(evaluations=evaluations),
        workers=2,
        seed=0,
    )
    best = result.best
    print(f"best validation accuracy {best.info['val_accuracy']:.3f} with {dict(best.config)}")
