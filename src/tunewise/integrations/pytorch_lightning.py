"""``TunewiseCallback`` for the ``pytorch_lightning`` package (Lightning before the ``lightning``
name): the same callback as :mod:`tunewise.integrations.lightning`, for
``pytorch_lightning.Trainer``, which accepts only its own package's callbacks."""

from __future__ import annotations

try:
    import pytorch_lightning
except ImportError as error:
    raise ImportError(
        "tunewise.integrations.pytorch_lightning needs `pip install pytorch-lightning` "
        f"(or use tunewise.integrations.lightning with `pip install 'tunewise[lightning]'`) "
        f"({error})"
    ) from error

from tunewise.integrations.lightning_core import CHECKPOINT, CURVE_FILE, LightningReporting

__all__ = ["CHECKPOINT", "CURVE_FILE", "TunewiseCallback"]


class TunewiseCallback(LightningReporting, pytorch_lightning.Callback):
    """A ``pytorch_lightning`` callback that reports ``monitor`` to the trial, checkpoints and
    resumes; see :class:`~tunewise.integrations.lightning_core.LightningReporting`."""
