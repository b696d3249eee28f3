"""PriorBand's sampling policy (Mallik et al. 2023; ALGORITHMS.md §4), on hand-built Histories."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from scipy import stats

from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.priorband_policy import (
    PriorBandPolicy,
    fidelity_spent,
    incumbent_active,
)
from tunewise.space import Categorical, Constant, Fidelity, Float, Integer, Space
from tunewise.trial import History, Trial, TrialStatus

OK, FAILED, PENDING = TrialStatus.SUCCEEDED, TrialStatus.FAILED, TrialStatus.PENDING

SPACE = Space(
    x=Float(0.0, 1.0, prior=0.2),
    y=Float(1e-4, 1.0, log=True, prior=1e-3),
    n=Integer(1, 100, prior=20),
    opt=Categorical(["a", "b", "c"], prior="a"),
    tag=Constant("k"),
    epochs=Fidelity(1, 9),
)
RUNGS = Rungs.of(SPACE.fidelity, eta=3)  # fidelities 1, 3, 9; one full bracket costs 9+3*2+1*6=21


def trial(
    number: int,
    config: dict[str, Any],
    fidelity: int,
    objective: float | None = 0.5,
    *,
    status: TrialStatus = OK,
    previous: int | None = None,
    source: str = "random",
) -> Trial:
    return Trial(
        number=number,
        config=config,
        status=status,
        fidelity=fidelity,
        objective=objective if status is OK else None,
        previous_trial=previous,
        info={"sampled_from": source},
    )


def sh_history(
    space: Space,
    configs: Sequence[dict[str, Any]],
    objectives: Sequence[float],
    *,
    sizes: Sequence[int] = (9, 3, 1),
    top_status: TrialStatus = OK,
    extra: Sequence[Trial] = (),
) -> History:
    """One SH bracket on fidelities 1/3/9: rung 0 runs ``configs``; the first ``sizes[r]`` of the
    previous rung continue (with ``previous_trial`` links); the top trial ends ``top_status``."""
    trials: list[Trial] = []
    below: list[int] = []
    for r, (n, fidelity) in enumerate(zip(sizes, (1, 3, 9), strict=False)):
        numbers = []
        for i in range(n):
            number = len(trials)
            status = top_status if r == 2 else OK
            previous = below[i] if r > 0 else None
            source = "prior_config" if number == 0 else "random"
            objective = objectives[i] - 0.01 * r
            trials.append(
                trial(
                    number,
                    configs[i],
                    fidelity,
                    objective,
                    status=status,
                    previous=previous,
                    source=source,
                )
            )
            numbers.append(number)
        below = numbers
    for t in extra:
        trials.append(replace(t, number=len(trials)))
    return History(space=space, seed=0, trials=tuple(trials))


def random_configs(space: Space, n: int, seed: int = 0) -> list[dict[str, Any]]:
    return space.sample_many(np.random.default_rng(seed), n)


def draw(
    policy: PriorBandPolicy,
    history: History,
    rung: int,
    n: int,
    seed: int = 0,
    rungs: Rungs = RUNGS,
) -> list[tuple[dict[str, Any], str]]:
    rng = np.random.default_rng(seed)
    return [policy.sample(history, rungs=rungs, rung=rung, rng=rng) for _ in range(n)]


# -- prior config first --------------------------------------------------------------------------


def test_the_policy_leaves_the_prior_configuration_to_the_bracket_optimizer() -> None:
    # PriorBand's first configuration (test_priorband.py) comes from BracketOptimizer's
    # prior_first, shared with Hyperband; before any result the policy draws prior or random.
    empty = History(space=SPACE, seed=0)
    assert {s for _, s in draw(PriorBandPolicy(), empty, 0, 200)} == {"prior", "random"}


# -- geometric weights ---------------------------------------------------------------------------


@pytest.mark.parametrize("rung", [0, 2])
def test_source_split_before_activation_matches_geometric_weights(rung: int) -> None:
    history = History(SPACE, 0, (trial(0, SPACE.prior_config(), 1, source="prior_config"),))
    samples = draw(PriorBandPolicy(), history, rung, 2000, seed=rung)
    counts = Counter(source for _, source in samples)
    assert set(counts) <= {"prior", "random"}
    w_random = 1.0 / (1.0 + 3.0**rung)  # 0.5 at rung 0, 0.1 at rung 2
    expected = [2000 * (1.0 - w_random), 2000 * w_random]
    assert stats.chisquare([counts["prior"], counts["random"]], expected).pvalue > 1e-3
    # and the labels are honest: the prior choice "a" (weight 4:1:1) is likelier from the prior
    share_a = {
        s: np.mean([c["opt"] == "a" for c, src in samples if src == s]) for s in ("prior", "random")
    }
    assert share_a["prior"] > 0.55 and share_a["random"] < 0.45
    for config, _ in samples[:200]:
        SPACE.validate_config(config)
        assert "epochs" not in config


def test_weightings() -> None:
    rungs = Rungs(1, 27, 3, True)
    random_share = {
        w: [PriorBandPolicy(weighting=w).weights(rungs, r)[1] for r in range(4)]
        for w in ("geometric", "linear", "50-50")
    }
    assert random_share["geometric"] == pytest.approx([0.5, 0.25, 0.1, 1 / 28])
    assert random_share["linear"] == pytest.approx([0.5, 1 / (1 + 5 / 3), 1 / (1 + 7 / 3), 0.25])
    assert random_share["50-50"] == pytest.approx([0.5] * 4)


# -- activation ----------------------------------------------------------------------------------


def test_fidelity_spent_counts_continuations_by_their_increment() -> None:
    configs = random_configs(SPACE, 9)
    history = sh_history(SPACE, configs, np.linspace(0.1, 0.9, 9))
    # in full-fidelity evaluations (max 9): (9*1 + 3*(3-1) + 1*(9-3)) / 9
    assert fidelity_spent(history) == pytest.approx(21 / 9)
    failed = sh_history(SPACE, configs, np.linspace(0.1, 0.9, 9), top_status=FAILED)
    assert fidelity_spent(failed) == pytest.approx(21 / 9)  # failed trials spent fidelity too
    pending = sh_history(SPACE, configs, np.linspace(0.1, 0.9, 9), top_status=PENDING)
    assert fidelity_spent(pending) == pytest.approx(15 / 9)


def test_activation_needs_a_full_bracket_of_fidelity() -> None:
    policy = PriorBandPolicy()
    configs = random_configs(SPACE, 9)
    objectives = np.linspace(0.1, 0.9, 9)
    # 8 + 3*2 + 6 = 20 < 21 (counting full fidelities instead of increments would give 26)
    short = sh_history(SPACE, configs, objectives, sizes=(8, 3, 1))
    assert not incumbent_active(short, RUNGS)
    assert "incumbent" not in {s for _, s in draw(policy, short, 0, 300)}
    full = sh_history(SPACE, configs, objectives)
    assert incumbent_active(full, RUNGS)
    assert "incumbent" in {s for _, s in draw(policy, full, 0, 300)}
    # before the top rung has finished, it is not active either
    before_top = sh_history(SPACE, configs, objectives, top_status=PENDING)
    assert not incumbent_active(before_top, RUNGS)


def test_activation_needs_a_success_at_the_top_rung() -> None:
    configs = random_configs(SPACE, 12)
    objectives = np.linspace(0.1, 0.9, 12)
    extra = [trial(0, c, 1) for c in configs[9:12]]  # plenty of fidelity: 24 >= 21
    failed_top = sh_history(SPACE, configs, objectives, top_status=FAILED, extra=extra)
    assert fidelity_spent(failed_top) >= 21 / 9
    assert not incumbent_active(failed_top, RUNGS)


def test_activation_needs_eta_results_in_some_rung() -> None:
    configs = random_configs(SPACE, 6)
    two_top = [trial(i, configs[i], 9, 0.1 * i) for i in range(2)]  # 18, the top rung has 2
    for n_mid in (2, 3, 4):  # + 3 * n_mid at rung 1
        mid = [trial(2 + i, configs[2 + i], 3, 0.5) for i in range(n_mid)]
        history = History(SPACE, 0, tuple(two_top + mid))
        assert fidelity_spent(history) >= 21 / 9
        assert incumbent_active(history, RUNGS) == (n_mid >= 3)  # >= eta, not == eta
    # failed evaluations are not results to rank
    mid = [trial(2 + i, configs[2 + i], 3, status=FAILED if i else OK) for i in range(3)]
    assert not incumbent_active(History(SPACE, 0, tuple(two_top + mid)), RUNGS)


# -- dynamic split -------------------------------------------------------------------------------

NEAR_SPACE = Space(
    **{f"x{i}": Float(0.0, 1.0, prior=0.2, confidence="high") for i in range(4)},
    epochs=Fidelity(1, 9),
)


def _truncnorm_pdf(u: float, mean: float, sd: float = 0.125) -> float:
    """N(mean, sd) truncated to [0, 1] (high confidence: sd = 1/8 of the unit range)."""
    return float(stats.truncnorm.pdf(u, -mean / sd, (1 - mean) / sd, loc=mean, scale=sd))


def _density(config: dict[str, float], centre: float | dict[str, float]) -> float:
    """The product over NEAR_SPACE's x0..x3 of the truncated normal around ``centre``."""
    means = centre if isinstance(centre, dict) else dict.fromkeys(config, centre)
    return math.prod(_truncnorm_pdf(config[f"x{i}"], means[f"x{i}"]) for i in range(4))


