"""What ``evaluate(config, trial)`` receives: the configuration, and the trial's identity,
fidelity and directories."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from tunewise.trial import Trial


class TrialContext:
    """The handle an objective gets for one trial.

    ``directory`` is this trial's own folder (write checkpoints there). ``previous_directory`` is
    the folder of the lower-fidelity trial this one continues, so training can resume instead of
    restarting; ``previous_fidelity`` is the fidelity that trial reached. ``report(step, value)``
    records a learning curve point; it is persisted while the trial runs and kept with the result.
    ``device`` is the GPU this worker was given (``tw.run(devices=[...])``, ``tunewise worker
    --device N``), as its index in that list, or None. The evaluation sees only that GPU
    (``CUDA_VISIBLE_DEVICES`` is set for it), so use ``torch.device("cuda")``, not the index.

    With early stopping (``tw.run(early_stopping="median")``, see
    :mod:`tunewise.runtime.early_stopping`) ``report`` returns True once the trial should stop,
    and ``should_stop()`` says so too; return what the trial reached. ``judge`` is the runtime's
    hook: called with the curve after each report, it answers whether to stop.
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
        judge: Callable[[list[tuple[float, float]]], bool] | None = None,
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
        self._judge = judge
        self._lock = threading.Lock()
        self._curve: list[tuple[float, float]] = []
        self._stop = False
        self._stop_seen: int | None = None

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

    def report(self, step: float, value: float) -> bool:
        """Record the objective ``value`` after ``step`` (e.g. an epoch) of training; True when
        the trial should stop (early stopping judged this point; always False without it)."""
        step, value = float(step), float(value)
        if not math.isfinite(step):
            raise ValueError(f"trial.report: step must be finite, got {step!r}")
        with self._lock:
            self._curve.append((step, value))
            curve = list(self._curve)
        if self._on_report is not None:
            self._on_report(curve)
        if self._judge is not None and self._judge(curve):
            self.advise_stop()
        return self.should_stop()

    def should_stop(self) -> bool:
        """True once early stopping judged that this trial should stop: return the value it
        reached. Never waits; always False without early stopping."""
        with self._lock:
            if self._stop and self._stop_seen is None:
                self._stop_seen = len(self._curve)
            return self._stop

    def advise_stop(self) -> None:
        """The runtime's side: from now on ``should_stop()`` is True (a verdict that arrived
        from the worker, for an evaluation in a child process)."""
        with self._lock:
            self._stop = True

    @property
    def stop_seen(self) -> int | None:
        """How many points were reported when the objective first learnt that it should stop
        (``report`` or ``should_stop`` returned True); None if it never did."""
        with self._lock:
            return self._stop_seen

    def __repr__(self) -> str:
        return (
            f"TrialContext(number={self.number}, fidelity={self.fidelity!r}, "
            f"directory='{self._directory}')"
        )


Evaluate = Callable[[dict[str, Any], TrialContext], Any]
"""An objective: ``evaluate(config, trial)`` returns a float or a dict (see ``tw.run``)."""


def objective_config(trial: Trial, fidelity_name: str | None) -> dict[str, Any]:
    """The ``config`` an objective is called with: the trial's configuration, plus its fidelity
    under the fidelity parameter's name (``config["epochs"] = trial.fidelity``).

    This is the one convention of tunewise for where an objective finds its fidelity: both as
    ``trial.fidelity`` and in ``config`` like any other hyperparameter, so that a user's
    ``evaluate`` reads ``config["epochs"]``. The store keeps the fidelity apart from the
    configuration (``Trial.fidelity``); every runner (workers, evaluation children, the
    simulated runtime) builds the objective's ``config`` here. ``fidelity_name`` is the space's
    (None without a fidelity, or a trial without one: the configuration alone).
    :func:`searched_config` undoes it.
    """
    config = dict(trial.config)
    if fidelity_name is not None and trial.fidelity is not None:
        config[fidelity_name] = trial.fidelity
    return config


def searched_config(config: Mapping[str, Any], fidelity_name: str | None) -> dict[str, Any]:
    """The searched values of an objective's ``config``: without the fidelity that
    :func:`objective_config` put under ``fidelity_name`` (for objectives that take the fidelity
    from ``trial.fidelity`` and the configuration alone, such as the benchmarks')."""
    return {k: v for k, v in config.items() if k != fidelity_name}
