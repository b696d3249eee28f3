"""PriorBand (Mallik et al., NeurIPS 2023): Hyperband's brackets + the prior/incumbent ensemble.

New configurations come from :class:`~tunewise.optimizers.priorband_policy.PriorBandPolicy`
(uniform, the user's prior, or a mutated incumbent, in proportions that follow the evidence), and
the prior configuration itself is evaluated first (at the bracket's base rung, or once at the
maximum fidelity with ``prior_first_fidelity="max"``). The bracket schedule is Hyperband's by
default, or successive halving's, ASHA's or asynchronous Hyperband's (``base=``, a name from
:data:`tunewise.optimizers.schedules.BASES`). Every trial records why it was tried in
``info["sampled_from"]``: ``prior_config``, ``prior``, ``incumbent``, ``random`` or ``promotion``;
a new configuration also records the policy's probabilities (``p_prior``, ``p_incumbent``,
``p_random``).

``prior_evidence=True`` (a departure from the paper, ALGORITHMS.md §9): the prior's share is
scaled by how prior-drawn configurations rank against uniform ones at the same rung
(:mod:`tunewise.optimizers.prior_evidence`); a prior that loses gives its share to uniform
sampling (before incumbent sampling is active) or to the incumbent (after), down to a tenth of it.
Each new configuration records ``prior_weight``, ``prior_win_rate`` and
``prior_comparisons``.

**PriorBand+BO** (``model_based=True``; ALGORITHMS.md §4, NePS-old's variant): once the fidelity
spent by finished trials (:func:`~tunewise.optimizers.priorband_policy.fidelity_spent`) reaches
``initial_design_size`` full-fidelity evaluations (default 10, NePS-old's ``initial_design_size``
of its PriorBand+BO configuration), new configurations come from a GP instead of the policy
(``info["sampled_from"] == "model"``, with ``fit_seconds`` and ``acquisition_seconds``);
promotions still follow the brackets. One GP on all succeeded trials with the fidelity (log scale
of its range) as an extra input: over the unit cube, or, on spaces with
:class:`~tunewise.space.Architecture` parameters, the joint GP of hyperparameter columns times WL
kernels on each architecture's graph features
(:class:`~tunewise.models.joint_multi_fidelity.JointInputs`; BO's WL iterations,
:data:`~tunewise.optimizers.bayesian_optimization.WL_H`). Two-stage log-EI
(:mod:`tunewise.models.multi_fidelity`): score :data:`N_CANDIDATES` candidates at the target rung's
fidelity, keep the top 10, re-score them at the maximum fidelity, take the best. Candidates
(a departure from NePS-old's 1000 uniform ones, to keep the prior's influence): half drawn from the
PriorBand policy's own mix (prior / mutated incumbent / uniform, in its current proportions; an
architecture from its production priors or with a subtree of the incumbent's resampled), half
uniform. torch is imported only when the model is used.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tunewise.optimizers.base import Capabilities
from tunewise.optimizers.bayesian_optimization import WL_H
from tunewise.optimizers.bracket_optimizer import BracketOptimizer
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.observations import observations
from tunewise.optimizers.prior_evidence import PriorEvidence
from tunewise.optimizers.priorband_policy import SOURCES, PriorBandPolicy, fidelity_spent
from tunewise.optimizers.registry import register
from tunewise.optimizers.schedules import BASES
from tunewise.trial import History

N_CANDIDATES = 1000
"""Candidates scored by the model per new configuration (half from the policy, half uniform).

The same on architecture spaces: on ``nas-digits`` one model-made sample took a median 0.24 CPU-s
at 50 and 0.37 at 200 finished trials (one thread), the 1000 candidates' WL rows about 0.14 s and
their log-EI 0.05 s of it."""
DEFAULT_INITIAL_DESIGN = 10
"""Full-fidelity evaluations' worth of fidelity spent before the model takes over (NePS-old)."""


