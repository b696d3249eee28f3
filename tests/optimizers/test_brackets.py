"""Rung ladders of integer and float fidelities, and what one bracket costs."""

from __future__ import annotations

import pytest

import tunewise as tw
from tunewise.optimizers.brackets import Rungs


@pytest.mark.parametrize(
    ("fidelity", "eta", "ladder"),
    [
        (tw.Fidelity(1, 27), 3, (1, 3, 9, 27)),
        (tw.Fidelity(0.05, 1.0, log=True), 3, (1 / 9, 1 / 3, 1.0)),  # anchored at the top
        (tw.Fidelity(0.05, 1.0, log=True), 2, (1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0)),
        (tw.Fidelity(1 / 27, 1.0, log=True), 3, (1 / 27, 1 / 9, 1 / 3, 1.0)),
        (tw.Fidelity(0.1, 0.9), 3, (0.1, 0.3, 0.9)),
    ],
)
def test_a_float_fidelity_has_a_geometric_ladder_from_its_upper_bound(
    fidelity: tw.Fidelity, eta: int, ladder: tuple[float, ...]
) -> None:
    rungs = Rungs.of(fidelity, eta=eta)
    assert rungs.fidelities == pytest.approx(ladder, rel=1e-12)
    assert all(type(f) is type(fidelity.upper) for f in rungs.fidelities)
    if not fidelity.is_integer:  # integer rungs are truncated
        ratios = [b / a for a, b in zip(rungs.fidelities, rungs.fidelities[1:], strict=False)]
        assert ratios == pytest.approx([eta] * (len(ladder) - 1))


@pytest.mark.parametrize(
    ("lower", "upper"), [(0.1, 0.9), (0.1, 0.3), (0.11, 0.99), (0.05, 1.0), (1 / 27, 1.0)]
)
@pytest.mark.parametrize("eta", [2, 3, 4])
def test_float_rungs_never_leave_the_fidelity_bounds(lower: float, upper: float, eta: int) -> None:
    """``0.9 * 3**-2`` is 0.0999..., below the lower bound 0.1: a trial there would be refused
    by the store; the ladder keeps every rung within the bounds."""
    fidelity = tw.Fidelity(lower, upper, log=True)
    rungs = Rungs.of(fidelity, eta=eta)
    assert all(fidelity.contains(f) for f in rungs.fidelities), rungs.fidelities
    assert rungs.fidelities[-1] == upper


def test_bracket_cost_counts_promotions_as_the_budget_does() -> None:
    epochs = Rungs.of(tw.Fidelity(1, 27), eta=3)
    # 27 x 1 + 9 x (3 - 1) + 3 x (9 - 3) + 1 x (27 - 9) = 81 epochs = 3 full evaluations
    assert epochs.bracket_cost(3) == pytest.approx(3.0)
    assert epochs.bracket_cost(0) == pytest.approx(4.0)  # 4 configurations at 27 epochs
    retrained = Rungs.of(tw.Fidelity(1, 27, resumable=False), eta=3)
    assert not retrained.resumable
    # each promotion runs its rung in full: 27 x 1 + 9 x 3 + 3 x 9 + 1 x 27 = 108 = 4 evaluations
    assert retrained.bracket_cost(3) == pytest.approx(4.0)
    assert retrained.bracket_cost(0) == pytest.approx(4.0)
