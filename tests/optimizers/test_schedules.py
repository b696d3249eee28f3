"""The bracket schedules by name: one registry for the bracket optimizers, PriorBand and BOHB."""

from __future__ import annotations

import pytest

import tunewise as tw
from tunewise import optimizers
from tunewise.optimizers import schedules
from tunewise.optimizers.brackets import Rungs

RUNGS = Rungs.of(tw.Fidelity(1, 27), eta=3)


def _shape(schedule: schedules.Schedule) -> tuple[object, ...]:
    if isinstance(schedule, schedules.SynchronousSchedule):
        return ("sync", schedule.cycle)
    return ("async", schedule.hyperband)


def test_each_base_names_the_schedule_of_the_optimizer_of_that_name() -> None:
    expected = {
        "hyperband": ("sync", (3, 2, 1, 0)),
        "successive_halving": ("sync", (3,)),
        "asha": ("async", False),
        "async_hyperband": ("async", True),
    }
    assert tuple(expected) == schedules.BASES
    for base, shape in expected.items():
        assert _shape(schedules.make(base, RUNGS, tag="t")) == shape
        assert _shape(optimizers.make(base).schedule(RUNGS)) == shape
        assert _shape(optimizers.PriorBand(base=base).schedule(RUNGS)) == shape
    assert _shape(optimizers.BOHB().schedule(RUNGS)) == expected["hyperband"]


def test_the_hyperband_cycle_respects_the_early_stopping_rate() -> None:
    rungs = Rungs.of(tw.Fidelity(1, 27), eta=3, esr=1)
    assert schedules.hyperband_cycle(rungs) == (2, 1, 0)
    assert optimizers.Hyperband(early_stopping_rate=1).schedule(rungs).cycle == (2, 1, 0)


def test_an_unknown_base_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="base must be one of"):
        schedules.make("bohb", RUNGS, tag="t")
    with pytest.raises(ValueError, match="priorband: base must be one of"):
        optimizers.PriorBand(base="bohb")


def test_the_plain_bracket_optimizers_keep_their_parameters() -> None:
    for name in schedules.BASES:
        optimizer = optimizers.make({"name": name, "eta": 2, "early_stopping_rate": 1})
        params = {
            "eta": 2,
            "early_stopping_rate": 1,
            "prior_first": False,
            "prior_first_fidelity": "min",
        }
        assert optimizer.get_params() == params
        assert optimizer.spec() == {"name": name, **params}
