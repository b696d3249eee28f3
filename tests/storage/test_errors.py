"""Opening a store that cannot be used fails at once, says what to fix, and never shows a password.

The test server trusts local connections, so a wrong *user* stands in for wrong credentials: the
server refuses it at authentication, as it would a wrong password.
"""

from __future__ import annotations

import logging
import time
import traceback

import pytest
from sqlalchemy.engine import make_url

import tunewise as tw
from tests.conftest import POSTGRES_SERVER
from tests.storage.faults import terminate_backends
from tunewise.storage import StorageError, Store, StudyNotFoundError

PASSWORD = "s3cretpw"
SERVER = make_url(POSTGRES_SERVER)
HOST_PORT = f"{SERVER.host}:{SERVER.port or 5432}"


def url_for(user: str, database: str, *, host: str = HOST_PORT) -> str:
    return f"postgresql://{user}:{PASSWORD}@{host}/{database}"


def open_error(url: str, caplog: pytest.LogCaptureFixture) -> str:
    """Open ``url``, expecting a StorageError within seconds; returns all text it produced.

    Asserts that the password is in none of it: message, repr, log lines, full traceback.
    """
    started = time.monotonic()
    with caplog.at_level(logging.DEBUG), pytest.raises(StorageError) as info:
        Store.at(storage=url)
    assert time.monotonic() - started < 15, "opening must fail fast, not retry"
    message = str(info.value)
    everything = [message, repr(info.value), caplog.text]
    everything.append("".join(traceback.format_exception(info.value)))
    assert all(PASSWORD not in text for text in everything)
    return message


@pytest.mark.usefixtures("postgres_url")  # skips these without a server (fails them in CI)
class TestOpenErrors:
    def test_wrong_credentials(self, caplog: pytest.LogCaptureFixture) -> None:
        message = open_error(url_for("wronguser", "postgres"), caplog)
        assert f"authentication failed for user 'wronguser' at {HOST_PORT}" in message
        assert "Check the user name and password" in message
        assert "wronguser:***@" in message

    def test_database_that_does_not_exist(self, caplog: pytest.LogCaptureFixture) -> None:
        message = open_error(url_for("postgres", "no_such_db_tw"), caplog)
        assert f"the database 'no_such_db_tw' does not exist on {HOST_PORT}" in message
        assert "createdb" in message

    def test_server_that_refuses_connections(self, caplog: pytest.LogCaptureFixture) -> None:
        message = open_error(url_for("postgres", "db", host="127.0.0.1:1"), caplog)
        assert "cannot reach the database server at 127.0.0.1:1" in message
        assert "Is the server running" in message

    def test_unknown_host(self, caplog: pytest.LogCaptureFixture) -> None:
        message = open_error(url_for("postgres", "db", host="no-such-host.invalid:5432"), caplog)
        assert "cannot reach the database server at no-such-host.invalid:5432" in message

    def test_repr_and_fault_logs_of_an_open_store_hide_the_password(
        self, fresh_database: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        with Store.at(storage=url_for("postgres", fresh_database)) as store:
            assert PASSWORD not in repr(store) and "postgres:***@" in repr(store)
            store.study_names()
            with caplog.at_level(logging.DEBUG):
                terminate_backends(fresh_database)
                store.study_names()
            assert PASSWORD not in caplog.text


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql://u:s3cretpw@host:notaport/db", "it cannot be parsed"),
        ("not a url at all://", "it cannot be parsed"),
        ("mysql://u:s3cretpw@host/db", "not mysql"),
        ("postgresql://u:s3cret@pw@127.0.0.1/db", "there is an '@' in the host part"),
    ],
)
def test_malformed_url(url: str, why: str, caplog: pytest.LogCaptureFixture) -> None:
    message = open_error(url, caplog)
    assert message.startswith("malformed storage URL") and why in message
    assert "s3cret" not in message


def test_unknown_study_lists_the_known_ones(tmp_path) -> None:  # type: ignore[no-untyped-def]
    space = tw.Space(x=tw.Float(0.0, 1.0))
    with Store.at(root=tmp_path) as store:
        for name in ("alpha", "beta"):
            store.create_or_open_study(
                name, space=space, optimizer={"name": "rs"}, seed=0, budget={}, settings={}
            )
        with pytest.raises(StudyNotFoundError) as info:
            store.study("gamma")
    assert "no study named 'gamma'" in str(info.value)
    assert "(studies there: 'alpha', 'beta')" in str(info.value)
