"""What a run leaves behind, read back from the store: the trial table and the best trial."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunewise.runtime.paths import trial_directory
from tunewise.space import Space
from tunewise.storage import StudyHandle, StudyRecord, Totals
from tunewise.storage.locations import open_study, split_location
from tunewise.trial import Trial, TrialStatus, incumbent

if TYPE_CHECKING:
    import pandas as pd


class Result:
    """A study's results: ``trials`` (a DataFrame), ``best`` (a Trial) and ``best_config``.

    ``best`` is the succeeded trial with the lowest objective at the highest fidelity evaluated so
    far (low-fidelity objectives are not comparable with full ones).
    """

    def __init__(self, study: StudyHandle, root: str | os.PathLike[str] | None) -> None:
        self._study = study
        self.root = Path(root).expanduser().resolve() if root is not None else None
        study.refresh()

    @property
    def study(self) -> str:
        return self._study.name

    @property
    def space(self) -> Space:
        return self._study.space

    @property
    def record(self) -> StudyRecord:
        """The study as stored: its space, optimizer specification, seed and worker settings."""
        return self._study.record

    def budget(self) -> dict[str, Any]:
        """The study's budget as stored now: ``evaluations``, ``cost``, ``seconds``,
        ``fidelity_units`` (None where unlimited) and the wall-clock ``deadline``."""
        return self._study.budget()

    def refresh(self) -> Result:
        self._study.refresh()
        return self

    def close(self) -> None:
        """Release the store's connections (a PostgreSQL pool); reading again reconnects."""
        self._study.store.close()

    def __enter__(self) -> Result:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def trial_list(self) -> list[Trial]:
        return self._study.trials()

    @property
    def best(self) -> Trial | None:
        return incumbent(self.trial_list)

    @property
    def best_config(self) -> dict[str, Any] | None:
        """The best trial's configuration, with the fidelity it was evaluated at (under the
        fidelity parameter's name), so that it can be evaluated again as it was."""
        best = self.best
        if best is None:
            return None
        config = dict(best.config)
        fidelity_name = self.space.fidelity_name
        if fidelity_name is not None and best.fidelity is not None:
            config[fidelity_name] = best.fidelity
        return config

    @property
    def totals(self) -> Totals:
        """What the study has spent so far, counted by the store: evaluations, cost and
        full-fidelity units (``fidelity_spent``; a continuation counts only the step it adds)."""
        return self._study.totals()

    def curve(self, number: int) -> pd.DataFrame:
        """Trial ``number``'s configuration's whole learning curve across the chain of trials
        that continued it (``number``, ``fidelity``, ``step``, ``value``; see
        :func:`tunewise.analysis.study.chain_curve`)."""
        from tunewise.analysis.study import chain_curve

        return chain_curve(self.trial_list, number)

    def heartbeats(self) -> dict[int, float | None]:
        """The last heartbeat (a ``time.time()`` of the worker's clock) of each running trial."""
        return self._study.running_heartbeats()

    def trial(self, number: int) -> Trial | None:
        """Trial ``number`` as read at the last refresh; None if there is none."""
        return self._study.trial(number)

    def directory(self, number: int) -> Path:
        """The folder trial ``number`` wrote its checkpoints to."""
        if self.root is None:
            raise ValueError("this result was loaded without a root folder")
        return trial_directory(self.root, self.study, number)

    @property
    def trials(self) -> pd.DataFrame:
        """One row per trial: ``number``, the ``config.<name>`` columns, then ``status``,
        ``objective``, ``fidelity``, ``cost`` and the bookkeeping, with the trial's info in
        ``info.<key>`` columns (a column ``info`` would hide ``DataFrame.info``)."""
        import pandas as pd

        trials = self.trial_list
        names = [k for k in self.space.parameters if k != self.space.fidelity_name]
        for t in trials:  # parameters the space no longer has (a resumed, changed space)
            names.extend(k for k in t.config if k not in names)
        rows = []
        for t in trials:
            row: dict[str, Any] = {"number": t.number}
            row.update({f"config.{k}": t.config.get(k) for k in names if k in t.config})
            row.update(
                {
                    "status": t.status.value,
                    "objective": t.objective,
                    "fidelity": t.fidelity,
                    "cost": t.cost,
                    "worker": t.worker,
                    "device": t.device,
                    "error": (t.error or "").splitlines()[0] if t.error else None,
                    "started_at": _timestamp(t.started_at),
                    "finished_at": _timestamp(t.finished_at),
                    "duration": (t.finished_at - t.started_at)
                    if t.finished_at and t.started_at
                    else None,
                    "previous_trial": t.previous_trial,
                    "retry_of": t.retry_of,
                    "slot": t.slot,
                    "learning_curve": list(t.learning_curve),
                }
            )
            row.update({f"info.{k}": v for k, v in t.info.items()})
            rows.append(row)
        columns = ["number", *(f"config.{k}" for k in names)]
        frame = pd.DataFrame(rows)
        if frame.empty:
            return frame
        rest = [c for c in frame.columns if c not in columns and not c.startswith("info.")]
        info = sorted(c for c in frame.columns if c.startswith("info."))
        return frame[[c for c in columns if c in frame.columns] + rest + info]

    @property
    def counts(self) -> dict[str, int]:
        """How many trials have each status (``pending``, ``running``, ``succeeded``, ...)."""
        out = {s.value: 0 for s in TrialStatus}
        for t in self.trial_list:
            out[t.status.value] += 1
        return out

    def __repr__(self) -> str:
        best = self.best
        text = f"Result(study={self.study!r}, trials={len(self.trial_list)}"
        if best is not None:
            text += f", best={best.objective:.6g} (trial {best.number})"
        return text + ")"


def _timestamp(value: float | None) -> Any:
    import pandas as pd

    return pd.to_datetime(value, unit="s", utc=True) if value else None


def load(
    root: str | os.PathLike[str] | None = None,
    *,
    study: str | None = None,
    storage: str | None = None,
) -> Result:
    """Open a study's results: ``load("runs/mlp")``, ``load("postgresql://...", study=NAME)``
    or ``load(storage=URL, study=NAME)``: the first argument is a root folder or a store URL."""
    if root is not None and storage is None:
        root, storage = split_location(root)
    return Result(open_study(root=root, storage=storage, study=study), root)
