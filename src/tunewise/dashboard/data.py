"""The dashboard's data: a store's studies read through the storage interface, as JSON-ready dicts.

:class:`StoreView` opens the store once and keeps one :class:`StudyView` per study. A view holds
a read-only handle (:class:`~tunewise.storage.StudyReader`), whose ``refresh`` reads only what
changed since its last read, and gives every trial the *version* of the view at which it last
changed, so a polling page asks "what changed since version V" and gets just those trials.
Tables that cost O(trials) to build (the incumbent trace, the rungs, the trial table) are built
from :mod:`tunewise.analysis.study` once per version, however many pages ask.

Handles are not shared between threads, and the app serves requests from a thread pool: each
view does its reading and building under its own lock.
"""

from __future__ import annotations

import json
import math
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from tunewise.analysis.study import (
    chain as chain_of,
)
from tunewise.analysis.study import (
    chain_curve,
    incumbent_trace,
    learning_curves,
    parallel_coordinates,
    parameter_names,
    rung_summary,
    rungs,
    study_start,
)
from tunewise.runtime.paths import trial_directory
from tunewise.storage import StudyReader, TrialStore
from tunewise.storage.locations import open_store
from tunewise.storage.urls import DB_FILENAME, safe_url
from tunewise.transfer.layer import describe
from tunewise.trial import Trial, TrialStatus, incumbent

if TYPE_CHECKING:
    import pandas as pd

R = TypeVar("R")

CURVES_SHOWN = 100
"""Finished trials whose learning curves the study page draws (the latest; running ones always)."""
PARALLEL_SHOWN = 1000
"""Lines the parallel-coordinates plot draws at most: the best, highest fidelity first (a browser
draws 10,000 lines in seconds, and one cannot read them)."""
IMPORTANCE_MIN_TRIALS = 10
"""Succeeded trials the importance needs before it is computed."""


def locate(location: str | os.PathLike[str]) -> tuple[Path | None, str | None]:
    """``(root, storage)`` for a ``ROOT_OR_URL``: a store URL, or a root folder holding a store.

    A folder without ``tunewise.db`` is refused rather than given a new, empty store: the
    dashboard only reads.
    """
    text = os.fspath(location)
    if "://" in text:
        return None, text
    root = Path(text).expanduser().resolve()
    if not (root / DB_FILENAME).is_file():
        raise ValueError(f"no tunewise study at {text!r} (no {DB_FILENAME} there)")
    return root, None


