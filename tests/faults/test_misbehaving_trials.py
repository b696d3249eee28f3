"""Objectives that hang, crash their process or eat memory, with and without a child process per
evaluation (``trial_timeout`` / ``trial_memory_limit``)."""

from __future__ import annotations

import collections

import pytest

import tunewise as tw
from tests.conftest import unique_name
from tests.faults import objectives
from tests.faults.conftest import FAST
from tests.faults.invariants import check_invariants
from tunewise.optimizers.base import rng_for
from tunewise.storage import storage_url
from tunewise.trial import Trial, TrialStatus

pytestmark = pytest.mark.slow

KINDS = ["ok", "hang", "abort", "segfault", "memory"]
ERRORS = {
    "hang": "timed out after 1.5 s",
    "abort": "evaluation process died with SIGABRT",
    "segfault": "evaluation process died with SIGSEGV",
    "memory": "MemoryError: the evaluation used",
}


def test_hanging_crashing_and_memory_hungry_trials_fail_alone(tmp_path, postgres_url) -> None:
    space = tw.Space(
        kind=tw.Categorical(KINDS, prior="ok", confidence="high"), x=tw.Float(-5.0, 5.0)
    )
    study, budget = unique_name("misbehaving"), 16
    result = tw.run(
        objectives.misbehaving,
        space,
        root=tmp_path,
        storage=postgres_url,
        study=study,
        optimizer={"name": "random_search", "use_priors": True},
        budget=budget,
        workers=4,
        seed=3,  # samples 0-15: 10 ok, 2 hang, 2 memory, 1 segfault, 1 abort
        trial_timeout=1.5,
        trial_memory_limit="256MB",
        progress=False,
        **FAST,
    )
    result.close()

    def expected(trial: Trial) -> bool:
        kind = trial.config["kind"]
        return kind != "ok" and (trial.error or "").startswith(ERRORS[kind])

    summary = check_invariants(
        storage_url(storage=postgres_url),
        study,
        root=tmp_path,
        budget=budget,
        expected_failure=expected,
    )
    print(summary)
    kinds = collections.Counter(t.config["kind"] for t in summary.trials)
    assert kinds == {"ok": 10, "hang": 2, "memory": 2, "segfault": 1, "abort": 1}
    assert not summary.crashed  # no worker died: each misdeed took only its child process
    assert {t.config["kind"] for t in summary.failed} == set(ERRORS)
    for trial in summary.failed:
        if trial.config["kind"] == "hang":
            assert 1.5 <= trial.cost < 10, trial.cost
        if trial.config["kind"] == "memory":
            assert "trial_memory_limit (256.0 MB)" in trial.error


def test_trial_that_aborts_its_worker_is_retried_then_failed(
    tmp_path, postgres_url, monkeypatch
) -> None:
    study, budget, seed = unique_name("abort"), 24, 5
    doomed = objectives.SPACE.sample(rng_for(seed, 0))  # the first trial: claimed before any crash
    monkeypatch.setenv("TW_FAULTS_ABORT_X", repr(doomed["x"]))
    result = tw.run(
        objectives.aborts_on_one_config,
        objectives.SPACE,
        root=tmp_path,
        storage=postgres_url,
        study=study,
        optimizer="random_search",
        budget=budget,
        workers=4,
        seed=seed,
        max_retries=2,
        progress=False,
        **FAST,
    )
    result.close()
    summary = check_invariants(
        storage_url(storage=postgres_url),
        study,
        root=tmp_path,
        budget=budget,
        expected_failure=lambda t: dict(t.config) == doomed,
    )
    print(summary)
    chain = sorted((t for t in summary.trials if dict(t.config) == doomed), key=lambda t: t.number)
    # evaluated max_retries + 1 times, each killing its worker; the last death fails the slot
    assert [t.status for t in chain] == [TrialStatus.CRASHED] * 2 + [TrialStatus.FAILED]
    assert [t.retry_of for t in chain] == [None] + [t.number for t in chain[:-1]]
    assert all("worker process died (SIGABRT)" in t.error for t in chain)
    assert "max_retries=2" in chain[-1].error
    assert len(summary.failed) == 1 and not summary.unrecorded
