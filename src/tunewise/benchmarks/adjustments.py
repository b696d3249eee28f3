"""HT-AA benchmark tasks: an old and a new problem that a developer adjustment relates.

Hyperparameter transfer across adjustments (Stoll, Franke, Wagner, Selg & Hutter 2020) asks how
an HPO run on the code *before* a change (the old study) can speed up HPO on the code *after* it.
An :class:`Adjustment` is one such change: two :class:`Problem` objects (each a space without
fidelity and a full-fidelity objective, so the base optimizer is plain TPE or BO), whether the old
study *misleads* (the old optimum, completed as well as the new space allows, is far from the new
optimum) and a description. The tasks, built on data available here:

============================  ============================================================  =====
task                          old -> new                                                     d new
============================  ============================================================  =====
``nb201-ops-<dataset>``       NAS-Bench-201 (flat, 6 edges): ``avg_pool_3x3`` added          6
``nb201-conv-<dataset>``      ``nor_conv_3x3`` added (the best cells need it; misleads)      6
``fcnet-added-<dataset>``     FCNet: ``activation_fn_2``, ``dropout_2``, ``batch_size``      9
                              were constants (relu, 0.0, 32), now searched
``fcnet-schedule-<dataset>``  FCNet: the learning-rate schedule changed, const -> cosine     8
                              (a constant on both sides: the objective changes)
``lcbench-ranges-<task>``     LCBench: four ranges widened (learning rate, weight decay,     7
                              units, batch size were narrowed around their defaults)
``lcbench-added-<task>``      LCBench: ``max_dropout`` was a constant at its default 0.5     7
``lcbench-task-<task>``       LCBench: the same space, the old study ran on another task     7
``synthetic-shift-small``     Hartmann-3, the optimum moved by 0.04 per coordinate           3
``synthetic-shift-large``     Hartmann-3, the optimum moved by (0.6, 0, -0.6) (misleads)     3
``synthetic-dim``             Hartmann-6 whose ``x6`` was a constant 0.5, now searched        6
============================  ============================================================  =====

NAS-Bench-201 for ``cifar10``, ``cifar100``, ``imagenet16``; FCNet for its 4 datasets; LCBench
for the 5 tasks with priors (:data:`LCBENCH_TASKS`), ``lcbench-task-<t>`` taking its old study on
the next task of that list (cyclically). ``misleading`` (the no-harm set): ``transfer_regret >=
0.25``, :data:`MISLEADING_THRESHOLD`; measured, it is 0.5-0.7 for ``nb201-conv-*``, 1.05 for
``synthetic-shift-large``, 0.32 and 0.42 for ``lcbench-ranges-126026``/``-167190`` (the new
optimum lies outside the narrow ranges), 0.67 and 0.66 for ``lcbench-task-167190``/``-168330``,
and at most 0.12 for every other task (0 for ``nb201-ops-*``, below 0.03 for FCNet, 0.075 for
``synthetic-shift-small``: mildly off). Objectives: NAS-Bench-201 and FCNet as their benchmarks
(one training seed's value, noise-free :meth:`Problem.oracle` the mean), LCBench the surrogate at
epoch 52, the synthetic ones the noise-free function.
"""

from __future__ import annotations

import abc
import functools
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tunewise.benchmarks.base import Benchmark, Evaluation, check_seed
from tunewise.benchmarks.fcnet import DATASETS as FCNET_DATASETS
from tunewise.benchmarks.fcnet import FCNetBenchmark
from tunewise.benchmarks.lcbench import LCBenchBenchmark
from tunewise.benchmarks.nb201 import DATASETS as NB201_DATASETS
from tunewise.benchmarks.nb201 import OPS, NB201Benchmark
from tunewise.benchmarks.registry import matching
from tunewise.benchmarks.synthetic import FUNCTIONS
from tunewise.runtime.context import TrialContext
from tunewise.space import Categorical, Constant, Float, Integer, Parameter, Space

__all__ = [
    "LCBENCH_TASKS",
    "Adjustment",
    "Problem",
    "adjustment_names",
    "get_adjustment",
    "transfer_regret",
]

