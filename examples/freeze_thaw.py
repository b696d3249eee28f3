"""Freeze-thaw: train many MLPs one epoch at a time, pause the unpromising, thaw the best.

Run it with ``python examples/freeze_thaw.py [FULL_EVALUATIONS]`` (default 4: four 27-epoch
trainings' worth of epochs, about a minute on one CPU); results go to ``runs/freeze-thaw`` and
``tunewise status runs/freeze-thaw`` shows them. The objective is the demo's MLP on digits
(:func:`tunewise.demo.mlp.evaluate`): it reports every epoch's validation error with
``trial.report`` and resumes from the checkpoint in ``trial.previous_directory``, so each
one-epoch step trains one more epoch of the same network. ``freeze_thaw`` fits one GP to all
those curve points and at each step either continues one paused network by an epoch or starts a
new one; the script then prints how often it did which, and the whole learning curve of the best
network read back across the chain of one-epoch trials (``result.curve``).
"""

from __future__ import annotations

import sys

import tunewise as tw
from tunewise.demo.mlp import demo_space, evaluate

if __name__ == "__main__":
    full_evaluations = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    result = tw.run(
        evaluate,
        demo_space(),
        root="runs/freeze-thaw",
        optimizer="freeze_thaw",
        budget=tw.Budget(fidelity_units=full_evaluations),
        seed=0,
        progress=False,
    )
    trials = result.trial_list
    started = [t for t in trials if t.previous_trial is None]
    continued = [t for t in trials if t.previous_trial is not None]
    thawed = [t for t in continued if t.number - t.previous_trial > 1]  # type: ignore[operator]
    print(
        f"{len(trials)} one-epoch steps: {len(started)} networks started, {len(continued)} "
        f"continuations ({len(thawed)} of them thawed a paused network)"
    )
    best = result.best
    assert best is not None
    print(
        f"best validation accuracy {1 - best.objective:.4f} after {best.fidelity} epochs "
        f"(trial {best.number}); its whole curve, one row per epoch:"
    )
    print(result.curve(best.number).to_string(index=False))
    print("see all trials with: tunewise status runs/freeze-thaw")
