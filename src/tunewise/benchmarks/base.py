"""The benchmark contract: a problem with a space, priors of known quality, a fidelity (or none), an
optimum.

A :class:`Benchmark` answers two kinds of caller. The benchmark runner and the simulator call
:meth:`Benchmark.evaluate` (pure: ``(config, fidelity, seed) -> Evaluation``) and read the cost it
reports to advance a virtual clock (Syne Tune's simulator backend idea, STYLE.md §10). A tunewise
study calls the function from :meth:`Benchmark.objective`, which charges only the *incremental* cost
when a trial continues a lower-fidelity one, as a real checkpointed training run would.

Priors follow PriorBand (Mallik et al., NeurIPS 2023): each benchmark names prior configurations of
known quality (``good``, ``medium``, ``bad``, ...); :meth:`Benchmark.space` centres the space's
priors there.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tunewise.runtime.context import TrialContext, searched_config
from tunewise.space import Fidelity, Space

__all__ = ["Benchmark", "BenchmarkObjective", "Evaluation"]


@dataclass(frozen=True)
class Evaluation:
    """One evaluation of a benchmark at one fidelity.

    ``objective`` is minimized. ``cost`` is the cost of reaching the fidelity *from scratch*
    (cumulative; seconds or the benchmark's documented unit). ``learning_curve`` holds optional
    ``(step, objective)`` pairs for the steps up to the fidelity.
    """

    objective: float
    cost: float
    learning_curve: tuple[tuple[float, float], ...] = ()


class Benchmark(abc.ABC):
    """A benchmark problem. Subclasses set ``name`` and implement the abstract members."""

    name: str
    default_confidence: str | None = "medium"
    """The confidence :meth:`space` gives the priors unless the caller says otherwise (None: each
    parameter keeps its own)."""

    # -- what a subclass provides ----------------------------------------------------------------

    @abc.abstractmethod
    def _build_space(self) -> Space:
        """The search space without priors, including its :class:`Fidelity` (built once)."""

    @abc.abstractmethod
    def _prior_configs(self) -> dict[str, dict[str, Any]]:
        """Prior quality -> prior configuration (without ``"none"``)."""

    @property
    @abc.abstractmethod
    def optimum(self) -> float:
        """The known optimum (or best known value, see :attr:`optimum_is_known`) at max fidelity."""

    @property
    @abc.abstractmethod
    def optimum_is_known(self) -> bool:
        """True when :attr:`optimum` is the exact optimum, False for a best known value."""

    @property
    @abc.abstractmethod
    def simulated(self) -> bool:
        """True when cost is a model and evaluation is cheap; False for real training."""

    @abc.abstractmethod
    def evaluate(
        self, config: Mapping[str, Any], fidelity: float | int, *, seed: int = 0
    ) -> Evaluation:
        """Evaluate ``config`` at ``fidelity``; deterministic given ``(config, fidelity, seed)``.

        A benchmark without fidelity (:attr:`max_fidelity` None) takes ``fidelity=None`` (it
        widens the parameter's type to ``float | int | None``).
        """

    # -- shared behaviour ------------------------------------------------------------------------

    def space(self, prior: str = "none", *, confidence: str | None = None) -> Space:
        """The search space; with ``prior != "none"`` its priors sit at :meth:`prior_config`.

        Every searchable parameter gets the prior value with ``confidence`` (default
        :attr:`default_confidence`, ``"medium"``: a truncated normal with sd 0.25 of the
        (log-)range, categorical weight 4, see :mod:`tunewise.space.priors`).
        """
        base = self._base_space()
        if prior == "none":
            return base
        config = self.prior_config(prior)
        confidence = self.default_confidence if confidence is None else confidence
        return base.with_priors(config, confidence=confidence)

    @property
    def priors(self) -> tuple[str, ...]:
        """The prior qualities available, ``"none"`` first."""
        return ("none", *self._prior_configs())

    def prior_config(self, quality: str) -> dict[str, Any]:
        """The prior configuration of ``quality``; ``ValueError`` naming the choices otherwise."""
        configs = self._prior_configs()
        if quality not in configs:
            what = "has no prior configuration" if quality == "none" else "has no prior"
            raise ValueError(
                f"benchmark {self.name!r} {what} {quality!r}; "
                f"prior configurations: {', '.join(configs)} (or 'none' for no prior)"
            )
        return dict(configs[quality])

    def _base_space(self) -> Space:
        space = self.__dict__.get("_space")
        if space is None:
            space = self.__dict__["_space"] = self._build_space()
        return space

    @property
    def fidelity_name(self) -> str | None:
        """Name of the fidelity parameter of :meth:`space` (None for a benchmark without one)."""
        return self._base_space().fidelity_name

    @property
    def fidelity(self) -> Fidelity:
        """The fidelity parameter of :meth:`space` (bounds ``lower``, ``upper``); ``ValueError``
        for a benchmark without fidelity (see :attr:`max_fidelity`)."""
        fidelity = self._base_space().fidelity
        if fidelity is None:
            raise ValueError(f"benchmark {self.name!r} has no fidelity")
        return fidelity

    @property
    def max_fidelity(self) -> float | int | None:
        """The fidelity of a full evaluation: the fidelity's upper bound, or None for a benchmark
        without fidelity (one evaluation = one full evaluation; the runner then passes None)."""
        fidelity = self._base_space().fidelity
        return None if fidelity is None else fidelity.upper

    def evaluate_full(self, config: Mapping[str, Any], *, seed: int = 0) -> Evaluation:
        """:meth:`evaluate` at :attr:`max_fidelity` (``fidelity=None`` without a fidelity)."""
        evaluate: Callable[..., Evaluation] = self.evaluate  # takes None when max_fidelity is
        return evaluate(config, self.max_fidelity, seed=seed)

    def oracle(self, config: Mapping[str, Any], *, seed: int = 0) -> float:
        """The value regret is measured with: the objective at full fidelity. A benchmark with
        noisy evaluations of a known mean (NAS-Bench-201's training seeds) returns the mean."""
        return self.evaluate_full(config, seed=seed).objective

    def objective(
        self, *, seed: int = 0
    ) -> Callable[[dict[str, Any], TrialContext], dict[str, Any]]:
        """A picklable tunewise evaluate function for this benchmark (see
        :class:`BenchmarkObjective`)."""
        return BenchmarkObjective(self, seed=seed)

    def _check_fidelity(self, fidelity: float | int) -> float | int:
        """``fidelity`` validated against the space; an int for an integer fidelity."""
        fid = self.fidelity
        if not fid.contains(fidelity):
            raise ValueError(
                f"benchmark {self.name!r}: fidelity {fidelity!r} is not valid; "
                f"expected {'an integer' if fid.is_integer else 'a number'} in "
                f"[{fid.lower}, {fid.upper}]"
            )
        return round(fidelity) if fid.is_integer else float(fidelity)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class BenchmarkObjective:
    """The tunewise evaluate function of a simulated benchmark: ``(config, trial) -> dict``.

    Reads ``trial.fidelity`` (None: a full evaluation, :meth:`Benchmark.evaluate_full`) and
    returns ``objective``, ``cost``, ``learning_curve`` and ``info``. When the trial continues a
    lower-fidelity one (``trial.previous_fidelity`` below ``trial.fidelity``) of a ``resumable``
    fidelity, the cost is the increment ``max(0, cost(fidelity) - cost(previous_fidelity))`` and
    the learning curve holds only the steps after ``previous_fidelity`` (what the continued run
    adds, like :mod:`tunewise.demo.mlp`); otherwise (no continuation, or a fidelity that is not
    resumable, whose run starts again) both are the from-scratch values. A module-level class,
    so it pickles to worker processes.
    """

    def __init__(self, benchmark: Benchmark, *, seed: int = 0) -> None:
        self.benchmark = benchmark
        self.seed = seed

    def __call__(self, config: dict[str, Any], trial: TrialContext) -> dict[str, Any]:
        bench = self.benchmark
        fidelity = trial.fidelity
        config = searched_config(config, bench.fidelity_name)
        if fidelity is None:
            result = bench.evaluate_full(config, seed=self.seed)
        else:
            result = bench.evaluate(config, fidelity, seed=self.seed)
        previous = trial.previous_fidelity
        cost, curve = result.cost, result.learning_curve
        if (  # a run that resumes adds only the increment; one that is not resumable starts again
            previous is not None
            and fidelity is not None
            and previous < fidelity
            and bench.fidelity.resumable
        ):
            before = bench.evaluate(config, previous, seed=self.seed)
            cost = max(0.0, result.cost - before.cost)
            curve = tuple(point for point in curve if point[0] > previous)
        return {
            "objective": result.objective,
            "cost": cost,
            "learning_curve": [list(point) for point in curve],
            "info": {
                "benchmark": bench.name,
                "cost_from_scratch": result.cost,
                "continued_from_fidelity": previous,
            },
        }

    def __repr__(self) -> str:
        return f"BenchmarkObjective({self.benchmark.name!r}, seed={self.seed})"


def check_seed(seed: int) -> int:
    """``seed`` as a non-negative int, or a ``ValueError`` naming it."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return seed