Array = NDArray[np.float64]
LCBENCH_TASKS: tuple[str, ...] = ("126026", "167190", "168330", "168910", "189906")
"""The LCBench tasks with priors (the PriorBand set); ``lcbench-task-<t>`` transfers from the
next one."""
ENUMERATE_LIMIT = 100_000
"""Spaces of at most this many configurations (all categorical) are enumerated for optima."""
SAMPLES = 20_000
"""Otherwise the optimum is the best of this many uniform samples (as LCBench's best known)."""
MISLEADING_THRESHOLD = 0.25
"""A task is ``misleading`` when its :func:`transfer_regret` is at least this."""
LCBENCH_MISLEADING: dict[str, frozenset[str]] = {
    "ranges": frozenset({"126026", "167190"}),
    "added": frozenset(),
    "task": frozenset({"167190", "168330"}),
}
"""The LCBench tasks whose transfer regret is >= :data:`MISLEADING_THRESHOLD` (measured; the
tests recompute it)."""


# -- objectives ---------------------------------------------------------------------------------


class Function(abc.ABC):
    """A full-fidelity objective over configs: one observed evaluation and noise-free values."""

    @abc.abstractmethod
    def evaluate(self, config: Mapping[str, Any], *, seed: int) -> Evaluation:
        """One observed evaluation of ``config`` (deterministic given ``seed``)."""

    @abc.abstractmethod
    def oracle_many(self, configs: Sequence[Mapping[str, Any]]) -> Array:
        """Noise-free values of ``configs``, shape (n,)."""


@dataclass(frozen=True)
class OnBenchmark(Function):
    """A benchmark at full fidelity; ``fixed`` adds inputs the space does not hold."""

    benchmark: Benchmark
    fixed: Mapping[str, Any] = field(default_factory=dict)

    def _full(self, config: Mapping[str, Any]) -> dict[str, Any]:
        return {**config, **self.fixed}

    def evaluate(self, config: Mapping[str, Any], *, seed: int) -> Evaluation:
        check_seed(seed)
        if isinstance(self.benchmark, LCBenchBenchmark):  # one model row, not the whole curve
            return self.benchmark.evaluate_many([self._full(config)], _LC_EPOCH)[0]
        return self.benchmark.evaluate_full(self._full(config), seed=seed)

    def oracle_many(self, configs: Sequence[Mapping[str, Any]]) -> Array:
        full = [self._full(c) for c in configs]
        if isinstance(self.benchmark, LCBenchBenchmark):
            values = [e.objective for e in self.benchmark.evaluate_many(full, _LC_EPOCH)]
        else:
            values = [self.benchmark.oracle(c) for c in full]
        return np.asarray(values, dtype=np.float64)


_LC_EPOCH = 52


@dataclass(frozen=True)
class Shifted(Function):
    """A synthetic test function moved by ``shift``: ``f(x - shift)`` (noise-free, cost 1)."""

    function: str
    shift: tuple[float, ...]

    def _x(self, configs: Sequence[Mapping[str, Any]]) -> Array:
        names = [f"x{i + 1}" for i in range(len(self.shift))]
        try:
            x = np.array([[float(c[n]) for n in names] for c in configs], dtype=np.float64)
        except KeyError as exc:
            raise ValueError(f"{self.function} config lacks {exc.args[0]!r}") from None
        moved: Array = x.reshape(len(configs), len(names)) - np.asarray(self.shift)
        return moved

    def evaluate(self, config: Mapping[str, Any], *, seed: int) -> Evaluation:
        check_seed(seed)
        return Evaluation(float(self.oracle_many([config])[0]), 1.0)

    def oracle_many(self, configs: Sequence[Mapping[str, Any]]) -> Array:
        if not configs:
            return np.zeros(0)
        values: Array = np.asarray(FUNCTIONS[self.function].f(self._x(configs)), dtype=np.float64)
        return values


