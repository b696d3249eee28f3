"""Objectives for the fault-injection tests; module-level so worker processes can import them.

Every evaluation leaves its own account in ``<study folder>/ground_truth.log``, one line per event
written with a single ``write`` on an ``O_APPEND`` descriptor (atomic for lines this short, so
lines of concurrent workers never interleave):

- ``begin NUMBER PID TIME`` when the objective starts;
- ``end NUMBER PID TIME VALUE NONCE`` just before it returns ``VALUE`` (with ``NONCE``, unique to
  this evaluation, in ``info["nonce"]``).

The test compares this log with the store (see :mod:`tests.faults.invariants`).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import tunewise as tw
from tunewise import TrialContext

LOG_NAME = "ground_truth.log"
SPACE = tw.Space(x=tw.Float(-5.0, 5.0), y=tw.Float(-5.0, 5.0))
"""The space of :func:`recorded`."""


def value_of(config: dict) -> float:
    """The objective's value: a deterministic function of the configuration."""
    return (config["x"] - 1.0) ** 2 + 0.5 * (config.get("y", 0.0) + 2.0) ** 2


def log_path(trial: TrialContext) -> Path:
    return Path(trial.directory).parents[1] / LOG_NAME  # <study folder>/trials/<number>


def _append(path: Path, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def recorded(config: dict, trial: TrialContext) -> dict:
    """Sleeps 50-100 ms (a deterministic share of the config), then returns ``value_of(config)``."""
    return _evaluate(config, trial, lambda: None)


def misbehaving(config: dict, trial: TrialContext) -> dict:
    """Does what ``config["kind"]`` says, else behaves as :func:`recorded`.

    ``hang`` sleeps for ten minutes; ``abort`` calls ``os.abort()`` (SIGABRT); ``segfault`` reads
    address 0; ``memory`` allocates 20 MB at a time, each page touched, up to 640 MB (far more
    than the tests' 256 MB limit, never enough to hurt the machine).
    """
    return _evaluate(config, trial, MISDEEDS[config["kind"]])


def aborts_on_one_config(config: dict, trial: TrialContext) -> dict:
    """:func:`recorded`, except that it calls ``os.abort()`` (SIGABRT, as a crash in native code
    would) for the configuration whose ``x`` is ``$TW_FAULTS_ABORT_X``."""
    doomed = config["x"] == float(os.environ.get("TW_FAULTS_ABORT_X", "nan"))
    return _evaluate(config, trial, os.abort if doomed else lambda: None)


def stopped_while_converting(config: dict, trial: TrialContext) -> dict:
    """:func:`recorded`, but with ``$TW_FAULTS_STOP_IN_ITEM`` set its objective is a 0-d
    tensor-like value whose ``.item()`` gets this process SIGTERMed, as a Ctrl-C lands while
    tunewise reads a CUDA tensor's value (``.item()`` waits for the GPU to finish)."""
    result = _evaluate(config, trial, lambda: None)
    if os.environ.get("TW_FAULTS_STOP_IN_ITEM"):
        result["objective"] = _Scalar(result["objective"])
    return result


class _Scalar:
    size = 1

    def __init__(self, value: float) -> None:
        self.value = value

    def item(self) -> float:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the signal handler raises in here
        return self.value


def _evaluate(config: dict, trial: TrialContext, misdeed: Callable[[], object]) -> dict:
    path = log_path(trial)
    _append(path, f"begin {trial.number} {os.getpid()} {time.time()!r}\n")
    misdeed()
    time.sleep(0.05 + 0.05 * ((config["x"] + 5.0) / 10.0))
    value = value_of(config)
    nonce = uuid.uuid4().hex
    _append(path, f"end {trial.number} {os.getpid()} {time.time()!r} {value!r} {nonce}\n")
    return {"objective": value, "info": {"nonce": nonce, "pid": os.getpid()}}


def _segfault() -> None:
    import ctypes

    ctypes.string_at(0)


def _eat_memory() -> None:
    hoard = []
    for _ in range(32):
        hoard.append(bytearray(b"x" * 20_000_000))
        time.sleep(0.02)


MISDEEDS: dict[str, Callable[[], object]] = {
    "ok": lambda: None,
    "hang": lambda: time.sleep(600),
    "abort": os.abort,
    "segfault": _segfault,
    "memory": _eat_memory,
}
