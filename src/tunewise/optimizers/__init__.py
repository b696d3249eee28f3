"""Optimizers: one file each, all speaking ``ask(history, n) -> list[Suggestion]``."""

from tunewise.optimizers.asha import ASHA
from tunewise.optimizers.async_hyperband import AsyncHyperband
from tunewise.optimizers.base import Capabilities, Optimizer, rng_for
from tunewise.optimizers.bayesian_optimization import BayesianOptimization
from tunewise.optimizers.bohb import BOHB
from tunewise.optimizers.grid_search import GridSearch
from tunewise.optimizers.hyperband import Hyperband
from tunewise.optimizers.pibo import PiBO
from tunewise.optimizers.priorband import PriorBand
from tunewise.optimizers.random_search import RandomSearch
from tunewise.optimizers.registry import get, make, names, register
from tunewise.optimizers.successive_halving import SuccessiveHalving

__all__ = [
    "ASHA",
    "BOHB",
    "AsyncHyperband",
    "BayesianOptimization",
    "Capabilities",
    "GridSearch",
    "Hyperband",
    "Optimizer",
    "PiBO",
    "PriorBand",
    "RandomSearch",
    "SuccessiveHalving",
    "get",
    "make",
    "names",
    "register",
    "rng_for",
]