@dataclass(frozen=True)
class Problem:
    """One side of an adjustment: ``space`` (no fidelity; a :class:`Constant` is a setting fixed
    in the code) and its full-fidelity objective ``function``."""

    name: str
    space: Space
    function: Function

    def __post_init__(self) -> None:
        if self.space.fidelity is not None:
            raise ValueError(f"problem {self.name!r}: the space must not have a fidelity")

    @property
    def dimension(self) -> int:
        """The number of searched hyperparameters (constants excluded): HT-AA's budget unit."""
        return len(self.space.dimension_names)

    def evaluate(self, config: Mapping[str, Any], *, seed: int = 0) -> Evaluation:
        self.space.validate_config(config)
        return self.function.evaluate(config, seed=seed)

    def oracle(self, config: Mapping[str, Any]) -> float:
        """The noise-free value of ``config``."""
        return float(self.function.oracle_many([config])[0])

    def objective(self, *, seed: int = 0) -> ProblemObjective:
        """A picklable tunewise evaluate function (``(config, trial) -> dict``)."""
        return ProblemObjective(self, seed=seed)

    def optimum(self) -> tuple[dict[str, Any], float]:
        """The best configuration and its noise-free value: exact for an enumerable space (all
        categorical, at most :data:`ENUMERATE_LIMIT` configs), else the best of :data:`SAMPLES`
        uniform samples (``default_rng(0)``). Cached per problem."""
        cached = self.__dict__.get("_optimum")
        if cached is None:
            cached = self.__dict__["_optimum"] = _optimum(self)
        return dict(cached[0]), cached[1]

    def best_with(self, fixed: Mapping[str, Any]) -> tuple[dict[str, Any], float]:
        """The best configuration whose values agree with ``fixed`` (found as :meth:`optimum`
        on the space with those values made constants)."""
        params = {
            name: Constant(fixed[name]) if name in fixed else param
            for name, param in self.space.parameters.items()
        }
        return _optimum(Problem(f"{self.name}|fixed", Space(**params), self.function))


class ProblemObjective:
    """The tunewise evaluate function of a :class:`Problem` (module-level: it pickles)."""

    def __init__(self, problem: Problem, *, seed: int = 0) -> None:
        self.problem = problem
        self.seed = check_seed(seed)

    def __call__(self, config: dict[str, Any], trial: TrialContext) -> dict[str, Any]:
        result = self.problem.function.evaluate(config, seed=self.seed)
        return {"objective": result.objective, "cost": result.cost}

    def __repr__(self) -> str:
        return f"ProblemObjective({self.problem.name!r}, seed={self.seed})"


def _enumerable(space: Space) -> list[dict[str, Any]] | None:
    searched = space.searchable
    if space.architectures or not all(isinstance(p, Categorical) for p in searched.values()):
        return None
    sizes = [len(p.choices) for p in searched.values() if isinstance(p, Categorical)]
    if int(np.prod(sizes)) > ENUMERATE_LIMIT:
        return None
    names = list(searched)
    grids = [p.choices for p in searched.values() if isinstance(p, Categorical)]
    constants = space.constants
    configs = []
    for combo in itertools.product(*grids):
        values = {**constants, **dict(zip(names, combo, strict=True))}
        configs.append({name: values[name] for name in space})
    return configs


def _optimum(problem: Problem) -> tuple[dict[str, Any], float]:
    configs = _enumerable(problem.space)
    if configs is None:
        configs = problem.space.sample_many(np.random.default_rng(0), SAMPLES)
    values = problem.function.oracle_many(configs)
    best = int(np.argmin(values))
    return dict(configs[best]), float(values[best])


# -- the adjustment -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Adjustment:
    """An HT-AA task: the ``old`` and ``new`` problem, whether the old study ``misleading``ly
    points away from the new optimum, and what changed (``description``)."""

    name: str
    old: Problem
    new: Problem
    misleading: bool
    description: str

    @property
    def shared(self) -> tuple[str, ...]:
        """Hyperparameters searched in both spaces."""
        old = set(self.old.space.dimension_names)
        return tuple(n for n in self.new.space.dimension_names if n in old)


def transfer_regret(adjustment: Adjustment) -> float:
    """How far the old optimum leads from the new one, in [0, ~1]: take the old optimum's values
    of the shared hyperparameters that are legal in the new space, complete them as well as the
    new space allows (:meth:`Problem.best_with`), and give that config's new regret divided by
    the new problem's (median - optimum) over 2,000 uniform configs. 0: the old optimum points
    straight at the new one; ~1: no better than a typical configuration."""
    old_best, _ = adjustment.old.optimum()
    new_space = adjustment.new.space
    fixed = {
        name: old_best[name]
        for name in adjustment.shared
        if new_space[name].contains(old_best[name])
    }
    _, completed = adjustment.new.best_with(fixed)
    _, optimum = adjustment.new.optimum()
    sample = new_space.sample_many(np.random.default_rng(1), 2_000)
    median = float(np.median(adjustment.new.function.oracle_many(sample)))
    return (completed - optimum) / (median - optimum)


# -- space edits --------------------------------------------------------------------------------


def _searched(benchmark: Benchmark) -> dict[str, Parameter]:
    """The benchmark's parameters without its fidelity."""
    space = benchmark.space()
    return {n: p for n, p in space.parameters.items() if n != space.fidelity_name}


