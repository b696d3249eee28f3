"""Optimizers: one file each, all speaking ``ask(history, n) -> list[Suggestion]``."""

from tunewise.optimizers.base import Capabilities, Optimizer, rng_for
from tunewise.optimizers.grid_search import GridSearch
from tunewise.optimizers.random_search import RandomSearch
from tunewise.optimizers.registry import get, make, names, register

__all__ = [
    "Capabilities",
    "GridSearch",
    "Optimizer",
    "RandomSearch",
    "get",
    "make",
    "names",
    "register",
    "rng_for",
]
