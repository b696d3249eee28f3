"""What ``TunewiseCallback`` does, written once for both Lightning packages.

``lightning.pytorch`` and the older ``pytorch_lightning`` are separate packages whose trainers
accept only their own ``Callback`` subclasses; :class:`LightningReporting` holds the behaviour
(reporting from rank 0, checkpoints, resuming, the curve file for child processes) and imports
neither, and :mod:`tunewise.integrations.lightning` / :mod:`tunewise.integrations.pytorch_lightning`
each join it to their package's ``Callback``. See :mod:`tunewise.integrations.lightning`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tunewise.runtime.context import TrialContext

CHECKPOINT = "last.ckpt"
CURVE_FILE = "lightning_curve.json"


class LightningReporting:
    """Report ``monitor`` to ``trial`` at each validation end and keep a checkpoint to resume.

    ``monitor`` is a metric the module logs (``self.log("val_loss", ..., sync_dist=True)`` so
    that under DDP every rank's data counts); it is reported as ``trial.report(step, value)``
    with ``step`` the number of epochs trained (``current_epoch + 1``, the fidelity's unit when
    the fidelity is ``max_epochs``). Sanity-check validation is not reported. ``filename`` is the
    checkpoint written to ``trial.directory`` after each training epoch (``save=False``: none);
    :attr:`ckpt_path` is the one of the trial this one continues, for ``trainer.fit``.
    """

    def __init__(
        self,
        trial: TrialContext,
        *,
        monitor: str = "val_loss",
        filename: str = CHECKPOINT,
        save: bool = True,
    ) -> None:
        if not isinstance(trial, TrialContext):
            raise TypeError(f"trial must be the TrialContext evaluate got, not {type(trial)}")
        if os.environ.get("LOCAL_RANK", "0") != "0":
            raise RuntimeError(
                f"TunewiseCallback was created in a process with LOCAL_RANK="
                f"{os.environ['LOCAL_RANK']}: a copy of the script that Lightning's "
                "strategy='ddp' starts for each rank, which would run tw.run again. Inside a "
                "study use strategy='ddp_spawn' or 'ddp_fork' (rank 0 reports), see "
                "tunewise.integrations.lightning"
            )
        super().__init__()
        self.monitor = monitor
        self.filename = filename
        self.save = save
        self._trial: TrialContext | None = trial
        self._directory = trial.directory
        self._previous = trial.previous_directory
        self._owner = os.getpid()
        self._handed: list[tuple[float, float]] = []  # points this process gave the trial
        (self._directory / CURVE_FILE).unlink(missing_ok=True)

    # -- what the user reads --------------------------------------------------------------------

    @property
    def ckpt_path(self) -> str | None:
        """The checkpoint of the lower-fidelity trial this one continues, or None (start anew)."""
        if self._previous is None:
            return None
        path = self._previous / self.filename
        return str(path) if path.is_file() else None

    @property
    def checkpoint(self) -> Path:
        """Where this trial's checkpoint goes: ``trial.directory / filename``."""
        return self._directory / self.filename

    @property
    def learning_curve(self) -> list[tuple[float, float]]:
        """The ``(step, value)`` points rank 0 reported, wherever it ran."""
        path = self._directory / CURVE_FILE
        if not path.is_file():
            return list(self._handed)
        return [(float(s), float(v)) for s, v in json.loads(path.read_text())]

    def collect(self) -> list[tuple[float, float]]:
        """Hand the trial the points rank 0 reported in another process; return the whole curve.

        Needed only when training ran in child processes (``ddp_spawn``/``ddp_fork``); harmless
        otherwise (points already reported here are not reported twice).
        """
        curve = self.learning_curve
        if self._trial is not None:
            for step, value in curve[len(self._handed) :]:
                self._trial.report(step, value)
                self._handed.append((step, value))
        return curve

    def result(self) -> dict[str, Any]:
        """What ``evaluate`` returns: ``{"objective": last value, "learning_curve": curve}``.

        Collects the curve first (see :meth:`collect`); raises RuntimeError when no validation
        epoch reported ``monitor``.
        """
        curve = self.collect()
        if not curve:
            raise RuntimeError(
                f"TunewiseCallback: no validation epoch reported {self.monitor!r} "
                "(did trainer.fit run a validation loop?)"
            )
        return {"objective": curve[-1][1], "learning_curve": [list(p) for p in curve]}

    # -- Lightning hooks ------------------------------------------------------------------------

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.global_rank != 0:
            return
        if self.monitor not in trainer.callback_metrics:
            logged = ", ".join(sorted(trainer.callback_metrics)) or "none"
            raise KeyError(
                f"TunewiseCallback: monitor {self.monitor!r} was not logged "
                f"(logged metrics: {logged}); log it with self.log({self.monitor!r}, ...)"
            )
        value = float(trainer.callback_metrics[self.monitor])
        step = float(trainer.current_epoch + 1)
        curve = self.learning_curve
        curve.append((step, value))
        self._write_curve(curve)
        if self._trial is not None and os.getpid() == self._owner:
            self._trial.report(step, value)
            self._handed.append((step, value))

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.save:  # on every rank: Lightning writes on rank 0 and synchronizes the others
            trainer.save_checkpoint(self.checkpoint)

    # -- processes ------------------------------------------------------------------------------

    def _write_curve(self, curve: list[tuple[float, float]]) -> None:
        path = self._directory / CURVE_FILE
        partial = path.with_suffix(".tmp")
        partial.write_text(json.dumps(curve))
        partial.replace(path)  # a reader never sees half a file

    def __getstate__(self) -> dict[str, Any]:
        """Sent to a spawned process without the trial (it holds a lock and this process's
        heartbeat); rank 0 there writes the curve file that :meth:`collect` reads here."""
        state = dict(self.__dict__)
        state["_trial"] = None
        return state