def _point(value: float, jitter: float, rng: np.random.Generator) -> dict[str, float]:
    return {f"x{i}": float(np.clip(value + rng.normal(0, jitter), 0, 1)) for i in range(4)}


def _split_history(top_near: float, incumbent_at: float) -> History:
    """Rung 1 (the highest with >= eta results) holds configs near ``top_near``; the global
    incumbent is a rung-0 config at ``incumbent_at`` with the best objective of all."""
    rng = np.random.default_rng(1)
    configs = [_point(top_near, 0.03, rng) for _ in range(3)]
    configs += [_point(0.5, 0.2, rng) for _ in range(5)]
    configs.append({f"x{i}": incumbent_at for i in range(4)})
    objectives = [0.2, 0.3, 0.4, 0.6, 0.6, 0.7, 0.7, 0.8, -1.0]
    return sh_history(NEAR_SPACE, configs, objectives)


def test_dynamic_split_follows_where_the_good_configs_are() -> None:
    policy = PriorBandPolicy()
    near_prior = _split_history(top_near=0.2, incumbent_at=0.9)
    near_incumbent = _split_history(top_near=0.9, incumbent_at=0.9)
    assert policy.prior_share(near_prior, RUNGS) > 0.99
    assert policy.prior_share(near_incumbent, RUNGS) < 0.01
    for history, winner, loser in [
        (near_prior, "prior", "incumbent"),
        (near_incumbent, "incumbent", "prior"),
    ]:
        counts = Counter(s for _, s in draw(policy, history, 1, 400))
        assert counts[winner] > 200 and counts[loser] < 20  # w_prior = 0.75 at rung 1
        probabilities = policy.probabilities(history, rungs=RUNGS, rung=1)
        assert probabilities["random"] == pytest.approx(0.25)
        assert sum(probabilities.values()) == pytest.approx(1.0)


