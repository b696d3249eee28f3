"""Benchmark names -> factories: one table instead of if/elif (STYLE.md §8)."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from tunewise.benchmarks.base import Benchmark
from tunewise.benchmarks.data_subset import MLPDigitsSubsetBenchmark
from tunewise.benchmarks.fcnet import DATASETS as FCNET_DATASETS
from tunewise.benchmarks.fcnet import FCNetBenchmark
from tunewise.benchmarks.lcbench import TASK_IDS, LCBenchBenchmark
from tunewise.benchmarks.nas_digits import NASDigitsBenchmark
from tunewise.benchmarks.nb201 import DATASETS as NB201_DATASETS
from tunewise.benchmarks.nb201 import NB201Benchmark
from tunewise.benchmarks.synthetic import CORRELATIONS, FUNCTIONS, SyntheticBenchmark
from tunewise.benchmarks.training import CNNDigitsBenchmark, MLPDigitsBenchmark

__all__ = ["benchmark_names", "get_benchmark"]


def _synthetic(function: str, correlation: str) -> Callable[..., Benchmark]:
    def make() -> Benchmark:
        return SyntheticBenchmark(function=function, correlation=correlation)

    return make


def _nb201(dataset: str, form: str) -> Callable[..., Benchmark]:
    def make() -> Benchmark:
        return NB201Benchmark(dataset=dataset, form=form)

    return make


def _fcnet(dataset: str) -> Callable[..., Benchmark]:
    def make() -> Benchmark:
        return FCNetBenchmark(dataset=dataset)

    return make


def _lcbench(task_id: str) -> Callable[..., Benchmark]:
    def make(**kwargs: Any) -> Benchmark:
        return LCBenchBenchmark(task_id=task_id, **kwargs)

    return make


_FACTORIES: dict[str, Callable[..., Benchmark]] = {
    **{
        f"{function}-{level}": _synthetic(function, level)
        for function in FUNCTIONS
        for level in CORRELATIONS
    },
    **{f"lcbench-{task}": _lcbench(task) for task in TASK_IDS},
    **{f"nb201-{dataset}": _nb201(dataset, "grammar") for dataset in NB201_DATASETS},
    **{f"nb201-{dataset}-flat": _nb201(dataset, "flat") for dataset in NB201_DATASETS},
    **{f"fcnet-{dataset}": _fcnet(dataset) for dataset in FCNET_DATASETS},
    "mlp-digits": MLPDigitsBenchmark,
    "mlp-digits-subset": MLPDigitsSubsetBenchmark,
    "cnn-digits": CNNDigitsBenchmark,
    "nas-digits": NASDigitsBenchmark,
}


def matching(names: Sequence[str], patterns: Iterable[str], *, what: str) -> list[str]:
    """The ``names`` matching any of the shell ``patterns`` (``fnmatch``: ``lcbench-*``), in the
    patterns' order, each once; a pattern that matches nothing is a ``ValueError`` naming
    ``what`` is looked up and what there is."""
    chosen: list[str] = []
    for pattern in patterns:
        found = fnmatch.filter(names, pattern)
        if not found:
            raise ValueError(f"no {what} matches {pattern!r}; known: {', '.join(names)}")
        chosen.extend(n for n in found if n not in chosen)
    return chosen


def benchmark_names() -> list[str]:
    """All benchmark names, in a stable order: synthetic, LCBench tasks, NAS-Bench-201 (grammar,
    then flat), HPOLib FCNet, real training."""
    return list(_FACTORIES)


def get_benchmark(name: str, **kwargs: Any) -> Benchmark:
    """The benchmark called ``name``; ``kwargs`` go to its constructor.

    LCBench takes ``data_dir`` and ``medium_perturbation``; the others take none. An unknown name
    raises ``ValueError`` listing :func:`benchmark_names`.
    """
    if name not in _FACTORIES:
        raise ValueError(
            f"unknown benchmark {name!r}; known benchmarks: {', '.join(benchmark_names())}"
        )
    try:
        return _FACTORIES[name](**kwargs)
    except TypeError as exc:
        raise ValueError(
            f"benchmark {name!r}: invalid arguments {sorted(kwargs)} ({exc})"
        ) from None
