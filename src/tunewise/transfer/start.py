"""A run with ``transfer_from=``: the layer for a new study, or the stored one on resume."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from tunewise.optimizers import Optimizer, make
from tunewise.space import Space
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

    ``stored`` is the study's stored optimizer spec when the study exists: a study that already
    transfers with the same base optimizer and method resumes with its stored layer (the old
    studies are not read again, so an old study that grew since does not make the resume a
    mismatch; resuming without ``transfer_from`` keeps the stored layer too). Anything else maps
    ``transfer_from`` afresh; without ``transfer_from`` and a stored layer, ``base`` is returned.
    """
    if method not in METHODS:
        raise ValueError(f"transfer must be one of {', '.join(METHODS)}, not {method!r}")
    transfers = stored is not None and stored.get("name") == "transfer"
    if transfer_from is None and not transfers:
        return base, []
    if (
        stored is not None
        and transfers
        and (transfer_from is None or stored.get("method") == method)
        and make(stored["base"]) == base
    ):
        layer = make(stored)
        report = stored.get("report") or {}
        lines = [
            f"resuming the study that transfers from {', '.join(report.get('sources', []))} "
            f"({method}; {report.get('mapped', '?')} old configurations, as first mapped)"
        ]
        return layer, lines
    layer, found = prepare(base, space=space, sources=load_sources(transfer_from), method=method)
    lines = found.lines()
    for line in lines:
        logger.info("%s", line)
    return layer, lines
