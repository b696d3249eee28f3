"""Evidence about a prior: does what the prior proposes beat what uniform sampling finds?

PriorBand's dynamic split and piBO's ``beta / n`` decay react late to a wrong prior; the trials
already say much earlier whether the prior helps (ALGORITHMS.md §9). This module turns that
evidence into one number, a **prior weight** in ``[FLOOR, 1]`` that scales the prior's share
(PriorBand) or its exponent (piBO):

- *PriorBand* (:func:`from_sources`): within each rung, every configuration drawn from the prior
  (``sampled_from`` ``prior`` or ``prior_config``, followed back through its promotions) is
  compared with every uniformly drawn one at the same fidelity. The fraction of pairs the prior
  sample wins is a Mann–Whitney statistic (AUC), 1/2 when the prior is no better than uniform.
  Incumbent-drawn and model-made configurations are not compared: they start from the best
  results so far and would beat even a good prior's samples, and PriorBand's dynamic split
  already weighs the prior against the incumbent.
- *piBO* (:func:`from_density`): all of its model's picks are prior-weighted, so there is no
  uniform group after the initial design; instead, the evidence is Kendall's concordance between
  the prior density of each observed configuration and its objective: a prior that helps puts its
  density on the good configurations.

Each statistic is turned into pseudo-counts of "the prior wins" and "the prior loses": a rung with
``n`` prior and ``m`` uniform results counts as ``3 n m / (n + m + 1)`` comparisons (the number of
independent coin flips whose proportion has the statistic's null variance), of which the AUC's
share are wins. Rungs are pooled with a weight ``sqrt(f_r / f_max)`` per rung (higher rungs are
more trustworthy; a low rung that misjudges the prior moves the weight less), into
ALGORITHMS.md §9's posterior ``Beta(1 + wins, 1 + losses)`` on "a prior sample beats a uniform
one". The weight is ``min(1, 2 P(theta > 1/2))``: 1 while the prior wins or the evidence is even,
smaller as it loses, and never below :data:`FLOOR`, so a prior that starts badly at a low rung
keeps being sampled a little and can come back.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.stats import beta as beta_dist
from scipy.stats import kendalltau, rankdata

from tunewise.optimizers.brackets import Rungs
from tunewise.trial import History, Trial

FLOOR = 0.1
"""The smallest prior weight: a prior that loses keeps a tenth of its share or exponent."""
SCALE = 2.0
"""weight = min(1, SCALE * P(theta > 1/2)): with 2, no evidence (P = 1/2) keeps the full weight."""
TRUST_POWER = 0.5
"""A rung's comparisons count ``(f_r / f_max) ** TRUST_POWER`` times."""
PRIOR_SOURCES = frozenset({"prior", "prior_config"})
"""``sampled_from`` values of configurations that came from the prior."""
UNIFORM_SOURCES = frozenset({"random"})
"""``sampled_from`` values of configurations drawn uniformly (the baseline the prior must beat)."""


@dataclass(frozen=True)
class PriorEvidence:
    """Pseudo-counts of comparisons the prior won and lost; ``weight`` maps them to [FLOOR, 1]."""

    wins: float = 0.0
    losses: float = 0.0

    @property
    def weight(self) -> float:
        """``min(1, max(FLOOR, 2 P(theta > 1/2)))`` under ``Beta(1 + wins, 1 + losses)``."""
        above = float(beta_dist.sf(0.5, 1.0 + self.wins, 1.0 + self.losses))
        return min(1.0, max(FLOOR, SCALE * above))

    @property
    def win_rate(self) -> float:
        """The posterior mean of "a prior sample beats a uniform one" (1/2 without evidence)."""
        return (1.0 + self.wins) / (2.0 + self.wins + self.losses)

    def facts(self) -> dict[str, Any]:
        """What a trial's ``info`` records: the weight and the (pseudo-)counts behind it."""
        return {
            "prior_weight": round(self.weight, 4),
            "prior_win_rate": round(self.win_rate, 4),
            "prior_comparisons": round(self.wins + self.losses, 2),
        }

    def __add__(self, other: PriorEvidence) -> PriorEvidence:
        return PriorEvidence(self.wins + other.wins, self.losses + other.losses)

    def scaled(self, factor: float) -> PriorEvidence:
        """The same evidence counted ``factor`` times (a rung's trust weight)."""
        return PriorEvidence(self.wins * factor, self.losses * factor)


