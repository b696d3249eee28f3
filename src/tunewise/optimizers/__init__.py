"""Optimizers: one file each, all speaking ``ask(history, n) -> list[Suggestion]``.

The four plain bracket optimizers (successive halving, Hyperband, ASHA, asynchronous Hyperband) are
declarations without logic of their own and share one file, :mod:`tunewise.optimizers.hyperband`.
"""

from tunewise.optimizers.base import Capabilities, Optimizer
from tunewise.optimizers.bayesian_optimization import BayesianOptimization
from tunewise.optimizers.bohb import BOHB
from tunewise.optimizers.freeze_thaw import FreezeThaw
from tunewise.optimizers.grid_search import GridSearch
from tunewise.optimizers.hyperband import ASHA, AsyncHyperband, Hyperband, SuccessiveHalving
from tunewise.optimizers.pibo import PiBO
from tunewise.optimizers.priorband import PriorBand
from tunewise.optimizers.random_search import RandomSearch
from tunewise.optimizers.registry import get, make, names, register
from tunewise.optimizers.regularized_evolution import RegularizedEvolution
from tunewise.optimizers.tpe import TPE
from tunewise.trial import rng_for

__all__ = [
    "ASHA",
    "BOHB",
    "TPE",
    "AsyncHyperband",
    "BayesianOptimization",
    "Capabilities",
    "FreezeThaw",
    "GridSearch",
    "Hyperband",
    "Optimizer",
    "PiBO",
    "PriorBand",
    "RandomSearch",
    "RegularizedEvolution",
    "SuccessiveHalving",
    "get",
    "make",
    "names",
    "register",
    "rng_for",
]
