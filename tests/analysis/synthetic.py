"""Synthetic results tables with known (planted) effects for the analysis tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def make_table(
    effects: Mapping[str, float] | None = None,
    *,
    n_benchmarks: int = 8,
    n_seeds: int = 10,
    budgets: Sequence[float] = (1, 2, 3, 4, 5),
    noise: float = 1.0,
    seed: int = 0,
    priors: Sequence[str] = (),
    prior_effects: Mapping[tuple[str, str], float] | None = None,
    seed_shift: float = 0.0,
    seed_slopes: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Incumbent traces: value = benchmark offset + algorithm effect + noise + a budget decay.

    ``effects`` shifts each algorithm's level (negative = better); ``prior_effects`` adds
    ``{(algorithm, prior): shift}`` on top. ``seed_shift`` plants a crossed seed intercept: seed
    index ``s`` moves every algorithm on every benchmark by the same draw from N(0, seed_shift²);
    ``seed_slopes`` ``{algorithm: sd}`` plants a seed effect for one algorithm only (its draw for
    seed ``s`` is shared across benchmarks). These draws come from their own generator, so the
    table without them is the same table minus the planted effect. Each run's raw values become
    incumbents through a cumulative minimum over budgets. One row per (algorithm, benchmark,
    [prior,] seed, budget).
    """
    effects = dict(effects or {"A": 0.0, "B": 0.0, "C": 0.0})
    prior_effects = dict(prior_effects or {})
    rng = np.random.default_rng(seed)
    planted = np.random.default_rng(seed + 10_000)
    common = planted.normal(0, 1, n_seeds) * seed_shift
    per_algorithm = {a: planted.normal(0, 1, n_seeds) * sd for a, sd in (seed_slopes or {}).items()}
    budgets = np.asarray(budgets, dtype=float)
    rows = []
    for b in range(n_benchmarks):
        offset, scale = rng.normal(0, 3), rng.uniform(0.5, 2.0)
        for prior in priors or (None,):
            for algorithm, effect in effects.items():
                shift = effect + prior_effects.get((algorithm, prior), 0.0)
                for s in range(n_seeds):
                    raw = offset + shift + 2.0 / budgets + rng.normal(0, noise, len(budgets))
                    raw += common[s] + (
                        per_algorithm[algorithm][s] if algorithm in per_algorithm else 0.0
                    )
                    values = 10 + scale * np.minimum.accumulate(raw)
                    for budget, value in zip(budgets, values, strict=True):
                        row = {
                            "algorithm": algorithm,
                            "benchmark": f"bench{b}",
                            "seed": s,
                            "budget": budget,
                            "value": value,
                        }
                        if prior is not None:
                            row["prior"] = prior
                        rows.append(row)
    return pd.DataFrame(rows)
