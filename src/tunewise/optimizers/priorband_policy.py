"""PriorBand's sampling policy: where a new configuration comes from (Mallik et al., NeurIPS 2023).

PriorBand = a bracket schedule (Hyperband's, shared with :mod:`tunewise.optimizers.brackets`) plus
this policy for the configurations a bracket starts. Facts from ALGORITHMS.md §4, paper-era
behaviour (NePS v0.12.2):

1. Geometric weights for a sample starting at rung ``r``: ``w_random = 1 / (1 + eta**r)``,
   ``w_prior = eta**r / (1 + eta**r)``.
2. Incumbent sampling is active once (a) a configuration succeeded at the maximum rung, (b) the
   fidelity spent reaches one full Successive Halving bracket, ``sum_r n_r (f_r - f_{r-1})``, and
   (c) some rung holds at least ``eta`` results. Until then: prior with ``w_prior``, else uniform.
3. Dynamic split of ``w_prior`` between prior and incumbent: the top ``K`` configurations of the
   highest rung with at least ``eta`` results, rank-weighted, scored under the prior density and
   under the same-form density centred on the incumbent (on the parameters that have a prior;
   the others are uniform under both, :func:`incumbent_space`). An architecture with priors
   is scored under its production priors and under a prior centred on the incumbent's
   derivation (:mod:`tunewise.nas.distribution`).
4. Incumbent sampling mutates each hyperparameter of the incumbent with probability 0.5; an
   architecture's mutation resamples one subtree (ALGORITHMS.md §7).

A departure from the paper, on with ``prior_evidence=True``: the prior's share is scaled by the
weight of :mod:`tunewise.optimizers.prior_evidence` (prior-drawn against uniform-drawn
configurations, rung by rung), and what it gives up goes to uniform sampling before incumbent
sampling is active and to the incumbent after. With a good prior the weight stays 1 and the
policy is the paper's; with a bad one it falls towards 0.1 after the first rung's results, where
the paper's policy keeps sampling ``w_prior`` (up to 96% at the top rung) from the prior until the
incumbent activates.

The policy keeps no state: every draw depends only on the History and the generator passed in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from scipy.special import logsumexp

from tunewise.optimizers import mutation, prior_evidence
from tunewise.optimizers.brackets import Rungs
from tunewise.space import Space
from tunewise.trial import History, Trial, fidelity_units, used_fidelity

SOURCES: tuple[str, ...] = ("prior", "incumbent", "random")
"""Where a non-first sample comes from; the first may also be ``"prior_config"``."""

WEIGHTINGS: tuple[str, ...] = ("geometric", "linear", "50-50")
SPLITS: tuple[str, ...] = ("dynamic", "constant")


class PriorBandPolicy:
    """Where PriorBand's new configurations come from: uniform, prior, or a mutated incumbent.

    ``weighting`` sets the prior:random ratio per rung: ``"geometric"`` (``eta**r``, the paper's),
    ``"linear"`` (from 1 at rung 0 to ``eta`` at the top rung) or ``"50-50"`` (always 1).
    ``split`` divides the prior share between prior and incumbent: ``"dynamic"`` (the paper's) or
    ``"constant"`` (``eta:1``). ``prior_evidence`` scales the prior's share by the evidence
    that it beats uniform sampling (see the module docstring). Constructor arguments are stored
    unchanged.
    """

    def __init__(
        self,
        *,
        eta: int = 3,
        mutation_rate: float = 0.5,
        mutation_std: float = 0.25,
        weighting: str = "geometric",
        split: str = "dynamic",
        prior_evidence: bool = False,
    ) -> None:
        if not isinstance(eta, int) or isinstance(eta, bool) or eta < 2:
            raise ValueError(f"priorband: eta must be an integer >= 2, not {eta!r}")
        if not _is_real(mutation_rate) or not 0.0 < mutation_rate <= 1.0:
            raise ValueError(f"priorband: mutation_rate must be in (0, 1], not {mutation_rate!r}")
        if not _is_real(mutation_std) or not 0.0 < mutation_std < math.inf:
            raise ValueError(
                f"priorband: mutation_std must be a finite number > 0, not {mutation_std!r}"
            )
        if weighting not in WEIGHTINGS:
            raise ValueError(f"priorband: weighting must be one of {WEIGHTINGS}, not {weighting!r}")
        if split not in SPLITS:
            raise ValueError(f"priorband: split must be one of {SPLITS}, not {split!r}")
        if not isinstance(prior_evidence, bool):
            raise ValueError(
                f"priorband: prior_evidence must be True or False, not {prior_evidence!r}"
            )
        self.eta = eta
        self.mutation_rate = mutation_rate
        self.mutation_std = mutation_std
        self.weighting = weighting
        self.split = split
        self.prior_evidence = prior_evidence

    def __repr__(self) -> str:
        return (
            f"PriorBandPolicy(eta={self.eta!r}, mutation_rate={self.mutation_rate!r}, "
            f"mutation_std={self.mutation_std!r}, "
            f"weighting={self.weighting!r}, split={self.split!r}, "
            f"prior_evidence={self.prior_evidence!r})"
        )

    # -- the decision --------------------------------------------------------------------------

    def sample(
        self,
        history: History,
        *,
        rungs: Rungs,
        rung: int,
        rng: np.random.Generator,
        probabilities: Mapping[str, float] | None = None,
    ) -> tuple[dict[str, Any], str]:
        """A new configuration to start at rung index ``rung`` (the bracket's base rung) and where
        it came from: ``"prior_config"``, ``"prior"``, ``"incumbent"`` or ``"random"``.

        The config holds the active parameters and the constants, never the fidelity. The prior
        configuration itself (``"prior_config"``, PriorBand's ``prior_first``) is put first by
        :class:`~tunewise.optimizers.bracket_optimizer.BracketOptimizer`, not here. All
        randomness comes from ``rng``. ``probabilities``: :meth:`probabilities`' result, when the
        caller has it already.
        """
        self._check_rungs(rungs, rung)
        space = history.space
        if probabilities is None:
            probabilities = self.probabilities(history, rungs=rungs, rung=rung)
        source = SOURCES[int(rng.choice(len(SOURCES), p=[probabilities[s] for s in SOURCES]))]
        if source == "incumbent":
            incumbent = history.best()
            assert incumbent is not None  # guaranteed by the activation check
            return self.mutate(space, incumbent.config, rng), source
        return space.sample(rng, use_priors=source == "prior"), source

    def probabilities(self, history: History, *, rungs: Rungs, rung: int) -> dict[str, float]:
        """Probability of each source in :data:`SOURCES` for a sample starting at ``rung``."""
        return self.decide(history, rungs=rungs, rung=rung)[0]

    def decide(
        self, history: History, *, rungs: Rungs, rung: int
    ) -> tuple[dict[str, float], prior_evidence.PriorEvidence]:
        """:meth:`probabilities` and the evidence about the prior behind them (an empty one, of
        weight 1, without ``prior_evidence``)."""
        self._check_rungs(rungs, rung)
        w_prior, w_random = self.weights(rungs, rung)
        evidence = (
            prior_evidence.from_sources(history, rungs)
            if self.prior_evidence
            else prior_evidence.PriorEvidence()
        )
        g = evidence.weight
        if not incumbent_active(history, rungs):
            # what the prior gives up goes to uniform sampling: Hyperband's own
            p = {"prior": w_prior * g, "incumbent": 0.0, "random": w_random + w_prior * (1.0 - g)}
            return p, evidence
        share = self.prior_share(history, rungs)
        p = {
            "prior": w_prior * share * g,
            "incumbent": w_prior * (1.0 - share * g),
            "random": w_random,
        }
        return p, evidence

    def weights(self, rungs: Rungs, rung: int) -> tuple[float, float]:
        """``(w_prior, w_random)`` for a sample starting at ``rung``; they sum to 1.

        ``r`` is ``rung`` as given: the absolute rung index (equal to the paper's rung index in the
        bracket schedule when ``rungs.esr == 0``). Geometric: prior:random = ``eta**r : 1``.
        """
        self._check_rungs(rungs, rung)
        if self.weighting == "geometric":
            ratio = float(self.eta) ** rung
        elif self.weighting == "linear":
            ratio = 1.0 + (self.eta - 1) * rung / rungs.s_max if rungs.s_max > 0 else 1.0
        else:
            ratio = 1.0
        return ratio / (1.0 + ratio), 1.0 / (1.0 + ratio)

    def prior_share(self, history: History, rungs: Rungs) -> float:
        """The fraction of ``w_prior`` that goes to the prior (the rest to the incumbent).

        Dynamic: ``S_prior / (S_prior + S_inc)`` with ``S = sum_k w_k density(x_k)`` over the top
        ``K = max(floor(n / eta), eta)`` configurations (NePS-old) of the highest rung with
        ``n >= eta`` results, rank weights ``K..1``; computed with log-sum-exp because products of
        many per-dimension densities under- and overflow.
        """
        if self.split == "constant":
            return self.eta / (self.eta + 1.0)
        by_rung = _good_by_rung(history, rungs)
        incumbent = history.best()
        eligible = [r for r, trials in by_rung.items() if len(trials) >= self.eta]
        if incumbent is None or not eligible:
            return 1.0
        ranked = sorted(by_rung[max(eligible)], key=lambda t: (t.objective, t.number))
        top = ranked[: max(len(ranked) // self.eta, self.eta)]
        log_w = np.log(np.arange(len(top), 0, -1, dtype=np.float64))
        space = history.space
        inc_space = incumbent_space(space, incumbent.config)
        log_prior = log_w + np.array([space.log_prior(t.config) for t in top])
        log_inc = log_w + np.array([inc_space.log_prior(t.config) for t in top])
        s_prior, s_inc = float(logsumexp(log_prior)), float(logsumexp(log_inc))
        if s_prior == -math.inf and s_inc == -math.inf:
            return 0.5
        # S_prior / (S_prior + S_inc) = sigmoid(log S_prior - log S_inc), stable both ways
        diff = s_prior - s_inc
        if diff >= 0:
            return 1.0 / (1.0 + math.exp(-diff))
        return math.exp(diff) / (1.0 + math.exp(diff))

    # -- incumbent sampling --------------------------------------------------------------------

    def mutate(
        self, space: Space, config: Mapping[str, Any], rng: np.random.Generator
    ) -> dict[str, Any]:
        """A child of ``config``: each active searchable dimension mutates with ``mutation_rate``.

        In the unit cube (shape (d,)): numbers get a normal centred on their value, sd
        ``mutation_std``, truncated to [0, 1] (integers round on decode); a categorical gets a
        different choice, uniformly. An architecture gets one subtree resampled
        (:meth:`~tunewise.space.Architecture.mutate`). Dimensions that become active are drawn
        uniformly and those that become inactive are dropped. Redrawn up to 50 times until the
        child differs (:func:`tunewise.optimizers.mutation.mutate`).
        """
        return mutation.mutate(space, config, rng, rate=self.mutation_rate, std=self.mutation_std)

    # -- checks --------------------------------------------------------------------------------

    def _check_rungs(self, rungs: Rungs, rung: int) -> None:
        if rungs.eta != self.eta:
            raise ValueError(f"priorband: rungs.eta ({rungs.eta}) differs from eta ({self.eta})")
        if not isinstance(rung, int | np.integer) or not rungs.esr <= rung <= rungs.s_max:
            raise ValueError(
                f"priorband: rung must be an integer in {rungs.esr}..{rungs.s_max}, not {rung!r}"
            )


def incumbent_space(space: Space, incumbent: Mapping[str, Any]) -> Space:
    """``space`` with π_inc's priors: centred on ``incumbent`` where the user gave a prior.

    π and π_inc must compare like with like: a parameter without a user prior is uniform under π,
    so it stays uniform under π_inc. Were π_inc peaked on every parameter, each prior-less
    dimension would multiply S_inc by up to its peak density (about 3.2 at high confidence) and
    a correct prior would lose its share as the space grows (0.5 -> 0.002 with ten such
    parameters). Parameters with a prior that are inactive in the incumbent keep the user's prior.
    """
    params = space.searchable
    archs = space.architectures
    with_prior = {
        name: value
        for name, value in incumbent.items()
        if getattr(params.get(name), "prior", None) is not None
        or (name in archs and archs[name].has_prior)
    }
    return space.with_priors(with_prior)


def incumbent_active(history: History, rungs: Rungs) -> bool:
    """Whether incumbent sampling is on (Mallik et al. 2023; ALGORITHMS.md §4 step 2).

    All of: a success at the top rung; fidelity spent (:func:`fidelity_spent`, in full-fidelity
    units) >= the cost of the largest SH bracket, ``rungs.bracket_cost(s_max - esr)``;
    some rung with >= eta successes (>=, not ==).
    """
    by_rung = _good_by_rung(history, rungs)
    if not by_rung.get(rungs.s_max):
        return False
    if not any(len(trials) >= rungs.eta for trials in by_rung.values()):
        return False
    bracket = rungs.bracket_cost(rungs.s_max - rungs.esr)
    return fidelity_spent(history) >= bracket - 1e-9


def fidelity_spent(history: History) -> float:
    """Fidelity used by finished trials (failed ones included), in full-fidelity evaluations.

    Each trial counts :func:`tunewise.trial.fidelity_units` (the count the store's budget uses):
    a trial continuing ``previous_trial`` adds only its increment ``(f - f_previous) / b_max``, so
    a bracket costs ``sum_r n_r (f_r - f_{r-1}) / b_max`` (not NePS-new's rung index x increment);
    for a fidelity that is not ``resumable`` it adds its whole ``f / b_max``; a trial stopped
    early counts the steps it ran (:func:`tunewise.trial.used_fidelity`).
    """
    fidelity = {t.number: t.fidelity for t in history}
    return float(
        sum(
            fidelity_units(
                history.space,
                used_fidelity(history.space, t),
                fidelity.get(t.previous_trial) if t.previous_trial is not None else None,
            )
            for t in history.finished
        )
    )


def _good_by_rung(history: History, rungs: Rungs) -> dict[int, list[Trial]]:
    """Succeeded trials with a finite objective, by rung index (trials off the rungs skipped)."""
    out: dict[int, list[Trial]] = {}
    for t in history.succeeded:
        rung = rungs.rung_of(t.fidelity)
        if rung is not None and t.objective is not None and math.isfinite(t.objective):
            out.setdefault(rung, []).append(t)
    return out


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
