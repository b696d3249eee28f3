"""A wrong prior, and PriorBand noticing it: the quickstart's digits classifier with a bad belief.

Run it with ``python examples/wrong_prior.py`` (about half a minute). The prior says "the smallest
learning rate, the strongest regularization, hinge loss", the worst corner of the space, with
high confidence. PriorBand runs twice on the same seed, once as published and once with
``prior_evidence=True``, which ranks the configurations drawn from the prior against the uniform
ones at each rung and gives a losing prior's share to uniform sampling. Both studies go to
``runs/wrong_prior/``; ``tunewise status runs/wrong_prior/evidence`` shows one. Printed: how many
configurations each drew from the prior, the prior weight the evidence reached (``info`` of the
trials), and the best validation accuracy.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from quickstart import evaluate  # the quickstart's objective

import tunewise as tw

WRONG = tw.Space(
    eta0=tw.Float(1e-4, 1.0, log=True, prior=1e-4, confidence="high"),
    alpha=tw.Float(1e-6, 1e-1, log=True, prior=1e-1, confidence="high"),
    loss=tw.Categorical(["hinge", "log_loss", "modified_huber"], prior="hinge", confidence="high"),
    power_t=tw.Float(0.1, 0.9, when={"loss": ["hinge", "modified_huber"]}),
    epochs=tw.Fidelity(1, 20),
)


def tune(name: str, budget: float, *, evidence: bool) -> tw.Result:
    return tw.run(
        evaluate,
        WRONG,
        root=f"runs/wrong_prior/{name}",
        optimizer={"name": "priorband", "prior_evidence": evidence},
        budget=tw.Budget(fidelity_units=budget),
        seed=0,
        progress=False,
    )


if __name__ == "__main__":
    budget = float(sys.argv[1]) if len(sys.argv) > 1 else 12.0
    for name, evidence in (("published", False), ("evidence", True)):
        result = tune(name, budget, evidence=evidence)
        trials = result.trial_list
        sources = Counter(t.info.get("sampled_from") for t in trials)
        weights = [t.info["prior_weight"] for t in trials if "prior_weight" in t.info]
        weight = f", last prior weight {weights[-1]:.2f}" if weights else ""
        best = result.best
        accuracy = best.info["val_accuracy"] if best is not None else float("nan")
        print(
            f"{name:>9}: {len(trials)} trials, {sources['prior']} drawn from the prior{weight}; "
            f"best validation accuracy {accuracy:.3f}"
        )
