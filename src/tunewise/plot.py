"""Figures of a study for notebooks and papers: ``tw.plot.incumbent(result)`` and friends.

Each function takes a :class:`tunewise.Result` (from ``tw.run`` or ``tw.load``) and returns a
``matplotlib.figure.Figure`` (no pyplot state is touched: display it in a notebook as the cell's
value, or ``fig.savefig("incumbent.pdf")``). The drawing lives in
:mod:`tunewise.analysis.study_plots`, over the tables of :mod:`tunewise.analysis.study`.

>>> import tunewise as tw
>>> result = tw.load("runs/mlp")  # doctest: +SKIP
>>> tw.plot.incumbent(result, x="elapsed").savefig("incumbent.png")  # doctest: +SKIP

``import tunewise`` imports this module but neither pandas nor matplotlib: each function imports
them when it is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

    from tunewise.runtime.result import Result

__all__ = [
    "compare",
    "importance",
    "incumbent",
    "learning_curves",
    "parallel_coordinates",
    "rungs",
]


def incumbent(result: Result, *, x: str = "budget", log_y: bool = False) -> Figure:
    """The incumbent over ``x`` = ``"budget"`` (full-fidelity evaluations) or ``"elapsed"``
    (seconds since the study started), with every finished trial as a point."""
    from tunewise.analysis import study_plots

    return study_plots.incumbent_figure(result.trial_list, result.space, x=x, log_y=log_y)


def learning_curves(
    result: Result, *, numbers: Sequence[int] | None = None, log_y: bool = False
) -> Figure:
    """The curves trials reported with ``trial.report(step, value)``; ``numbers``: which trials."""
    from tunewise.analysis import study_plots

    return study_plots.learning_curves_figure(
        result.trial_list, result.space, numbers=numbers, log_y=log_y
    )


def parallel_coordinates(result: Result) -> Figure:
    """Succeeded trials across one axis per parameter, coloured by objective."""
    from tunewise.analysis import study_plots

    return study_plots.parallel_coordinates_figure(result.trial_list, result.space)


def importance(
    result: Result,
    *,
    method: str = "ped_anova",
    min_trials: int = 10,
    rng: np.random.Generator | None = None,
) -> Figure:
    """Parameter importance by ``method`` = ``"ped_anova"`` or ``"fanova"``; raises
    ``ValueError`` when fewer than ``min_trials`` trials succeeded."""
    from tunewise.analysis import study_plots

    return study_plots.importance_figure(
        result.trial_list, result.space, method=method, min_trials=min_trials, rng=rng
    )


def rungs(result: Result) -> Figure:
    """Trials per fidelity, promoted or not, coloured by where they were sampled from."""
    from tunewise.analysis import study_plots

    return study_plots.rungs_figure(result.trial_list, result.space)


def compare(results: Sequence[Result], *, x: str = "budget", log_y: bool = False) -> Figure:
    """The incumbent traces of several studies on one axes, labelled by study name (names that
    repeat get their position appended)."""
    from tunewise.analysis import study_plots

    names = [r.study for r in results]
    labels = [
        name if names.count(name) == 1 else f"{name} ({i + 1})" for i, name in enumerate(names)
    ]
    studies = [(label, r.trial_list, r.space) for label, r in zip(labels, results, strict=True)]
    return study_plots.compare_figure(studies, x=x, log_y=log_y)
