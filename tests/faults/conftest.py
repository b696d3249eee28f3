"""Fixtures and helpers of the fault-injection suite: a killer thread, PostgreSQL restarts."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.faults.invariants import Evaluation, read_evaluations
from tests.requirements import unavailable

# Short heartbeats so that a worker lost without a supervisor noticing is recovered in seconds.
FAST = {"heartbeat_interval": 0.5, "stale_after": 2.0}


def spawned_workers() -> list[psutil.Process]:
    """The local worker processes of a ``tw.run`` in this process (multiprocessing spawn)."""
    found = []
    for child in psutil.Process().children():
        try:
            if "spawn_main" in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


class Killer(threading.Thread):
    """Kills ``kills`` worker processes at random moments of a run, from a thread of the test.

    The moments are random points of the run's progress: ``kills`` distinct counts of returned
    evaluations between ``start_after`` and ``stop_after``, so that every kill lands inside the
    run however fast it goes. At each, it kills one of ``candidates()``: in turn, one that is
    inside an evaluation, the one that most recently returned a value (it may be between
    returning and recording: the hardest moment to lose), and any at random (it may be claiming,
    recording or starting up). ``killed`` are the pids; ``seed`` replays the choices.
    """

    def __init__(
        self,
        log: Path,
        candidates: Callable[[], list[int]],
        *,
        kills: int,
        start_after: int,
        stop_after: int,
        sig: int = signal.SIGKILL,
        seed: int | None = None,
    ) -> None:
        super().__init__(name="fault-killer", daemon=True)
        self.log, self.candidates, self.kills, self.sig = log, candidates, kills, sig
        self.start_after, self.stop_after = start_after, stop_after
        self.seed = seed if seed is not None else random.randrange(2**32)
        self.killed: list[int] = []
        self.error: BaseException | None = None
        self._done = threading.Event()

    def run(self) -> None:
        rng = random.Random(self.seed)
        moments = sorted(rng.sample(range(self.start_after, self.stop_after), self.kills))
        try:
            while moments and not self._done.wait(0.01):
                evaluations = read_evaluations(self.log)
                returned = _returned(evaluations)
                if len(returned) < moments[0]:
                    continue
                alive = [pid for pid in self.candidates() if pid not in self.killed]
                busy = [e.pid for e in evaluations if e.nonce is None and e.pid in alive]
                latest = [pid for pid in reversed(returned[-3:]) if pid in alive]
                choice = [busy, latest, alive][len(self.killed) % 3] or alive
                if not choice:
                    continue
                pid = choice[0] if choice is latest else rng.choice(choice)
                try:
                    os.kill(pid, self.sig)
                except ProcessLookupError:
                    continue
                self.killed.append(pid)
                moments.pop(0)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self) -> list[int]:
        self._done.set()
        self.join(timeout=10)
        if self.error is not None:
            raise self.error
        return self.killed


def _returned(evaluations: list[Evaluation]) -> list[int]:
    """Pids of the evaluations that returned, in the order they returned."""
    done = [e for e in evaluations if e.nonce is not None]
    return [e.pid for e in sorted(done, key=lambda e: e.ended or 0.0)]


# -- PostgreSQL restarts ------------------------------------------------------------------------


def _pg_version() -> str | None:
    try:
        versions = sorted(os.listdir("/etc/postgresql"))
    except OSError:
        return None
    return versions[-1] if versions else None


def pg_ctl(action: str) -> None:
    version = _pg_version()
    subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version or "", "main", action],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )


def wait_for_postgres(timeout: float = 60.0) -> None:
    """Until the test server accepts connections again (raises after ``timeout`` seconds)."""
    from tests.conftest import _admin_connect

    deadline = time.monotonic() + timeout
    while True:
        try:
            with _admin_connect() as admin:
                admin.execute("SELECT 1")
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def restartable_postgres(postgres_url: str) -> Iterator[Callable[..., float]]:
    """``restart(down=0.0)`` restarts the local PostgreSQL cluster (``pg_ctlcluster restart``, or
    stop, wait ``down`` seconds, start) and returns how long it did not answer.

    Skips (fails in CI) unless the server is a local cluster this test may restart
    (pg_ctlcluster, root). The server is running again after the test, whatever happened in it.
    """
    if _pg_version() is None or os.geteuid() != 0:
        unavailable("restarting PostgreSQL needs a local cluster (pg_ctlcluster) and root")
    if not POSTGRES_IS_LOCAL:
        unavailable("TUNEWISE_TEST_POSTGRES is not the local cluster, which is what restarts")

    def restart(down: float = 0.0) -> float:
        started = time.monotonic()
        if down:
            pg_ctl("stop")
            time.sleep(down)
            pg_ctl("start")
        else:
            pg_ctl("restart")
        wait_for_postgres()
        return time.monotonic() - started

    try:
        yield restart
    finally:
        try:
            wait_for_postgres(timeout=5)
        except Exception:
            with contextlib.suppress(subprocess.CalledProcessError):  # already starting
                pg_ctl("start")
            wait_for_postgres()


def _postgres_is_local() -> bool:
    from tests.conftest import POSTGRES_SERVER

    return any(host in POSTGRES_SERVER for host in ("@127.0.0.1", "@localhost", "@[::1]"))


POSTGRES_IS_LOCAL = _postgres_is_local()
