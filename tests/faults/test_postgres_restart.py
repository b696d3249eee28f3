"""PostgreSQL restarts in the middle of a run: the workers ride through it (the store retries with
backoff) and the run ends with the exact budget and every returned value recorded once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import tunewise as tw
from tests.conftest import unique_name
from tests.faults import objectives
from tests.faults.invariants import Summary, check_invariants, ground_truth_log, read_evaluations
from tunewise.storage import storage_url

BUDGET = 60

pytestmark = pytest.mark.slow


def run_through_outage(
    root: Path, postgres_url: str, outage: Callable[[], float], *, stale_after: float
) -> tuple[Summary, float]:
    """Run 6 workers on PostgreSQL; call ``outage()`` once a third of the budget has returned."""
    study = unique_name("restart")
    log = ground_truth_log(root, study)
    down: list[float] = []
    errors: list[BaseException] = []

    def outage_mid_run() -> None:
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                returned = [e for e in read_evaluations(log) if e.nonce is not None]
                if len(returned) >= BUDGET // 3:
                    down.append(outage())
                    return
                time.sleep(0.05)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=outage_mid_run, daemon=True)
    thread.start()
    try:
        result = tw.run(
            objectives.recorded,
            objectives.SPACE,
            root=root,
            storage=postgres_url,
            study=study,
            optimizer="random_search",
            budget=BUDGET,
            workers=6,
            seed=2,
            progress=False,
            heartbeat_interval=0.5,
            stale_after=stale_after,
        )
    finally:
        thread.join(timeout=120)
    result.close()
    assert not errors, errors
    assert down, "the outage never happened"
    summary = check_invariants(storage_url(storage=postgres_url), study, root=root, budget=BUDGET)
    print(f"PostgreSQL did not answer for {down[0]:.1f} s; {summary}")
    return summary, down[0]


def test_workers_ride_through_a_postgres_restart(tmp_path, postgres_url, restartable_postgres):
    # stale_after is longer than the restart plus the store's longest backoff (2 s): no worker
    # is alive-but-silent long enough to be declared dead.
    summary, _ = run_through_outage(tmp_path, postgres_url, restartable_postgres, stale_after=20.0)
    assert not summary.crashed
    assert len(summary.evaluations) == BUDGET  # nothing was evaluated twice


def test_outage_longer_than_stale_after_evaluates_no_slot_twice(
    tmp_path, postgres_url, restartable_postgres
):
    _, down = run_through_outage(
        tmp_path, postgres_url, lambda: restartable_postgres(down=3.0), stale_after=2.0
    )
    assert down > 2.0