@pytest.mark.parametrize(("n", "k"), [(12, 4), (6, 3)])
def test_dynamic_split_uses_the_top_k_with_rank_weights(n: int, k: int) -> None:
    """K = max(floor(n / eta), eta) (NePS-old, not NePS-new's floor(n / eta)), weights K..1,
    checked against a direct sum of densities."""
    rng = np.random.default_rng(3)
    configs = [_point(0.5, 0.25, rng) for _ in range(n)]
    objectives = rng.permutation(n) / 10.0
    # rung 0 holds n results, rung 1 two, rung 2 one: rung 0 is the highest with >= 3
    history = sh_history(NEAR_SPACE, configs, objectives, sizes=(n, 2, 1))
    # the incumbent: the best objective anywhere (the bracket's top trial, objective - 0.02)
    incumbent = configs[int(np.argmin(objectives))]
    top = [configs[i] for i in np.argsort(objectives)[:k]]
    weights = range(k, 0, -1)
    s_prior = sum(w * _density(c, 0.2) for w, c in zip(weights, top, strict=True))
    s_inc = sum(w * _density(c, incumbent) for w, c in zip(weights, top, strict=True))
    share = PriorBandPolicy().prior_share(history, RUNGS)
    assert share == pytest.approx(s_prior / (s_prior + s_inc), rel=1e-9)
    assert PriorBandPolicy(split="constant").prior_share(history, RUNGS) == pytest.approx(0.75)


