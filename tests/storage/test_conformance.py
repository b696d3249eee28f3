"""The store's contract (:mod:`tunewise.storage.base`), checked on every backend.

The tests speak to the interface only — :class:`TrialStore` and :class:`StudyHandle` — through
``open_store``, which opens a store of the backend under test (SQLite, and a real PostgreSQL
server). A new backend joins by adding itself to that fixture. The few checks that must reach
under the interface (a trial without any heartbeat, a held study lock) say so and use the SQL
store's engine.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, update

import tunewise as tw
from tests.conftest import unique_name
from tests.storage.conftest import OpenStore
from tunewise.storage import (
    ClaimOutcome,
    Limits,
    SchemaVersionError,
    StorageError,
    Store,
    StudyHandle,
    StudyMismatchError,
    StudyNotFoundError,
    schema,
)
from tunewise.storage.cache import COMPACT_AFTER
from tunewise.storage.engine import write_transaction
from tunewise.storage.statements import lock_study
from tunewise.trial import Suggestion, TrialStatus

SPACE = tw.Space(
    lr=tw.Float(1e-4, 1e-1, log=True, prior=1e-2),
    opt=tw.Categorical(["adam", "sgd"]),
    epochs=tw.Fidelity(1, 9),
)
NO_LIMITS = Limits()


def make_study(
    open_store: OpenStore, name: str | None = None, space: tw.Space = SPACE
) -> StudyHandle:
    store = open_store()
    name = name or unique_name()
    store.create_or_open_study(
        name,
        space=space,
        optimizer={"name": "random_search", "use_priors": False},
        seed=7,
        budget={},
        settings={},
    )
    return store.study(name)


def suggestion(slot: str, lr: float = 1e-3, fidelity: int = 9) -> Suggestion:
    return Suggestion(config={"lr": lr, "opt": "adam"}, slot=slot, fidelity=fidelity)


def sql_engine(study: StudyHandle) -> Engine:
    """The engine under a SQL store's study, for the checks that must reach under the interface."""
    assert isinstance(study.store, Store)
    return study.store.engine


@contextlib.contextmanager
def study_lock_held(study: StudyHandle) -> Iterator[None]:
    """Hold the SQL store's study lock (another worker in the middle of a claim)."""
    with write_transaction(sql_engine(study)) as conn:
        lock_study(conn, study.record.id)
        yield


