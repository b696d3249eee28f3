"""Freeze-thaw: continue the most promising paused configuration by one step, or start a new one.

Freeze-thaw BO (Swersky et al. 2014), DyHPO (Wistuba et al. 2022) and ifBO (Rakotoarison et al.
2024), ALGORITHMS.md §6. The fidelity (epochs, say) is cut into a ladder of steps
(:func:`ladder`: ``lower, lower + step, ..., upper``). Each configuration's trials form a chain:
a continuation is a new trial at the next rung of the ladder whose ``previous_trial`` is the
chain's last trial, so the objective resumes from ``trial.previous_directory`` and the budget
counts only the step it adds (:func:`tunewise.trial.fidelity_units`). A chain whose last trial
succeeded below the maximum fidelity is *paused* (frozen); at each ask the optimizer either
thaws one paused configuration by one step or starts a new configuration at the lowest rung.

The surrogate (:mod:`tunewise.models.curves`) is one GP over (configuration, step) fitted to
every learning-curve point the finished trials reported (``trial.report(step, value)`` with steps
in fidelity units, plus each trial's objective at its fidelity), not only final values. Kernel
``"rbf"`` (default; the log-step as one more input) or ``"exponential_decay"`` (Swersky's
learning-curve kernel); ``benchmarks/README.md`` ("Freeze-thaw") says how the default was chosen.

Candidates: every paused configuration at its next rung, plus ``n_candidates`` new
configurations at the lowest rung (uniform, and half from the prior when the space has priors).
Acquisitions (``acquisition=``):

- ``"ei"`` (DyHPO): log expected improvement of each candidate at its next rung over the best
  value seen at that rung (the best at any rung where none reached it);
- ``"pi_horizon"`` (ifBO's MF-PI): one horizon ``h`` of 1..(rungs - 1) steps drawn per ask; each
  candidate is scored by the log probability that its value ``h`` rungs on (capped at the top)
  beats ``T = best - 10**U(-4, -1) * spread``, ``best`` the best value seen anywhere and
  ``spread`` the range of observed values (ifBO's losses live in [0, 1]; the spread stands in
  for that unit).

Priors (``beta``; a piBO weighting, Hvarfner et al. 2022): the score gains
``(beta / n) * log pi(config)``, ``n`` the number of configurations observed so far, times a
prior weight in [0.1, 1] from how the prior's density ranks the configurations' values at the
lowest rung (:func:`tunewise.optimizers.prior_evidence.from_density`); with ``prior_first`` the
first configuration is the prior's. Pending trials (other workers') are a pessimistic constant
liar and their chains are not continued twice; a failed trial ends its chain (its point enters
the model at the worst value seen). Every trial records ``info["action"]`` (``"start"`` or
``"continue"``) and ``sampled_from``; model-made ones also ``fit_seconds``,
``acquisition_seconds``, ``train_points`` and ``candidates``. torch is imported only when the model
is used.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tunewise.optimizers import prior_evidence
from tunewise.optimizers.base import Capabilities, Optimizer, as_claimed, check_n
from tunewise.optimizers.observations import CurvePoints, curve_points
from tunewise.optimizers.registry import register
from tunewise.space import Fidelity, Space
from tunewise.trial import History, Suggestion, Trial, TrialStatus, config_key, rng_for

ACQUISITIONS = ("ei", "pi_horizon")
MEMO_SIZE = 100_000
"""Configurations whose model coordinates an optimizer keeps between asks (then it encodes anew)."""
FLOAT_RUNGS = 10
"""Rungs of a float fidelity's default ladder (geometric on a log fidelity, else linear)."""


def ladder(fidelity: Fidelity, step: float | int | None) -> tuple[float | int, ...]:
    """The fidelities a chain moves through, ascending, from ``lower`` to ``upper`` (both in).

    ``step`` adds that much per rung (the last rung is ``upper``); None: one unit for an integer
    fidelity (epochs), else :data:`FLOAT_RUNGS` rungs, geometric on a log fidelity.
    """
    lower, upper = fidelity.lower, fidelity.upper
    if step is None and not fidelity.is_integer:
        if fidelity.log:
            values = np.geomspace(float(lower), float(upper), FLOAT_RUNGS + 1)
        else:
            values = np.linspace(float(lower), float(upper), FLOAT_RUNGS + 1)
        return (*(float(v) for v in values[:-1]), float(upper))
    increment = 1 if step is None else step
    rungs: list[float | int] = []
    value: float | int = lower
    while value < upper - 1e-12 * max(1.0, abs(float(upper))):
        rungs.append(value)
        value = value + increment
    rungs.append(upper)
    return tuple(rungs)


