"""Ask-and-tell: tune an MLP on scikit-learn's digits from a training loop you write yourself.

Run it with ``python examples/ask_tell.py`` (about 15 seconds); results go to
``runs/ask_tell`` and ``tunewise status runs/ask_tell`` shows them. Instead of handing tunewise an
``evaluate`` function, the loop below asks for a trial, trains it its own way and tells the
result:

- ``study.enqueue(...)`` has the configuration you use today evaluated first, as a baseline;
- ``trial.config`` holds the hyperparameters and ``trial.fidelity`` the epochs to train to;
  ``trial.previous_directory`` is the checkpoint folder of the lower-fidelity trial a promoted one
  continues, and ``trial.directory`` its own;
- ``trial.report(epoch, error)`` records the learning curve as it is trained;
- ``study.tell(trial, error)`` records the result, ``study.fail(trial, reason)`` a failure.

``tw.run`` or ``tunewise worker runs/ask_tell --evaluate MODULE:FUNCTION`` can keep working on the
same study, and running this script again continues it up to a larger budget.
"""

from __future__ import annotations

import math
import pickle
import sys
import warnings

import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier

import tunewise as tw

SPACE = tw.Space(
    learning_rate=tw.Float(1e-4, 1.0, log=True, prior=1e-3, confidence="medium"),
    alpha=tw.Float(1e-6, 1e-1, log=True),
    width=tw.Integer(8, 256, log=True, prior=64),
    epochs=tw.Fidelity(1, 27),
)


def main(units: float) -> None:
    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(x / 16.0, y, test_size=0.25, random_state=0)
    budget = tw.Budget(fidelity_units=units)  # as many epochs as `units` full trainings
    with tw.Study(root="runs/ask_tell", space=SPACE, seed=0, budget=budget) as study:
        if not study.trials():  # a new study: the baseline goes first
            study.enqueue({"learning_rate": 1e-3, "alpha": 1e-4, "width": 64})
        while (trial := study.ask()) is not None:
            config, done = trial.config, 0
            model = MLPClassifier(
                hidden_layer_sizes=(config["width"],),
                learning_rate_init=config["learning_rate"],
                alpha=config["alpha"],
                random_state=trial.number,
            )
            if trial.previous_directory is not None:  # a promotion: train on from there
                model, done = pickle.loads((trial.previous_directory / "model.pkl").read_bytes())
            rng = np.random.default_rng(trial.number)
            for epoch in range(done + 1, trial.fidelity + 1):
                order = rng.permutation(len(x_train))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    model.partial_fit(x_train[order], y_train[order], classes=np.arange(10))
                error = 1.0 - model.score(x_val, y_val)
                trial.report(epoch, error)
            if not math.isfinite(model.loss_):
                study.fail(trial, f"the training loss diverged ({model.loss_})")
                continue
            (trial.directory / "model.pkl").write_bytes(pickle.dumps((model, trial.fidelity)))
            study.tell(trial, {"objective": error, "info": {"val_accuracy": 1.0 - error}})
        result = study.result()
    best = result.best
    print(f"{result.counts['succeeded']} trials; best validation accuracy {1 - best.objective:.3f}")
    print(f"best config: {result.best_config}")
    print(f"optimizer: {result.record.optimizer['name']}; see: tunewise status {result.root}")


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0)
