"""Earlier runs: old studies mapped onto a changed space, transfer methods, priors learned.

``tw.run(..., transfer_from="runs/v1", transfer="best_first+model")`` maps the old trials onto
the new space (:mod:`tunewise.transfer.mapping`) and starts the optimizer from them
(:mod:`tunewise.transfer.layer`). ``tw.priors_from("runs/v1", space)`` learns priors from
them instead (:mod:`tunewise.transfer.priors`); :mod:`tunewise.runtime.trials_io` writes and reads
trials files.
"""

from typing import Any

from tunewise.space import Space
from tunewise.transfer import priors as _priors
from tunewise.transfer.layer import METHODS, Transfer, TransferReport, prepare
from tunewise.transfer.mapping import Mapped, map_trials
from tunewise.transfer.priors import LearnedPriors, learn_priors
from tunewise.transfer.sources import OldStudy, load_sources

__all__ = [
    "METHODS",
    "LearnedPriors",
    "Mapped",
    "OldStudy",
    "Transfer",
    "TransferReport",
    "learn_priors",
    "load_sources",
    "map_trials",
    "prepare",
    "priors_from",
]


def priors_from(
    old: Any, space: Space, *, top_k: int | None = None, confidence: str | None = None
) -> Space:
    """``space`` with priors learned from the old studies ``old`` (a root, a store URL with
    ``#study``, a trials file, a ``Result``, or a list of them: studies of the same pipeline on
    other datasets, say), ready for PriorBand and piBO: each shared parameter's prior sits at the
    mapped old incumbent (the per-study incumbents' median across several), its confidence from
    how tightly the old top-k agree (:mod:`tunewise.transfer.priors`)."""
    return _priors.priors_from(load_sources(old), space, top_k=top_k, confidence=confidence)