def test_dynamic_split_is_stable_in_many_dimensions() -> None:
    """Over 1000 dims the peak densities overflow as plain products (inf / inf); in log space the
    split comes out right: best (weight 3) at the incumbent, second (weight 2) at the prior."""
    d = 1000
    space = Space(
        **{f"x{i}": Float(0.0, 1.0, prior=0.3, confidence="high") for i in range(d)},
        epochs=Fidelity(1, 9),
    )
    configs = [{f"x{i}": v for i in range(d)} for v in (0.7, 0.3, 0.5)]
    assert space.log_prior(configs[1]) > math.log(np.finfo(float).max)  # e**x overflows
    history = sh_history(space, configs, [0.1, 0.2, 0.3], sizes=(3, 1, 1))
    assert PriorBandPolicy().prior_share(history, RUNGS) == pytest.approx(2 / 5)


@pytest.mark.parametrize("n_uniform", [0, 2, 5, 10])
def test_parameters_without_a_prior_do_not_tip_the_split(n_uniform: int) -> None:
    """pi_inc is peaked only where the user gave a prior: parameters without one are uniform under
    both densities, so a correct prior keeps its share however many of them the space has (a
    pi_inc peaked on every parameter gave 0.51, 0.37, 0.03, 0.001 here)."""
    space = Space(
        x=Float(0.0, 1.0, prior=0.3, confidence="high"),
        **{f"z{i}": Float(0.0, 1.0) for i in range(n_uniform)},
        epochs=Fidelity(1, 9),
    )
    rng = np.random.default_rng(0)
    xs = [0.35, 0.3, 0.25, 0.6, 0.7, 0.8, 0.9, 0.1, 0.5]  # objectives rise with the index
    trials = [
        trial(i, {"x": x, **{f"z{j}": float(rng.random()) for j in range(n_uniform)}}, 1, i / 10)
        for i, x in enumerate(xs)
    ]
    history = History(space, 0, tuple(trials))
    # rung 0 holds 9 results: K = max(9 // 3, 3) = 3, the configs at x = 0.35, 0.3, 0.25 with
    # weights 3, 2, 1; the incumbent is x = 0.35. Only x's densities differ between pi and pi_inc.
    weights, top = (3, 2, 1), (0.35, 0.3, 0.25)
    s_prior = sum(w * _truncnorm_pdf(x, 0.3) for w, x in zip(weights, top, strict=True))
    s_inc = sum(w * _truncnorm_pdf(x, 0.35) for w, x in zip(weights, top, strict=True))
    expected = s_prior / (s_prior + s_inc)
    assert expected == pytest.approx(0.5067, abs=1e-4)  # incumbent near, not on, the prior
    assert PriorBandPolicy().prior_share(history, RUNGS) == pytest.approx(expected, rel=1e-9)


# -- mutation ------------------------------------------------------------------------------------


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_mutation_changes_about_mutation_rate_of_the_dimensions(rate: float) -> None:
    d = 10
    space = Space(**{f"x{i}": Float(0.0, 1.0) for i in range(d)})
    parent = {f"x{i}": 0.5 for i in range(d)}
    policy = PriorBandPolicy(mutation_rate=rate)
    rng = np.random.default_rng(0)
    children = [policy.mutate(space, parent, rng) for _ in range(1000)]
    changed = [sum(child[k] != 0.5 for k in parent) for child in children]
    # children equal to the parent are redrawn, so the count is conditioned on >= 1
    expected = d * rate / (1.0 - (1.0 - rate) ** d)
    assert min(changed) >= 1
    assert np.mean(changed) == pytest.approx(expected, abs=0.2)
    moves = np.array([child[k] - 0.5 for child in children for k in parent if child[k] != 0.5])
    # N(0.5, 0.25) truncated to [0, 1]: mean 0.5, sd 0.25 * 0.880 (truncated at +-2 sd)
    assert abs(moves.mean()) < 0.02
    assert moves.std() == pytest.approx(0.25 * 0.880, abs=0.015)