@register
class FreezeThaw(Optimizer):
    """Learning-curve multi-fidelity BO that pauses and thaws configurations step by step."""

    name = "freeze_thaw"
    tag: ClassVar[str] = "ft"
    capabilities: ClassVar[Capabilities] = Capabilities(
        priors=True, fidelity=True, requires_fidelity=True, conditions=True
    )

    def __init__(
        self,
        *,
        step: float | int | None = None,
        acquisition: str = "ei",
        kernel: str = "rbf",
        initial_design_size: int | None = None,
        n_candidates: int = 256,
        beta: float = 10.0,
        prior_first: bool = True,
        use_curves: bool = True,
        max_points: int = 300,
        warm_iterations: int = 0,
    ) -> None:
        self.step = step
        self.acquisition = acquisition
        self.kernel = kernel
        self.initial_design_size = initial_design_size
        self.n_candidates = n_candidates
        self.beta = beta
        self.prior_first = prior_first
        self.use_curves = use_curves
        self.max_points = max_points
        self.warm_iterations = warm_iterations
        self._check()
        self._cache: Any = None  # models.gp.FitCache, made on the first model-based ask
        self._memo: dict[Any, Any] = {}  # config key -> model coordinates (CurveRows.rows)

    def _check(self) -> None:
        step = self.step
        if step is not None and (
            isinstance(step, bool)
            or not isinstance(step, int | float)
            or not math.isfinite(step)
            or step <= 0
        ):
            raise ValueError(f"freeze_thaw: step must be a number > 0 or None, not {step!r}")
        if self.acquisition not in ACQUISITIONS:
            raise ValueError(
                f"freeze_thaw: acquisition must be one of {list(ACQUISITIONS)}, "
                f"not {self.acquisition!r}"
            )
        if self.kernel not in ("rbf", "exponential_decay"):
            raise ValueError(
                f"freeze_thaw: kernel must be 'rbf' or 'exponential_decay', not {self.kernel!r}"
            )
        for name, low in (("n_candidates", 1), ("max_points", 2), ("warm_iterations", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"freeze_thaw: {name} must be an integer >= {low}, not {value!r}")
        size = self.initial_design_size
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(
                f"freeze_thaw: initial_design_size must be an integer >= 1 or None, not {size!r}"
            )
        beta = self.beta
        if isinstance(beta, bool) or not isinstance(beta, int | float) or not beta >= 0:
            raise ValueError(f"freeze_thaw: beta must be a number >= 0, not {beta!r}")
        for name in ("prior_first", "use_curves"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"freeze_thaw: {name} must be True or False")

    def check_space(self, space: Space) -> None:
        super().check_space(space)
        fidelity = space.fidelity
        if fidelity is None:
            raise ValueError(f"optimizer {self.name!r} needs a space with a tw.Fidelity parameter")
        if fidelity.is_integer and self.step is not None and not float(self.step).is_integer():
            raise ValueError(
                f"freeze_thaw: step must be an integer for the integer fidelity "
                f"{space.fidelity_name!r}, not {self.step!r}"
            )

    def rungs(self, space: Space) -> tuple[float | int, ...]:
        """The fidelity ladder of ``space`` (:func:`ladder` with this optimizer's ``step``)."""
        assert space.fidelity is not None
        step = self.step
        if step is not None and space.fidelity.is_integer:
            step = int(step)
        return ladder(space.fidelity, step)

    def initial_design(self, space: Space) -> int:
        """Configurations started before the model decides: ``initial_design_size``, else the
        number of searchable dimensions (ifBO), at least 2."""
        if self.initial_design_size is not None:
            return self.initial_design_size
        return max(2, len(space.dimension_names))

    # -- ask ----------------------------------------------------------------------------------

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        check_n(n)
        self.check_space(history.space)
        rungs = self.rungs(history.space)
        trials: list[Trial] = list(history.trials)
        suggestions: list[Suggestion] = []
        for i in range(n):
            view = history if i == 0 else History(history.space, history.seed, tuple(trials))
            suggestion = self._one(view, rungs)
            suggestions.append(suggestion)
            trials.append(as_claimed(suggestion, view.next_number))
        return suggestions

    def _one(self, history: History, rungs: tuple[float | int, ...]) -> Suggestion:
        space = history.space
        key = history.next_number
        live = [t for t in history.trials if t.status is not TrialStatus.CRASHED]
        started = [t for t in live if t.previous_trial is None]
        if self.prior_first and space.has_priors and not started:
            return self._start(key, space.prior_config(), rungs, {"sampled_from": "prior_config"})
        if len(started) < self.initial_design(space):
            config = space.sample(rng_for(history.seed, key, 1))
            return self._start(key, config, rungs, {"sampled_from": "random"})
        picked = self._from_model(history, rungs, live)
        if picked is not None:
            return picked
        config = space.sample(rng_for(history.seed, key, 1))
        return self._start(key, config, rungs, {"sampled_from": "random"})

    def _start(
        self,
        key: int,
        config: Mapping[str, Any],
        rungs: tuple[float | int, ...],
        info: dict[str, Any],
    ) -> Suggestion:
        return Suggestion(
            config=config,
            slot=f"{self.tag}:start:{key}",
            fidelity=rungs[0],
            info={**info, "action": "start", "rung": 0},
        )

    def paused(self, history: History) -> list[Trial]:
        """The last trials of the paused chains: succeeded below the maximum fidelity, with no
        live (non-crashed) trial continuing them, by number."""
        fidelity = history.space.fidelity
        assert fidelity is not None
        continued = {
            t.previous_trial
            for t in history.trials
            if t.previous_trial is not None and t.status is not TrialStatus.CRASHED
        }
        return [
            t
            for t in history.succeeded
            if t.number not in continued
            and t.fidelity is not None
            and t.fidelity < fidelity.upper
            and t.objective is not None
            and math.isfinite(t.objective)
        ]

    def _from_model(
        self, history: History, rungs: tuple[float | int, ...], live: list[Trial]
    ) -> Suggestion | None:
        space = history.space
        lower, upper = float(rungs[0]), float(rungs[-1])
        points = curve_points(history, step_range=(lower, upper))
        if not self.use_curves:
            points = _final_points_only(points, history)
        if np.isfinite(points.y).sum() < 2:
            return None
        key = history.next_number
        rng = rng_for(history.seed, key, 0)
        tips = self.paused(history)
        next_rung = [_next_index(rungs, float(t.fidelity)) for t in tips]  # type: ignore[arg-type]
        tips = [t for t, j in zip(tips, next_rung, strict=True) if j is not None]
        tip_rungs = [j for j in next_rung if j is not None]
        taken = {config_key(t.config) for t in live if t.previous_trial is None}
        fresh = self._new_candidates(space, rng, taken)
        configs = [t.config for t in tips] + fresh
        rung_index = np.array(tip_rungs + [0] * len(fresh), dtype=np.int64)
        if not configs:
            return None

        from tunewise.models import curves, gp

        if self._cache is None:
            self._cache = gp.FitCache()
        pending = [t for t in history.pending if t.fidelity is not None]
        start = time.perf_counter()
        with gp.one_thread():
            model = curves.fit_curve_model(
                points.configs,
                points.steps,
                points.y,
                space=space,
                step_range=(lower, upper),
                seed=history.seed,
                pending=[t.config for t in pending],
                pending_steps=np.array([float(t.fidelity) for t in pending]),  # type: ignore[arg-type]
                kernel=self.kernel,
                max_points=self.max_points,
                warm_iterations=self.warm_iterations,
                cache=self._cache,
                memo=self._memo if len(self._memo) < MEMO_SIZE else None,
            )
            fit_seconds = time.perf_counter() - start
            start = time.perf_counter()
            rung_values = np.array([float(r) for r in rungs], dtype=np.float64)
            scores, facts = self._scores(model, configs, rung_index, rung_values, points, rng)
        scores = scores + self._prior_term(space, configs, points, facts)
        best = int(np.argmax(scores))
        facts.update(
            {
                "sampled_from": "model",
                "fit_seconds": round(fit_seconds, 4),
                "acquisition_seconds": round(time.perf_counter() - start, 4),
                "train_points": model.train_points,
                "candidates": len(configs),
                "score": round(float(scores[best]), 4),
            }
        )
        if best < len(tips):
            tip = tips[best]
            j = int(rung_index[best])
            return Suggestion(
                config=tip.config,
                slot=f"{self.tag}:continue:{tip.number}",
                fidelity=rungs[j],
                previous_trial=tip.number,
                info={**facts, "action": "continue", "rung": j},
            )
        return self._start(key, configs[best], rungs, facts)

    def _new_candidates(
        self, space: Space, rng: np.random.Generator, taken: set[Any]
    ) -> list[dict[str, Any]]:
        n_prior = self.n_candidates // 2 if space.has_priors else 0
        configs = space.sample_many(rng, n_prior, use_priors=True)
        configs += space.sample_many(rng, self.n_candidates - n_prior)
        fresh: dict[Any, dict[str, Any]] = {}
        for config in configs:
            k = config_key(config)
            if k not in taken:
                fresh.setdefault(k, config)
        return list(fresh.values())

    def _scores(
        self,
        model: Any,
        configs: list[Mapping[str, Any]],
        rung_index: np.ndarray,
        rungs: np.ndarray,
        points: CurvePoints,
        rng: np.random.Generator,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """The acquisition score (c,) of each candidate, and facts for ``info``."""
        finite = np.isfinite(points.y)
        y, steps = points.y[finite], points.steps[finite]
        if self.acquisition == "ei":
            target = rungs[rung_index]
            best_at = np.array([_best_at(y, steps, float(s)) for s in rungs], dtype=np.float64)
            best = best_at[rung_index]
            x = model.rows.rows(configs, target)
            return model.log_ei(x, best), {"acquisition": "ei"}
        horizon = int(rng.integers(1, max(len(rungs) - 1, 1) + 1))
        target = rungs[np.minimum(rung_index - 1 + horizon, len(rungs) - 1)]
        spread = float(np.max(y) - np.min(y)) or max(abs(float(np.min(y))), 1.0)
        threshold = float(np.min(y)) - 10.0 ** rng.uniform(-4.0, -1.0) * spread
        x = model.rows.rows(configs, target)
        scores = model.log_pi(x, np.full(len(configs), threshold))
        return scores, {"acquisition": "pi_horizon", "horizon": horizon}

    def _prior_term(
        self,
        space: Space,
        configs: list[Mapping[str, Any]],
        points: CurvePoints,
        facts: dict[str, Any],
    ) -> np.ndarray:
        """``exponent * log pi(config)`` (c,) for the candidates: the piBO weighting."""
        if not space.has_priors or self.beta == 0:
            return np.zeros(len(configs))
        first = _first_points(points)
        exponent = float(self.beta) / max(len(first), 1)
        log_density = np.atleast_1d(
            np.asarray(space.log_prior_unit(space.encode_many([points.configs[i] for i in first])))
        )
        evidence = prior_evidence.from_density(log_density, points.y[first])
        exponent *= evidence.weight
        facts.update({"prior_exponent": round(exponent, 6), **evidence.facts()})
        log_pi = np.atleast_1d(np.asarray(space.log_prior_unit(space.encode_many(configs))))
        return exponent * log_pi


def _next_index(rungs: tuple[float | int, ...], fidelity: float) -> int | None:
    """Index of the first rung above ``fidelity`` (None at or above the top)."""
    for j, value in enumerate(rungs):
        if float(value) > fidelity + 1e-12 * max(1.0, abs(fidelity)):
            return j
    return None


def _best_at(y: np.ndarray, steps: np.ndarray, step: float) -> float:
    """The best of ``y`` observed at ``step``, else the best of all ``y``."""
    at = np.isclose(steps, step)
    return float(np.min(y[at])) if at.any() else float(np.min(y))


def _first_points(points: CurvePoints) -> list[int]:
    """Per chain, the index of its point at the lowest step (the configurations' common rung)."""
    first: dict[int, int] = {}
    for i, (chain, step) in enumerate(zip(points.chains, points.steps, strict=True)):
        j = first.get(int(chain))
        if j is None or step < points.steps[j]:
            first[int(chain)] = i
    return sorted(first.values())


def _final_points_only(points: CurvePoints, history: History) -> CurvePoints:
    """Only each trial's objective at its own fidelity (``use_curves=False``)."""
    by_number = {t.number: t for t in history.finished}
    keep = np.array(
        [
            by_number[int(n)].fidelity is not None
            and math.isclose(float(by_number[int(n)].fidelity), float(s))  # type: ignore[arg-type]
            for n, s in zip(points.numbers, points.steps, strict=True)
        ],
        dtype=np.bool_,
    )
    return CurvePoints(
        configs=[c for c, k in zip(points.configs, keep, strict=True) if k],
        steps=points.steps[keep],
        y=points.y[keep],
        chains=points.chains[keep],
        numbers=points.numbers[keep],
    )