def rank_evidence(prior: NDArray[np.float64], uniform: NDArray[np.float64]) -> PriorEvidence:
    """Mann–Whitney evidence that a prior sample has a lower (better) objective than a uniform one.

    ``prior`` (n,) and ``uniform`` (m,) are objectives (minimized). AUC = P(prior < uniform) +
    P(tie) / 2 over all n m pairs, from the rank sum (O((n + m) log(n + m)), no n x m table);
    its null variance (n + m + 1) / (12 n m) is that of a proportion of ``3 n m / (n + m + 1)``
    coin flips; that many comparisons, the AUC's share won. Empty when a group is empty.
    """
    n, m = len(prior), len(uniform)
    if n == 0 or m == 0:
        return PriorEvidence()
    ranks = rankdata(np.concatenate([prior, uniform]))  # ties get their average rank
    worse_pairs = float(ranks[:n].sum()) - n * (n + 1) / 2.0  # prior > uniform, ties as 1/2
    auc = 1.0 - worse_pairs / (n * m)
    count = 3.0 * n * m / (n + m + 1)
    return PriorEvidence(wins=auc * count, losses=(1.0 - auc) * count)


def concordance_evidence(log_density: NDArray[np.float64], y: NDArray[np.float64]) -> PriorEvidence:
    """Kendall evidence that a higher prior density goes with a lower (better) objective.

    ``log_density`` (n,) and ``y`` (n,). The concordance ``(1 + tau_b) / 2`` of (log density, -y)
    has null variance (2n + 5) / (18 n (n - 1)), that of ``9 n (n - 1) / (2 (2n + 5))`` coin
    flips. Empty with fewer than 3 points or when either side is constant.
    """
    n = len(y)
    if n < 3 or np.ptp(log_density) == 0 or np.ptp(y) == 0:
        return PriorEvidence()
    tau = float(kendalltau(log_density, -y).statistic)
    if not math.isfinite(tau):
        return PriorEvidence()
    concordance = (1.0 + tau) / 2.0
    count = 9.0 * n * (n - 1) / (2.0 * (2 * n + 5))
    return PriorEvidence(wins=concordance * count, losses=(1.0 - concordance) * count)


def origin(trial: Trial, by_number: Mapping[int, Trial]) -> str | None:
    """Where ``trial``'s configuration first came from: its ``sampled_from``, followed back
    through ``previous_trial`` past promotions (a promotion continues the same configuration)."""
    seen = 0
    current: Trial | None = trial
    while current is not None and seen <= len(by_number):
        source = current.info.get("sampled_from")
        if source != "promotion" or current.previous_trial is None:
            return None if source is None else str(source)
        current = by_number.get(current.previous_trial)
        seen += 1
    return None


def from_sources(history: History, rungs: Rungs) -> PriorEvidence:
    """PriorBand's evidence: prior-drawn against uniform-drawn configurations within each rung,
    each rung's counted ``sqrt(f_r / f_max)`` times (the top rung counts most)."""
    by_number = {t.number: t for t in history}
    groups: dict[int, tuple[list[float], list[float]]] = {}
    for t in history.succeeded:
        rung = rungs.rung_of(t.fidelity)
        if rung is None or t.objective is None or not math.isfinite(t.objective):
            continue
        source = origin(t, by_number)
        prior, uniform = groups.setdefault(rung, ([], []))
        if source in PRIOR_SOURCES:
            prior.append(float(t.objective))
        elif source in UNIFORM_SOURCES:
            uniform.append(float(t.objective))
    total = PriorEvidence()
    top = float(rungs.fidelities[rungs.s_max])
    for rung, (prior, uniform) in sorted(groups.items()):
        trust = (float(rungs.fidelities[rung]) / top) ** TRUST_POWER
        evidence = rank_evidence(np.asarray(prior, np.float64), np.asarray(uniform, np.float64))
        total = total + evidence.scaled(trust)
    return total


def from_density(log_density: NDArray[np.float64], y: NDArray[np.float64]) -> PriorEvidence:
    """piBO's evidence: the concordance of prior density and objective over succeeded points
    (rows of ``y`` that are NaN, failed trials, are left out)."""
    ok = np.isfinite(y) & np.isfinite(log_density)
    return concordance_evidence(log_density[ok], y[ok])
