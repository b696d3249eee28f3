"""Objectives for runtime tests; module-level so worker processes can import them."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from tunewise import TrialContext


def quadratic(config: dict, trial: TrialContext) -> float:
    return (config["x"] - 1.0) ** 2


def slow_quadratic(config: dict, trial: TrialContext) -> dict:
    """Takes a while and leaves its pid and a marker in its directory, for kill tests."""
    (trial.directory / "pid").write_text(str(os.getpid()))
    delay = float(os.environ.get("TW_TEST_DELAY", "0.3"))
    time.sleep(delay)
    (trial.directory / "done").write_text("ok")
    return {"objective": (config["x"] - 1.0) ** 2, "info": {"pid": os.getpid()}}


def fails_on_negative(config: dict, trial: TrialContext) -> float:
    if config["x"] < 0:
        raise ValueError(f"x={config['x']:.3f} is negative")
    return config["x"]


def pid_files(root: Path) -> list[Path]:
    return sorted(root.glob("trials/*/pid"))


def misbehaving(config: dict, trial: TrialContext) -> dict:
    """Does what ``config["kind"]`` says: finish (reporting a curve and writing a checkpoint),
    abort, segfault, hang, eat memory or SIGKILL its own process."""
    kind = config["kind"]
    (trial.directory / "pid").write_text(str(os.getpid()))
    if kind == "abort":
        os.abort()
    if kind == "segfault":
        import ctypes

        ctypes.string_at(0)
    if kind == "hang":
        time.sleep(600)
    if kind == "memory":
        hoard = []
        for _ in range(100):  # up to 2 GB, 20 MB at a time, each page touched
            hoard.append(bytearray(b"x" * 20_000_000))
            time.sleep(0.01)
    if kind == "sigkill":
        os.kill(os.getpid(), signal.SIGKILL)
    for step in (1, 2, 3):
        trial.report(step, 1.0 / step)
    (trial.directory / "checkpoint").write_text("weights")
    return {"objective": 0.0, "info": {"pid": os.getpid()}}


def environment(config: dict, trial: TrialContext) -> dict:
    """Reports what the evaluation saw: its GPU environment, ``trial.device`` and pid.

    With ``TW_TEST_BARRIER=FOLDER:N`` it first waits (up to a minute) until N workers have
    started evaluating, so that every worker gets a trial however slowly the others start.
    """
    barrier = os.environ.get("TW_TEST_BARRIER")
    if barrier:
        folder, count = barrier.rsplit(":", 1)
        Path(folder, trial.worker.replace("/", "_")).touch()
        deadline = time.monotonic() + 60
        while len(list(Path(folder).iterdir())) < int(count) and time.monotonic() < deadline:
            time.sleep(0.02)
    return {
        "objective": config["x"],
        "info": {
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "device": trial.device,
            "pid": os.getpid(),
        },
    }


def gpu_probe(config: dict, trial: TrialContext) -> dict:
    """Computes on the GPU it was given and says which GPUs it could see."""
    import torch

    value = (torch.ones(4, device="cuda") * config["x"]).sum().item()
    return {
        "objective": value,
        "info": {
            "visible": torch.cuda.device_count(),
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "device": trial.device,
        },
    }


def always_fails(config: dict, trial: TrialContext) -> float:
    raise FileNotFoundError(f"no such file: data-{trial.number}.csv")


def curve_then_interrupt_once(config: dict, trial: TrialContext) -> float:
    """Reports a 3-step curve; the first call anywhere under the root raises Ctrl-C instead
    (the run stops with its trial re-queued, for a worker attached later to finish)."""
    marker = trial.directory.parents[1] / "interrupted-once"
    if not marker.exists():
        marker.write_text("yes")
        raise KeyboardInterrupt
    for step in (1, 2, 3):
        trial.report(step, config["x"] / step)
    return config["x"] / 3
