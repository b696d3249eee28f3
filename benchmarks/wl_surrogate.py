"""Surrogate quality on NAS-Bench-201: how well a GP ranks held-out cells, per kernel.

The surrogate-regression experiment of Ru et al. (ICLR 2021) and Schrodi et al. (NeurIPS 2023):
train a GP on ``n`` random cells, predict 500 other cells, and report Kendall's tau between the
predicted mean and the true validation accuracy (the mean over the table's training seeds).
Training targets are what an optimizer observes: one training seed's accuracy per cell
(:meth:`NB201Benchmark.evaluate`). Per task (CIFAR-10, CIFAR-100, ImageNet16-120) and training
size (10, 25, 50, 100, 200), ``--repeats`` seeded splits; the same splits for every kernel.

Kernels:

- ``wl``: BoTorch ``SingleTaskGP`` with ``ScaleKernel(WLKernel)`` on WL features (h = 2) of the
  cell's graph (:func:`tunewise.models.wl.architecture_features`, vocabulary over train and
  held-out cells, as an optimizer fits it over training points and candidates), fitted by
  ``botorch.fit.fit_gpytorch_mll``.
- ``hwl``: the hierarchical WL kernel over the grammar's level graphs with learnt weights. The
  NB201 cell grammar ``C -> Cell E E E E E E`` has one level (the cell's topology filled by
  primitives), so its features and GP are the plain ``wl`` ones; it is run only when asked
  (``--kernels wl hwl flat``) and gives the same numbers.
- ``wl-h``: ``wl`` with h in 0..4 picked by the fitted marginal likelihood (five fits; asked
  with ``--kernels``).
- ``flat``: the existing mixed GP of :mod:`tunewise.models.gp` on the flat form (six
  categoricals, ``nb201-<task>-flat``: BoTorch's categorical kernel), fitted by its ``fit``.

    nice python benchmarks/wl_surrogate.py           # the full run (3 tasks x 5 sizes x 10)
    python benchmarks/wl_surrogate.py --quick        # smoke run (CIFAR-10, 2 sizes, 2 repeats)
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from gpytorch.kernels import ScaleKernel
from gpytorch.mlls import ExactMarginalLogLikelihood
from scipy.stats import kendalltau

from tunewise.benchmarks.nb201 import OPS, NB201Benchmark, cell_string, load_table
from tunewise.models import gp
from tunewise.models.wl import WLKernel, architecture_features
from tunewise.nas.grammars import nb201_cell

TASKS = ("cifar10", "cifar100", "imagenet16")
SIZES = (10, 25, 50, 100, 200)
KERNELS = ("wl", "hwl", "wl-h", "flat")


@dataclass(frozen=True)
class Split:
    """Indices into the table's cells: ``train`` (n,) and ``test`` (m,), disjoint."""

    train: np.ndarray[Any, np.dtype[np.int64]]
    test: np.ndarray[Any, np.dtype[np.int64]]


def split(task: str, n_train: int, repeat: int, *, seed: int, n_test: int) -> Split:
    """A seeded split; for one (task, repeat) the test cells are the same at every size and
    the training sets are nested."""
    n_cells = len(load_table(task).cells)
    perm = np.random.default_rng([seed, TASKS.index(task), repeat]).permutation(n_cells)
    return Split(train=perm[n_test : n_test + n_train], test=perm[:n_test])


def observed_accuracy(bench: NB201Benchmark, cells: Sequence[tuple[str, ...]], seed: int) -> Any:
    """One training seed's validation accuracy per cell (percent), as an optimizer sees it."""
    return np.array([100.0 - bench.evaluate(bench.config(c), seed=seed).objective for c in cells])


def fit_wl(
    cells: Sequence[tuple[str, ...]],
    y: np.ndarray[Any, Any],
    n_train: int,
    *,
    h: int,
    hierarchical: bool,
) -> tuple[SingleTaskGP, torch.Tensor, float]:
    """The WL GP fitted on the first ``n_train`` cells (targets ``y``), the held-out cells'
    features, and the fitted log marginal likelihood (per training point)."""
    grammar = nb201_cell(OPS)
    x, _, blocks = architecture_features(
        grammar, [cell_string(c) for c in cells], h=h, hierarchical=hierarchical
    )
    tx = torch.tensor(x, dtype=torch.float64)
    model = SingleTaskGP(
        tx[:n_train],
        torch.tensor(y, dtype=torch.float64).unsqueeze(-1),
        covar_module=ScaleKernel(WLKernel(blocks)),
    )
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit_gpytorch_mll(mll)
    model.train()
    with torch.no_grad():
        value = float(mll(model(*model.train_inputs), model.train_targets))
    model.eval()
    return model, tx[n_train:], value


