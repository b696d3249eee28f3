"""Database faults during a run: every operation retries, and nothing is lost or counted twice.

Faults are real: server-side connection kills (pg_terminate_backend), a proxy that cuts and
refuses connections or loses the reply to a COMMIT the server made, SQLite's write lock.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import threading
import time
import traceback
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

import tunewise as tw
from tests.conftest import POSTGRES_SERVER, _admin_connect, unique_name
from tests.storage.faults import TcpProxy, terminate_backends
from tunewise.storage import (
    ClaimOutcome,
    Limits,
    RetryPolicy,
    StorageError,
    Store,
    StudyStore,
    schema,
)
from tunewise.storage.retry import is_transient
from tunewise.trial import Suggestion, TrialStatus

SPACE = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 4))
NO_LIMITS = Limits()
PASSWORD = "s3cretpw"  # the test server trusts local connections, so any password is accepted


def open_study(url: str, *, retry: RetryPolicy | None = None) -> StudyStore:
    store = Store.at(storage=url, retry=retry)
    name = unique_name()
    store.create_or_open_study(
        name, space=SPACE, optimizer={"name": "random_search"}, seed=0, budget={}, settings={}
    )
    return store.study(name)


def suggestion(i: int) -> Suggestion:
    return Suggestion(config={"x": i / 100}, slot=f"sample:{i}", fidelity=4)


def run_trial(study: StudyStore, i: int, worker: str = "w") -> None:
    claim = study.claim(suggestion(i), worker=worker, limits=NO_LIMITS)
    assert claim.outcome is ClaimOutcome.CLAIMED
    study.finish(
        claim.trial.number, worker=worker, status=TrialStatus.SUCCEEDED, objective=i, cost=1.5
    )


def assert_exact(study: StudyStore, n: int) -> None:
    """``n`` trials, each recorded once, and totals that count each once."""
    study.refresh()
    trials = study.trials()
    assert [t.number for t in trials] == list(range(n))
    assert all(t.status is TrialStatus.SUCCEEDED for t in trials)
    assert sorted(t.objective for t in trials) == sorted(float(i) for i in range(n))
    totals = study.totals()
    assert (totals.n_live, totals.n_finished, totals.next_number) == (n, n, n)
    assert totals.cost_spent == pytest.approx(1.5 * n)


class TestKilledConnections:
    """Connections ended by the server (pg_terminate_backend), as an administrator would."""

    def test_operations_continue_after_every_connection_is_killed(
        self, fresh_postgres_url: str, fresh_database: str
    ) -> None:
        study = open_study(fresh_postgres_url)
        killed = 0
        for i in range(12):
            claim = study.claim(suggestion(i), worker="w", limits=NO_LIMITS)
            killed += terminate_backends(fresh_database)
            assert study.heartbeat(claim.trial.number, worker="w")
            killed += terminate_backends(fresh_database)
            study.finish(
                claim.trial.number, worker="w", status=TrialStatus.SUCCEEDED, objective=i, cost=1.5
            )
            killed += terminate_backends(fresh_database)
            study.refresh()
        assert killed >= 12  # the pool kept connections open, and they were killed
        assert_exact(study, 12)

    @pytest.mark.parametrize("operation", ["claim", "finish", "claim_pending"])
    def test_connection_killed_inside_a_transaction_is_retried(
        self, fresh_postgres_url: str, fresh_database: str, operation: str
    ) -> None:
        study = open_study(fresh_postgres_url)
        first = study.claim(suggestion(0), worker="w", limits=NO_LIMITS).trial
        if operation == "claim_pending":
            study.release(first.number, worker="w", reason="test")
        before = study.totals().seq
        calls = {
            "claim": lambda: study.claim(suggestion(1), worker="w", limits=NO_LIMITS),
            "finish": lambda: study.finish(
                0, worker="w", status=TrialStatus.SUCCEEDED, objective=0.0, cost=1.5
            ),
            "claim_pending": lambda: study.claim_pending(worker="w2", limits=NO_LIMITS),
        }
        result = _run_while_killed_in_transaction(calls[operation], study, fresh_database)
        totals = study.totals()
        if operation == "claim":
            assert result.outcome is ClaimOutcome.CLAIMED and result.trial.number == 1
            assert (totals.n_live, totals.next_number) == (2, 2)
        elif operation == "finish":
            assert result.status is TrialStatus.SUCCEEDED
            assert (totals.n_finished, totals.cost_spent) == (1, 1.5)
        else:
            assert result.number == 0 and result.worker == "w2"
            assert result.status is TrialStatus.RUNNING
        assert totals.seq == before + 1  # one change: the operation committed exactly once


def _run_while_killed_in_transaction(call, study: StudyStore, database: str):  # type: ignore[no-untyped-def]
    """Run ``call`` in a thread, end its connection while it waits inside its transaction."""
    outcome: dict[str, object] = {}

    def target() -> None:
        try:
            outcome["result"] = call()
        except BaseException as exc:  # reported by the assertion below
            outcome["error"] = exc

    with _lock_study_row(database, study.record.id):
        thread = threading.Thread(target=target)
        thread.start()
        pid = _wait_for_lock_waiter(database)
        with _admin_connect() as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    thread.join(timeout=60)
    assert "error" not in outcome, outcome.get("error")
    return outcome["result"]


@contextlib.contextmanager
def _lock_study_row(database: str, study_id: int) -> Iterator[None]:
    """Hold the study row lock from another connection: the store then waits inside its
    transaction (after BEGIN, before it writes) until the lock is released."""
    url = make_url(POSTGRES_SERVER).set(database=database).render_as_string(False)
    with psycopg.connect(url, application_name="tunewise-test") as conn:
        conn.execute("SELECT id FROM tw_studies WHERE id = %s FOR UPDATE", (study_id,))
        yield
        conn.rollback()


def _wait_for_lock_waiter(database: str) -> int:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with _admin_connect() as admin:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = 'tunewise' "
                "AND datname = %s AND wait_event_type = 'Lock'",
                (database,),
            ).fetchone()
        if row is not None:
            return int(row[0])
        time.sleep(0.02)
    raise AssertionError("the store never waited for the study lock")


class TestNetworkFaults:
    """A proxy between the store and the server: restarts, outages and lost replies."""

    def test_an_outage_of_seconds_is_ridden_through(
        self, proxy: TcpProxy, fresh_database: str
    ) -> None:
        study = open_study(proxy.url(fresh_database))
        run_trial(study, 0)
        claim = study.claim(suggestion(1), worker="w", limits=NO_LIMITS)
        proxy.refuse()  # connections cut, new ones refused: the server is restarting
        threading.Timer(2.0, proxy.listen).start()
        started = time.monotonic()
        study.finish(1, worker="w", status=TrialStatus.SUCCEEDED, objective=1, cost=1.5)
        waited = time.monotonic() - started
        assert claim.trial.number == 1
        assert 1.5 < waited < 6.0
        run_trial(study, 2)
        assert_exact(study, 3)

    def test_a_lost_commit_reply_on_finish_records_the_result_once(
        self, proxy: TcpProxy, fresh_database: str
    ) -> None:
        study = open_study(proxy.url(fresh_database))
        study.claim(suggestion(0), worker="w", limits=NO_LIMITS)
        proxy.lose_commit_replies(1)
        done = study.finish(0, worker="w", status=TrialStatus.SUCCEEDED, objective=0, cost=1.5)
        assert proxy.lost_commit_replies == 1
        assert done.status is TrialStatus.SUCCEEDED and done.objective == 0
        assert_exact(study, 1)

    def test_a_lost_commit_reply_on_claim_returns_the_claimed_trial(
        self, proxy: TcpProxy, fresh_database: str
    ) -> None:
        study = open_study(proxy.url(fresh_database))
        proxy.lose_commit_replies(1)
        claim = study.claim(suggestion(0), worker="w", limits=NO_LIMITS)
        assert proxy.lost_commit_replies == 1
        assert claim.outcome is ClaimOutcome.CLAIMED and claim.trial.number == 0
        study.finish(0, worker="w", status=TrialStatus.SUCCEEDED, objective=0, cost=1.5)
        assert_exact(study, 1)

    def test_a_lost_commit_reply_on_claim_pending_returns_the_claimed_trial(
        self, proxy: TcpProxy, fresh_database: str
    ) -> None:
        study = open_study(proxy.url(fresh_database))
        for i in range(2):
            study.claim(suggestion(i), worker="old", limits=NO_LIMITS)
            study.release(i, worker="old", reason="test")
        proxy.lose_commit_replies(1)
        trial = study.claim_pending(worker="w", limits=NO_LIMITS)
        assert proxy.lost_commit_replies == 1
        assert trial.number == 0 and trial.status is TrialStatus.RUNNING and trial.worker == "w"
        study.refresh()
        assert [t.status for t in study.trials()] == [TrialStatus.RUNNING, TrialStatus.PENDING]

    def test_an_outage_past_the_deadline_is_a_clear_error_without_the_password(
        self, proxy: TcpProxy, fresh_database: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        url = proxy.url(fresh_database, password=PASSWORD)
        study = open_study(url, retry=RetryPolicy(deadline=1.0))
        proxy.refuse()
        started = time.monotonic()
        with caplog.at_level(logging.DEBUG), pytest.raises(StorageError) as info:
            study.totals()
        assert time.monotonic() - started < 4.0
        message = str(info.value)
        assert "kept failing for 1 s during totals" in message
        assert f"127.0.0.1:{proxy.port}" in message and "postgres:***@" in message
        assert "Is the database server running" in message
        assert "store at" in caplog.text and "retrying for up to 1 s" in caplog.text
        everything = message + repr(info.value) + caplog.text + repr(study.store)
        everything += "".join(traceback.format_exception(info.value))
        assert PASSWORD not in everything

    def test_retry_open_waits_for_a_server_that_is_starting(
        self, proxy: TcpProxy, fresh_database: str
    ) -> None:
        url = proxy.url(fresh_database)
        Store.at(storage=url).close()  # opened once, e.g. by the run that starts the workers
        proxy.refuse()
        threading.Timer(1.0, proxy.listen).start()
        with pytest.raises(StorageError, match="cannot reach the database server"):
            Store.at(storage=url)  # by default an unreachable store fails at once
        with Store.at(storage=url, retry_open=True) as store:
            assert store.study_names() == []


class TestWhatIsRetried:
    """Only faults that go away by themselves are retried; classified on real errors."""

    def test_sqlite_busy_is_transient_and_sql_errors_are_not(self, tmp_path) -> None:  # type: ignore[no-untyped-def]
        path = tmp_path / "tunewise.db"
        Store.at(storage=str(path)).close()
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        impatient = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0})
        try:
            with pytest.raises(DBAPIError) as locked, impatient.begin() as conn:
                conn.execute(schema.meta.insert().values(key="k", value="v"))
            assert "database is locked" in str(locked.value)
            assert is_transient(locked.value)
            holder.execute("ROLLBACK")
            with pytest.raises(DBAPIError) as duplicate, impatient.begin() as conn:
                conn.execute(schema.meta.insert().values(key="schema_version", value="2"))
            assert not is_transient(duplicate.value)  # an IntegrityError
            with pytest.raises(DBAPIError) as missing, impatient.begin() as conn:
                conn.execute(text("SELECT * FROM no_such_table"))
            assert not is_transient(missing.value)  # an OperationalError, but not a fault
        finally:
            holder.close()
            impatient.dispose()

    def test_postgres_faults_are_transient_and_mistakes_are_not(
        self, fresh_postgres_url: str, fresh_database: str
    ) -> None:
        url = fresh_postgres_url.replace("postgresql://", "postgresql+psycopg://")
        engine = create_engine(url, connect_args={"application_name": "tunewise"})
        try:
            with engine.connect() as conn:
                conn.execute(select(1))
                terminate_backends(fresh_database)
                with pytest.raises(DBAPIError) as killed:
                    conn.execute(select(1))
            assert killed.value.connection_invalidated
            assert is_transient(killed.value)
            with pytest.raises(DBAPIError) as syntax, engine.connect() as conn:
                conn.execute(text("SELEC 1"))
            assert not is_transient(syntax.value)
        finally:
            engine.dispose()
        refused = create_engine("postgresql+psycopg://u@127.0.0.1:1/db")
        with pytest.raises(DBAPIError) as unreachable:
            refused.connect()
        assert is_transient(unreachable.value)  # during a run, the server may be restarting
        stranger = create_engine(url.replace("postgres@", "no_such_role_tw@"))
        with pytest.raises(DBAPIError) as unknown_role:
            stranger.connect()
        assert not is_transient(unknown_role.value)
