"""The numbers and files of one analysis (:class:`Report`), apart from computing and rendering.

:mod:`tunewise.analysis.report` fills a :class:`Report`; :mod:`tunewise.analysis.render` writes
it as Markdown and HTML. Both import this module, and neither imports the other's internals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from tunewise.analysis import lmem
from tunewise.analysis.regret import CriticalDifference


@dataclass(frozen=True)
class DataSummary:
    """What was analysed: sizes, budgets, the modeled value and column renames."""

    source: str
    n_rows: int
    algorithms: list[str]
    benchmarks: list[str]
    tasks: list[str]
    task_columns: list[str]
    n_seeds: int
    budgets: list[float]
    analysed_budgets: list[float]
    primary_budget: float
    value: str
    renamed: dict[str, str]
    meta_features: list[str]
    value_sources: list[str] = field(default_factory=list)
    """What ``value`` holds, from the table's ``value_source`` column (``tunewise bench``:
    ``oracle`` or ``observed``); empty when the table does not say."""


@dataclass
class Report:
    """Numbers and files of one analysis; ``comparisons``/``interactions`` are keyed by budget."""

    out_dir: Path
    markdown: Path
    html: Path
    summary: DataSummary
    bounds: pd.DataFrame
    means: pd.DataFrame
    ranks: pd.DataFrame
    comparisons: dict[float, lmem.Comparison] = field(default_factory=dict)
    interactions: dict[str, dict[float, lmem.InteractionTest]] = field(default_factory=dict)
    seed: lmem.LRT | None = None
    seed_slopes: lmem.SeedSlopes | None = None
    informativeness: pd.DataFrame | None = None
    fidelity: lmem.InteractionTest | None = None
    critical_difference: CriticalDifference | None = None
    figures: dict[str, Path] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rank_blocks: int = 0
    """Blocks (instance x seed) behind :attr:`ranks` at the primary budget; the CD diagram ranks
    one seed-mean per task instead (``critical_difference.n_blocks``)."""

    @property
    def primary(self) -> lmem.Comparison:
        """The LMEM comparison at the primary (largest analysed) budget."""
        return self.comparisons[self.summary.primary_budget]
