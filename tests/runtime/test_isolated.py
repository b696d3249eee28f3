"""Evaluations in a child process: timeouts, crashes, memory limits, stops, importability."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import tunewise as tw
from tests.runtime import objectives
from tunewise.runtime.isolated import IsolationError, parse_memory
from tunewise.trial import TrialStatus

REPO = Path(__file__).resolve().parents[2]
KINDS = ["ok", "abort", "segfault", "hang", "memory"]


@pytest.mark.slow
def test_timeouts_crashes_and_memory_overruns_fail_their_trial_not_the_worker(tmp_path) -> None:
    result = tw.run(
        objectives.misbehaving,
        tw.Space(kind=tw.Categorical(KINDS)),
        root=tmp_path / "iso",
        optimizer="grid_search",
        trial_timeout=2,
        trial_memory_limit="300MB",
        progress=False,
    )
    trials = {t.config["kind"]: t for t in result.trial_list}
    assert len(result.trial_list) == len(KINDS)  # failures are not retried

    ok = trials["ok"]
    assert ok.status is TrialStatus.SUCCEEDED
    assert ok.learning_curve == ((1.0, 1.0), (2.0, 0.5), (3.0, 1 / 3))  # reported from the child
    assert (result.directory(ok.number) / "checkpoint").read_text() == "weights"
    assert ok.info["pid"] != os.getpid()

    assert trials["abort"].error == "evaluation process died with SIGABRT"
    assert trials["segfault"].error == "evaluation process died with SIGSEGV"
    assert trials["hang"].error == "timed out after 2 s"
    assert 2 <= trials["hang"].cost < 10
    assert trials["memory"].error.startswith("MemoryError: the evaluation used")
    assert "trial_memory_limit (300.0 MB)" in trials["memory"].error
    assert all(t.status is TrialStatus.FAILED for k, t in trials.items() if k != "ok")

    for trial in result.trial_list:  # no evaluation process is left behind
        pid = int((result.directory(trial.number) / "pid").read_text())
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    settings = result.record.settings  # stored, so attached workers obey them too
    assert settings["trial_timeout"] == 2 and settings["trial_memory_limit"] == 300_000_000


STOPPED = """
import sys
import tunewise as tw
from tests.runtime import objectives

tw.run(objectives.misbehaving, tw.Space(kind=tw.Categorical(["hang"])), root=sys.argv[1],
       optimizer="grid_search", trial_timeout=600, progress=False)
"""


@pytest.mark.slow
def test_sigterm_of_the_worker_kills_the_evaluation_and_requeues_the_trial(tmp_path) -> None:
    root = tmp_path / "stopped"
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(STOPPED), str(root)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stderr=subprocess.PIPE,
        text=True,
    )
    pid_file = root / "trials" / "0" / "pid"
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read()
    time.sleep(0.1)
    child = int(pid_file.read_text())
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "re-queued" in stderr
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
    trial = tw.load(root).trial_list[0]
    assert trial.status is TrialStatus.PENDING
    assert trial.error == "re-queued: interrupted by SIGTERM"


def test_objective_must_be_importable_for_a_timeout(tmp_path) -> None:
    with pytest.raises(TypeError, match="trial_timeout runs evaluate in separate processes"):
        tw.run(
            lambda c, t: 0.0,
            tw.Space(x=tw.Float(0.0, 1.0)),
            root=tmp_path / "lambda",
            budget=1,
            trial_timeout=5,
            optimizer="random_search",
        )


UNGUARDED = """
import sys
import tunewise as tw

def evaluate(config, trial):
    return 0.0

tw.run(evaluate, tw.Space(x=tw.Float(0.0, 1.0)), root=sys.argv[1], budget=1, trial_timeout=30,
       optimizer="random_search", progress=False)
"""


@pytest.mark.slow
def test_script_without_a_main_guard_is_a_clear_error_not_a_nested_run(tmp_path) -> None:
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent(UNGUARDED))
    run = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "root")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode != 0
    assert IsolationError.__name__ in run.stderr
    assert 'if __name__ == "__main__":' in run.stderr
    assert tw.load(tmp_path / "root").trial_list[0].status is TrialStatus.PENDING


@pytest.mark.parametrize(
    ("text", "size"),
    [(4_000_000_000, 4 * 10**9), ("4GB", 4 * 10**9), ("512MB", 512 * 10**6), ("2GiB", 2**31)],
)
def test_memory_sizes(text, size) -> None:
    assert parse_memory(text) == size


@pytest.mark.parametrize("text", ["lots", "-1GB", "0", True])
def test_bad_memory_sizes_are_clear_errors(text) -> None:
    with pytest.raises(ValueError, match="trial_memory_limit"):
        parse_memory(text)
