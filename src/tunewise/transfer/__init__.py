"""Earlier runs: old studies mapped onto a changed space, transfer methods, priors learned.

``tw.run(..., transfer_from="runs/v1", transfer="best_first+model")`` maps the old trials onto
the new space (:mod:`tunewise.transfer.mapping`) and starts the optimizer from them
(:mod:`tunewise.transfer.layer`).
"""

from tunewise.transfer.layer import METHODS, Transfer, TransferReport, prepare
from tunewise.transfer.mapping import Mapped, map_trials
from tunewise.transfer.sources import OldStudy, load_sources

__all__ = [
    "METHODS",
    "Mapped",
    "OldStudy",
    "Transfer",
    "TransferReport",
    "load_sources",
    "map_trials",
    "prepare",
]
