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
(``info["sampled_from"] == "model"``); promotions still follow the brackets. One GP on all
succeeded trials with the fidelity (log scale of its range) as an extra input; two-stage log-EI
(:mod:`tunewise.models.multi_fidelity`): score :data:`N_CANDIDATES` candidates at the target rung's
fidelity, keep the top 10, re-score them at the maximum fidelity, take the best. Candidates
(a departure from NePS-old's 1000 uniform ones, to keep the prior's influence): half drawn from the
PriorBand policy's own mix (prior / mutated incumbent / uniform, in its current proportions), half
uniform. torch is imported only when the model is used.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tunewise.optimizers.base import Capabilities
from tunewise.optimizers.bracket_optimizer import BracketOptimizer
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.observations import observations
from tunewise.optimizers.prior_evidence import PriorEvidence
from tunewise.optimizers.priorband_policy import SOURCES, PriorBandPolicy, fidelity_spent
from tunewise.optimizers.registry import register
from tunewise.optimizers.schedules import BASES
from tunewise.space import Space
from tunewise.trial import History

N_CANDIDATES = 1000
"""Candidates scored by the model per new configuration (half from the policy, half uniform)."""
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

    def check_space(self, space: Space) -> None:
        super().check_space(space)
        if self.model_based and space.architectures:
            raise ValueError(
                "priorband: model_based=True cannot model architecture parameters yet "
                f"({', '.join(map(repr, space.architectures))}); use model_based=False, whose "
                "prior sampling uses the production priors and whose incumbent sampling mutates "
                "a subtree"
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
        """:data:`N_CANDIDATES` configurations: half from the policy's mix ``p`` (its
        probabilities per source), half uniform."""
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
        return configs

    def _from_model(
        self, history: History, *, rungs: Rungs, rung: int, rng: np.random.Generator
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        # the prior configuration, when due, never gets here (BracketOptimizer.ask puts it first)
        p, evidence = self._policy.decide(history, rungs=rungs, rung=rung)
        configs = self.candidates(history, p=p, rng=rng)
        from tunewise.models import gp, multi_fidelity

        if self._cache is None:
            self._cache = gp.FitCache()
        obs = observations(history).succeeded()
        obs = obs.where(np.isfinite(obs.fidelity))
        pending = np.isfinite(obs.pending_fidelity)
        with gp.one_thread():
            picked = multi_fidelity.two_stage_pick(
                gp.Encoding.of(history.space),
                obs.u,
                obs.fidelity,
                obs.y,
                history.space.encode_many(configs),
                target_fidelity=rungs.fidelities[rung],
                seed=history.seed,
                keys=obs.numbers,
                pending_u=obs.pending_u[pending],
                pending_fidelity=obs.pending_fidelity[pending],
                cache=self._cache,
            )
        if picked is None:
            return None
        index, facts = picked
        return configs[index], {"sampled_from": "model", **facts, **self._weight_facts(p, evidence)}
