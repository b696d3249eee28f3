"""Riding through database faults: dropped connections, server restarts, a busy SQLite file.

Every store operation is one transaction, so a transient fault is handled by rolling back and
running the whole operation again, with exponential backoff, until a total deadline. The
operations whose commit may have succeeded before the reply was lost (claim, claim_pending,
finish) recognise their own earlier commit when re-run, so nothing is recorded twice.

Only faults that go away by themselves are retried: a lost or refused connection, a server that
is starting up or shutting down, a serialization failure or deadlock, SQLite's "database is
locked". Constraint violations, SQL errors, bad credentials and missing databases are raised at
once. A store that cannot be reached when it is *opened* is an error at once too (see
:class:`~tunewise.storage.Store`): retrying is for faults during a run.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
)

from tunewise.storage.errors import (
    StorageError,
    first_line,
    is_misconfigured,
    is_unreachable,
    mask_password,
)

logger = logging.getLogger("tunewise")

T = TypeVar("T")
P = ParamSpec("P")

FIRST_DELAY = 0.05
"""Seconds to wait before the first retry; each later wait doubles."""
MAX_DELAY = 2.0
"""The longest wait between two attempts."""
DEADLINE = 120.0
"""Seconds from the first fault after which an operation gives up (a restart takes ~2-5 s)."""
DEADLINE_ENV = "TUNEWISE_STORE_RETRY_SECONDS"
"""Environment variable that overrides :data:`DEADLINE` (read by every process that opens a
store, so it reaches worker processes too)."""


def _deadline_from_env() -> float:
    text = os.environ.get(DEADLINE_ENV)
    if not text:
        return DEADLINE
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{DEADLINE_ENV}={text!r} is not a number of seconds") from None


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a store operation is retried through transient faults.

    Waits start at ``first_delay`` seconds and double up to ``max_delay``, each scaled by a
    random factor in [0.5, 1] so that many workers do not reconnect in lockstep; the operation
    gives up ``deadline`` seconds after its first fault (0 = never retry).
    """

    deadline: float = field(default_factory=_deadline_from_env)
    first_delay: float = FIRST_DELAY
    max_delay: float = MAX_DELAY

    def __post_init__(self) -> None:
        if self.deadline < 0:
            raise ValueError(f"deadline must be >= 0 seconds, got {self.deadline}")
        if not 0 < self.first_delay <= self.max_delay:
            raise ValueError(
                f"need 0 < first_delay <= max_delay, got {self.first_delay} and {self.max_delay}"
            )

    def delays(self) -> Iterator[float]:
        delay = self.first_delay
        while True:
            yield delay * random.uniform(0.5, 1.0)
            delay = min(delay * 2, self.max_delay)


def is_transient(exc: BaseException) -> bool:
    """True for database faults that may go away by themselves, so the operation is retried."""
    if not isinstance(exc, DBAPIError):
        return False
    if isinstance(exc, (IntegrityError, ProgrammingError, DataError, NotSupportedError)):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    text = str(exc.orig).lower()
    if type(exc.orig).__module__.startswith("sqlite3"):
        return "database is locked" in text or "database is busy" in text
    return not is_misconfigured(text)


def run_with_retry(
    operation: Callable[[], T],
    *,
    policy: RetryPolicy,
    what: str,
    where: str,
    on_fault: Callable[[], None] | None = None,
) -> T:
    """Run ``operation``; on a transient fault call ``on_fault``, wait and run it again.

    ``where`` names the store in messages (a URL with its password masked). After
    ``policy.deadline`` seconds of faults a :class:`StorageError` says what was lost and why.
    """
    first_fault: float | None = None
    attempts = 0
    delays = policy.delays()
    while True:
        attempts += 1
        try:
            result = operation()
        except DBAPIError as exc:
            if not is_transient(exc):
                raise
            now = time.monotonic()
            detail = mask_password(first_line(exc.orig))
            if first_fault is None:
                first_fault = now
                logger.warning(
                    "store at %s: %s hit a database fault (%s); retrying for up to %.0f s",
                    where,
                    what,
                    detail,
                    policy.deadline,
                )
            if on_fault is not None:
                on_fault()
            delay = next(delays)
            if now - first_fault + delay > policy.deadline:
                message = _give_up_message(what, where, detail, attempts, policy)
                raise StorageError(message) from None
            time.sleep(delay)
            continue
        if first_fault is not None:
            logger.warning(
                "store at %s: %s succeeded after %d attempts (%.1f s of faults)",
                where,
                what,
                attempts,
                time.monotonic() - first_fault,
            )
        return result


def _give_up_message(what: str, where: str, detail: str, attempts: int, policy: RetryPolicy) -> str:
    hint = (
        " Is the database server running, and reachable from this machine?"
        if is_unreachable(detail)
        else ""
    )
    return (
        f"the store at {where} kept failing for {policy.deadline:g} s during {what} "
        f"({attempts} attempts; last error: {detail}).{hint} Nothing committed was lost: run the "
        f"same command again to resume once the database is back (raise {DEADLINE_ENV} to wait "
        "longer)."
    )


class Retrying(Protocol):
    """An object that runs one whole transaction again through transient faults."""

    def _retrying(self, what: str, operation: Callable[[], T]) -> T: ...


SelfT = TypeVar("SelfT", bound=Retrying)


def retried(method: Callable[Concatenate[SelfT, P], T]) -> Callable[Concatenate[SelfT, P], T]:
    """Run the method (one transaction, safe to run again) through ``self._retrying``."""

    def wrapper(self: SelfT, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._retrying(method.__name__, lambda: method(self, *args, **kwargs))

    functools.update_wrapper(wrapper, method)
    return wrapper
