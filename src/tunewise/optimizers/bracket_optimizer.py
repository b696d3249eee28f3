"""What successive halving, Hyperband, ASHA, async Hyperband, PriorBand and BOHB share.

Each is a bracket schedule picked by name (``base``, one of
:data:`tunewise.optimizers.schedules.BASES`) plus a sampling policy for new configurations; this
base class turns the schedule's decisions into suggestions. A promotion
continues the same configuration: it gets ``previous_trial``, so the objective finds the lower
fidelity's checkpoint in ``trial.previous_directory``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tunewise.optimizers import schedules
from tunewise.optimizers.base import Capabilities, Optimizer, as_claimed, check_n
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.schedules import Decision, Schedule
from tunewise.space import Space
from tunewise.trial import History, Suggestion, Trial, rng_for

PRIOR_FIRST_FIDELITIES: tuple[str, ...] = ("min", "max")
"""Where ``prior_first`` evaluates the prior configuration: the schedule's rung, or the top."""


class BracketOptimizer(Optimizer):
    """Base class: subclasses name the schedule (``base``) and may override :meth:`sample`.

    ``tag`` prefixes the schedule's slots; ``base`` names the schedule: a class attribute for the
    plain bracket optimizers and BOHB, a constructor parameter of PriorBand.

    ``prior_first`` (default False; True for PriorBand, as in NePS-old's ``sample_default_first``):
    the first new configuration is the space's prior configuration (:meth:`Space.prior_config`:
    each prior value, the middle of the range or the first choice where none is given), at the
    rung the schedule starts it at, recorded as ``info["sampled_from"] == "prior_config"``; it
    comes once per study, until some trial records that source. With it, "Hyperband, prior
    configuration first" is the baseline that shows what PriorBand gains beyond evaluating the
    prior once.

    ``prior_first_fidelity`` (one of :data:`PRIOR_FIRST_FIDELITIES`, default ``"min"``): where
    that prior configuration is evaluated. ``"min"`` is the above: it takes the first new slot the
    schedule offers, at that bracket's base rung (the lowest for Hyperband, SH and ASHA).
    ``"max"`` evaluates it once at the maximum fidelity (the top rung), before anything else, in a
    slot of its own (``{tag}:prior``) outside every bracket: the brackets then run as without
    ``prior_first``, their new configurations sampled as usual. A researcher's own configuration
    trained fully is the baseline they would run anyway, and a low rung can misjudge it. Its result
    is a top-rung result like any other for whatever reads the History (PriorBand's incumbent
    activation and prior/incumbent split, BOHB's model), but it is never promoted from or counted
    in a bracket's rungs. ``"max"`` needs ``prior_first=True``.
    """

    capabilities: ClassVar[Capabilities] = Capabilities(
        priors=False, fidelity=True, requires_fidelity=True, architectures=True
    )
    tag: ClassVar[str]

    base: str
    eta: int
    early_stopping_rate: int
    prior_first: bool
    prior_first_fidelity: str

    def __init__(
        self,
        *,
        eta: int = 3,
        early_stopping_rate: int = 0,
        prior_first: bool = False,
        prior_first_fidelity: str = "min",
    ) -> None:
        self.eta = eta
        self.early_stopping_rate = early_stopping_rate
        self.prior_first = prior_first
        self.prior_first_fidelity = prior_first_fidelity
        self._check()

    def _check(self) -> None:
        if isinstance(self.eta, bool) or not isinstance(self.eta, int) or self.eta < 2:
            raise ValueError(f"{self.name}: eta must be an integer >= 2, not {self.eta!r}")
        esr = self.early_stopping_rate
        if isinstance(esr, bool) or not isinstance(esr, int) or esr < 0:
            raise ValueError(
                f"{self.name}: early_stopping_rate must be an integer >= 0, not {esr!r}"
            )
        if not isinstance(self.prior_first, bool):
            raise ValueError(
                f"{self.name}: prior_first must be True or False, not {self.prior_first!r}"
            )
        where = self.prior_first_fidelity
        if not isinstance(where, str) or where not in PRIOR_FIRST_FIDELITIES:
            raise ValueError(
                f"{self.name}: prior_first_fidelity must be one of {PRIOR_FIRST_FIDELITIES}, "
                f"not {where!r}"
            )
        if where == "max" and not self.prior_first:
            raise ValueError(
                f"{self.name}: prior_first_fidelity='max' needs prior_first=True "
                "(it says where the prior configuration is evaluated)"
            )

    def rungs(self, space: Space) -> Rungs:
        return Rungs.of(space.fidelity, eta=self.eta, esr=self.early_stopping_rate)

    def check_space(self, space: Space) -> None:
        super().check_space(space)
        if space.fidelity is None:
            raise ValueError(f"optimizer {self.name!r} needs a space with a tw.Fidelity parameter")
        self.rungs(space)  # bad eta / early_stopping_rate for this fidelity range fail here

    def schedule(self, rungs: Rungs) -> Schedule:
        """The bracket schedule named ``base`` for these rungs."""
        return schedules.make(self.base, rungs, tag=self.tag)

    def sample(
        self, history: History, *, rungs: Rungs, rung: int, rng: np.random.Generator
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A new configuration to start at ``rung``, and ``info`` for its trial: at least where it
        came from (``sampled_from``; uniform here), plus what a model cost where one was used."""
        return history.space.sample(rng), {"sampled_from": "random"}

    def prior_config_due(self, history: History) -> bool:
        """Whether the next new configuration is the prior configuration (``prior_first``)."""
        return self.prior_first and not any(
            t.info.get("sampled_from") == "prior_config" for t in history
        )

    def _prior_at_max(self, history: History, rungs: Rungs) -> Decision | None:
        """With ``prior_first_fidelity="max"``, while the prior configuration is due: its decision,
        a new configuration at the top rung in its own slot and no bracket (``bracket=-1``)."""
        if self.prior_first_fidelity != "max" or not self.prior_config_due(history):
            return None
        return Decision(schedules.prior_slot(self.tag), rungs.top, bracket=-1)

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        check_n(n)
        rungs = self.rungs(history.space)
        schedule = self.schedule(rungs)
        trials: list[Trial] = list(history.trials)
        suggestions: list[Suggestion] = []
        for i in range(n):
            view = history if i == 0 else History(history.space, history.seed, tuple(trials))
            key = view.next_number
            decision = self._prior_at_max(view, rungs) or schedule.next(
                view, rng_for(view.seed, key, 0)
            )
            if decision is None:
                break
            fidelity = rungs.fidelities[decision.rung]
            config: Mapping[str, Any]
            if decision.previous is None and self.prior_config_due(view):
                config, previous = view.space.prior_config(), None
                sample_info = {"sampled_from": "prior_config"}
            elif decision.previous is None:
                config, sample_info = self.sample(
                    view, rungs=rungs, rung=decision.rung, rng=rng_for(view.seed, key, 1)
                )
                previous = None
            else:
                config, previous = decision.previous.config, decision.previous
                sample_info = {"sampled_from": "promotion"}
            info = {**sample_info, "rung": decision.rung}
            if decision.bracket >= 0:  # the prior configuration at max fidelity is in none
                info["bracket"] = decision.bracket
            suggestion = Suggestion(
                config=config,
                slot=decision.slot,
                fidelity=fidelity,
                previous_trial=None if previous is None else previous.number,
                info=info,
            )
            suggestions.append(suggestion)
            trials.append(as_claimed(suggestion, key))
        return suggestions
