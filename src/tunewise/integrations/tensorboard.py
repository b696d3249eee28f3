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

from tunewise.space import Categorical, Constant, Fidelity, Float, Integer, Parameter, Space
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
    """The experiment (every parameter of the space, so that whichever run TensorBoard reads it
    from, no column is missing), this trial's values and its end status."""
    from google.protobuf import struct_pb2  # type: ignore[import-untyped]
    from tensorboard.plugins.hparams import (  # type: ignore[import-untyped]
        api_pb2,
        plugin_data_pb2,
    )

    values: dict[str, Any] = {
        name: value
        for name, value in trial.config.items()
        if isinstance(value, str | bool | int | float)
    }
    if space.fidelity_name is not None and trial.fidelity is not None:
        values[space.fidelity_name] = trial.fidelity
    values["status"] = str(trial.status)
    infos = [_hparam_info(api_pb2, name, param) for name, param in space.parameters.items()]
    statuses = [str(s) for s in TrialStatus]
    infos.append(_discrete(api_pb2, "status", statuses))
    metrics = [
        api_pb2.MetricInfo(name=api_pb2.MetricName(tag=tag), display_name=tag)
        for tag in (OBJECTIVE_TAG, COST_TAG)
    ]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)
    start = plugin_data_pb2.SessionStartInfo(
        hparams={name: _struct_value(struct_pb2, v) for name, v in values.items()},
        start_time_secs=trial.started_at or 0.0,
    )
    succeeded = trial.status is TrialStatus.SUCCEEDED
    end = plugin_data_pb2.SessionEndInfo(
        status=api_pb2.STATUS_SUCCESS if succeeded else api_pb2.STATUS_FAILURE,
        end_time_secs=trial.finished_at or 0.0,
    )
    file_writer = writer._get_file_writer()  # type: ignore[no-untyped-call]
    for tag, data in (
        (EXPERIMENT, plugin_data_pb2.HParamsPluginData(experiment=experiment)),
        (SESSION_START, plugin_data_pb2.HParamsPluginData(session_start_info=start)),
        (SESSION_END, plugin_data_pb2.HParamsPluginData(session_end_info=end)),
    ):
        file_writer.add_summary(_summary(tag, data))


EXPERIMENT = "_hparams_/experiment"
SESSION_START = "_hparams_/session_start_info"
SESSION_END = "_hparams_/session_end_info"


def _hparam_info(api_pb2: Any, name: str, param: Parameter) -> Any:
    if isinstance(param, Float | Integer | Fidelity):
        return api_pb2.HParamInfo(
            name=name,
            type=api_pb2.DATA_TYPE_FLOAT64,
            domain_interval=api_pb2.Interval(min_value=param.lower, max_value=param.upper),
        )
    if isinstance(param, Categorical):
        return _discrete(api_pb2, name, list(param.choices))
    if isinstance(param, Constant):
        return _discrete(api_pb2, name, [] if param.value is None else [param.value])
    return api_pb2.HParamInfo(name=name, type=api_pb2.DATA_TYPE_STRING)  # an architecture


def _discrete(api_pb2: Any, name: str, choices: list[Any]) -> Any:
    """A discrete domain, when the choices share one TensorBoard type (else the type alone)."""
    from google.protobuf import struct_pb2

    kinds = {_data_type(api_pb2, c) for c in choices}
    if len(kinds) != 1:
        return api_pb2.HParamInfo(name=name)
    domain = struct_pb2.ListValue(values=[_struct_value(struct_pb2, c) for c in choices])
    return api_pb2.HParamInfo(name=name, type=kinds.pop(), domain_discrete=domain)


def _data_type(api_pb2: Any, value: Any) -> Any:
    if isinstance(value, bool):
        return api_pb2.DATA_TYPE_BOOL
    if isinstance(value, int | float):
        return api_pb2.DATA_TYPE_FLOAT64
    return api_pb2.DATA_TYPE_STRING


def _struct_value(struct_pb2: Any, value: Any) -> Any:
    if isinstance(value, bool):
        return struct_pb2.Value(bool_value=value)
    if isinstance(value, int | float):
        return struct_pb2.Value(number_value=float(value))
    return struct_pb2.Value(string_value=str(value))


def _summary(tag: str, data: Any) -> Any:
    from tensorboard.compat.proto.summary_pb2 import (  # type: ignore[import-untyped]
        Summary,
        SummaryMetadata,
    )

    plugin = SummaryMetadata.PluginData(plugin_name="hparams", content=data.SerializeToString())
    return Summary(value=[Summary.Value(tag=tag, metadata=SummaryMetadata(plugin_data=plugin))])
