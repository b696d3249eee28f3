"""A run with ``transfer_from=``: the layer for a new study, or the stored one on resume."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tunewise.optimizers import Optimizer, make
from tunewise.space import Space
from tunewise.storage import StudyMismatchError
from tunewise.transfer.layer import METHODS, prepare
from tunewise.transfer.sources import load_sources

logger = logging.getLogger("tunewise")


def transfer_layer(
    base: Optimizer,
    *,
    space: Space,
    transfer_from: Any,
    method: str,
    stored: Mapping[str, Any] | None,
) -> tuple[Optimizer, list[str]]:
    """The layer over ``base`` and the lines that say what carried over.

    ``stored`` is the study's stored optimizer spec when the study exists. A study that
    transfers resumes with its stored layer, with or without ``transfer_from`` (the old studies
    are not read again, so an old study that grew since changes nothing). A new study maps
    ``transfer_from``; without it, ``base`` is returned as it is.

    Raises:
        StudyMismatchError: the study exists and ``transfer_from`` would change how it was
            started: it has no transfer, or one over another optimizer or with another method.
    """
    if method not in METHODS:
        raise ValueError(f"transfer must be one of {', '.join(METHODS)}, not {method!r}")
    if stored is None or stored.get("name") != "transfer":
        if transfer_from is None:
            return base, []
        if stored is not None:
            raise StudyMismatchError(
                f"the study exists without a transfer (optimizer {stored.get('name')!r}); "
                "transfer_from starts a new study: use a new root (or study name)"
            )
        layer, found = prepare(
            base, space=space, sources=load_sources(transfer_from), method=method
        )
        lines = found.lines()
        for line in lines:
            logger.info("%s", line)
        return layer, lines
    if make(stored["base"]) != base:
        raise StudyMismatchError(
            f"the study transfers over the optimizer {stored['base']}, not {base.spec()}; "
            "resume with that optimizer, or use a new root (or study name)"
        )
    if transfer_from is not None and stored.get("method") != method:
        raise StudyMismatchError(
            f"the study transfers with transfer={stored.get('method')!r}, not {method!r}; "
            "resume with that method, or use a new root (or study name)"
        )
    report = stored.get("report") or {}
    lines = [
        f"resuming the study that transfers from {', '.join(report.get('sources', []))} "
        f"({stored.get('method')}; {report.get('mapped', '?')} old configurations, as first "
        "mapped)"
    ]
    return make(stored), lines
