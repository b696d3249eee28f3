"""Extra numbers for benchmarks/lmem_case_study.md (beyond `tunewise analyze`'s report).

Run from the repository root: ``python benchmarks/analysis_priorband.py``. Needs the PriorBand
paper's results as analysed by the LMEM paper: ``datasets/priorband_data.parquet`` of the
significance-analysis package (https://github.com/automl/lmem-significance), named by the
``TUNEWISE_PRIORBAND_DATA`` environment variable (in this project's development checkout it
defaults to ``../shared/data/priorband_runs/priorband_data.parquet``).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from tunewise.analysis import lmem
from tunewise.analysis.table import load_table

DATA = Path(
    os.environ.get("TUNEWISE_PRIORBAND_DATA")
    or Path(__file__).resolve().parents[2] / "shared/data/priorband_runs/priorband_data.parquet"
)


def main() -> None:
    start = time.perf_counter()
    table = load_table(DATA)
    at24 = lmem.model_frame(table, budgets=[24.0])

    # HB and RS ignore the prior: are their runs identical under both prior labels?
    wide = table.pivot_table(
        index=["benchmark", "algorithm", "seed", "budget"], columns="prior", values="value"
    )
    gap = (wide["at25"] - wide["bad"]).abs().groupby(level="algorithm").max()
    print("max |value(at25) - value(bad)| per algorithm:", gap.round(6).to_dict())

    # Seed check within one prior, where no run is duplicated
    for prior in ("at25", "bad"):
        check = lmem.seed_check(at24[at24["prior"] == prior])
        print(f"seed check, {prior} only: χ² = {check.statistic:.3g}, p = {check.p_value:.3g}")

    # Per prior: the LMEM comparison on that prior's 12 tasks alone, at each budget (regret is
    # normalized over the whole table, as in the report)
    frames = lmem.model_frame(table, budgets=[1.0, 4.0, 12.0, 24.0])
    for prior in ("at25", "bad"):
        for budget in (1.0, 4.0, 12.0, 24.0):
            frame = frames[(frames["prior"] == prior) & (frames["budget"] == budget)]
            c = lmem.compare_algorithms(frame)
            pairs = "; ".join(
                f"{r.a}-{r.b} {r.estimate:+.4f} (p={r.p_adjusted:.2g})"
                for r in c.posthoc.contrasts.itertuples()
            )
            print(
                f"{prior} @ {budget:g}: algorithm χ²({c.algorithm_effect.df}) = "
                f"{c.algorithm_effect.statistic:.1f}, p = {c.algorithm_effect.p_value:.2g}; {pairs}"
            )

    # Pooling priors into one task per benchmark (HB/RS runs then count twice per benchmark)
    pooled = lmem.model_frame(load_table(DATA, task_columns=("benchmark",)), budgets=[24.0])
    c = lmem.compare_algorithms(pooled)
    print(
        "tasks = benchmark only @ 24:",
        f"algorithm χ² = {c.algorithm_effect.statistic:.1f},",
        f"random effect χ² = {c.random_effect.statistic:.1f}",
    )
    print(f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
