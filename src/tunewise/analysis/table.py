"""Load and validate a tidy results table; incumbent traces on a grid of budgets.

The input contract is described in :mod:`tunewise.analysis`. Everything here works on plain pandas
frames, so tables from any tool can be analysed, not only tunewise's own runs.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED = ("algorithm", "benchmark", "seed", "budget", "value")
OPTIONAL = ("prior", "optimum")
#: Column names recognised without a mapping when the canonical name is absent.
ALIASES: dict[str, tuple[str, ...]] = {
    "budget": ("used_fidelity",),
    "algorithm": ("optimizer",),
}
#: Columns tunewise derives; an input column of the same name is kept as ``<name>_input``.
DERIVED = ("task", "instance", "run", "normalized_regret", "log_regret", "rank")
#: A run: one algorithm on one problem instance (benchmark [x prior] [x task columns]) and seed.
RUN = ("algorithm", "instance", "seed")
#: Above this many distinct budgets a table counts as irregular and gets an evenly spaced grid.
MAX_GRID = 100


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a results table from ``.csv`` or ``.parquet`` (chosen by the file's extension)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    raise ValueError(
        f"cannot read {str(path)!r}: unsupported file type {suffix!r}; use .csv or .parquet"
    )


def resolve_columns(
    present: Sequence[str], columns: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Map canonical names to input column names: explicit ``columns`` first, then ``ALIASES``.

    Returns only the renames that apply, e.g. ``{"budget": "used_fidelity"}``.
    """
    present = list(present)
    known = REQUIRED + OPTIONAL
    mapping: dict[str, str] = {}
    for canonical, source in (columns or {}).items():
        if canonical not in known:
            raise ValueError(
                f"cannot map unknown column {canonical!r}; mappable columns: {', '.join(known)}"
            )
        if source not in present:
            raise ValueError(
                f"columns maps {canonical!r} to {source!r}, which is not in the table; "
                f"present columns: {present}"
            )
        mapping[canonical] = source
    for canonical, aliases in ALIASES.items():
        if canonical in mapping or canonical in present:
            continue
        found = [alias for alias in aliases if alias in present]
        if found:
            mapping[canonical] = found[0]
    return {k: v for k, v in mapping.items() if k != v}


