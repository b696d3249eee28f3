"""Objectives for the transfer tests that worker processes can import."""

from __future__ import annotations

import math
from typing import Any

from tunewise.runtime.context import TrialContext


def bowl(config: dict[str, Any], trial: TrialContext) -> float:
    """Smallest at lr = 10^-2.5, w = 0.3 (adam), a little lower still at extra = 0.5."""
    value = (math.log10(config["lr"]) + 2.5) ** 2 + 4 * (config["w"] - 0.3) ** 2
    value += 0.0 if config["opt"] == "adam" else 0.5
    return value + 0.2 * (config.get("extra", 0.5) - 0.5) ** 2