def predict_wl(
    cells: Sequence[tuple[str, ...]],
    y: np.ndarray[Any, Any],
    n_train: int,
    *,
    h: int | None,
    hierarchical: bool,
) -> np.ndarray[Any, Any]:
    """Predicted mean accuracy of the held-out cells; ``h=None`` picks h in 0..4 by marginal
    likelihood (as the hierarchical-NAS paper picks the full graph's h)."""
    fits = [
        fit_wl(cells, y, n_train, h=hh, hierarchical=hierarchical)
        for hh in ((h,) if h is not None else range(5))
    ]
    model, test_x, _ = max(fits, key=lambda fit: fit[2])
    with torch.no_grad():
        return np.asarray(model.posterior(test_x).mean.squeeze(-1).numpy())


def predict_flat(
    cells: Sequence[tuple[str, ...]], y: np.ndarray[Any, Any], n_train: int, *, task: str, seed: int
) -> np.ndarray[Any, Any]:
    """The existing mixed GP over the six categoricals (model coordinates: choice indices)."""
    encoding = gp.Encoding.of(NB201Benchmark(dataset=task, form="flat").space())
    x = np.array([[OPS.index(op) for op in c] for c in cells], dtype=np.float64)
    model = gp.build_model(x[:n_train], 100.0 - y, encoding)  # the model sees -objective
    gp.fit(model, seed=seed)
    with torch.no_grad():
        mean = model.posterior(torch.tensor(x[n_train:], dtype=torch.float64)).mean
    return np.asarray(mean.squeeze(-1).numpy())  # -(100 - acc): increasing in accuracy


def tau(
    task: str, kernel: str, n_train: int, repeat: int, *, seed: int = 0, n_test: int = 500
) -> float:
    """Kendall's tau between predicted and true (mean over seeds) accuracy of held-out cells."""
    bench = NB201Benchmark(dataset=task)
    table = load_table(task)
    s = split(task, n_train, repeat, seed=seed, n_test=n_test)
    cells = [table.cells[i] for i in np.concatenate([s.train, s.test])]
    y = observed_accuracy(bench, cells[:n_train], seed=seed * 1000 + repeat)
    truth = table.mean[s.test]
    if kernel == "flat":
        pred = predict_flat(cells, y, n_train, task=task, seed=seed + repeat)
    elif kernel in ("wl", "hwl", "wl-h"):
        torch.manual_seed(seed + repeat)
        h = None if kernel == "wl-h" else 2
        pred = predict_wl(cells, y, n_train, h=h, hierarchical=kernel == "hwl")
    else:
        raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
    return float(kendalltau(pred, truth).statistic)


def run(
    tasks: Sequence[str],
    sizes: Sequence[int],
    kernels: Sequence[str],
    repeats: int,
    *,
    seed: int,
    n_test: int,
) -> dict[str, dict[str, dict[int, list[float]]]]:
    """tau per task -> kernel -> size -> repeats."""
    out: dict[str, dict[str, dict[int, list[float]]]] = {}
    for task in tasks:
        out[task] = {k: {n: [] for n in sizes} for k in kernels}
        for n in sizes:
            for r in range(repeats):
                for k in kernels:
                    out[task][k][n].append(tau(task, k, n, r, seed=seed, n_test=n_test))
    return out


def table(results: dict[str, dict[str, dict[int, list[float]]]]) -> str:
    """Median tau [IQR: q25, q75] per task x size (rows) and kernel (columns)."""
    kernels = list(next(iter(results.values())))
    lines = ["task        n  " + "".join(f"{k:>24}" for k in kernels)]
    for task, per_kernel in results.items():
        for n in per_kernel[kernels[0]]:
            cells = []
            for k in kernels:
                q25, med, q75 = np.percentile(per_kernel[k][n], [25, 50, 75])
                cells.append(f"{med:6.3f} [{q25:.3f}, {q75:.3f}]")
            lines.append(f"{task:<10} {n:>3}  " + "".join(f"{c:>24}" for c in cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> dict[str, dict[str, dict[int, list[float]]]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="CIFAR-10, sizes 10 and 50, 2 repeats")
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--sizes", nargs="+", type=int, default=list(SIZES))
    parser.add_argument("--kernels", nargs="+", default=["wl", "flat"], choices=KERNELS)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--test-cells", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="also write the raw taus to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.sizes, args.repeats, args.test_cells = ["cifar10"], [10, 50], 2, 200
    torch.set_num_threads(1)
    start = time.perf_counter()
    results = run(
        args.tasks, args.sizes, args.kernels, args.repeats, seed=args.seed, n_test=args.test_cells
    )
    print(table(results))
    seconds = time.perf_counter() - start
    print(f"({args.repeats} repeats, {args.test_cells} held-out cells, {seconds:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return results


if __name__ == "__main__":
    main()
