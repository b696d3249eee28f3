"""Turn what ``evaluate`` did (returned, raised) into a recordable outcome with a clear reason."""

from __future__ import annotations

import json
import math
import numbers
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tunewise.trial import TrialStatus

RESULT_KEYS = ("objective", "cost", "learning_curve", "info")


@dataclass(frozen=True)
class Outcome:
    """What an evaluation ended with. ``stop_seen``: how many curve points the objective had
    reported when it first learnt that early stopping advised it to stop (None: it never did;
    see :attr:`tunewise.runtime.context.TrialContext.stop_seen`)."""

    status: TrialStatus
    objective: float | None = None
    cost: float | None = None
    learning_curve: list[tuple[float, float]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    stop_seen: int | None = None


class InvalidResult(ValueError):
    """``evaluate`` returned something tunewise cannot record."""


def from_exception(
    exc: BaseException, *, elapsed: float, curve: list[tuple[float, float]]
) -> Outcome:
    text = "".join(traceback.format_exception(exc)).rstrip()
    headline = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
    return Outcome(
        TrialStatus.FAILED, cost=elapsed, learning_curve=curve, error=f"{headline}\n\n{text}"
    )


def from_return(value: Any, *, elapsed: float, curve: list[tuple[float, float]]) -> Outcome:
    """Interpret a float or dict result; anything invalid becomes a failed outcome with a reason."""
    try:
        return _interpret(value, elapsed=elapsed, curve=curve)
    except InvalidResult as exc:
        return Outcome(TrialStatus.FAILED, cost=elapsed, learning_curve=curve, error=str(exc))


def _interpret(value: Any, *, elapsed: float, curve: list[tuple[float, float]]) -> Outcome:
    if isinstance(value, Mapping):
        unknown = set(value) - set(RESULT_KEYS)
        if unknown:
            raise InvalidResult(
                f"evaluate returned a dict with unknown key(s) {sorted(map(str, unknown))}; "
                f"allowed keys: {', '.join(RESULT_KEYS)} (put extra values under 'info')"
            )
        if "objective" not in value:
            raise InvalidResult("evaluate returned a dict without an 'objective' key")
        objective = _number(value["objective"], "objective")
        cost = elapsed if value.get("cost") is None else _number(value["cost"], "cost")
        if cost < 0:
            raise InvalidResult(f"evaluate returned a negative cost ({cost})")
        if value.get("learning_curve") is not None:
            curve = _curve(value["learning_curve"])
        info = _info(value.get("info"))
        return Outcome(TrialStatus.SUCCEEDED, objective, cost, curve, info)
    return Outcome(TrialStatus.SUCCEEDED, _number(value, "objective"), elapsed, curve)


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if hasattr(value, "item") and getattr(value, "size", 1) == 1:  # numpy/torch scalars
            return _number(value.item(), what)
        raise InvalidResult(
            f"evaluate returned {what} of type {type(value).__name__} ({_short(value)}); "
            "return a float, or a dict with a float 'objective'"
        )
    number = float(value)
    if not math.isfinite(number):
        raise InvalidResult(f"evaluate returned a non-finite {what} ({number})")
    return number


def _curve(value: Any) -> list[tuple[float, float]]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidResult("learning_curve must be a list of values or of (step, value) pairs")
    points = []
    for i, item in enumerate(value):
        if isinstance(item, Sequence) and not isinstance(item, str) and len(item) == 2:
            step, v = item
        else:
            step, v = i + 1, item
        points.append((_number(step, "learning_curve step"), _number(v, "learning_curve value")))
    return points


def _info(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidResult(f"info must be a dict, not {type(value).__name__}")
    try:
        plain: dict[str, Any] = json.loads(json.dumps(dict(value), default=_to_plain))
    except (TypeError, ValueError) as exc:
        raise InvalidResult(f"info must be JSON-serializable: {exc}") from None
    return plain


def _to_plain(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
