"""Write a trial to TensorBoard: its learning curve and results as scalars, its config as hparams.

One run folder per trial (``log_dir/trial_00012``), so TensorBoard's Scalars tab overlays the
learning curves and its HParams tab compares configurations against their objective. The runtime
calls :func:`write_trial` after each trial finishes (``tw.run(..., tensorboard=True)``); it can
also be called on a finished study's trials (``for t in result.study.trials: write_trial(...)``).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunewise.space import Categorical, Space
from tunewise.trial import Trial, TrialStatus

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

INSTALL_HINT = "writing TensorBoard files needs `pip install 'tunewise[tensorboard]'`"

CURVE_TAG = "objective/curve"
"""Scalar tag of the reported learning curve (step = the reported step)."""
CURVE_STEP_TAG = "objective/curve_step"
"""Written only for a curve with fractional steps: the true step of each point (see below)."""
OBJECTIVE_TAG = "objective"
COST_TAG = "cost"
FIDELITY_TAG = "fidelity"


def check_available() -> None:
    """Raise ImportError with the install hint when TensorBoard cannot be written."""
    try:
        import tensorboard  # type: ignore[import-untyped]  # noqa: F401
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as error:
        raise ImportError(f"{INSTALL_HINT} ({error})") from error


def run_folder(log_dir: Path, trial: Trial) -> Path:
    """The folder :func:`write_trial` writes ``trial`` to: ``log_dir / "trial_00012"``."""
    return Path(log_dir) / f"trial_{trial.number:05d}"


def write_trial(log_dir: Path, trial: Trial, space: Space) -> Path:
    """Write ``trial`` as one TensorBoard run under ``log_dir`` and return its folder.

    Scalars: the learning curve under ``"objective/curve"`` (step = the reported step), and at
    the trial's final step the ``"objective"``, ``"cost"`` and ``"fidelity"`` when known.
    TensorBoard steps are integers: a curve whose steps are not all whole numbers (a data
    fraction) is written at steps 1, 2, ... with its true steps under ``"objective/curve_step"``.
    HParams: the configuration (inactive conditional parameters left out), the fidelity under the
    space's fidelity name, and the trial's ``status``; its metrics are the objective and cost. A
    failed trial has no objective scalar but its curve, cost and hparams are written.

    The folder is replaced, so writing a trial again (a resumed run) leaves one set of events.
    """
    check_available()
    from torch.utils.tensorboard import SummaryWriter

    folder = run_folder(log_dir, trial)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    writer = SummaryWriter(log_dir=str(folder))
    try:
        last_step = _write_curve(writer, trial)
        for tag, value in _results(trial).items():
            writer.add_scalar(tag, value, global_step=last_step)
        _write_hparams(writer, trial, space)
    finally:
        writer.close()
    return folder


def _write_curve(writer: SummaryWriter, trial: Trial) -> int:
    """Write the curve; return the step the final results are written at."""
    curve = trial.learning_curve
    whole = all(float(step).is_integer() for step, _ in curve)
    for index, (step, value) in enumerate(curve, start=1):
        at = int(step) if whole else index
        writer.add_scalar(CURVE_TAG, value, global_step=at)
        if not whole:
            writer.add_scalar(CURVE_STEP_TAG, step, global_step=at)
    if not curve:
        return 0
    return int(curve[-1][0]) if whole else len(curve)


def _results(trial: Trial) -> dict[str, float]:
    values: dict[str, float | None] = {
        OBJECTIVE_TAG: trial.objective,
        COST_TAG: trial.cost,
        FIDELITY_TAG: None if trial.fidelity is None else float(trial.fidelity),
    }
    return {k: float(v) for k, v in values.items() if v is not None and math.isfinite(v)}


def _write_hparams(writer: SummaryWriter, trial: Trial, space: Space) -> None:
    from torch.utils.tensorboard.summary import hparams

    values: dict[str, Any] = {
        name: value
        for name, value in trial.config.items()
        if isinstance(value, str | bool | int | float)
    }
    discrete: dict[str, list[Any]] = {
        name: list(param.choices)
        for name, param in space.searchable.items()
        if isinstance(param, Categorical)
        and name in values
        # TensorBoard wants one type per domain (all str, all numbers or all bools)
        and len({type(c) for c in param.choices} | {type(values[name])}) == 1
    }
    if space.fidelity_name is not None and trial.fidelity is not None:
        values[space.fidelity_name] = trial.fidelity
    values["status"] = str(trial.status)
    discrete["status"] = [str(s) for s in TrialStatus]
    metrics = {OBJECTIVE_TAG: 0.0, COST_TAG: 0.0}  # names only: the values are the scalars
    experiment, start, end = hparams(  # type: ignore[no-untyped-call]
        values, metrics, hparam_domain_discrete=discrete
    )
    file_writer = writer._get_file_writer()  # type: ignore[no-untyped-call]
    for summary in (experiment, start, end):
        file_writer.add_summary(summary)
