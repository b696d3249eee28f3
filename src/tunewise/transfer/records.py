"""One trial in a trials file and back: the JSON record, the CSV cells, and their validation.

A record read from a file becomes a :class:`~tunewise.trial.Trial` only once every field is
valid in the target space (:func:`trial_from_fields`); each problem is a :class:`TrialFileError`
whose message names the file, the line and the field or parameter at fault. The file layout
(header, columns) is in :mod:`tunewise.transfer.files`; ``docs/trials-format.md`` documents both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tunewise.space import Architecture, Categorical, Constant, Float, Integer, Parameter, Space
from tunewise.space.errors import SpaceError
from tunewise.storage.rows import dumps
from tunewise.trial import Trial, TrialStatus

RECORD_FIELDS = (
    "number",
    "status",
    "config",
    "fidelity",
    "objective",
    "cost",
    "learning_curve",
    "info",
    "error",
    "previous_trial",
    "retry_of",
    "created_at",
    "started_at",
    "finished_at",
)
"""The keys of one trial's JSON record, in the order they are written."""

TIMES = ("created_at", "started_at", "finished_at")


class TrialFileError(ValueError):
    """A trials file that cannot be read or does not fit the space; the message names the file,
    the line and what is wrong."""


Fail = Callable[[str], TrialFileError]
"""Makes the error of one record: ``fail("cost must be a number")``."""


# -- writing -------------------------------------------------------------------------------------


def trial_record(trial: Trial) -> dict[str, Any]:
    """``trial`` as its JSON record (plain JSON values; times as ISO 8601 UTC strings)."""
    record: dict[str, Any] = {
        "number": trial.number,
        "status": trial.status.value,
        "config": dict(trial.config),
        "fidelity": trial.fidelity,
        "objective": trial.objective,
        "cost": trial.cost,
        "learning_curve": [[step, value] for step, value in trial.learning_curve],
        "info": dict(trial.info),
        "error": trial.error,
        "previous_trial": trial.previous_trial,
        "retry_of": trial.retry_of,
    }
    for name in TIMES:
        record[name] = iso_time(getattr(trial, name))
    return record


def iso_time(stamp: float | None) -> str | None:
    """A ``time.time()`` value as ISO 8601 in UTC, to the microsecond."""
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, tz=UTC).isoformat(timespec="microseconds")


def cell(value: Any) -> str:
    """A value as a CSV cell: empty for None, ``repr`` for floats (exact), JSON for containers."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple | Mapping):
        return dumps(value)
    return str(value)


# -- reading: one field at a time ----------------------------------------------------------------


def trial_from_fields(fields: Mapping[str, Any], space: Space, *, where: str) -> Trial:
    """The trial of one record's fields (JSON values; absent keys are None), once valid in
    ``space``. ``where`` ("old.jsonl, line 3") starts every error message."""

    def fail(what: str) -> TrialFileError:
        return TrialFileError(f"{where}: {what}")

    number = _count(fields.get("number"), "number", fail, required=True)
    assert number is not None
    where = f"{where} (trial {number})"
    status_text = fields.get("status")
    try:
        status = TrialStatus(str(status_text))
    except ValueError:
        known = ", ".join(s.value for s in TrialStatus)
        raise fail(f"unknown status {status_text!r} (one of {known})") from None
    config = fields.get("config")
    if not isinstance(config, Mapping):
        raise fail(f"config must be an object of parameter values, got {config!r}")
    objective = _number(fields.get("objective"), "objective", fail)
    if status is TrialStatus.SUCCEEDED and (objective is None or not math.isfinite(objective)):
        raise fail(f"a succeeded trial needs a finite objective, got {objective!r}")
    info = fields.get("info")
    if info is None:
        info = {}
    if not isinstance(info, Mapping):
        raise fail(f"info must be an object, got {info!r}")
    error = fields.get("error")
    if error is not None and not isinstance(error, str):
        raise fail(f"error must be text, got {error!r}")
    try:
        checked = checked_config(space, config)
        fidelity = checked_fidelity(space, fields.get("fidelity"))
    except SpaceError as problem:
        raise TrialFileError(f"{where}: {problem}") from None
    return Trial(
        number=number,
        config=checked,
        status=status,
        fidelity=fidelity,
        objective=objective,
        cost=_number(fields.get("cost"), "cost", fail),
        learning_curve=_curve(fields.get("learning_curve"), fail),
        info=info,
        error=error,
        previous_trial=_count(fields.get("previous_trial"), "previous_trial", fail),
        retry_of=_count(fields.get("retry_of"), "retry_of", fail),
        created_at=_time(fields.get("created_at"), "created_at", fail),
        started_at=_time(fields.get("started_at"), "started_at", fail),
        finished_at=_time(fields.get("finished_at"), "finished_at", fail),
    )


def checked_config(space: Space, config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` as a configuration of ``space``: a missing constant is filled in, an integer
    for a float becomes a float, a categorical value becomes the space's own choice; then
    :meth:`Space.validate_config` (unknown parameter, bounds, choices, active, constants).

    Raises:
        SpaceError: naming the parameter at fault.
    """
    name = space.fidelity_name
    if name is not None and name in config:
        raise SpaceError(
            f"parameter {name!r}: the fidelity is not part of a configuration; "
            "give it as the trial's fidelity"
        )
    out: dict[str, Any] = {}
    for key, value in config.items():
        param = space.parameters.get(key)
        if isinstance(param, Float) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(param, Categorical) and param.contains(value):
            value = param.choices[param.index(value)]
        out[key] = value
    for key, value in space.constants.items():
        out.setdefault(key, value)
    space.validate_config(out)
    return {key: out[key] for key in space if key in out}  # the space's order