def load_table(
    source: pd.DataFrame | str | Path,
    columns: Mapping[str, str] | None = None,
    *,
    task_columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Validate a results table and return a copy with canonical columns and a ``task`` column.

    ``columns`` maps canonical names to the input's names (``{"budget": "used_fidelity"}``).
    ``task_columns`` are the columns whose combination is one "benchmark" for the random effect
    (default: ``("benchmark", "prior")`` when ``prior`` exists, else ``("benchmark",)``). Adds
    ``task``, ``instance`` (benchmark x prior x task columns: what one run solves) and ``run``
    (algorithm/instance/seed).
    Raises ``ValueError`` naming the problem for missing columns, empty tables, non-numeric or
    non-finite budgets/values, and tables with a single algorithm.
    """
    raw = read_table(source) if isinstance(source, str | Path) else source
    if not isinstance(raw, pd.DataFrame):
        raise ValueError(f"expected a DataFrame or a path, got {type(raw).__name__}")
    present = [str(c) for c in raw.columns]
    mapping = resolve_columns(present, columns)
    missing = [c for c in REQUIRED if c not in mapping and c not in present]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        raise ValueError(
            f"missing required column(s) {names}; present columns: {present}. "
            "Map yours with columns={'budget': 'your_name'} (CLI: --column budget=your_name)"
        )
    if len(raw) == 0:
        raise ValueError("the results table is empty (0 rows)")

    frame = raw.copy()
    frame.columns = present
    # Canonical columns replace whatever they were mapped from; the source name is dropped.
    clashes = {c: f"{c}_input" for c in mapping if c in present and c not in mapping.values()}
    frame = frame.rename(columns={**clashes, **{v: k for k, v in mapping.items()}})
    frame = frame.rename(columns={c: f"{c}_input" for c in DERIVED if c in frame.columns})

    for name in ("budget", "value") + (("optimum",) if "optimum" in frame.columns else ()):
        frame[name] = _numeric(frame, name)
    for name in ("budget", "value"):
        _check_finite(frame, name)
    for name in ("algorithm", "benchmark", "seed"):
        if frame[name].isna().any():
            raise ValueError(
                f"column {name!r} has {int(frame[name].isna().sum())} missing value(s)"
            )
    for name in ("algorithm", "benchmark") + (("prior",) if "prior" in frame.columns else ()):
        frame[name] = frame[name].astype(str)
    seeds = frame["seed"]
    if pd.api.types.is_float_dtype(seeds) and np.all(np.mod(seeds, 1) == 0):
        frame["seed"] = seeds.astype(np.int64)

    algorithms = sorted(frame["algorithm"].unique())
    if len(algorithms) < 2:
        raise ValueError(
            f"needs at least two algorithms to compare; the table has only {algorithms[0]!r}"
        )
    if task_columns is None:
        task_columns = default_task_columns(frame.columns)
    unknown = [c for c in task_columns if c not in frame.columns]
    if unknown or not task_columns:
        raise ValueError(f"task_columns {list(task_columns)} not in the table's columns {present}")
    frame["task"] = join_columns(frame, task_columns)
    instance = list(dict.fromkeys(["benchmark", *default_task_columns(present), *task_columns]))
    frame["instance"] = join_columns(frame, instance)
    frame["run"] = join_columns(frame, list(RUN))
    ordered = [*REQUIRED, "task", "instance", "run"]
    return frame[ordered + [c for c in frame.columns if c not in ordered]].reset_index(drop=True)


def default_task_columns(columns: Collection[str]) -> tuple[str, ...]:
    """``("benchmark", "prior")`` when a ``prior`` column exists, else ``("benchmark",)``."""
    return ("benchmark", "prior") if "prior" in columns else ("benchmark",)


def join_columns(frame: pd.DataFrame, names: Sequence[str], sep: str = "/") -> pd.Series:
    """Row-wise ``sep``-joined string of the columns ``names`` (vectorized)."""
    joined = frame[names[0]].astype(str)
    for name in names[1:]:
        joined = joined + sep + frame[name].astype(str)
    return joined


def require_benchmarks(table: pd.DataFrame, minimum: int = 2) -> None:
    """Raise ``ValueError`` unless the table has ``minimum`` tasks (benchmarks) for an LMEM."""
    tasks = sorted(table["task"].unique())
    if len(tasks) < minimum:
        raise ValueError(
            f"an LMEM with a benchmark random effect needs at least {minimum} benchmarks; the "
            "table "
            f"has {len(tasks)} ({', '.join(map(repr, tasks))}). Traces, normalized regret, mean "
            "ranks and per-benchmark plots still work: use analyze(..., lmem=False) "
            "(CLI: --no-lmem)"
        )


def budget_grid(table: pd.DataFrame, n: int = 50) -> np.ndarray:
    """Budgets to evaluate traces at: the recorded ones if few, else ``n`` evenly spaced points.

    For irregular tables the grid starts where every run has a record (the largest first budget),
    so each run has an incumbent at every grid point. Shape ``(n_budgets,)``, ascending.
    """
    budgets = np.unique(table["budget"].to_numpy(dtype=float))
    if len(budgets) <= MAX_GRID:
        return budgets
    start = float(table.groupby("run")["budget"].min().max())
    return np.linspace(start, float(budgets[-1]), n)


def incumbent_traces(table: pd.DataFrame, budgets: Sequence[float] | np.ndarray) -> pd.DataFrame:
    """Each run's incumbent at each budget: the last record at or before it (forward fill).

    A run = (algorithm, instance, seed). Several records at one budget count as their minimum. Grid
    points before a run's first record are dropped (that run has no incumbent yet). Returns the
    table's columns with one row per (run, budget in ``budgets``).
    """
    grid = np.unique(np.asarray(budgets, dtype=float))
    keys = list(RUN)
    rows = table.sort_values("value", kind="stable").drop_duplicates(["run", "budget"])
    rows = rows.sort_values("budget", kind="stable")
    runs = rows[["run"]].drop_duplicates()
    left = runs.merge(pd.DataFrame({"budget": grid}), how="cross").sort_values("budget")
    merged = pd.merge_asof(
        left,
        rows.rename(columns={"budget": "recorded_budget"}),
        left_on="budget",
        right_on="recorded_budget",
        by="run",
        direction="backward",
    )
    merged = merged.dropna(subset=["value"]).drop(columns="recorded_budget")
    merged = merged[table.columns.tolist()]
    return merged.sort_values([*keys, "budget"]).reset_index(drop=True)


def _numeric(frame: pd.DataFrame, name: str) -> pd.Series:
    column = frame[name]
    if pd.api.types.is_bool_dtype(column):
        raise ValueError(f"column {name!r} must be numeric, got booleans")
    converted = pd.to_numeric(column, errors="coerce")
    bad = converted.isna() & column.notna()
    if bad.any():
        examples = ", ".join(repr(v) for v in column[bad].unique()[:3])
        raise ValueError(
            f"column {name!r} must be numeric; {int(bad.sum())} row(s) are not, e.g. {examples}"
        )
    return converted.astype(float)


def _check_finite(frame: pd.DataFrame, name: str) -> None:
    bad = ~np.isfinite(frame[name].to_numpy(dtype=float))
    if bad.any():
        where = frame.loc[bad, ["algorithm", "benchmark", "seed"]].head(3)
        places = "; ".join(
            f"row {i} ({r.algorithm}, {r.benchmark}, seed {r.seed})" for i, r in where.iterrows()
        )
        raise ValueError(
            f"column {name!r} has {int(bad.sum())} non-finite value(s) (NaN or inf), e.g. {places}"
        )