def _edit(params: Mapping[str, Parameter], **changes: Parameter) -> Space:
    unknown = set(changes) - set(params)
    if unknown:
        raise ValueError(f"no parameter(s) {sorted(unknown)} to change")
    return Space(**{name: changes.get(name, param) for name, param in params.items()})


def _nb201(dataset: str, added: str) -> Adjustment:
    bench = NB201Benchmark(dataset=dataset, form="flat")
    params = _searched(bench)
    old_ops = [op for op in OPS if op != added]
    old = _edit(params, **{name: Categorical(old_ops) for name in params})
    kind = "conv" if added == "nor_conv_3x3" else "ops"
    return Adjustment(
        name=f"nb201-{kind}-{dataset}",
        old=Problem(f"{bench.name} without {added}", old, OnBenchmark(bench)),
        new=Problem(bench.name, Space(**params), OnBenchmark(bench)),
        misleading=added == "nor_conv_3x3",
        description=f"NAS-Bench-201 {dataset}: the operation {added} added on every edge",
    )


FCNET_ADDED_DEFAULTS: dict[str, Any] = {
    "activation_fn_2": "relu",
    "dropout_2": 0.0,
    "batch_size": 32,
}
"""FCNet's hyperparameters that ``fcnet-added`` fixes in the old space, at these values."""


def _fcnet_added(dataset: str) -> Adjustment:
    bench = FCNetBenchmark(dataset=dataset)
    params = _searched(bench)
    old = _edit(params, **{n: Constant(v) for n, v in FCNET_ADDED_DEFAULTS.items()})
    return Adjustment(
        name=f"fcnet-added-{dataset}",
        old=Problem(f"{bench.name} with 3 constants", old, OnBenchmark(bench)),
        new=Problem(bench.name, Space(**params), OnBenchmark(bench)),
        misleading=False,
        description=(
            f"FCNet {dataset}: activation_fn_2, dropout_2 and batch_size, fixed at relu, 0.0 "
            "and 32 before, are searched now"
        ),
    )


def _fcnet_schedule(dataset: str) -> Adjustment:
    bench = FCNetBenchmark(dataset=dataset)
    params = _searched(bench)
    old = _edit(params, lr_schedule=Constant("const"))
    new = _edit(params, lr_schedule=Constant("cosine"))
    return Adjustment(
        name=f"fcnet-schedule-{dataset}",
        old=Problem(f"{bench.name} const schedule", old, OnBenchmark(bench)),
        new=Problem(f"{bench.name} cosine schedule", new, OnBenchmark(bench)),
        misleading=False,
        description=f"FCNet {dataset}: the learning-rate schedule changed from const to cosine",
    )


LCBENCH_NARROWED: dict[str, tuple[float, float]] = {
    "learning_rate": (1e-3, 1e-2),
    "weight_decay": (1e-5, 1e-2),
    "max_units": (128, 512),
    "batch_size": (32, 256),
}
"""The old ranges of ``lcbench-ranges`` (the new space has LCBench's full ranges)."""
LCBENCH_ADDED = ("max_dropout", 0.5)
"""``lcbench-added``: this hyperparameter was a constant at its default before."""


def _narrowed(param: Parameter, lower: float, upper: float) -> Parameter:
    if isinstance(param, Integer):
        return Integer(int(lower), int(upper), log=param.log)
    if isinstance(param, Float):
        return Float(float(lower), float(upper), log=param.log)
    raise ValueError(f"cannot narrow {param!r}")


def _lcbench_ranges(task: str) -> Adjustment:
    bench = LCBenchBenchmark(task_id=task)
    params = _searched(bench)
    old = _edit(params, **{n: _narrowed(params[n], *r) for n, r in LCBENCH_NARROWED.items()})
    return Adjustment(
        name=f"lcbench-ranges-{task}",
        old=Problem(f"{bench.name} narrow ranges", old, OnBenchmark(bench)),
        new=Problem(bench.name, Space(**params), OnBenchmark(bench)),
        misleading=task in LCBENCH_MISLEADING["ranges"],
        description=(
            f"LCBench {task}: the ranges of {', '.join(LCBENCH_NARROWED)} widened to the full "
            "LCBench ranges"
        ),
    )


