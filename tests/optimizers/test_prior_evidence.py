"""Evidence about a prior: rank tests turned into a weight (PriorBand's share, piBO's exponent)."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from tests.optimizers.test_priorband_policy import RUNGS, SPACE, random_configs, trial
from tunewise import optimizers
from tunewise.benchmarks import get_benchmark
from tunewise.optimizers import prior_evidence
from tunewise.optimizers.prior_evidence import FLOOR, PriorEvidence
from tunewise.optimizers.priorband_policy import PriorBandPolicy
from tunewise.runtime.simulation import simulate
from tunewise.trial import History


def test_no_or_even_evidence_keeps_the_full_weight() -> None:
    assert PriorEvidence().weight == 1.0
    even = prior_evidence.rank_evidence(np.array([1.0, 3.0]), np.array([2.0, 2.0]))
    assert even.wins == pytest.approx(even.losses) and even.weight == pytest.approx(1.0)


def test_a_prior_that_wins_keeps_its_weight_and_one_that_loses_falls_to_the_floor() -> None:
    good, bad = np.arange(5.0), np.arange(5.0) + 10.0
    assert prior_evidence.rank_evidence(good, bad).weight == 1.0
    losing = prior_evidence.rank_evidence(bad, good)
    assert losing.wins == 0.0 and losing.losses == pytest.approx(3 * 25 / 11)
    assert losing.weight == FLOOR
    # weaker evidence, a smaller cut: one loss in one pair
    one = prior_evidence.rank_evidence(np.array([2.0]), np.array([1.0]))
    assert FLOOR < one.weight < 1.0


def test_the_rank_sum_auc_equals_the_pairwise_definition_with_ties() -> None:
    rng = np.random.default_rng(3)
    prior, uniform = rng.integers(0, 6, size=9).astype(float), rng.integers(0, 6, size=14) * 1.0
    diff = prior[:, None] - uniform[None, :]
    auc = (np.sum(diff < 0) + 0.5 * np.sum(diff == 0)) / diff.size
    evidence = prior_evidence.rank_evidence(prior, uniform)
    assert evidence.wins / (evidence.wins + evidence.losses) == pytest.approx(auc, rel=1e-12)


def test_the_weight_shrinks_monotonically_with_the_loss_rate() -> None:
    rng = np.random.default_rng(0)
    uniform = rng.normal(size=12)
    weights = [
        prior_evidence.rank_evidence(uniform + shift, uniform).weight
        for shift in (-1.0, 0.0, 0.3, 0.6, 1.0, 2.0)
    ]
    assert weights[0] == 1.0
    assert all(a >= b for a, b in itertools.pairwise(weights)), weights
    assert weights[-1] == FLOOR


def test_concordance_of_density_and_objective() -> None:
    log_density = np.linspace(-3.0, 1.0, 12)
    assert prior_evidence.from_density(log_density, -log_density).weight == 1.0  # dense = good
    assert prior_evidence.from_density(log_density, log_density).weight == FLOOR  # dense = bad
    assert prior_evidence.from_density(log_density[:2], log_density[:2]).weight == 1.0  # too few
    with_failures = np.where(np.arange(12) % 3 == 0, np.nan, log_density)
    assert prior_evidence.from_density(log_density, with_failures).weight == FLOOR


def _rung_history(prior_objective: float, uniform_objective: float) -> History:
    """Rung 0 (fidelity 1): four prior-drawn and four uniform configs; the best prior one and the
    best uniform one promoted to rung 1, where they reverse the order."""
    configs = random_configs(SPACE, 8)
    trials = [trial(i, configs[i], 1, prior_objective + 0.01 * i, source="prior") for i in range(4)]
    trials += [
        trial(4 + i, configs[4 + i], 1, uniform_objective + 0.01 * i, source="random")
        for i in range(4)
    ]
    trials += [
        trial(8, configs[0], 3, 0.9, source="promotion", previous=0),
        trial(9, configs[4], 3, 0.1, source="promotion", previous=4),
    ]
    return History(space=SPACE, seed=0, trials=tuple(trials))


def test_promotions_count_for_the_configuration_they_continue() -> None:
    history = _rung_history(0.2, 0.8)
    by_number = {t.number: t for t in history}
    assert prior_evidence.origin(by_number[8], by_number) == "prior"
    assert prior_evidence.origin(by_number[9], by_number) == "random"
    rung0_only = prior_evidence.rank_evidence(np.arange(4.0), np.arange(4.0) + 10.0)
    pooled = prior_evidence.from_sources(history, RUNGS)
    # rung 1's one lost pair counts (3 / 9) ** 0.5 times 3 * 1 / 3 = 1 comparison
    assert pooled.losses == pytest.approx((1 / 3) ** 0.5, rel=1e-6)
    assert pooled.wins == pytest.approx(rung0_only.wins * (1 / 9) ** 0.5, rel=1e-6)


def test_the_policy_gives_a_losing_prior_share_to_uniform_sampling() -> None:
    history = _rung_history(0.8, 0.2)  # the prior loses at rung 0
    plain = PriorBandPolicy(eta=3).probabilities(history, rungs=RUNGS, rung=0)
    policy = PriorBandPolicy(eta=3, prior_evidence=True)
    p, evidence = policy.decide(history, rungs=RUNGS, rung=0)
    assert plain == {"prior": 0.5, "incumbent": 0.0, "random": 0.5}
    assert evidence.weight < 1.0
    assert p["prior"] == pytest.approx(0.5 * evidence.weight)
    assert p["random"] == pytest.approx(1.0 - p["prior"]) and p["incumbent"] == 0.0
    winning = policy.probabilities(_rung_history(0.2, 0.8), rungs=RUNGS, rung=0)
    assert winning == plain


def test_options_are_validated() -> None:
    with pytest.raises(ValueError, match="priorband: prior_evidence must be True or False"):
        optimizers.PriorBand(prior_evidence="yes")
    with pytest.raises(ValueError, match="pibo: prior_evidence must be True or False"):
        optimizers.PiBO(prior_evidence=1)


def _sources(benchmark: str, prior: str, evidence: bool, seed: int) -> tuple[Counter[str], list]:
    log: list[dict] = []

    class Recording(optimizers.PriorBand):
        def ask(self, history, n=1):
            out = super().ask(history, n)
            log.extend(dict(s.info) for s in out)
            return out

    bench = get_benchmark(benchmark)
    simulate(
        bench.objective(seed=seed),
        bench.space(prior),
        optimizer=Recording(prior_evidence=evidence),
        seed=seed,
        fidelity_units=3,
    )
    return Counter(i["sampled_from"] for i in log), log


def test_priorband_samples_a_bad_prior_less_and_a_good_one_as_often() -> None:
    """hartmann3-high, the first Hyperband bracket (3x): the bad prior's share falls once its
    samples lose at the lowest rung; the good prior's stays the paper's."""
    bad_plain = sum(_sources("hartmann3-high", "bad", False, s)[0]["prior"] for s in range(3))
    bad_ev = sum(_sources("hartmann3-high", "bad", True, s)[0]["prior"] for s in range(3))
    assert bad_ev < 0.6 * bad_plain, (bad_ev, bad_plain)
    good_plain = sum(_sources("hartmann3-high", "good", False, s)[0]["prior"] for s in range(3))
    good_ev = sum(_sources("hartmann3-high", "good", True, s)[0]["prior"] for s in range(3))
    assert good_ev >= 0.9 * good_plain, (good_ev, good_plain)
    _, log = _sources("hartmann3-high", "bad", True, 0)
    new = [i for i in log if i["sampled_from"] in ("prior", "random", "incumbent")]
    assert all({"p_prior", "p_random", "p_incumbent", "prior_weight"} <= set(i) for i in new)
    assert min(i["prior_weight"] for i in new) < 0.5