def checked_fidelity(space: Space, value: Any) -> float | int | None:
    """``value`` as the trial's fidelity in ``space`` (an int for an integer fidelity).

    Raises:
        SpaceError: a fidelity for a space without one, none for a space with one, or one
            outside its bounds.
    """
    fidelity, name = space.fidelity, space.fidelity_name
    if fidelity is None or name is None:
        if value is not None:
            raise SpaceError(f"fidelity {value!r} given, but the space has no fidelity")
        return None
    if value is None:
        raise SpaceError(f"parameter {name!r}: missing (the fidelity the trial ran at)")
    problem = fidelity._value_problem(value)
    if problem is not None:
        raise SpaceError(f"parameter {name!r}: {problem}")
    return int(value) if fidelity.is_integer else float(value)


def _count(value: Any, name: str, fail: Fail, *, required: bool = False) -> int | None:
    if value is None and not required:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise fail(f"{name} must be a whole number >= 0, got {value!r}")
    return value


def _number(value: Any, name: str, fail: Fail) -> float | None:
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise fail(f"{name} must be a number, got {value!r}")
    return float(value)


def _curve(value: Any, fail: Fail) -> tuple[tuple[float, float], ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        points = []
        for point in value:
            if not (isinstance(point, list | tuple) and len(point) == 2):
                break
            step, y = point
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in point):
                break
            points.append((float(step), float(y)))
        else:
            return tuple(points)
    raise fail(f"learning_curve must be a list of [step, value] pairs of numbers, got {value!r}")


def _time(value: Any, name: str, fail: Fail) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    raise fail(f"{name} must be an ISO 8601 time or seconds since 1970, got {value!r}")


# -- reading CSV cells ---------------------------------------------------------------------------


def parameter_value(param: Parameter, text: str) -> Any:
    """The value a CSV cell holds for ``param``: a number for a float or integer, the choice
    whose text it is for a categorical or constant, the derivation string for an architecture.

    Raises:
        SpaceError: the text is no value of that type (without the parameter's name).
    """
    if isinstance(param, Integer):
        number = _parsed_float(text, "an integer")
        if not number.is_integer():
            raise SpaceError(f"expected an integer, got {text!r}")
        return int(number)
    if isinstance(param, Float):
        return _parsed_float(text, "a number")
    if isinstance(param, Categorical | Constant):
        choices = param.choices if isinstance(param, Categorical) else (param.value,)
        return _choice(choices, text)
    if isinstance(param, Architecture):
        return text
    raise SpaceError(f"a {param.type_name} has no value in a configuration")


def optional_float(text: str, name: str, fail: Fail) -> float | None:
    """A number cell (``nan`` and ``inf`` allowed), or None when empty."""
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise fail(f"{name} must be a number, got {text!r}") from None


def optional_int(text: str, name: str, fail: Fail) -> int | None:
    """A whole-number cell, or None when empty."""
    if text == "":
        return None
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not number.is_integer():
        raise fail(f"{name} must be a whole number, got {text!r}")
    return int(number)


def json_cell(text: str, name: str, fail: Fail) -> Any:
    """A cell holding JSON (``learning_curve``, ``info``), or None when empty."""
    if text == "":
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise fail(f"{name} is not valid JSON ({error}): {text!r}") from None


def _parsed_float(text: str, kind: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SpaceError(f"expected {kind}, got {text!r}") from None


def _choice(choices: Sequence[Any], text: str) -> Any:
    """The choice written as ``text`` (its ``cell`` form; else ``true``/``false`` for a bool,
    else an equal number: ``1e-1`` is the choice ``0.1``)."""
    for test in (_same_text, _same_bool, _same_number):
        found = [c for c in choices if test(c, text)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise SpaceError(f"{text!r} matches several choices: {found}")
    raise SpaceError(f"{text!r} is not among the choices {list(choices)}")


def _same_text(choice: Any, text: str) -> bool:
    return cell(choice) == text


def _same_bool(choice: Any, text: str) -> bool:
    return isinstance(choice, bool) and text.lower() == str(choice).lower()


def _same_number(choice: Any, text: str) -> bool:
    if not isinstance(choice, int | float) or isinstance(choice, bool):
        return False
    try:
        return float(text) == choice
    except ValueError:
        return False