def clean(value: Any) -> Any:
    """``value`` with NaN/inf and pandas' NA as None and numpy scalars as Python ones (JSON has
    no NaN, and a browser's ``JSON.parse`` refuses it)."""
    if value is None or isinstance(value, bool | str | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    item = getattr(value, "item", None)
    if callable(item):  # a numpy scalar
        return clean(item())
    if value is _pandas_na():
        return None
    return str(value)


def clean_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping made JSON-clean by :func:`clean`."""
    return {str(k): clean(v) for k, v in value.items()}


def _pandas_na() -> Any:
    import pandas as pd

    return pd.NA


def frame_columns(frame: pd.DataFrame) -> dict[str, list[Any]]:
    """A DataFrame as ``{column: [values]}``, JSON-clean (the compact form Plotly draws from).

    Numeric columns are converted whole (NaN and NA become None), others value by value: a
    10,000-row table converts in milliseconds.
    """
    import numpy as np
    import pandas as pd

    out: dict[str, list[Any]] = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_float_dtype(column.dtype) or pd.api.types.is_integer_dtype(column.dtype):
            missing = column.isna().to_numpy()
            if pd.api.types.is_float_dtype(column.dtype):
                array = column.to_numpy(dtype="float64", na_value=np.nan)
                missing = missing | ~np.isfinite(array)
            else:
                array = column.to_numpy(dtype="int64", na_value=0)
            values: list[Any] = array.tolist()
            for i in np.flatnonzero(missing).tolist():
                values[i] = None
        else:
            values = [clean(v) for v in column.tolist()]
        out[str(name)] = values
    return out


def plain(value: Any) -> Any:
    """A config or info value as the table shows it: numbers and strings as they are, anything
    else (lists, dicts) as JSON text."""
    if value is None or isinstance(value, bool | int | float | str):
        return clean(value)
    return json.dumps(clean(value), default=str)


class StudyView:
    """One study as the dashboard shows it, updated from the store on every read."""

    def __init__(self, handle: StudyReader, *, root: Path | None) -> None:
        self._handle = handle
        self._root = root
        self._lock = threading.Lock()
        self._version = 0
        self._known: list[Trial | None] = []
        self._changed_at: list[int] = []
        self._built: dict[str, tuple[int, Any]] = {}
        space = handle.space
        self._parameters = parameter_names(space)
        self._fidelity_name = space.fidelity_name
        self._max_fidelity = space.fidelity.upper if space.fidelity is not None else None

    @property
    def name(self) -> str:
        return self._handle.name

    # -- reading ---------------------------------------------------------------------------------

    def _update(self) -> list[Trial]:
        """Read the store's changes; trials that changed get the next version. Lock held."""
        self._handle.refresh()
        trials = self._handle.trials()
        bumped = False
        for t in trials:
            n = t.number
            while n >= len(self._known):
                self._known.append(None)
                self._changed_at.append(0)
            if self._known[n] is not t:
                if not bumped:
                    self._version += 1
                    bumped = True
                self._known[n] = t
                self._changed_at[n] = self._version
        return trials

    def _cached(self, key: str, build: Callable[[list[Trial]], R]) -> R:
        with self._lock:
            trials = self._update()
            found = self._built.get(key)
            if found is not None and found[0] == self._version:
                return found[1]  # type: ignore[no-any-return]
            value = build(trials)
            self._built[key] = (self._version, value)
            return value

    # -- what the pages ask for -------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """Name, optimizer, seed, status counts, budget used/total, best trial, start time."""
        core = self._cached("summary", self._summary)
        with self._lock:
            budget = self._budget()  # a rerun with a larger budget changes no trial
        return {**core, "budget": budget}

    def _summary(self, trials: list[Trial]) -> dict[str, Any]:
        record = self._handle.record
        optimizer, spec, transfer = _optimizer_view(record.optimizer)
        counts = {s.value: 0 for s in TrialStatus}
        for t in trials:
            counts[t.status.value] += 1
        best = incumbent(trials)
        started = study_start(trials)
        return clean_dict(
            {
                "name": record.name,
                "optimizer": optimizer,
                "optimizer_spec": spec,
                "transfer": transfer,
                "seed": record.seed,
                "counts": counts,
                "trials": len(trials),
                "best": None
                if best is None
                else {
                    "number": best.number,
                    "objective": best.objective,
                    "fidelity": best.fidelity,
                },
                "started": started if started is not None else record.created_at,
                "created": record.created_at,
                "fidelity_name": self._fidelity_name,
                "max_fidelity": self._max_fidelity,
                "parameters": self._parameters,
                "version": self._version,
            }
        )

    def _budget(self) -> list[dict[str, Any]]:
        """Each limit of the stored budget with what is used of it (from the store's totals)."""
        totals = self._handle.totals()
        budget = self._handle.budget()
        used = {
            "evaluations": float(totals.n_live),
            "fidelity_units": totals.fidelity_spent,
            "cost": totals.cost_spent,
        }
        out = [
            {"name": name, "used": used[name], "total": budget.get(name)}
            for name in ("evaluations", "fidelity_units", "cost")
            if budget.get(name) is not None
        ]
        if budget.get("deadline") is not None:
            out.append({"name": "deadline", "used": None, "total": budget["deadline"]})
        if not out:
            out.append({"name": "evaluations", "used": used["evaluations"], "total": None})
        return clean(out)  # type: ignore[no-any-return]

    def figures(self) -> dict[str, Any]:
        """The incumbent trace (which also places every finished trial), the rungs and their
        summary, and the parallel-coordinates table."""
        return self._cached("figures", self._figures)

    def _figures(self, trials: list[Trial]) -> dict[str, Any]:
        space = self._handle.space
        parallel = parallel_coordinates(trials, space)
        total = len(parallel)
        if total > PARALLEL_SHOWN:
            parallel = (
                parallel.sort_values(["fidelity", "objective"], ascending=[False, True])
                .head(PARALLEL_SHOWN)
                .sort_values("number")
            )
        return {
            "version": self._version,
            "trace": frame_columns(incumbent_trace(trials, space)),
            "rungs": frame_columns(rungs(trials)),
            "rung_summary": frame_columns(rung_summary(trials)),
            "parallel": frame_columns(parallel),
            "parallel_total": total,
            "parameters": self._parameters,
            "categorical": [
                name
                for name in self._parameters
                if name not in space.searchable
                or space.searchable[name].type_name not in ("float", "integer")
            ],
        }

    def importance(self) -> dict[str, Any]:
        """Importance per searched parameter, or why it cannot be computed yet."""
        return self._cached("importance", self._importance)

    def _importance(self, trials: list[Trial]) -> dict[str, Any]:
        from tunewise.analysis.importance import importance

        try:
            values = importance(trials, self._handle.space, min_trials=IMPORTANCE_MIN_TRIALS)
        except ValueError as exc:
            return {"version": self._version, "importance": None, "note": str(exc)}
        ordered = sorted(values.items(), key=lambda kv: -kv[1])
        return clean_dict({"version": self._version, "importance": dict(ordered), "note": None})

    def table(self) -> dict[str, Any]:
        """Every trial as one row of :meth:`columns` (the trial table and the live merge)."""
        return self._cached("table", lambda trials: self._rows(trials))

    def columns(self) -> list[str]:
        """The trial table's columns: bookkeeping first, then one per searched parameter."""
        return [
            "number",
            "status",
            "fidelity",
            "objective",
            "cost",
            "duration",
            "sampled_from",
            "previous_trial",
            "worker",
            *(f"config.{name}" for name in self._parameters),
        ]

    def _row(self, t: Trial) -> list[Any]:
        duration = (
            t.finished_at - t.started_at
            if t.finished_at is not None and t.started_at is not None
            else None
        )
        return [
            t.number,
            t.status.value,
            clean(t.fidelity),
            clean(t.objective),
            clean(t.cost),
            clean(duration),
            plain(t.info.get("sampled_from")),
            t.previous_trial,
            t.worker,
            *(plain(t.config.get(name)) for name in self._parameters),
        ]

    def _rows(self, trials: Sequence[Trial]) -> dict[str, Any]:
        return {
            "version": self._version,
            "columns": self.columns(),
            "rows": [self._row(t) for t in trials],
        }

    def curves(self, *, limit: int = CURVES_SHOWN) -> dict[str, Any]:
        """Learning curves of every running trial and of the ``limit`` latest finished ones."""
        return self._cached(f"curves:{limit}", lambda trials: self._curves(trials, limit=limit))

    def _curves(self, trials: Sequence[Trial], *, limit: int | None) -> dict[str, Any]:
        with_curves = [t for t in trials if t.learning_curve]
        if limit is not None:
            done = [t for t in with_curves if t.finished][-limit:] if limit > 0 else []
            shown = {t.number for t in done}
            with_curves = [t for t in with_curves if not t.finished or t.number in shown]
        frame = learning_curves(with_curves)
        out: dict[str, dict[str, Any]] = {}
        for t in with_curves:
            out[str(t.number)] = {
                "status": t.status.value,
                "fidelity": clean(t.fidelity),
                "steps": [],
                "values": [],
            }
        for number, step, value in zip(
            frame["number"].tolist(), frame["step"].tolist(), frame["value"].tolist(), strict=True
        ):
            entry = out[str(number)]
            entry["steps"].append(clean(step))
            entry["values"].append(clean(value))
        return {"version": self._version, "curves": out}

    def changes(self, since: int) -> dict[str, Any]:
        """What changed after version ``since``: the summary, and the changed trials as table
        rows with their learning curves (O(trials) integer comparisons, no table rebuilt)."""
        with self._lock:
            trials = self._update()
            changed = [t for t in trials if self._changed_at[t.number] > since]
            rows = self._rows(changed)
            curves = self._curves(changed, limit=None)
            version = self._version
        return {
            "version": version,
            "summary": self.summary(),
            "rows": rows["rows"],
            "curves": curves["curves"],
        }

    def trial(self, number: int) -> dict[str, Any] | None:
        """Everything stored about trial ``number`` (None if there is none), with the chain of
        trials it continues and its checkpoint folder when the store is a root folder's."""
        with self._lock:
            trials = self._update()
            t = self._handle.trial(number)
            if t is None:
                return None
            chain = chain_of(trials, number)  # the trials the handle read include ``t``
            whole = chain_curve(trials, number)
            continued_by = [u.number for u in trials if u.previous_trial == number]
            version = self._version
        directory = (
            str(trial_directory(self._root, self.name, number)) if self._root is not None else None
        )
        return clean_dict(
            {
                "version": version,
                "study": self.name,
                "number": t.number,
                "status": t.status.value,
                "config": dict(t.config),
                "fidelity": t.fidelity,
                "fidelity_name": self._fidelity_name,
                "objective": t.objective,
                "cost": t.cost,
                "info": dict(t.info),
                "error": t.error,
                "worker": t.worker,
                "device": t.device,
                "slot": t.slot,
                "previous_trial": t.previous_trial,
                "retry_of": t.retry_of,
                "chain": chain,
                "continued_by": continued_by,
                "created_at": t.created_at,
                "started_at": t.started_at,
                "finished_at": t.finished_at,
                "learning_curve": {
                    "steps": [s for s, _ in t.learning_curve],
                    "values": [v for _, v in t.learning_curve],
                },
                "chain_curve": {
                    "steps": whole["step"].tolist(),
                    "values": whole["value"].tolist(),
                    "numbers": whole["number"].tolist(),
                },
                "directory": directory,
                "directory_exists": directory is not None and Path(directory).is_dir(),
            }
        )

    def export_frame(self) -> pd.DataFrame:
        """One row per trial: number, status, fidelity, objective, cost, times, the config and
        info (``config.<name>``, ``info.<key>``) and the learning curve as JSON text."""
        import pandas as pd

        with self._lock:
            trials = self._update()
        rows = []
        for t in trials:
            row: dict[str, Any] = {
                "number": t.number,
                "status": t.status.value,
                "fidelity": t.fidelity,
                "objective": t.objective,
                "cost": t.cost,
                "created_at": t.created_at,
                "started_at": t.started_at,
                "finished_at": t.finished_at,
                "previous_trial": t.previous_trial,
                "retry_of": t.retry_of,
                "worker": t.worker,
                "device": t.device,
                "slot": t.slot,
                "error": t.error,
                "learning_curve": json.dumps([list(p) for p in t.learning_curve]),
            }
            row.update({f"config.{k}": plain(v) for k, v in t.config.items()})
            row.update({f"info.{k}": plain(v) for k, v in t.info.items()})
            rows.append(row)
        frame = pd.DataFrame(rows)
        for column in ("previous_trial", "retry_of"):
            if column in frame:
                frame[column] = frame[column].astype("Int64")
        return frame


class StoreView:
    """A store's studies for the dashboard: one open store, one :class:`StudyView` per study."""

    def __init__(self, location: str | os.PathLike[str]) -> None:
        self.root, storage = locate(location)
        self._store: TrialStore = open_store(root=self.root, storage=storage)
        self.where = str(self.root) if self.root is not None else safe_url(self._store.url)
        """Where the store is, for pages and logs: the root folder, or the URL without password."""
        self.epoch = uuid.uuid4().hex[:12]
        """Names this server's versions: a page that polled another server's reloads."""
        self._lock = threading.Lock()
        self._views: dict[str, StudyView] = {}

    def names(self) -> list[str]:
        return self._store.study_names()

    def study(self, name: str) -> StudyView | None:
        """The view of study ``name``; None if the store has no such study."""
        with self._lock:
            view = self._views.get(name)
            if view is None:
                if name not in self._store.study_names():
                    return None
                view = StudyView(self._store.study(name), root=self.root)
                self._views[name] = view
            return view

    def studies(self) -> list[dict[str, Any]]:
        """The summary of every study, oldest first."""
        out = []
        for name in self.names():
            view = self.study(name)
            if view is not None:
                out.append(view.summary())
        return out

    def close(self) -> None:
        self._store.close()


def _optimizer_view(spec: Mapping[str, Any]) -> tuple[Any, dict[str, Any], list[str] | None]:
    """The optimizer's name and spec to show, and a transfer layer's report lines (its stored
    old configurations are data, not options to list)."""
    if spec.get("name") != "transfer":
        return spec.get("name"), dict(spec), None
    report = spec.get("report") or {}
    base = dict(spec.get("base") or {})
    return base.get("name"), base, describe(report)
