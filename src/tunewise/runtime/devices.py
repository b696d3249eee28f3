"""One worker per GPU: find the GPUs, check the requested ones, and pin a child process to one.

A worker given device ``n`` runs its evaluations with ``CUDA_VISIBLE_DEVICES`` naming only that
GPU, set in the child's environment before it starts (CUDA reads the variable once, when it
initializes). ``n`` counts the GPUs this process sees: when ``CUDA_VISIBLE_DEVICES`` is already
set (a SLURM allocation, say), device 0 is the first GPU it lists.

GPUs are counted with ``torch.cuda.device_count()`` (NVML, without initializing CUDA), or with
``nvidia-smi`` when PyTorch is a CPU build. Set ``TUNEWISE_GPU_COUNT`` to say how many GPUs there
are when neither can see them (another framework's CUDA, an unusual driver setup); tunewise then
believes it. Asking for a GPU that is not there is an error, never a silent run on the CPU.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence

GPU_COUNT_ENV = "TUNEWISE_GPU_COUNT"
_environ_lock = threading.Lock()


def gpu_count() -> tuple[int, str]:
    """How many GPUs this process may use, and how that was found out (for messages)."""
    override = os.environ.get(GPU_COUNT_ENV)
    if override is not None:
        try:
            count = int(override)
        except ValueError:
            raise ValueError(f"{GPU_COUNT_ENV}={override!r} is not a whole number") from None
        return count, f"{GPU_COUNT_ENV}={count}"
    import torch

    count = torch.cuda.device_count()
    if count > 0:
        return count, "torch.cuda.device_count()"
    smi = _nvidia_smi_count()
    if smi is None:
        return 0, "torch.cuda.device_count() = 0 and no nvidia-smi"
    visible = _visible_devices()
    if visible is not None:
        smi = min(smi, len(visible))
    return smi, f"nvidia-smi (torch.cuda.device_count() = {count})"


def check_devices(devices: Sequence[int]) -> list[str]:
    """Validate GPU indices against the GPUs found; returns them as strings (``"0"``, ``"1"``)."""
    ids = check_device_ids(devices)
    count, how = gpu_count()
    if count == 0:
        raise ValueError(
            f"devices={list(devices)} asks for GPUs, but 0 GPUs were found ({how}); leave "
            f"devices unset to run on the CPU, or set {GPU_COUNT_ENV} if the GPUs are there but "
            "not seen"
        )
    missing = [d for d in devices if d >= count]
    if missing:
        raise ValueError(
            f"devices={list(devices)}: no GPU {', '.join(map(str, missing))}; {count} GPU(s) "
            f"found ({how}), numbered 0 to {count - 1}"
        )
    return ids


def check_device_ids(devices: Sequence[int]) -> list[str]:
    """Check that ``devices`` are distinct non-negative integers (without looking for GPUs)."""
    if isinstance(devices, str | bytes) or not isinstance(devices, Sequence) or not devices:
        raise ValueError(f"devices must be a non-empty list of GPU indices, not {devices!r}")
    for device in devices:
        if isinstance(device, bool) or not isinstance(device, int) or device < 0:
            raise ValueError(f"devices: {device!r} is not a GPU index (0, 1, ...)")
    repeated = sorted({d for d in devices if list(devices).count(d) > 1})
    if repeated:
        raise ValueError(
            f"devices={list(devices)} names GPU {', '.join(map(str, repeated))} more than once; "
            "tunewise starts one worker per GPU"
        )
    return [str(d) for d in devices]


def device_environment(device: str) -> dict[str, str]:
    """The environment that shows a child only GPU ``device`` (an index into the visible GPUs)."""
    visible = _visible_devices()
    index = int(device)
    if visible is not None:
        if index >= len(visible):
            raise ValueError(
                f"device {device}: CUDA_VISIBLE_DEVICES={os.environ['CUDA_VISIBLE_DEVICES']!r} "
                f"lists only {len(visible)} GPU(s)"
            )
        return {"CUDA_VISIBLE_DEVICES": visible[index]}
    return {"CUDA_VISIBLE_DEVICES": device}


@contextlib.contextmanager
def child_environment(env: Mapping[str, str]) -> Iterator[None]:
    """Set ``env`` in ``os.environ`` while a child process starts, then restore it.

    A spawned child copies the environment when it starts; setting the variables only around the
    start keeps them out of this process (the supervisor and its other children).
    """
    if not env:
        yield
        return
    with _environ_lock:
        saved = {key: os.environ.get(key) for key in env}
        os.environ.update(env)
        try:
            yield
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


def _visible_devices() -> list[str] | None:
    text = os.environ.get("CUDA_VISIBLE_DEVICES")
    if text is None:
        return None
    return [part.strip() for part in text.split(",") if part.strip() and part.strip() != "-1"]


def _nvidia_smi_count() -> int | None:
    executable = shutil.which("nvidia-smi")
    if executable is None:
        return None
    try:
        listing = subprocess.run(
            [executable, "--list-gpus"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return sum(1 for line in listing.splitlines() if line.startswith("GPU "))
