"""The optimizer contract: ``ask(history, n)`` over a read-only History, nothing else.

An optimizer keeps no state that matters for correctness: every decision is derived from the
History and the study seed, so any worker can ask, and a crashed run resumes by itself. Caches (a
fitted model, say) are allowed as long as dropping them changes nothing but speed.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from tunewise.space import Space
from tunewise.trial import History, Suggestion, Trial, TrialStatus, max_fidelity, rng_for

__all__ = [
    "Capabilities",
    "Optimizer",
    "as_claimed",
    "check_n",
    "max_fidelity",  # defined in tunewise.trial, shared with models; re-exported for optimizers
    "rng_for",
    "slots_with_prefix",
]


@dataclass(frozen=True)
class Capabilities:
    """What an optimizer can use; ``auto`` and the runtime read these instead of guessing.

    ``fidelity=False`` means the optimizer evaluates every configuration at the maximum fidelity;
    ``requires_fidelity`` that it cannot work without one (bracket methods).
    ``conditions=False`` means it cannot search spaces with conditional parameters;
    ``architectures=True`` that it searches :class:`~tunewise.space.Architecture` parameters.
    """

    priors: bool = False
    fidelity: bool = False
    conditions: bool = True
    requires_fidelity: bool = False
    architectures: bool = False


class Optimizer(abc.ABC):
    """Base class: subclasses set ``name`` and ``capabilities`` and implement :meth:`ask`.

    Constructors take keyword-only hyperparameters stored unchanged under the same attribute names
    (as scikit-learn estimators do), so :meth:`get_params` and the stored spec come for free.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities] = Capabilities()
    listed: ClassVar[bool] = True
    """False for a registered layer that is rebuilt from a stored spec but not named by users."""

    @abc.abstractmethod
    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        """Up to ``n`` suggestions with slots not in ``history``; [] means "nothing now"."""

    @classmethod
    def _param_names(cls) -> list[str]:
        signature = inspect.signature(cls.__init__)
        return [p.name for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY]

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def spec(self) -> dict[str, Any]:
        """The JSON form stored with a study: ``{"name": ..., **params}``."""
        return {"name": self.name, **self.get_params()}

    def check_space(self, space: Space) -> None:
        """Raise ValueError if this optimizer cannot search ``space``."""
        if space.has_conditions and not self.capabilities.conditions:
            raise ValueError(f"optimizer {self.name!r} does not support conditional parameters")
        if space.architectures and not self.capabilities.architectures:
            raise ValueError(
                f"optimizer {self.name!r} cannot search architecture parameters "
                f"({', '.join(map(repr, space.architectures))}); optimizers that can: "
                f"{', '.join(accepting_architectures())}"
            )

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_params() == self.get_params()

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(map(repr, self.get_params().items())))))


def accepting_architectures() -> list[str]:
    """Names of the defined optimizers whose capabilities accept architecture parameters."""
    found: set[str] = set()
    stack = list(Optimizer.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "name", None) and cls.capabilities.architectures:
            found.add(cls.name)
    return sorted(found)


def as_claimed(suggestion: Suggestion, number: int) -> Trial:
    """``suggestion`` as other workers will see it once claimed: a running trial ``number``.

    An optimizer asked for several suggestions at once appends each pick to its view of the
    History this way, so that the next pick treats it as pending (its slot taken, its chain or
    rung occupied)."""
    return Trial(
        number=number,
        config=suggestion.config,
        status=TrialStatus.RUNNING,
        fidelity=suggestion.fidelity,
        slot=suggestion.slot,
        previous_trial=suggestion.previous_trial,
        info=suggestion.info,
    )


def check_n(n: int) -> None:
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"ask: n must be a positive integer, got {n!r}")


def slots_with_prefix(history: History, prefix: str) -> Sequence[str]:
    return [s for s in history.slots() if s.startswith(prefix)]
