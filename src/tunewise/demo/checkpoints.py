"""Checkpoints for the bundled PyTorch objectives (the demo MLP and the CNN benchmark).

Written atomically (temp file + rename) so a killed worker never leaves half a file, loaded with
``weights_only=True``, and checked against the config's seed, a format version and the epochs
the continuing trial wants; anything unusable means "train from scratch", with a warning.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint.pt"
VERSION = 1

logger = logging.getLogger("tunewise")


def load_checkpoint(
    directory: Path | None, *, seed: int, epochs: int, label: str
) -> dict[str, Any] | None:
    """The usable checkpoint in ``directory``, or None (with a warning when one was expected)."""
    if directory is None:
        return None
    path = Path(directory) / CHECKPOINT
    try:
        state: dict[str, Any] = torch.load(path, weights_only=True)
        done = int(state["epochs_done"])
        if state.get("version") != VERSION or int(state["seed"]) != seed:
            raise ValueError("checkpoint belongs to another config, seed or version")
        if not 0 < done <= epochs:
            raise ValueError(f"checkpoint has {done} epochs, this trial wants {epochs}")
        return state
    except Exception as exc:
        logger.warning("%s: cannot continue from %s (%s); training from scratch", label, path, exc)
        return None


def save_checkpoint(directory: Path, state: dict[str, Any]) -> None:
    """Write ``state`` (plus the format version) to ``directory/checkpoint.pt`` atomically."""
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{CHECKPOINT}.{os.getpid()}.tmp"
    torch.save({**state, "version": VERSION}, tmp)
    os.replace(tmp, directory / CHECKPOINT)