class TestStoreConformance:
    """Every backend must pass these; the contract is in tunewise/storage/base.py."""

    def test_study_is_created_once_and_reopened_with_its_settings(
        self, open_store: OpenStore
    ) -> None:
        study = make_study(open_store)
        again = make_study(open_store, study.name)
        assert again.record.id == study.record.id
        assert again.record.seed == 7
        assert again.space == SPACE
        assert study.name in open_store().study_names()

    def test_changed_space_on_resume_is_refused_and_says_what_changed(
        self, open_store: OpenStore
    ) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a"), worker="w", limits=NO_LIMITS)
        changed = tw.Space(
            lr=tw.Float(1e-4, 1.0, log=True, prior=1e-2),
            opt=tw.Categorical(["adam", "sgd"]),
            epochs=tw.Fidelity(1, 9),
        )
        with pytest.raises(StudyMismatchError, match="parameter 'lr': upper changed"):
            make_study(open_store, study.name, space=changed)
        study.refresh()
        assert len(study.trials()) == 1  # nothing recorded was lost

    def test_changed_optimizer_on_resume_is_refused(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        with pytest.raises(StudyMismatchError, match="optimizer"):
            study.store.create_or_open_study(
                study.name,
                space=SPACE,
                optimizer={"name": "grid_search"},
                seed=7,
                budget={},
                settings={},
            )

    def test_unknown_study_names_the_known_ones(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        with pytest.raises(StudyNotFoundError, match=study.name):
            study.store.open_study("no-such-study")

    def test_claims_get_dense_numbers_and_a_taken_slot_conflicts(
        self, open_store: OpenStore
    ) -> None:
        study = make_study(open_store)
        first = study.claim(suggestion("s0"), worker="w1", limits=NO_LIMITS)
        second = study.claim(suggestion("s1"), worker="w2", limits=NO_LIMITS)
        again = study.claim(suggestion("s0", lr=0.05), worker="w2", limits=NO_LIMITS)
        assert first.outcome is second.outcome is ClaimOutcome.CLAIMED
        assert (first.trial.number, second.trial.number) == (0, 1)
        assert again.outcome is ClaimOutcome.CONFLICT
        assert first.trial.status is TrialStatus.RUNNING
        assert first.trial.fidelity == 9 and isinstance(first.trial.fidelity, int)

    def test_claim_respects_trial_and_cost_limits(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        limits = Limits(max_trials=2, max_cost=10.0)
        for slot in ("a", "b"):
            assert study.claim(suggestion(slot), worker="w", limits=limits).trial is not None
        assert study.claim(suggestion("c"), worker="w", limits=limits).outcome is (
            ClaimOutcome.BUDGET
        )
        study.finish(0, worker="w", status=TrialStatus.SUCCEEDED, objective=1.0, cost=10.0)
        totals = study.totals()
        assert (totals.n_live, totals.n_finished, totals.cost_spent) == (2, 1, 10.0)
        assert Limits(max_cost=10.0).exhausted_for_new(totals)

    def test_finished_trial_is_recorded_once_and_never_changes(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        trial = study.claim(suggestion("a"), worker="w", limits=NO_LIMITS).trial
        done = study.finish(
            trial.number,
            worker="w",
            status=TrialStatus.SUCCEEDED,
            objective=0.25,
            cost=3.0,
            learning_curve=[(1, 0.5), (2, 0.25)],
            info={"acc": 0.75},
        )
        with pytest.raises(StorageError, match="already succeeded"):
            study.finish(trial.number, worker="w", status=TrialStatus.FAILED, error="late")
        other = make_study(open_store, study.name)
        other.refresh()
        (stored,) = other.trials()
        assert stored == done
        assert stored.objective == 0.25 and stored.learning_curve == ((1, 0.5), (2, 0.25))
        assert stored.info["acc"] == 0.75

    def test_records_are_read_only_snapshots(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a"), worker="w", limits=NO_LIMITS)
        study.refresh()
        history = study.history()
        with pytest.raises(TypeError):
            history.trials[0].config["lr"] = 1.0  # type: ignore[index]
        with pytest.raises(AttributeError):
            history.trials[0].objective = 1.0  # type: ignore[misc]

    def test_refresh_reads_only_what_changed(self, open_store: OpenStore) -> None:
        writer = make_study(open_store)
        reader = make_study(open_store, writer.name)
        for slot in ("a", "b", "c"):
            writer.claim(suggestion(slot), worker="w", limits=NO_LIMITS)
        assert reader.refresh() == 3
        assert reader.refresh() == 0
        writer.finish(1, worker="w", status=TrialStatus.SUCCEEDED, objective=2.0)
        assert reader.refresh() == 1
        assert [t.status for t in reader.trials()] == [
            TrialStatus.RUNNING,
            TrialStatus.SUCCEEDED,
            TrialStatus.RUNNING,
        ]

    def test_stale_trial_is_crashed_and_requeued_with_its_slot(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a", lr=0.01), worker="dead", limits=NO_LIMITS)
        study.claim(suggestion("b"), worker="alive", limits=NO_LIMITS)
        time.sleep(0.3)
        assert study.heartbeat(1, worker="alive")
        assert study.recover_stale(stale_after=0.2, max_retries=1) == [0]
        study.refresh()
        crashed, alive, retry = study.trials()
        assert crashed.status is TrialStatus.CRASHED and crashed.slot is None
        assert "stopped sending heartbeats" in crashed.error
        assert alive.status is TrialStatus.RUNNING
        assert retry.status is TrialStatus.PENDING and retry.slot == "a"
        assert retry.retry_of == 0 and retry.config == crashed.config
        assert study.totals().n_live == 2  # the crash is counted once, through its retry
        # Nobody else can claim the retried slot, and the retry runs on the next claim.
        assert study.claim(suggestion("a"), worker="x", limits=NO_LIMITS).outcome is (
            ClaimOutcome.CONFLICT
        )
        claimed = study.claim_pending(worker="x", limits=NO_LIMITS)
        assert claimed.number == 2 and claimed.status is TrialStatus.RUNNING
        # After max_retries the trial is failed, not retried forever.
        time.sleep(0.3)
        study.heartbeat(1, worker="alive")
        assert study.recover_stale(stale_after=0.2, max_retries=1) == [2]
        study.refresh()
        final = study.trials()[2]
        assert final.status is TrialStatus.FAILED and "crashed 2 times" in final.error
        assert study.totals().n_finished == 1

    def test_running_heartbeats_are_read_by_number(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        other = make_study(open_store)
        other.claim(suggestion("a"), worker="w", limits=NO_LIMITS)  # another study's: not read
        assert study.running_heartbeats() == {}
        for slot in ("a", "b", "c", "d"):
            study.claim(suggestion(slot), worker="w", limits=NO_LIMITS)
        study.finish(1, worker="w", status=TrialStatus.SUCCEEDED, objective=1.0)
        study.release(3, worker="w", reason="test")
        study.refresh()
        before = study.running_heartbeats()
        assert set(before) == {0, 2}
        assert all(isinstance(beat, float) for beat in before.values())
        time.sleep(0.01)
        assert study.heartbeat(2, worker="w")
        after = study.running_heartbeats()
        assert after[0] == before[0] and after[2] > before[2]

    def test_silent_trials_are_crashed_only_if_their_heartbeat_did_not_move(
        self, open_store: OpenStore
    ) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a", lr=0.01), worker="dead", limits=NO_LIMITS)
        study.claim(suggestion("b"), worker="alive", limits=NO_LIMITS)
        study.claim(suggestion("c"), worker="never", limits=NO_LIMITS)
        study.claim(suggestion("d"), worker="done", limits=NO_LIMITS)
        with sql_engine(study).begin() as conn:  # a running trial without any heartbeat
            conn.execute(
                update(schema.trials)
                .where(schema.trials.c.study_id == study.record.id, schema.trials.c.number == 2)
                .values(heartbeat=None)
            )
        assert study.recover_silent({}, max_retries=1) == []
        observed = study.running_heartbeats()
        assert observed[2] is None
        # Between the observation and the recovery, one beats and one finishes.
        time.sleep(0.01)
        assert study.heartbeat(1, worker="alive")
        study.finish(3, worker="done", status=TrialStatus.SUCCEEDED, objective=1.0)
        assert study.recover_silent(observed, max_retries=1, silent_for=2.0) == [0, 2]
        study.refresh()
        dead, alive, never, done, retry_a, retry_c = study.trials()
        assert dead.status is never.status is TrialStatus.CRASHED
        assert dead.error == "worker dead sent no heartbeat for 2 s; re-queued as trial 4"
        assert alive.status is TrialStatus.RUNNING and done.status is TrialStatus.SUCCEEDED
        assert (retry_a.status, retry_a.slot, retry_a.retry_of) == (TrialStatus.PENDING, "a", 0)
        assert (retry_c.slot, retry_c.retry_of) == ("c", 2)
        assert study.totals().n_live == 4  # each crash is counted once, through its retry
        # Observed again, nothing left silent is crashed twice; after max_retries it fails.
        assert study.recover_silent(observed, max_retries=1) == []
        claimed = study.claim_pending(worker="next", limits=NO_LIMITS)
        assert claimed.number == 4
        again = study.running_heartbeats()
        assert study.recover_silent({4: again[4]}, max_retries=1) == [4]
        study.refresh()
        final = study.trials()[4]
        assert final.status is TrialStatus.FAILED and "crashed 2 times" in final.error
        assert final.error.startswith("worker next sent no heartbeat;")
        assert study.totals().n_finished == 2

    def test_dead_worker_is_recovered_at_once(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a", lr=0.01), worker="dead", limits=NO_LIMITS)
        study.claim(suggestion("b"), worker="alive", limits=NO_LIMITS)
        study.claim(suggestion("c"), worker="dead", limits=NO_LIMITS)
        assert study.recover_worker("nobody", max_retries=1, reason="exited") == []
        recovered = study.recover_worker("dead", max_retries=1, reason="exited with SIGKILL")
        assert recovered == [0, 2]
        study.refresh()
        first, alive, second, retry_a, retry_c = study.trials()
        assert first.status is second.status is TrialStatus.CRASHED
        assert first.slot is None and first.worker == "dead"
        assert first.error == "worker dead: exited with SIGKILL; re-queued as trial 3"
        assert alive.status is TrialStatus.RUNNING
        assert (retry_a.status, retry_a.slot, retry_a.retry_of) == (TrialStatus.PENDING, "a", 0)
        assert (retry_c.slot, retry_c.retry_of) == ("c", 2)
        assert retry_a.config == first.config and retry_a.fidelity == first.fidelity
        assert study.totals().n_live == 3  # each crash is counted once, through its retry
        # The retry runs on the next claim; after max_retries a dead worker's trial fails.
        claimed = study.claim_pending(worker="next", limits=NO_LIMITS)
        assert claimed.number == 3
        assert study.recover_worker("next", max_retries=1, reason="killed") == [3]
        study.refresh()
        final = study.trials()[3]
        assert final.status is TrialStatus.FAILED and "crashed 2 times" in final.error
        assert study.totals().n_finished == 1

    def test_device_is_recorded_with_the_claim(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        trial = study.claim(suggestion("a"), worker="w", limits=NO_LIMITS, device="cuda:1").trial
        study.claim(suggestion("b"), worker="w", limits=NO_LIMITS)
        study.release(1, worker="w", reason="test")
        queued = study.claim_pending(worker="w2", limits=NO_LIMITS, device="cuda:0")
        assert (trial.device, queued.device) == ("cuda:1", "cuda:0")
        other = make_study(open_store, study.name)
        other.refresh()
        assert [t.device for t in other.trials()] == ["cuda:1", "cuda:0"]
        done = study.finish(0, worker="w", status=TrialStatus.SUCCEEDED, objective=1.0)
        assert done.device == "cuda:1"
        with pytest.raises(ValueError, match="at most 64 characters"):
            study.claim(suggestion("c"), worker="w", limits=NO_LIMITS, device="x" * 65)

    def test_claim_and_finish_run_again_return_what_they_recorded(
        self, open_store: OpenStore
    ) -> None:
        """A retry after a lost reply: the worker's own commit is recognised, not repeated."""
        study = make_study(open_store)
        first = study.claim(suggestion("a"), worker="w", limits=NO_LIMITS)
        again = study.claim(suggestion("a"), worker="w", limits=NO_LIMITS)
        assert again.outcome is ClaimOutcome.CLAIMED and again.trial.number == first.trial.number
        other_config = study.claim(suggestion("a", lr=0.05), worker="w", limits=NO_LIMITS)
        assert other_config.outcome is ClaimOutcome.CONFLICT
        assert (study.totals().n_live, study.totals().next_number) == (1, 1)
        done = study.finish(0, worker="w", status=TrialStatus.SUCCEEDED, objective=0.5, cost=2.0)
        repeated = study.finish(
            0, worker="w", status=TrialStatus.SUCCEEDED, objective=0.5, cost=2.0
        )
        assert repeated == done
        with pytest.raises(StorageError, match="already succeeded"):
            study.finish(0, worker="w", status=TrialStatus.SUCCEEDED, objective=0.7, cost=2.0)
        with pytest.raises(StorageError, match="already succeeded"):
            study.finish(0, worker="w2", status=TrialStatus.SUCCEEDED, objective=0.5, cost=2.0)
        totals = study.totals()
        assert (totals.n_finished, totals.cost_spent) == (1, 2.0)
        nan = float("nan")
        study.claim(suggestion("b"), worker="w", limits=NO_LIMITS)
        failed = study.finish(1, worker="w", status=TrialStatus.FAILED, objective=nan, error="e")
        assert study.finish(
            1, worker="w", status=TrialStatus.FAILED, objective=nan, error="e"
        ).status is (failed.status)
        assert study.totals().n_finished == 2

    def test_a_trial_stopped_early_gives_back_the_fidelity_it_did_not_use(
        self, open_store: OpenStore
    ) -> None:
        """``finish(fidelity_used=...)``: the trial counts what it used, the rest of its claim
        goes back to the claimed total (the budget buys more), once, and never more than
        claimed; without it, a finish counts the claim."""
        study = make_study(open_store)
        study.claim(suggestion("a", fidelity=9), worker="w", limits=NO_LIMITS)  # 1 unit
        study.claim(suggestion("b", fidelity=3), worker="w", limits=NO_LIMITS)  # 1/3
        study.claim(suggestion("c", fidelity=9), worker="w", limits=NO_LIMITS)  # 1
        assert study.totals().fidelity_claimed == pytest.approx(7 / 3)
        limits = Limits(max_fidelity_units=7 / 3)
        assert limits.exhausted_for_new(study.totals())
        study.finish(
            0, worker="w", status=TrialStatus.SUCCEEDED, objective=0.5, fidelity_used=2 / 9
        )
        again = study.finish(
            0, worker="w", status=TrialStatus.SUCCEEDED, objective=0.5, fidelity_used=2 / 9
        )
        study.finish(1, worker="w", status=TrialStatus.SUCCEEDED, objective=0.7, fidelity_used=5.0)
        study.finish(2, worker="w", status=TrialStatus.SUCCEEDED, objective=0.6)
        totals = study.totals()
        assert totals.fidelity_claimed == pytest.approx(2 / 9 + 1 / 3 + 1)  # a replay: once
        assert totals.fidelity_spent == pytest.approx(2 / 9 + 1 / 3 + 1)
        assert not limits.exhausted_for_new(totals)  # the stop made room for another trial
        assert study.claim(suggestion("d"), worker="w", limits=limits).trial is not None
        assert again.number == 0 and again.status is TrialStatus.SUCCEEDED

    def test_claim_takes_the_first_free_slot_of_several(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a"), worker="w1", limits=NO_LIMITS)
        claim = study.claim(
            [suggestion("a"), suggestion("b"), suggestion("c")], worker="w2", limits=NO_LIMITS
        )
        assert (claim.outcome, claim.index, claim.trial.slot) == (ClaimOutcome.CLAIMED, 1, "b")
        again = study.claim([suggestion("a"), suggestion("b")], worker="w2", limits=NO_LIMITS)
        assert (again.index, again.trial.number) == (1, claim.trial.number)  # a replay
        taken = study.claim([suggestion("a"), suggestion("b")], worker="w3", limits=NO_LIMITS)
        assert (taken.outcome, taken.trial, taken.index) == (ClaimOutcome.CONFLICT, None, None)
        assert (study.totals().n_live, study.totals().seq) == (2, 2)
        with pytest.raises(ValueError, match="distinct"):
            study.claim([suggestion("d"), suggestion("d")], worker="w3", limits=NO_LIMITS)
        limits = Limits(max_trials=2)
        full = study.claim([suggestion("d"), suggestion("e")], worker="w3", limits=limits)
        assert full.outcome is ClaimOutcome.BUDGET
        assert (study.totals().n_live, study.totals().seq) == (2, 2)

    def test_a_claim_of_taken_slots_does_not_wait_for_the_study_lock(
        self, open_store: OpenStore
    ) -> None:
        """Slots stay taken, so a claim that finds them all taken answers without the lock."""
        study = make_study(open_store)
        study.claim(suggestion("a"), worker="w1", limits=NO_LIMITS)
        holder = make_study(open_store, study.name)
        answers: list[ClaimOutcome] = []
        with study_lock_held(holder):
            thread = threading.Thread(
                target=lambda: answers.append(
                    study.claim(suggestion("a"), worker="w2", limits=NO_LIMITS).outcome
                )
            )
            thread.start()
            thread.join(10.0)
            waited = thread.is_alive()
        thread.join()
        assert not waited
        assert answers == [ClaimOutcome.CONFLICT]

    def test_heartbeat_of_a_trial_that_is_not_ours_reports_false(
        self, open_store: OpenStore
    ) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a"), worker="w1", limits=NO_LIMITS)
        assert study.heartbeat(0, worker="w1", learning_curve=[(1, 0.5)])
        assert not study.heartbeat(0, worker="w2")

    def test_a_reader_sees_a_running_trials_curve_grow(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        reader = open_store().study(study.name)
        study.claim(suggestion("a"), worker="w1", limits=NO_LIMITS)
        reader.refresh()
        assert reader.trials()[0].learning_curve == ()
        assert study.heartbeat(0, worker="w1", learning_curve=[(1, 0.5)])
        reader.refresh()
        assert reader.trials()[0].learning_curve == ((1, 0.5),)
        assert study.heartbeat(0, worker="w1", learning_curve=[(1, 0.5), (2, 0.25)])
        assert study.heartbeat(0, worker="w1")  # a plain beat keeps the curve
        reader.refresh()
        assert reader.trials()[0].learning_curve == ((1, 0.5), (2, 0.25))

    def test_released_trial_runs_again(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a"), worker="w1", limits=NO_LIMITS)
        assert study.release(0, worker="w1", reason="interrupted by Ctrl-C")
        study.refresh()
        assert study.trials()[0].status is TrialStatus.PENDING
        trial = study.claim_pending(worker="w2", limits=NO_LIMITS)
        assert trial.number == 0 and trial.worker == "w2"
        assert study.claim_pending(worker="w3", limits=NO_LIMITS) is None

    def test_an_enqueued_config_is_counted_and_started_before_a_retry_queued_later(
        self, open_store: OpenStore
    ) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a"), worker="dead", limits=NO_LIMITS)
        queued = study.enqueue({"lr": 0.05, "opt": "sgd"}, fidelity=3, limits=NO_LIMITS)
        assert queued is not None
        assert (queued.number, queued.status, queued.fidelity) == (1, TrialStatus.PENDING, 3)
        assert queued.slot is not None and queued.slot.startswith("enqueued:")
        totals = study.totals()
        assert (totals.next_number, totals.n_live) == (2, 2)
        assert totals.fidelity_claimed == pytest.approx(1 + 3 / 9)
        study.recover_worker("dead", max_retries=1, reason="killed")  # queues trial 2
        reader = open_store().study(study.name)
        reader.refresh()
        assert reader.trial(1) == queued  # every handle sees it, queued
        started = reader.claim_pending(worker="w", limits=Limits(max_trials=2))
        assert started is not None and started.number == 1  # the oldest first; counted already
        assert dict(started.config) == {"lr": 0.05, "opt": "sgd"} and started.worker == "w"
        retry = reader.claim_pending(worker="w", limits=NO_LIMITS)
        assert retry is not None and retry.retry_of == 0

    def test_enqueue_is_refused_by_the_limits_and_writes_nothing(
        self, open_store: OpenStore
    ) -> None:
        study = make_study(open_store)
        study.claim(suggestion("a"), worker="w", limits=NO_LIMITS)
        config = {"lr": 0.05, "opt": "sgd"}
        assert study.enqueue(config, fidelity=9, limits=Limits(max_trials=1)) is None
        assert study.enqueue(config, fidelity=9, limits=Limits(max_fidelity_units=1)) is None
        assert study.totals().next_number == 1
        study.refresh()
        assert [t.number for t in study.trials()] == [0]

    @pytest.mark.parametrize(
        ("config", "fidelity", "named"),
        [
            ({"lr": 5.0, "opt": "sgd"}, 9, "'lr'"),
            ({"lr": 0.01, "opt": "rmsprop"}, 9, "'opt'"),
            ({"lr": 0.01}, 9, "'opt'"),
            ({"lr": 0.01, "opt": "sgd", "depth": 3}, 9, "'depth'"),
            ({"lr": 0.01, "opt": "sgd"}, 10, "'epochs'"),
            ({"lr": 0.01, "opt": "sgd"}, None, "'epochs'"),
            ({"lr": 0.01, "opt": "sgd", "epochs": 3}, 3, "'epochs'"),
        ],
    )
    def test_enqueue_of_an_invalid_config_names_the_parameter(
        self, open_store: OpenStore, config: dict[str, object], fidelity: int | None, named: str
    ) -> None:
        study = make_study(open_store)
        with pytest.raises(tw.SpaceError, match=named):
            study.enqueue(config, fidelity=fidelity, limits=NO_LIMITS)
        assert study.totals().next_number == 0

    def test_enqueue_run_again_returns_what_it_queued(self, open_store: OpenStore) -> None:
        # Under the interface: the retried transaction is replayed with its slot, as the
        # handle's retry does after a lost reply.
        from tunewise.storage import claims

        study = make_study(open_store)
        engine, sid = sql_engine(study), study.record.id
        arguments = dict(
            slot="enqueued:abc",
            config='{"lr":0.01,"opt":"sgd"}',
            fidelity=9.0,
            increment=1.0,
            info=None,
            limits=NO_LIMITS,
            now=time.time(),
            to_trial=lambda row: tw.Trial(
                number=row["number"], config={}, status=TrialStatus(row["status"])
            ),
        )
        first = claims.enqueue(engine, sid, **arguments)  # type: ignore[arg-type]
        again = claims.enqueue(engine, sid, **arguments)  # type: ignore[arg-type]
        assert first is not None and again is not None and first.number == again.number == 0
        assert study.totals().next_number == 1 and study.totals().n_live == 1

    def test_concurrent_processes_never_claim_a_slot_twice(self, open_store: OpenStore) -> None:
        study = make_study(open_store)
        context = multiprocessing.get_context("spawn")
        with context.Pool(4) as pool:
            claimed = pool.starmap(
                _claim_all, [(study.store.url, study.name, f"w{i}") for i in range(4)]
            )
        study.refresh()
        trials = study.trials()
        assert sorted(n for numbers in claimed for n in numbers) == list(range(40))
        assert [t.number for t in trials] == list(range(40))
        assert sorted(t.slot for t in trials) == sorted(f"s{i}" for i in range(40))
        assert study.totals().n_live == 40

    def test_unreachable_server_is_a_clear_error_without_the_password(self) -> None:
        with pytest.raises(StorageError, match="cannot open the store") as info:
            Store.at(storage="postgresql://user:s3cret@127.0.0.1:1/nowhere")
        assert "s3cret" not in str(info.value)


def _claim_all(url: str, name: str, worker: str) -> list[int]:
    study = Store.at(storage=url).study(name)
    numbers = []
    for i in range(40):
        claim = study.claim(suggestion(f"s{i}"), worker=worker, limits=NO_LIMITS)
        if claim.outcome is ClaimOutcome.CLAIMED:
            numbers.append(claim.trial.number)
    return numbers


def test_store_from_another_schema_version_is_refused_and_kept(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'tunewise.db'}"
    study = make_study(lambda: Store.at(storage=url))
    study.claim(suggestion("a"), worker="w", limits=NO_LIMITS)
    with sql_engine(study).begin() as conn:
        conn.execute(update(schema.meta).values(value="999"))
    study.store.close()
    with pytest.raises(SchemaVersionError, match="schema version 999"):
        Store.at(storage=url)
    with sql_engine(study).begin() as conn:  # the recorded trial is untouched
        assert conn.execute(schema.trials.select()).first() is not None


def test_histories_stay_snapshots_while_the_cache_changes_and_compacts(tmp_path) -> None:
    """A History shares the cache's list; later claims, finishes and compactions of the cache
    (every COMPACT_AFTER changed trials) must not show through it."""
    study = make_study(lambda: Store.at(storage=f"sqlite:///{tmp_path / 'db'}"))
    seen = []
    for i in range(3 * COMPACT_AFTER):
        study.claim(suggestion(f"s{i}"), worker="w", limits=NO_LIMITS)
        before = study.history()
        study.finish(i, worker="w", status=TrialStatus.SUCCEEDED, objective=float(i))
        study.refresh()
        seen.append((before, [(t.number, t.status) for t in before.trials]))
        assert study.history() is study.history()  # reused until something changes
    for history, expected in seen:
        assert [(t.number, t.status) for t in history.trials] == expected
        assert history.trials[-1].status is TrialStatus.RUNNING
    assert list(study.history().trials) == study.trials()
    assert [t.objective for t in study.trials()] == [float(i) for i in range(3 * COMPACT_AFTER)]
