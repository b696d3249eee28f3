"""The shared vocabulary: read-only trials and histories, and the incumbent rule."""

from __future__ import annotations

import pytest

from tunewise.space import Float, Space
from tunewise.trial import History, Trial, TrialSequence, TrialStatus, incumbent

OK, FAILED = TrialStatus.SUCCEEDED, TrialStatus.FAILED


def trial(number, objective, fidelity=None, status=OK):  # type: ignore[no-untyped-def]
    return Trial(
        number=number, config={"x": number}, status=status, fidelity=fidelity, objective=objective
    )


def test_incumbent_is_the_best_at_the_highest_fidelity_reached() -> None:
    trials = [trial(0, 0.1, 1), trial(1, 0.5, 9), trial(2, 0.4, 9), trial(3, 0.05, 3)]
    assert incumbent(trials).number == 2  # 0.1 and 0.05 were at lower fidelities
    assert incumbent([trial(0, 0.3), trial(1, 0.2), trial(2, 0.2)]).number == 1  # ties: first
    assert incumbent([trial(0, None, 9, FAILED), trial(1, float("nan"), 9)]) is None
    assert incumbent([]) is None


def test_trials_are_read_only() -> None:
    t = trial(0, 0.1)
    with pytest.raises(TypeError):
        t.config["x"] = 2  # type: ignore[index]


def test_trial_sequence_is_a_read_only_snapshot_of_a_shared_list() -> None:
    base = [trial(0, 0.1), trial(1, 0.2), trial(2, 0.3)]
    changed = {1: trial(1, 0.9)}
    snapshot = TrialSequence(base, 3, changed)
    base.append(trial(3, 0.4))  # the cache appends past the snapshot's length
    changed[2] = trial(2, 0.0)  # and changes entries in its own dict, not the snapshot's
    assert [t.objective for t in snapshot] == [0.1, 0.9, 0.3]
    assert len(snapshot) == 3 and snapshot[-1].objective == 0.3 and snapshot[1].objective == 0.9
    assert snapshot[1:] == (trial(1, 0.9), trial(2, 0.3))
    assert snapshot == (trial(0, 0.1), trial(1, 0.9), trial(2, 0.3))
    with pytest.raises(IndexError):
        snapshot[3]
    with pytest.raises(TypeError):
        snapshot[0] = trial(0, 0.5)  # type: ignore[index]
    history = History(space=Space(x=Float(0, 1)), seed=0, trials=snapshot)
    assert history.trials is snapshot and history.next_number == 3
    assert [t.number for t in history.succeeded] == [0, 1, 2]
    assert history == History(space=Space(x=Float(0, 1)), seed=0, trials=tuple(snapshot))


def test_fidelity_units_count_continuations_as_the_fidelity_says() -> None:
    from tunewise.space import Fidelity
    from tunewise.trial import fidelity_units

    epochs = Space(x=Float(0, 1), epochs=Fidelity(1, 27))
    assert fidelity_units(epochs, 9) == pytest.approx(1 / 3)
    assert fidelity_units(epochs, 27, 9) == pytest.approx(2 / 3)  # training resumes at 9
    subset = Space(x=Float(0, 1), fraction=Fidelity(0.05, 1.0, log=True, resumable=False))
    assert fidelity_units(subset, 1.0, 1 / 3) == 1.0  # retrained on all the data
    assert fidelity_units(subset, 1 / 3) == pytest.approx(1 / 3)
    assert fidelity_units(Space(x=Float(0, 1)), None) == 1.0


def test_used_fidelity_counts_the_steps_a_stopped_trial_ran() -> None:
    from tunewise.space import Fidelity
    from tunewise.trial import fidelity_units, used_fidelity

    epochs = Space(x=Float(0.0, 1.0), epochs=Fidelity(1, 27))
    stopped = Trial(
        number=0,
        config={"x": 0.5},
        status=TrialStatus.SUCCEEDED,
        fidelity=27,
        objective=0.3,
        info={"stopped_early": True, "stopped_at": 5.0},
    )
    assert used_fidelity(epochs, stopped) == 5.0
    assert fidelity_units(epochs, used_fidelity(epochs, stopped)) == pytest.approx(5 / 27)
    advised = Trial(number=1, config={"x": 0.5}, status=TrialStatus.SUCCEEDED, fidelity=27,
                    objective=0.3, info={"stop_advised_at": 5.0})  # fmt: skip
    assert used_fidelity(epochs, advised) == 27
    subset = Space(x=Float(0.0, 1.0), f=Fidelity(0.1, 1.0, resumable=False))
    on_subset = Trial(number=2, config={"x": 0.5}, status=TrialStatus.SUCCEEDED, fidelity=1.0,
                      objective=0.3, info={"stopped_early": True, "stopped_at": 5.0})  # fmt: skip
    assert used_fidelity(subset, on_subset) == 1.0  # steps are epochs, not fractions
