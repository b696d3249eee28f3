"""Other libraries' optimizers as tunewise optimizers, so ``tunewise bench`` runs them side by side.

They exist for comparisons only: they are not in the optimizer registry (``tw.run`` and ``auto``
never pick them, and the conformance suite does not cover them), and the suite resolves their names
through :func:`make_algorithm`.

``optuna`` (``sampler="tpe"|"gp"|"random"``, Optuna's defaults otherwise) rebuilds an in-memory
Optuna study from the History on every ask: finished trials are told with their values, failed
ones as failed, and other workers' running trials as running (TPE's ``constant_liar`` reads them).
The sampler's seed is derived from the study seed and the trial number, so a seeded run is
reproducible as with tunewise's own optimizers. Every trial runs at the maximum fidelity.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tunewise.optimizers import Optimizer
from tunewise.optimizers import make as make_registered
from tunewise.optimizers.base import Capabilities, check_n
from tunewise.optimizers.registry import construct
from tunewise.space import Categorical, Float, Integer, Space
from tunewise.trial import History, Suggestion, TrialStatus, max_fidelity, rng_for

SAMPLERS = ("tpe", "gp", "random")


class OptunaSampler(Optimizer):
    """One of Optuna's samplers behind the ``ask(history, n)`` contract (comparisons only)."""

    name = "optuna"
    capabilities = Capabilities(priors=False, fidelity=False, conditions=False)

    def __init__(self, *, sampler: str = "tpe") -> None:
        if sampler not in SAMPLERS:
            raise ValueError(f"optuna: sampler must be one of {list(SAMPLERS)}, got {sampler!r}")
        self.sampler = sampler

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        import optuna

        check_n(n)
        optuna.logging.set_verbosity(optuna.logging.WARNING)
        space = history.space
        fidelity = max_fidelity(space)
        distributions = _distributions(space)
        seed = int(rng_for(history.seed, history.next_number).integers(2**31))
        study = optuna.create_study(sampler=self._make_sampler(optuna, seed))
        study.add_trials(
            [
                _frozen(optuna, t, distributions)
                for t in history.trials
                if t.fidelity == fidelity and t.status is not TrialStatus.CRASHED  # retried
            ]
        )
        suggestions = []
        for k in range(history.next_number, history.next_number + n):
            trial = study.ask(distributions)  # stays RUNNING: the next pick in a batch sees it
            config = {**space.constants, **trial.params}
            suggestions.append(
                Suggestion(
                    config=config,
                    slot=f"optuna:{k}",
                    fidelity=fidelity,
                    info={"sampled_from": f"optuna-{self.sampler}"},
                )
            )
        return suggestions

    def _make_sampler(self, optuna: Any, seed: int) -> Any:
        if self.sampler == "tpe":
            return optuna.samplers.TPESampler(seed=seed, constant_liar=True)
        if self.sampler == "gp":
            return optuna.samplers.GPSampler(seed=seed)
        return optuna.samplers.RandomSampler(seed=seed)


def _distributions(space: Space) -> dict[str, Any]:
    """Optuna's distribution for each searchable parameter (bounds and log scale kept)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    result: dict[str, Any] = {}
    for name, parameter in space.searchable.items():
        if isinstance(parameter, Float):
            result[name] = FloatDistribution(parameter.lower, parameter.upper, log=parameter.log)
        elif isinstance(parameter, Integer):
            result[name] = IntDistribution(parameter.lower, parameter.upper, log=parameter.log)
        elif isinstance(parameter, Categorical):
            result[name] = CategoricalDistribution(list(parameter.choices))
        else:  # pragma: no cover - the space's searchable kinds are the three above
            raise ValueError(f"optuna baseline: cannot map parameter {name!r} ({parameter!r})")
    return result


def _frozen(optuna: Any, trial: Any, distributions: Mapping[str, Any]) -> Any:
    """A tunewise trial as an Optuna FrozenTrial: complete, failed or running."""
    params = {name: trial.config[name] for name in distributions}
    state = optuna.trial.TrialState
    if trial.status is TrialStatus.SUCCEEDED and trial.objective is not None:
        return optuna.trial.create_trial(
            params=params, distributions=dict(distributions), value=float(trial.objective)
        )
    if trial.status in (TrialStatus.PENDING, TrialStatus.RUNNING):
        return optuna.trial.create_trial(
            params=params, distributions=dict(distributions), state=state.RUNNING
        )
    return optuna.trial.create_trial(
        params=params, distributions=dict(distributions), state=state.FAIL
    )


BASELINES: dict[str, type[Optimizer]] = {OptunaSampler.name: OptunaSampler}


def make_algorithm(spec: Mapping[str, Any]) -> Optimizer:
    """An optimizer for the suite: a comparison baseline by name, else a registered optimizer."""
    params = dict(spec)
    cls = BASELINES.get(str(params.get("name")))
    if cls is None:
        return make_registered(spec)
    params.pop("name")
    return construct(cls, params)
