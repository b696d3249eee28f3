"""What ``TunewiseCallback`` does, written once for both Lightning packages.

``lightning.pytorch`` and the older ``pytorch_lightning`` are separate packages whose trainers
accept only their own ``Callback`` subclasses; :class:`LightningReporting` holds the behaviour
(reporting from rank 0, checkpoints, resuming, the relay from child processes) and imports
neither, and :mod:`tunewise.integrations.lightning` / :mod:`tunewise.integrations.pytorch_lightning`
each join it to their package's ``Callback``. See :mod:`tunewise.integrations.lightning`.
"""

from __future__ import annotations

import json
import os
import threading
import weakref
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class TrialContext(Protocol):
    """What the callback needs of the trial ``evaluate`` got (a ``tunewise.TrialContext``):
    said as a protocol so that the integrations import nothing of the runtime."""

    @property
    def directory(self) -> Path: ...

    @property
    def previous_directory(self) -> Path | None: ...

    def report(self, step: float, value: float) -> None: ...


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

    Only global rank 0 reports. It also writes its curve, with its process id, to
    ``trial.directory / "lightning_curve.json"``: when it trains in a child process
    (``ddp_spawn``, ``ddp_fork``), a thread here relays new points from that file to the trial
    every ``relay_interval`` seconds while that process lives, and :meth:`collect` (called by
    :meth:`result`) hands over the rest once ``fit`` returned. The thread ends at ``collect``,
    when rank 0 turns out to be this process, or when its process is gone, so it never reports
    into a later trial.
    """

    def __init__(
        self,
        trial: TrialContext,
        *,
        monitor: str = "val_loss",
        filename: str = CHECKPOINT,
        save: bool = True,
        relay_interval: float = 1.0,
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
        if not relay_interval > 0:
            raise ValueError(f"relay_interval must be > 0 seconds, got {relay_interval!r}")
        super().__init__()
        self.monitor = monitor
        self.filename = filename
        self.save = save
        self.relay_interval = relay_interval
        self._trial: TrialContext | None = trial
        self._directory = trial.directory
        self._previous = trial.previous_directory
        self._owner = os.getpid()
        self._handed: list[tuple[float, float]] = []  # points this process gave the trial
        self._lock: threading.Lock | None = threading.Lock()
        self._collected = False
        (self._directory / CURVE_FILE).unlink(missing_ok=True)
        _start_relay(self)

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
        _, curve = self._read()
        return curve if curve is not None else list(self._handed)

    def collect(self) -> list[tuple[float, float]]:
        """Hand the trial the points rank 0 reported in another process; return the whole curve.

        Needed only when training ran in child processes (``ddp_spawn``/``ddp_fork``), after
        ``fit`` returned; harmless otherwise (no point is reported twice). Ends the relay.
        """
        assert self._lock is not None, "collect() is for the process that created the callback"
        with self._lock:
            self._collected = True
            curve = self.learning_curve
            self._hand_over(curve)
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
        point = (float(trainer.current_epoch + 1), float(trainer.callback_metrics[self.monitor]))
        if os.getpid() != self._owner or self._lock is None:
            self._write([*self.learning_curve, point])  # a child: the relay picks it up
            return
        with self._lock:
            curve = [*self.learning_curve, point]
            self._write(curve)
            self._hand_over(curve)

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if self.save:  # on every rank: Lightning writes on rank 0 and synchronizes the others
            trainer.save_checkpoint(self.checkpoint)

    # -- processes ------------------------------------------------------------------------------

    def _hand_over(self, curve: list[tuple[float, float]]) -> None:
        """Report the points of ``curve`` not yet given to the trial (the lock is held)."""
        if self._trial is None:
            return
        for step, value in curve[len(self._handed) :]:
            self._trial.report(step, value)
            self._handed.append((step, value))

    def _relay(self) -> bool:
        """One look at the curve file from the relay thread; False when the relay should end."""
        writer, curve = self._read()
        if writer is None or curve is None:
            return True  # no validation yet
        if writer == self._owner or not _alive(writer):
            return False  # rank 0 reports here itself, or has finished (collect() takes the rest)
        assert self._lock is not None
        with self._lock:
            if self._collected:
                return False
            self._hand_over(curve)
        return True

    def _read(self) -> tuple[int | None, list[tuple[float, float]] | None]:
        path = self._directory / CURVE_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return None, None
        return int(data["pid"]), [(float(s), float(v)) for s, v in data["curve"]]

    def _write(self, curve: list[tuple[float, float]]) -> None:
        path = self._directory / CURVE_FILE
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps({"pid": os.getpid(), "curve": curve}))
        partial.replace(path)  # a reader never sees half a file

    def __getstate__(self) -> dict[str, Any]:
        """Sent to a spawned process without the trial and the lock (they belong to this
        process); rank 0 there writes the curve file that the relay reads here."""
        state = dict(self.__dict__)
        state["_trial"] = None
        state["_lock"] = None
        return state


def _start_relay(callback: LightningReporting) -> None:
    """A daemon thread that calls ``callback._relay()`` every ``relay_interval`` seconds; it
    holds only a weak reference, so a dropped callback ends it too."""
    reference = weakref.ref(callback)
    interval = callback.relay_interval

    def loop() -> None:
        stop = threading.Event()
        while not stop.wait(interval):
            target = reference()
            if target is None or not target._relay():
                return
            del target

    threading.Thread(target=loop, name="tunewise-lightning-relay", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