@register
class PriorBand(BracketOptimizer):
    """Multi-fidelity search that uses an expert prior and recovers when the prior is wrong."""

    name = "priorband"
    tag = "pb"
    capabilities: ClassVar[Capabilities] = Capabilities(
        priors=True, fidelity=True, requires_fidelity=True, architectures=True
    )

    def __init__(
        self,
        *,
        eta: int = 3,
        early_stopping_rate: int = 0,
        base: str = "hyperband",
        mutation_rate: float = 0.5,
        mutation_std: float = 0.25,
        prior_first: bool = True,
        prior_first_fidelity: str = "min",
        weighting: str = "geometric",
        split: str = "dynamic",
        prior_evidence: bool = False,
        model_based: bool = False,
        initial_design_size: int | None = None,
    ) -> None:
        self.eta = eta
        self.early_stopping_rate = early_stopping_rate
        self.base = base
        self.mutation_rate = mutation_rate
        self.mutation_std = mutation_std
        self.prior_first = prior_first
        self.prior_first_fidelity = prior_first_fidelity
        self.weighting = weighting
        self.split = split
        self.prior_evidence = prior_evidence
        self.model_based = model_based
        self.initial_design_size = initial_design_size
        self._check()
        if not isinstance(model_based, bool):
            raise ValueError(f"priorband: model_based must be True or False, not {model_based!r}")
        if initial_design_size is not None and (
            isinstance(initial_design_size, bool)
            or not isinstance(initial_design_size, int)
            or initial_design_size < 1
        ):
            raise ValueError(
                "priorband: initial_design_size must be an integer >= 1 or None, "
                f"not {initial_design_size!r}"
            )
        self._cache: Any = None  # models.gp.FitCache, created on the first model-based sample
        if base not in BASES:
            raise ValueError(f"priorband: base must be one of {BASES}, not {base!r}")
        self._policy = PriorBandPolicy(
            eta=eta,
            mutation_rate=mutation_rate,
            mutation_std=mutation_std,
            weighting=weighting,
            split=split,
            prior_evidence=prior_evidence,
        )

    def sample(
        self, history: History, *, rungs: Rungs, rung: int, rng: np.random.Generator
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if self.model_based and self.model_active(history):
            picked = self._from_model(history, rungs=rungs, rung=rung, rng=rng)
            if picked is not None:
                return picked
        p, evidence = self._policy.decide(history, rungs=rungs, rung=rung)
        config, source = self._policy.sample(
            history, rungs=rungs, rung=rung, rng=rng, probabilities=p
        )
        return config, {"sampled_from": source, **self._weight_facts(p, evidence)}

    def _weight_facts(self, p: dict[str, float], evidence: PriorEvidence) -> dict[str, Any]:
        """What a new configuration's ``info`` records of the policy: the probability of each
        source (``p_prior``, ``p_incumbent``, ``p_random``) and, with ``prior_evidence``, the
        prior weight and the evidence behind it (:meth:`PriorEvidence.facts`)."""
        facts: dict[str, Any] = {f"p_{source}": round(p[source], 4) for source in SOURCES}
        if self.prior_evidence:
            facts.update(evidence.facts())
        return facts

    # -- PriorBand+BO ------------------------------------------------------------------------

    def model_active(self, history: History) -> bool:
        """Whether the switch point is reached: full-fidelity evaluations' worth spent >= N."""
        if history.space.fidelity is None:
            return False
        n = self.initial_design_size or DEFAULT_INITIAL_DESIGN
        return fidelity_spent(history) >= n - 1e-12

    def candidates(
        self, history: History, *, p: dict[str, float], rng: np.random.Generator
    ) -> list[dict[str, Any]]:
        """Up to :data:`N_CANDIDATES` configurations: half from the policy's mix ``p`` (its
        probabilities per source), half uniform; those of the History's trials and repeats left
        out (on a grammar, sampling and mutation repeat derivations, and a known configuration
        started afresh at a higher rung would re-run what a promotion continues)."""
        from tunewise.models.evolution import key

        space = history.space
        n_policy = N_CANDIDATES // 2
        weights = np.array([p[s] for s in SOURCES], dtype=np.float64)
        counts = dict(zip(SOURCES, rng.multinomial(n_policy, weights / weights.sum()), strict=True))
        incumbent = history.best()
        if incumbent is None:
            counts["random"] += counts.pop("incumbent")
            counts["incumbent"] = 0
        configs = space.sample_many(rng, int(counts["prior"]), use_priors=True)
        if incumbent is not None:
            configs += [
                self._policy.mutate(space, incumbent.config, rng)
                for _ in range(int(counts["incumbent"]))
            ]
        configs += space.sample_many(rng, int(counts["random"]) + N_CANDIDATES - n_policy)
        taken = {key(t.config) for t in history}
        fresh: dict[Any, dict[str, Any]] = {}
        for config in configs:
            fresh.setdefault(key(config), config)
        return [config for k, config in fresh.items() if k not in taken]

    def _from_model(
        self, history: History, *, rungs: Rungs, rung: int, rng: np.random.Generator
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        # the prior configuration, when due, never gets here (BracketOptimizer.ask puts it first)
        p, evidence = self._policy.decide(history, rungs=rungs, rung=rung)
        configs = self.candidates(history, p=p, rng=rng)
        from tunewise.models import gp, multi_fidelity

        space = history.space
        inputs: multi_fidelity.Inputs
        if space.architectures:
            from tunewise.models import joint_multi_fidelity

            inputs = joint_multi_fidelity.JointInputs.of(space, h=WL_H)
        else:
            inputs = multi_fidelity.CubeInputs.of(space)
        if self._cache is None:
            self._cache = gp.FitCache()
        obs = observations(history).succeeded()
        obs = obs.where(np.isfinite(obs.fidelity))
        by_number = {t.number: t.config for t in history.finished}
        pending = [t for t in history.pending if t.fidelity is not None]
        with gp.one_thread():
            picked = multi_fidelity.two_stage_pick(
                inputs,
                [by_number[int(k)] for k in obs.numbers],
                obs.fidelity,
                obs.y,
                configs,
                target_fidelity=rungs.fidelities[rung],
                seed=history.seed,
                keys=obs.numbers,
                pending=[t.config for t in pending],
                pending_fidelity=np.array([t.fidelity for t in pending], dtype=np.float64),
                cache=self._cache,
            )
        if picked is None:
            return None
        index, facts = picked
        return configs[index], {"sampled_from": "model", **facts, **self._weight_facts(p, evidence)}
