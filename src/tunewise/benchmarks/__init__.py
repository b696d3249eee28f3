"""Benchmark problems with known optima and priors of known quality (see benchmarks/README.md).

>>> from tunewise.benchmarks import get_benchmark
>>> bench = get_benchmark("branin-high")
>>> bench.priors
('none', 'good', 'medium', 'bad')
>>> round(bench.evaluate(bench.argmin, 27).objective, 6)
0.397887

Families: synthetic multi-fidelity functions (:mod:`~tunewise.benchmarks.synthetic`: Branin,
Hartmann-3/6 with ``-high``/``-medium``/``-low`` fidelity correlation), the LCBench surrogate
(:mod:`~tunewise.benchmarks.lcbench`: ``lcbench-<task>``, needs the YAHPO data folder) and real
PyTorch training on digits (:mod:`~tunewise.benchmarks.training`: ``mlp-digits``, ``cnn-digits``;
:mod:`~tunewise.benchmarks.data_subset`: ``mlp-digits-subset``, the fraction of training data as
the fidelity), NAS-Bench-201 and HPOLib FCNet tables (:mod:`~tunewise.benchmarks.nb201`,
:mod:`~tunewise.benchmarks.fcnet`: ``fcnet-<dataset>``). Hyperparameter transfer tasks (an old
and a new problem per developer adjustment) are in :mod:`~tunewise.benchmarks.adjustments`.
"""

from tunewise.benchmarks.base import Benchmark, BenchmarkObjective, Evaluation
from tunewise.benchmarks.registry import benchmark_names, get_benchmark

__all__ = ["Benchmark", "BenchmarkObjective", "Evaluation", "benchmark_names", "get_benchmark"]
