"""The runtime: worker loop, budgets, heartbeats, signals, local processes and ``tw.run``."""

from tunewise.runtime.budget import Budget
from tunewise.runtime.context import TrialContext
from tunewise.runtime.early_stopping import EarlyStopping
from tunewise.runtime.result import Result, load
from tunewise.runtime.run import run
from tunewise.runtime.worker import Settings, TrialFailed, Worker

__all__ = [
    "Budget",
    "EarlyStopping",
    "Result",
    "Settings",
    "TrialContext",
    "TrialFailed",
    "Worker",
    "load",
    "run",
]