def test_mutation_stays_valid_and_categoricals_change_to_another_choice() -> None:
    policy = PriorBandPolicy(mutation_rate=1.0)
    parent = {"x": 0.0, "y": 1.0, "n": 100, "opt": "a", "tag": "k"}
    rng = np.random.default_rng(0)
    children = [policy.mutate(SPACE, parent, rng) for _ in range(600)]
    for child in children:
        SPACE.validate_config(child)
    opts = Counter(child["opt"] for child in children)
    assert opts["a"] == 0 and abs(opts["b"] - opts["c"]) < 100
    only_cat = Space(opt=Categorical(["a", "b", "c"]))
    low_rate = PriorBandPolicy(mutation_rate=0.3)  # 50 tries: 0.7**50 ~ 2e-8 to fail
    assert all(low_rate.mutate(only_cat, {"opt": "a"}, rng) != {"opt": "a"} for _ in range(50))


CONDITIONAL = Space(
    opt=Categorical(["adam", "sgd"], prior="adam"),
    lr=Float(1e-4, 1e-1, log=True, prior=1e-3),
    momentum=Float(0.0, 0.99, prior=0.9, when={"opt": "sgd"}),
    nesterov=Categorical([True, False], when={"opt": "sgd"}),
    beta=Float(0.8, 0.999, when={"opt": "adam"}),
    layers=Integer(1, 8, when={"opt": ["adam", "sgd"]}),
    seed=Constant(1),
    epochs=Fidelity(1, 9),
)


def test_conditional_spaces_always_give_valid_configs() -> None:
    policy = PriorBandPolicy()
    rng = np.random.default_rng(0)
    for parent in (
        {"opt": "adam", "lr": 1e-3, "beta": 0.9, "layers": 2, "seed": 1},
        {"opt": "sgd", "lr": 1e-3, "momentum": 0.5, "nesterov": True, "layers": 2, "seed": 1},
    ):
        children = [policy.mutate(CONDITIONAL, parent, rng) for _ in range(300)]
        for child in children:
            CONDITIONAL.validate_config(child)
        switched = [c for c in children if c["opt"] != parent["opt"]]
        assert 100 < len(switched) < 200  # the newly active children got values
    configs = random_configs(CONDITIONAL, 9)
    history = sh_history(CONDITIONAL, configs, np.linspace(0.1, 0.9, 9))
    samples = draw(policy, history, 0, 300)
    assert {s for _, s in samples} == {"prior", "incumbent", "random"}
    for config, _ in samples:
        CONDITIONAL.validate_config(config)
        assert "epochs" not in config


# -- reproducibility and arguments ---------------------------------------------------------------


def test_same_seed_same_samples() -> None:
    history = sh_history(SPACE, random_configs(SPACE, 9), np.linspace(0.1, 0.9, 9))
    first = draw(PriorBandPolicy(), history, 0, 60, seed=5)
    assert first == draw(PriorBandPolicy(), history, 0, 60, seed=5)
    assert first != draw(PriorBandPolicy(), history, 0, 60, seed=6)
    assert {s for _, s in first} == {"prior", "incumbent", "random"}


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"eta": 1}, "eta"),
        ({"eta": 2.5}, "eta"),
        ({"eta": True}, "eta"),
        ({"mutation_rate": 0.0}, "mutation_rate"),
        ({"mutation_rate": 1.5}, "mutation_rate"),
        ({"mutation_std": 0.0}, "mutation_std"),
        ({"mutation_std": math.nan}, "mutation_std"),
        ({"weighting": "cubic"}, "weighting"),
        ({"split": "decay"}, "split"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs: dict[str, Any], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        PriorBandPolicy(**kwargs)


def test_rung_and_eta_are_checked_against_the_rungs() -> None:
    history = History(SPACE, 0)
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="rung"):
        PriorBandPolicy().sample(history, rungs=RUNGS, rung=3, rng=rng)
    with pytest.raises(ValueError, match="eta"):
        PriorBandPolicy(eta=2).sample(history, rungs=RUNGS, rung=0, rng=rng)
