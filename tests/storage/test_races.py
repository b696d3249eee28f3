"""Races the short claim and finish transactions must win: a slot taken, or a trial crashed,
between a worker's unlocked read and its write. Each race is staged by running the other
worker's write at the exact point in between."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tests.storage.conftest import OpenStore
from tests.storage.test_conformance import NO_LIMITS, make_study, suggestion
from tunewise.storage import ClaimOutcome, Limits, Store, claims
from tunewise.trial import TrialStatus


def test_a_slot_taken_after_the_read_goes_to_the_next_free_one(
    open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = make_study(open_store)
    rival = make_study(open_store, study.name)
    real_taken = claims._taken
    raced = []

    def read_then_lose(*args: Any) -> Any:
        taken = real_taken(*args)
        monkeypatch.setattr(claims, "_taken", real_taken)
        # the first read saw "a" free; now another worker takes it
        raced.append(rival.claim(suggestion("a", lr=0.05), worker="rival", limits=NO_LIMITS))
        return taken

    monkeypatch.setattr(claims, "_taken", read_then_lose)
    claim = study.claim([suggestion("a"), suggestion("b")], worker="w", limits=NO_LIMITS)
    assert raced[0].outcome is ClaimOutcome.CLAIMED and raced[0].trial.number == 0
    assert (claim.outcome, claim.index, claim.trial.number) == (ClaimOutcome.CLAIMED, 1, 1)
    totals = study.totals()
    assert (totals.seq, totals.next_number, totals.n_live) == (2, 2, 2)  # the lost try left none
    study.refresh()
    assert [(t.slot, t.worker) for t in study.trials()] == [("a", "rival"), ("b", "w")]


def test_a_budget_reached_after_the_read_refuses_the_claim(
    open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    study = make_study(open_store)
    rival = make_study(open_store, study.name)
    real_taken = claims._taken
    limits = Limits(max_trials=1)

    def read_then_lose(*args: Any) -> Any:
        taken = real_taken(*args)
        monkeypatch.setattr(claims, "_taken", real_taken)
        assert rival.claim(suggestion("b"), worker="rival", limits=limits).trial is not None
        return taken

    monkeypatch.setattr(claims, "_taken", read_then_lose)
    assert study.claim(suggestion("a"), worker="w", limits=limits).outcome is ClaimOutcome.BUDGET
    assert (study.totals().n_live, study.totals().seq) == (1, 1)


def test_a_trial_crashed_after_the_finish_read_it_is_finished_once_and_counted_right(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """PostgreSQL only: there the finish reads the trial before it locks anything (SQLite's
    write lock, taken at BEGIN, keeps the recovery out until the finish commits)."""
    stores = [Store.at(storage=postgres_url) for _ in range(2)]
    try:
        study = make_study(lambda: stores[0])
        supervisor = make_study(lambda: stores[1], study.name)
        study.claim(suggestion("a"), worker="w", limits=NO_LIMITS)
        real = claims.finite_or_zero
        crashed: list[list[int]] = []

        def crash_then_count(value: float | None) -> float:
            if not crashed:  # between the finish's read and its write, the worker is declared dead
                crashed.append(supervisor.recover_worker("w", max_retries=1, reason="lost"))
            return real(value)

        monkeypatch.setattr(claims, "finite_or_zero", crash_then_count)
        with caplog.at_level(logging.WARNING, logger="tunewise"):
            done = study.finish(
                0, worker="w", status=TrialStatus.SUCCEEDED, objective=1.0, cost=2.0
            )
        assert crashed == [[0]]
        assert done.status is TrialStatus.SUCCEEDED and "after being marked crashed" in caplog.text
        study.refresh()
        finished, retry = study.trials()
        assert finished == done and retry.status is TrialStatus.PENDING
        totals = study.totals()
        # the result is kept (live again), and the retry stays queued: both count
        assert (totals.n_live, totals.n_finished, totals.cost_spent) == (2, 1, 2.0)
        assert totals.seq == 3  # the claim, the crash (its row and its retry share one), the finish
    finally:
        for store in stores:
            store.close()
