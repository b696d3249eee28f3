"""PriorBand and the bracket optimizers on a space with an architecture, end to end."""

from __future__ import annotations

import numpy as np
import pytest

import tunewise as tw
from tests.optimizers.loop import run_sequentially
from tunewise import optimizers
from tunewise.storage import StudyMismatchError

OPS = ["none", "skip", "conv1x1", "conv3x3", "avgpool3x3"]
TARGET = ["conv3x3", "conv3x3", "skip", "conv3x3", "conv1x1", "conv3x3"]


def cell(priors: dict | None = None, ops: list[str] = OPS) -> tw.Grammar:
    return tw.Grammar(
        {"C": ["Cell E E E E E E"], "E": ops},
        "C",
        topologies={"Cell": 6},
        primitives=ops,
        priors=priors,
    )


def prior_on(op: str) -> dict:
    return {"E": {o: 0.6 if o == op else 0.1 for o in OPS}}


def space(priors: dict | None = None) -> tw.Space:
    return tw.Space(
        cell=tw.Architecture(cell(priors)),
        lr=tw.Float(1e-3, 1.0, log=True, prior=0.1),
        epochs=tw.Fidelity(1, 27),
    )


def loss(config: dict, fidelity: float) -> float:
    ops = config["cell"][len("Cell(") : -1].split(", ")
    wrong = sum(a != b for a, b in zip(ops, TARGET, strict=True))
    return wrong + np.log10(config["lr"] / 0.1) ** 2 + 2.0 / fidelity


def objective(config: dict, trial: tw.TrialContext) -> float:
    return loss(config, trial.fidelity)


def test_priorband_starts_from_the_prior_mode_and_samples_prior_incumbent_and_uniform(
    tmp_path,
) -> None:
    result = tw.run(
        objective,
        space(prior_on("conv3x3")),
        root=tmp_path / "pb",
        optimizer="priorband",
        budget=tw.Budget(fidelity_units=30),
        seed=0,
        progress=False,
    )
    trials = result.trial_list
    assert trials[0].info["sampled_from"] == "prior_config"
    assert trials[0].config["cell"] == "Cell(" + ", ".join(["conv3x3"] * 6) + ")"
    sources = {t.info["sampled_from"] for t in trials}
    assert {"prior", "random", "incumbent", "promotion"} <= sources, sources
    by_number = {t.number: t for t in trials}
    for t in trials:
        space(prior_on("conv3x3")).validate_config(dict(t.config))
        if t.info["sampled_from"] == "promotion":
            assert t.config == by_number[t.previous_trial].config
    best = result.best
    assert best is not None and best.objective < 2.0


@pytest.mark.parametrize("name", ["hyperband", "asha", "successive_halving", "async_hyperband"])
def test_bracket_optimizers_search_architectures(name: str) -> None:
    trials = run_sequentially(optimizers.make(name), space=space(), loss=loss, n=60)
    assert len({t.config["cell"] for t in trials}) > 20
    assert any(t.previous_trial is not None for t in trials)


def test_good_production_priors_help_priorband_and_bad_ones_are_recovered_from() -> None:
    """Over 8 seeds at 150 trials: the prior on conv3x3 (the target's commonest op) ahead of
    Hyperband, the prior on avgpool3x3 (absent from the target) not far behind it."""

    def best(name: str, priors: dict | None) -> float:
        values = []
        for seed in range(8):
            trials = run_sequentially(
                optimizers.make(name), space=space(priors), loss=loss, n=150, seed=seed
            )
            values.append(min(t.objective for t in trials if t.fidelity == 27))
        return float(np.mean(values))

    hyperband = best("hyperband", None)
    good = best("priorband", prior_on("conv3x3"))
    bad = best("priorband", prior_on("avgpool3x3"))
    assert good < hyperband, (good, hyperband)
    assert bad < hyperband + 1.0, (bad, hyperband)


def test_resuming_with_a_changed_grammar_is_refused_and_the_trials_kept(tmp_path) -> None:
    root = tmp_path / "study"
    first = tw.run(
        objective,
        space(),
        root=root,
        optimizer="hyperband",
        budget=tw.Budget(evaluations=6),
        progress=False,
    )
    changed = tw.Space(
        cell=tw.Architecture(cell(ops=[*OPS[:4], "conv5x5"])),
        lr=tw.Float(1e-3, 1.0, log=True, prior=0.1),
        epochs=tw.Fidelity(1, 27),
    )
    with pytest.raises(StudyMismatchError) as error:
        tw.run(
            objective,
            changed,
            root=root,
            optimizer="hyperband",
            budget=tw.Budget(evaluations=10),
            progress=False,
        )
    message = str(error.value)
    assert "parameter 'cell': grammar productions of 'E' removed: 'avgpool3x3'" in message
    assert "added: 'conv5x5'" in message
    again = tw.load(root)
    assert [t.config for t in again.trial_list] == [t.config for t in first.trial_list]
