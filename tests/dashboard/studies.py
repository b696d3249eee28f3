"""Studies for the dashboard's tests, written through the store API as workers write them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import tunewise as tw
from tunewise.storage import Limits, StudyHandle
from tunewise.storage.locations import open_store
from tunewise.trial import Suggestion, Trial, TrialStatus

SPACE = tw.Space(
    x=tw.Float(0.0, 1.0),
    n=tw.Integer(1, 8),
    kind=tw.Categorical(["a", "b"]),
    epochs=tw.Fidelity(1, 9),
)
WORKER = "test-worker"


def create(
    *, storage: str, name: str, space: tw.Space = SPACE, evaluations: int | None = 100
) -> StudyHandle:
    """A new, empty study ``name`` in the store at ``storage``; the handle owns the store."""
    store = open_store(storage=storage)
    store.create_or_open_study(
        name,
        space=space,
        optimizer={"name": "hyperband", "eta": 3},
        seed=0,
        budget={"evaluations": evaluations, "cost": None, "fidelity_units": None},
        settings={},
    )
    return store.study(name)


def start(
    study: StudyHandle,
    config: Mapping[str, Any],
    *,
    fidelity: int | None = None,
    previous: int | None = None,
    info: Mapping[str, Any] | None = None,
) -> Trial:
    """Claim a running trial of ``config`` at ``fidelity`` (continuing trial ``previous``)."""
    study.refresh()
    slot = f"test:{study.totals().next_number}"
    claim = study.claim(
        Suggestion(
            config=config, slot=slot, fidelity=fidelity, previous_trial=previous, info=info or {}
        ),
        worker=WORKER,
        limits=Limits(),
    )
    assert claim.trial is not None, claim
    return claim.trial


def finish(
    study: StudyHandle,
    number: int,
    objective: float | None,
    *,
    curve: Sequence[tuple[float, float]] = (),
    error: str | None = None,
    cost: float = 1.5,
) -> Trial:
    status = TrialStatus.FAILED if error is not None else TrialStatus.SUCCEEDED
    return study.finish(
        number,
        worker=WORKER,
        status=status,
        objective=objective,
        cost=cost,
        learning_curve=curve,
        error=error,
    )


def rung_study(study: StudyHandle) -> None:
    """Six configs at fidelity 1 (one failed), the best two continued at 3, one of them at 9."""
    objectives = [0.9, 0.5, 0.7, 0.4, None, 0.8]
    numbers = []
    for i, objective in enumerate(objectives):
        config = {"x": 0.1 * (i + 1), "n": i + 1, "kind": "ab"[i % 2]}
        t = start(study, config, fidelity=1, info={"sampled_from": "random", "rung": 0})
        if objective is None:
            finish(
                study,
                t.number,
                None,
                error="Traceback (most recent call last):\n  boom\nValueError: x",
            )
        else:
            finish(study, t.number, objective, curve=[(1, objective)])
        numbers.append(t.number)
    for number, objective in ((3, 0.3), (1, 0.35)):
        parent = study.trial(number)
        assert parent is not None
        t = start(
            study,
            dict(parent.config),
            fidelity=3,
            previous=number,
            info={"sampled_from": "promotion", "rung": 1},
        )
        finish(
            study,
            t.number,
            objective,
            curve=[(1, objective + 0.2), (2, objective + 0.1), (3, objective)],
        )
    top = study.trial(6)
    assert top is not None
    t = start(
        study,
        dict(top.config),
        fidelity=9,
        previous=6,
        info={"sampled_from": "promotion", "rung": 2},
    )
    finish(study, t.number, 0.2, curve=[(s, 0.2 + 0.01 * (9 - s)) for s in range(4, 10)])
