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
    path = log_path(trial)
    _append(path, f"begin {trial.number} {os.getpid()} {time.time()!r}\n")
    time.sleep(0.05 + 0.05 * ((config["x"] + 5.0) / 10.0))
    value = value_of(config)
    nonce = uuid.uuid4().hex
    _append(path, f"end {trial.number} {os.getpid()} {time.time()!r} {value!r} {nonce}\n")
    return {"objective": value, "info": {"nonce": nonce, "pid": os.getpid()}}


def misbehaving(config: dict, trial: TrialContext) -> dict:
    """Does what ``config["kind"]`` says, else behaves as :func:`recorded`.

    ``hang`` sleeps for ten minutes; ``abort`` calls ``os.abort()`` (SIGABRT, as a segfault in
    native code would kill the process); ``memory`` allocates 20 MB at a time, each page touched,
    up to 640 MB (more than the tests' 256 MB limit, never enough to hurt the machine);
    ``sigkill`` kills its own process.
    """
    kind = config["kind"]
    if kind == "hang":
        time.sleep(600)
    elif kind == "abort":
        os.abort()
    elif kind == "memory":
        hoard = []
        for _ in range(32):
            hoard.append(bytearray(b"x" * 20_000_000))
            time.sleep(0.02)
    elif kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    return recorded(config, trial)
