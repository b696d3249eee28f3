"""Linear mixed-effects models (LMEMs) for comparing optimizers (Geburek et al. 2024).

:mod:`~tunewise.analysis.lmem.model` holds the machinery (design matrices, statsmodels fits by
maximum likelihood, likelihood-ratio tests, estimated marginal means and Tukey contrasts);
:mod:`~tunewise.analysis.lmem.tests` the named tests built from it (the algorithm comparison,
meta-feature and budget interactions, the seed and benchmark sanity checks). Both are re-exported
here, so ``from tunewise.analysis import lmem; lmem.compare_algorithms(...)`` works as before.
"""

from tunewise.analysis.lmem.model import (
    LRT,
    Design,
    Fit,
    PostHoc,
    Terms,
    fit,
    likelihood_ratio,
    model_frame,
    posthoc,
    response_frame,
)
from tunewise.analysis.lmem.tests import (
    Comparison,
    InteractionTest,
    SeedSlopes,
    benchmark_informativeness,
    compare_algorithms,
    fidelity_check,
    interaction_test,
    seed_check,
    seed_slope_check,
)

__all__ = [
    "LRT",
    "Comparison",
    "Design",
    "Fit",
    "InteractionTest",
    "PostHoc",
    "SeedSlopes",
    "Terms",
    "benchmark_informativeness",
    "compare_algorithms",
    "fidelity_check",
    "fit",
    "interaction_test",
    "likelihood_ratio",
    "model_frame",
    "posthoc",
    "response_frame",
    "seed_check",
    "seed_slope_check",
]
