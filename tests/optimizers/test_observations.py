"""History -> observations: the arrays model-based optimizers hand to their models."""

from __future__ import annotations

import numpy as np

import tunewise as tw
from tunewise.optimizers.observations import observations
from tunewise.trial import History, Trial, TrialStatus

SPACE = tw.Space(
    x=tw.Float(0.0, 1.0),
    kind=tw.Categorical(["a", "b"]),
    m=tw.Float(0.0, 1.0, when={"kind": "b"}),
    e=tw.Fidelity(1, 9),
)
OK, FAILED, RUNNING = TrialStatus.SUCCEEDED, TrialStatus.FAILED, TrialStatus.RUNNING


def test_finished_trials_by_number_pending_ones_apart() -> None:
    trials = (
        Trial(2, {"x": 0.5, "kind": "b", "m": 0.25}, OK, fidelity=9, objective=2.0),
        Trial(0, {"x": 0.25, "kind": "a"}, OK, fidelity=3, objective=float("nan")),
        Trial(1, {"x": 0.75, "kind": "a"}, FAILED, fidelity=9, error="boom"),
        Trial(3, {"x": 0.1, "kind": "a"}, RUNNING, fidelity=1),
        Trial(4, {"x": 0.2, "kind": "b", "m": 0.5}, TrialStatus.CRASHED, fidelity=1),
    )
    obs = observations(History(space=SPACE, seed=0, trials=trials))
    assert len(obs) == 3 and obs.numbers.tolist() == [0, 1, 2]
    assert obs.fidelity.tolist() == [3.0, 9.0, 9.0]
    assert np.isnan(obs.y[:2]).all() and obs.y[2] == 2.0  # NaN objective and failure alike
    assert obs.u[:, 0].tolist() == [0.25, 0.75, 0.5]
    assert np.isnan(obs.u[0, 2]) and obs.u[2, 2] == 0.25  # inactive m is NaN
    assert obs.pending_u[0, :2].tolist() == [0.1, 0.25] and np.isnan(obs.pending_u[0, 2])
    assert obs.pending_fidelity.tolist() == [1.0]  # crashed trials are neither


def test_selections() -> None:
    trials = tuple(
        Trial(i, {"x": i / 10, "kind": "a"}, OK if i % 3 else FAILED, fidelity=f, objective=i)
        for i, f in enumerate([1, 3, 9, 9, 3, 1, 9])
    )
    obs = observations(History(space=SPACE, seed=0, trials=trials))
    assert obs.at_fidelity(9).numbers.tolist() == [2, 3, 6]
    assert obs.at_fidelity(None).numbers.tolist() == list(range(7))
    assert obs.succeeded().numbers.tolist() == [1, 2, 4, 5]
    assert obs.succeeded().y.tolist() == [1.0, 2.0, 4.0, 5.0]


def test_an_empty_history_gives_empty_arrays_of_the_right_width() -> None:
    obs = observations(History(space=SPACE, seed=0))
    assert obs.u.shape == (0, 3) and obs.pending_u.shape == (0, 3) and len(obs) == 0
