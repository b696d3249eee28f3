"""The shared vocabulary: read-only trials and histories, and the incumbent rule."""

from __future__ import annotations

import pytest

from tunewise.trial import Trial, TrialStatus, incumbent

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
