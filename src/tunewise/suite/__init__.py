"""The benchmark suite runner: optimizers x benchmarks x priors x seeds in simulated time."""

from tunewise.suite.runner import Job, plan, run_job, run_suite
from tunewise.suite.spec import AlgorithmSpec, parse_algorithm, parse_budget

__all__ = [
    "AlgorithmSpec",
    "Job",
    "parse_algorithm",
    "parse_budget",
    "plan",
    "run_job",
    "run_suite",
]