def _lcbench_added(task: str) -> Adjustment:
    bench = LCBenchBenchmark(task_id=task)
    params = _searched(bench)
    name, default = LCBENCH_ADDED
    old = _edit(params, **{name: Constant(default)})
    return Adjustment(
        name=f"lcbench-added-{task}",
        old=Problem(f"{bench.name} {name}={default}", old, OnBenchmark(bench)),
        new=Problem(bench.name, Space(**params), OnBenchmark(bench)),
        misleading=task in LCBENCH_MISLEADING["added"],
        description=f"LCBench {task}: {name}, a constant {default} before, is searched now",
    )


def _lcbench_task(task: str) -> Adjustment:
    source = LCBENCH_TASKS[(LCBENCH_TASKS.index(task) + 1) % len(LCBENCH_TASKS)]
    bench, old_bench = LCBenchBenchmark(task_id=task), LCBenchBenchmark(task_id=source)
    space = Space(**_searched(bench))
    return Adjustment(
        name=f"lcbench-task-{task}",
        old=Problem(old_bench.name, space, OnBenchmark(old_bench)),
        new=Problem(bench.name, space, OnBenchmark(bench)),
        misleading=task in LCBENCH_MISLEADING["task"],
        description=f"LCBench: the same space, the old study on task {source}, the new on {task}",
    )


SHIFTS: dict[str, tuple[float, ...]] = {"small": (0.04, -0.04, 0.04), "large": (0.6, 0.0, -0.6)}
"""``synthetic-shift-<size>``: how far Hartmann-3's optimum moves (new ``f(x - shift)``)."""


def _shift(size: str) -> Adjustment:
    space = Space(**{f"x{i + 1}": Float(0.0, 1.0) for i in range(3)})
    shift = SHIFTS[size]
    return Adjustment(
        name=f"synthetic-shift-{size}",
        old=Problem("hartmann3", space, Shifted("hartmann3", (0.0, 0.0, 0.0))),
        new=Problem(f"hartmann3 shifted by {shift}", space, Shifted("hartmann3", shift)),
        misleading=size == "large",
        description=f"Hartmann-3 whose optimum moved by {shift} (new: f(x - shift))",
    )


def _dim() -> Adjustment:
    params: dict[str, Parameter] = {f"x{i + 1}": Float(0.0, 1.0) for i in range(6)}
    zero = (0.0,) * 6
    return Adjustment(
        name="synthetic-dim",
        old=Problem(
            "hartmann6 x6=0.5", _edit(params, x6=Constant(0.5)), Shifted("hartmann6", zero)
        ),
        new=Problem("hartmann6", Space(**params), Shifted("hartmann6", zero)),
        misleading=False,
        description="Hartmann-6 whose x6, a constant 0.5 before, is searched now",
    )


def _factories() -> dict[str, Callable[[], Adjustment]]:
    table: dict[str, Callable[[], Adjustment]] = {}
    for dataset in NB201_DATASETS:
        table[f"nb201-ops-{dataset}"] = functools.partial(_nb201, dataset, "avg_pool_3x3")
        table[f"nb201-conv-{dataset}"] = functools.partial(_nb201, dataset, "nor_conv_3x3")
    for dataset in FCNET_DATASETS:
        table[f"fcnet-added-{dataset}"] = functools.partial(_fcnet_added, dataset)
        table[f"fcnet-schedule-{dataset}"] = functools.partial(_fcnet_schedule, dataset)
    for kind, make in (("ranges", _lcbench_ranges), ("added", _lcbench_added)):
        for task in LCBENCH_TASKS:
            table[f"lcbench-{kind}-{task}"] = functools.partial(make, task)
    for task in LCBENCH_TASKS:
        table[f"lcbench-task-{task}"] = functools.partial(_lcbench_task, task)
    for size in SHIFTS:
        table[f"synthetic-shift-{size}"] = functools.partial(_shift, size)
    table["synthetic-dim"] = _dim
    return table


_FACTORIES = _factories()


def adjustment_names(patterns: Iterable[str] = ()) -> list[str]:
    """All task names in a stable order, or those matching any of the shell ``patterns``
    (``fnmatch``, e.g. ``"lcbench-*"``); a pattern that matches nothing is a ``ValueError``."""
    names = list(_FACTORIES)
    patterns = list(patterns)
    return matching(names, patterns, what="HT-AA task") if patterns else names


def get_adjustment(name: str) -> Adjustment:
    """The task called ``name``; ``ValueError`` listing the tasks otherwise."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown HT-AA task {name!r}; tasks: {', '.join(_FACTORIES)}")
    return _FACTORIES[name]()
