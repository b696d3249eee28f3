"""SIGKILLed workers in the middle of a run on PostgreSQL: the run still spends the exact budget,
records every slot once, and its table is what the objective returned."""

from __future__ import annotations

import pytest

import tunewise as tw
from tests.conftest import unique_name
from tests.faults import objectives
from tests.faults.conftest import FAST, Killer, spawned_workers
from tests.faults.invariants import check_invariants, ground_truth_log
from tunewise.storage import storage_url

pytestmark = pytest.mark.slow


def test_sixteen_workers_six_sigkilled_at_random(tmp_path, postgres_url) -> None:
    study, budget = unique_name("kill16"), 120
    log = ground_truth_log(tmp_path, study)
    killer = Killer(
        log,
        lambda: [p.pid for p in spawned_workers()],
        kills=6,
        start_after=10,
        stop_after=budget - 20,
        gap=0.5,
    )
    killer.start()
    try:
        result = tw.run(
            objectives.recorded,
            objectives.SPACE,
            root=tmp_path,
            storage=postgres_url,
            study=study,
            optimizer="random_search",
            budget=budget,
            workers=16,
            seed=1,
            max_retries=6,  # even the same slot killed every time is retried, not failed
            progress=False,
            **FAST,
        )
    finally:
        killed = killer.stop()
    result._study.store.close()
    print(f"killer seed {killer.seed}: killed {killed}")
    summary = check_invariants(
        storage_url(storage=postgres_url), study, root=tmp_path, budget=budget, signalled=killed
    )
    print(summary)
    assert len(killed) == 6, f"only {len(killed)} kills landed inside the run"
    assert summary.crashed, "no kill hit a running trial"
    assert all("SIGKILL" in (t.error or "") for t in summary.crashed), [
        t.error for t in summary.crashed
    ]
