"""What ``evaluate(config, trial)`` receives: the trial's identity, fidelity and directories."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any


class TrialContext:
    """The handle an objective gets for one trial.

    ``directory`` is this trial's own folder (write checkpoints there). ``previous_directory`` is
    the folder of the lower-fidelity trial this one continues, so training can resume instead of
    restarting; ``previous_fidelity`` is the fidelity that trial reached. ``report(step, value)``
    records a learning curve point; it is persisted while the trial runs and kept with the result.
    ``device`` is the GPU this worker was given (``tw.run(devices=[...])``, ``tunewise worker
    --device N``), as its index in that list, or None. The evaluation sees only that GPU
    (``CUDA_VISIBLE_DEVICES`` is set for it), so use ``torch.device("cuda")``, not the index.
    """

    def __init__(
        self,
        *,
        number: int,
        config: Mapping[str, Any],
        fidelity: float | int | None,
        directory: Path,
        previous_directory: Path | None = None,
        previous_trial: int | None = None,
        previous_fidelity: float | int | None = None,
        study: str = "",
        worker: str = "",
        device: str | None = None,
        on_report: Callable[[list[tuple[float, float]]], None] | None = None,
    ) -> None:
        self.number = number
        self.config = dict(config)
        self.fidelity = fidelity
        self._directory = Path(directory)
        self._directory_made = False
        self.previous_directory = Path(previous_directory) if previous_directory else None
        self.previous_trial = previous_trial
        self.previous_fidelity = previous_fidelity
        self.study = study
        self.worker = worker
        self.device = device
        self._on_report = on_report
        self._lock = threading.Lock()
        self._curve: list[tuple[float, float]] = []

    @property
    def directory(self) -> Path:
        """This trial's folder, created when first asked for (most objectives never need it)."""
        if not self._directory_made:
            self._directory.mkdir(parents=True, exist_ok=True)
            self._directory_made = True
        return self._directory

    @property
    def id(self) -> int:
        """The trial's number in its study (dense: 0, 1, 2, ...)."""
        return self.number

    @property
    def learning_curve(self) -> list[tuple[float, float]]:
        with self._lock:
            return list(self._curve)

    def report(self, step: float, value: float) -> None:
        """Record the objective ``value`` after ``step`` (e.g. an epoch) of training."""
        step, value = float(step), float(value)
        if not math.isfinite(step):
            raise ValueError(f"trial.report: step must be finite, got {step!r}")
        with self._lock:
            self._curve.append((step, value))
            curve = list(self._curve)
        if self._on_report is not None:
            self._on_report(curve)

    def __repr__(self) -> str:
        return (
            f"TrialContext(number={self.number}, fidelity={self.fidelity!r}, "
            f"directory='{self._directory}')"
        )


Evaluate = Callable[[dict[str, Any], TrialContext], Any]
"""An objective: ``evaluate(config, trial)`` returns a float or a dict (see ``tw.run``)."""
