"""PyTorch Lightning: report each validation epoch to tunewise, checkpoint, and resume promotions.

``TunewiseCallback(trial)`` turns a Lightning training script into a tunewise objective::

    def evaluate(config, trial):
        callback = TunewiseCallback(trial, monitor="val_loss")
        trainer = lightning.pytorch.Trainer(max_epochs=config["epochs"], callbacks=[callback])
        trainer.fit(model, datamodule, ckpt_path=callback.ckpt_path)
        return callback.result()

With ``max_epochs`` set to the trial's fidelity, a Hyperband promotion from 3 to 9 epochs loads
the 3-epoch trial's checkpoint (``ckpt_path``), whose epoch counter Lightning restores, and trains
epochs 4 to 9 only.

Processes: the callback reports from global rank 0 only. When rank 0 is this process (one device,
or DDP whose rank 0 runs here) each report reaches the store while training runs. When Lightning
trains in child processes (``strategy="ddp_spawn"``, ``"ddp_fork"``, ``"ddp_notebook"``), a
report made there cannot reach this process's trial; rank 0 therefore writes its curve to
``trial.directory / "lightning_curve.json"``, a thread here relays new points to the trial while
that process lives, and :meth:`TunewiseCallback.result` (or
:meth:`~TunewiseCallback.collect`) hands over the last ones after ``fit`` returns.
``strategy="ddp"`` re-runs the whole script for every rank, ``tw.run`` included, which cannot
work inside a study; the callback refuses to start in such a copy.
"""

from __future__ import annotations

try:
    import lightning.pytorch as pl
except ImportError as error:
    raise ImportError(
        f"tunewise.integrations.lightning needs `pip install 'tunewise[lightning]'` ({error})"
    ) from error

from tunewise.integrations.lightning_core import CHECKPOINT, CURVE_FILE, LightningReporting

__all__ = ["CHECKPOINT", "CURVE_FILE", "TunewiseCallback"]


class TunewiseCallback(LightningReporting, pl.Callback):
    """A ``lightning.pytorch`` callback that reports ``monitor`` to the trial, checkpoints and
    resumes; see :class:`~tunewise.integrations.lightning_core.LightningReporting`."""
