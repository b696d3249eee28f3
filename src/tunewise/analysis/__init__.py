"""Post-hoc analysis of optimizer benchmark runs: traces, ranks, LMEM tests, CD diagrams.

Input: a tidy table (``pandas.DataFrame``, ``.csv`` or ``.parquet``), one row per
(algorithm, benchmark, seed, budget step):

- ``algorithm`` (str), ``benchmark`` (str), ``seed`` (int);
- ``budget`` (float): budget spent, in multiples of one full-fidelity evaluation. The alias
  ``used_fidelity`` (PriorBand / LMEM-paper data) is picked up automatically, as is ``optimizer``
  for ``algorithm``; map other names with ``columns={"budget": "my_column"}``;
- ``value`` (float): the incumbent's objective at that budget, lower is better (``tunewise
  bench`` tables add ``value_source``: ``oracle``, the incumbent's full-fidelity value, or
  ``observed``, what the optimizer saw; the report says which);
- optional ``prior`` (str, prior quality), ``optimum`` (float, known optimum of the benchmark) and
  any further meta-feature columns.

With a ``prior`` column, a *task* (the unit of the benchmark random effect and of ranks) is the
benchmark × prior pair: the prior changes the problem the optimizer faces, so two priors on one
benchmark are two tasks. Pass ``task_columns=("benchmark",)`` to pool priors instead.

Models follow Geburek et al. (2024), "LMEMs for post-hoc analysis of HPO benchmarks"; ranks and
critical-difference diagrams follow Demšar (2006), JMLR 7. statsmodels and matplotlib are imported
only inside the functions that need them.

>>> report = analyze("results.parquet", "analysis/")  # doctest: +SKIP
>>> report.primary.posthoc.contrast("PB", "RS")  # doctest: +SKIP
"""

from tunewise.analysis.findings import DataSummary, Report
from tunewise.analysis.lmem import (
    LRT,
    Comparison,
    Fit,
    InteractionTest,
    PostHoc,
    SeedSlopes,
    benchmark_informativeness,
    compare_algorithms,
    fidelity_check,
    interaction_test,
    model_frame,
    seed_check,
    seed_slope_check,
)
from tunewise.analysis.regret import (
    CriticalDifference,
    critical_difference,
    log_regret,
    mean_ranks,
    normalized_regret,
)
from tunewise.analysis.report import analyze
from tunewise.analysis.table import incumbent_traces, load_table

__all__ = [
    "LRT",
    "Comparison",
    "CriticalDifference",
    "DataSummary",
    "Fit",
    "InteractionTest",
    "PostHoc",
    "Report",
    "SeedSlopes",
    "analyze",
    "benchmark_informativeness",
    "compare_algorithms",
    "critical_difference",
    "fidelity_check",
    "incumbent_traces",
    "interaction_test",
    "load_table",
    "log_regret",
    "mean_ranks",
    "model_frame",
    "normalized_regret",
    "seed_check",
    "seed_slope_check",
]
