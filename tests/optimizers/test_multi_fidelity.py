"""Successive halving, Hyperband, ASHA and async Hyperband: rungs, brackets and promotions."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from scipy import stats

import tunewise as tw
from tests.optimizers import loop
from tunewise import optimizers
from tunewise.optimizers.brackets import Rungs
from tunewise.optimizers.priorband_policy import incumbent_active
from tunewise.trial import History, Trial, TrialStatus

SPACE27 = tw.Space(x=tw.Float(0.0, 1.0), epochs=tw.Fidelity(1, 27))


def loss(config: dict, fidelity: float) -> float:
    return (config["x"] - 0.3) ** 2 + 1.0 / fidelity


def run_sequentially(optimizer, space=SPACE27, n=60, seed=0, fail=None):  # type: ignore[no-untyped-def]
    return loop.run_sequentially(
        optimizer, space=space, loss=loss, n=n, seed=seed, fail=fail or (lambda number, s: False)
    )


@pytest.mark.parametrize(
    ("upper", "fidelities", "sizes"),
    [
        (27, (1, 3, 9, 27), [(27, 9, 3, 1), (9, 3, 1), (6, 2), (4,)]),
        (
            243,  # log(243)/log(3) = 4.999... in floating point: s_max must still be 5
            (1, 3, 9, 27, 81, 243),
            [(243, 81, 27, 9, 3, 1), (81, 27, 9, 3, 1), (27, 9, 3, 1), (18, 6, 2), (9, 3), (6,)],
        ),
    ],
)
def test_rungs_and_bracket_sizes_match_the_reference_tables(upper, fidelities, sizes) -> None:
    rungs = Rungs(1, upper, 3, True)
    assert rungs.fidelities == fidelities
    assert [rungs.bracket(s).sizes for s in range(rungs.s_max, -1, -1)] == sizes
    assert rungs.bracket(rungs.s_max).rungs == tuple(range(len(fidelities)))


def test_integer_rungs_are_truncated_and_float_rungs_are_not() -> None:
    assert Rungs(1, 52, 3, True).fidelities == (1, 5, 17, 52)  # LCBench's epochs
    floats = Rungs(0.1, 1.0, 3, False).fidelities
    assert floats == pytest.approx((1 / 9, 1 / 3, 1.0))
    with pytest.raises(ValueError, match="early_stopping_rate"):
        Rungs(1, 27, 3, True, esr=4)


def test_successive_halving_promotes_exactly_the_top_third_after_the_rung_finishes() -> None:
    trials = run_sequentially(optimizers.SuccessiveHalving(), n=40)
    rung0 = [t for t in trials[:27]]
    assert all(t.fidelity == 1 and t.previous_trial is None for t in rung0)
    promoted = trials[27:36]
    assert all(t.fidelity == 3 for t in promoted)
    best9 = sorted(rung0, key=lambda t: (t.objective, t.number))[:9]
    assert {t.previous_trial for t in promoted} == {t.number for t in best9}
    assert all(t.config == trials[t.previous_trial].config for t in promoted)
    assert [t.fidelity for t in trials[36:39]] == [9, 9, 9]
    assert trials[39].fidelity == 27


def test_no_promotion_while_the_rung_is_still_running() -> None:
    optimizer = optimizers.SuccessiveHalving()
    trials = run_sequentially(optimizer, n=27)
    # The last rung-0 evaluation is still running on another worker.
    running = Trial(
        number=26,
        config=trials[26].config,
        status=TrialStatus.RUNNING,
        fidelity=1,
        slot=trials[26].slot,
    )
    history = History(space=SPACE27, seed=0, trials=(*trials[:26], running))
    (s,) = optimizer.ask(history, 1)
    assert s.previous_trial is None and s.fidelity == 1  # the next bracket starts instead
    assert s.slot.startswith("sh:new:1:")


def test_hyperband_runs_the_brackets_of_the_reference_table_in_order() -> None:
    trials = run_sequentially(optimizers.Hyperband(), n=200)
    brackets = Counter((t.info["bracket"], t.fidelity) for t in trials)
    assert [brackets[(0, f)] for f in (1, 3, 9, 27)] == [27, 9, 3, 1]
    assert [brackets[(1, f)] for f in (3, 9, 27)] == [9, 3, 1]
    assert [brackets[(2, f)] for f in (9, 27)] == [6, 2]
    assert brackets[(3, 27)] == 4
    assert brackets[(4, 1)] > 0  # then the cycle starts again


def test_failed_trials_are_never_promoted() -> None:
    trials = run_sequentially(
        optimizers.SuccessiveHalving(),
        n=36,
        fail=lambda number, s: number % 2 == 0 and s.fidelity == 1,
    )
    failed = {t.number for t in trials if t.status is TrialStatus.FAILED}
    promoted = [t for t in trials if t.previous_trial is not None]
    assert promoted and not {t.previous_trial for t in promoted} & failed


def test_asha_promotes_only_configurations_in_the_top_third_of_their_rung() -> None:
    trials = run_sequentially(optimizers.ASHA(), n=150)
    for t in trials:
        if t.previous_trial is None:
            continue
        before = trials[: t.number]
        lower = trials[t.previous_trial]
        rung = [u for u in before if u.fidelity == lower.fidelity and u.finished]
        top = sorted(rung, key=lambda u: (u.objective, u.number))[: len(rung) // 3]
        assert lower.number in {u.number for u in top}
        assert t.fidelity == {1: 3, 3: 9, 9: 27}[lower.fidelity]
    assert any(t.fidelity == 27 for t in trials)
    keys = [(t.config["x"], t.fidelity) for t in trials]
    assert len(keys) == len(set(keys))  # never the same (config, fidelity) twice


def _asha_history(rows: list[tuple[int, int | None, float | None, TrialStatus]]) -> History:
    """ASHA trials from ``(rung, previous trial, loss, status)``: ``previous None`` starts a new
    configuration at rung 0 (slot ``asha:new:0:<number>``), else continues that trial's
    configuration one rung up (slot ``asha:up:<first trial>:<rung>``)."""
    fidelities = (1, 3, 9, 27)
    trials: list[Trial] = []
    first: dict[int, int] = {}  # trial number -> the number of the trial that started its config
    for number, (rung, previous, value, status) in enumerate(rows):
        first[number] = number if previous is None else first[previous]
        slot = f"asha:new:0:{number}" if previous is None else f"asha:up:{first[number]}:{rung}"
        trials.append(
            Trial(
                number=number,
                config={"x": round(0.001 * first[number], 6)},
                status=status,
                fidelity=fidelities[rung],
                slot=slot,
                objective=value if status is TrialStatus.SUCCEEDED else None,
                previous_trial=previous,
            )
        )
    return History(space=SPACE27, seed=0, trials=tuple(trials))


OK, FAILED, RUNNING = TrialStatus.SUCCEEDED, TrialStatus.FAILED, TrialStatus.RUNNING


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # 3 finished at rung 0: the top floor(3/3) = 1 (trial 1) goes up
        ([(0, None, 0.3, OK), (0, None, 0.1, OK), (0, None, 0.2, OK)], 1),
        # 2 finished + 1 running: floor(2/3) = 0, no candidate: a new configuration
        ([(0, None, 0.3, OK), (0, None, 0.1, OK), (0, None, None, RUNNING)], None),
        # 6 finished, the best (trial 1) already promoted: the top 2 counts it, trial 4 goes up
        (
            [(0, None, v, OK) for v in (0.6, 0.1, 0.5, 0.4, 0.2, 0.3)] + [(1, 1, 0.05, RUNNING)],
            4,
        ),
        # 5 finished, the best promoted: floor(5/3) = 1, nothing left to promote
        ([(0, None, v, OK) for v in (0.6, 0.1, 0.5, 0.4, 0.2)] + [(1, 1, 0.05, OK)], None),
        # a failed trial ranks last and is never promoted; the best success goes up
        ([(0, None, None, FAILED), (0, None, 0.9, OK), (0, None, 0.8, OK)], 2),
        # candidates at rungs 0 and 1: the higher rung goes first (trial 7 -> rung 2)
        (
            [(0, None, v, OK) for v in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)]
            + [(1, 0, 0.3, OK), (1, 1, 0.1, OK), (1, 2, 0.2, OK)],
            7,
        ),
    ],
)
def test_asha_promotes_whenever_a_top_third_candidate_exists(rows, expected) -> None:
    (s,) = optimizers.ASHA().ask(_asha_history(rows), 1)
    assert s.previous_trial == expected
    if expected is None:
        assert s.fidelity == 1 and s.slot.startswith("asha:new:")
    else:
        assert s.fidelity == (1, 3, 9, 27)[rows[expected][0] + 1]  # one rung up


def _asha_reference(history: History) -> int | None:
    """ALGORITHMS.md §1: from the second-highest rung down, the top floor(finished / eta) of a
    rung (failures ranked last, ties by number), minus configurations already one rung up; the
    best candidate is promoted (its trial number), else None (start a new configuration)."""
    by_rung: dict[int, list[Trial]] = {}
    for t in history.trials:
        by_rung.setdefault({1: 0, 3: 1, 9: 2, 27: 3}[t.fidelity], []).append(t)
    for k in (2, 1, 0):
        finished = [t for t in by_rung.get(k, []) if t.status in (OK, FAILED)]
        finished.sort(key=lambda t: (t.objective if t.status is OK else np.inf, t.number))
        above = {t.config["x"] for t in by_rung.get(k + 1, [])}
        for t in finished[: len(finished) // 3]:
            if t.status is OK and t.config["x"] not in above:
                return t.number
    return None


@pytest.mark.parametrize("seed", range(40))
def test_asha_decisions_match_the_reference_rule_on_random_histories(seed) -> None:
    """Random tables (statuses, losses, promotions that need not be ASHA's own): ASHA's next
    decision is the reference rule's, so it promotes exactly when a candidate exists."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int | None, float | None, TrialStatus]] = []
    statuses = [OK, OK, OK, OK, OK, RUNNING, FAILED]
    for _ in range(int(rng.integers(1, 16))):
        status = statuses[int(rng.integers(len(statuses)))]
        rows.append((0, None, float(rng.random()) if status is OK else None, status))
    for rung in (1, 2, 3):
        below = [i for i, r in enumerate(rows) if r[0] == rung - 1 and r[3] is OK]
        for i in rng.permutation(below)[: int(rng.integers(0, len(below) + 1)) // 2]:
            status = statuses[int(rng.integers(len(statuses)))]
            rows.append((rung, int(i), float(rng.random()) if status is OK else None, status))
    history = _asha_history(rows)
    (s,) = optimizers.ASHA().ask(history, 1)
    assert s.previous_trial == _asha_reference(history)


def test_async_hyperband_draws_brackets_as_hyperband_weights_them() -> None:
    """Every request first draws a bracket with P(s) = eta**(K-s) (K+1)/(K-s+1) / sum, then
    takes one ASHA step in it, so each trial's bracket (promotion or new) is one such draw."""
    optimizer = optimizers.AsyncHyperband()
    schedule = optimizer.schedule(optimizer.rungs(SPACE27))
    weights = np.array([27 * 4 / 4, 9 * 4 / 3, 3 * 4 / 2, 1 * 4 / 1])  # s = 0..3, K = 3
    p = weights / weights.sum()  # 0.551, 0.245, 0.122, 0.082
    assert schedule.bracket_probabilities() == pytest.approx(p, rel=1e-12)
    n = 1000
    trials = run_sequentially(optimizer, n=n)
    counts = Counter(t.info["bracket"] for t in trials)
    observed = np.array([counts[s] for s in range(4)])
    assert observed.sum() == n
    # each count is Binomial(n, p_s): within 4 standard deviations (two-sided, ~6e-5 each)
    assert np.all(np.abs(observed - n * p) < 4 * np.sqrt(n * p * (1 - p))), observed
    assert stats.chisquare(observed, n * p).pvalue > 1e-3, observed


@pytest.mark.parametrize("name", ["successive_halving", "hyperband", "asha", "async_hyperband"])
def test_promotions_continue_from_the_lower_trials_checkpoint(tmp_path, name) -> None:
    def train(config, trial):
        start = 0
        if trial.previous_directory is not None:
            start = int((trial.previous_directory / "epochs.txt").read_text())
            assert start == trial.previous_fidelity
        (trial.directory / "epochs.txt").write_text(str(trial.fidelity))
        return {"objective": loss(config, trial.fidelity), "info": {"resumed_from": start}}

    result = tw.run(train, SPACE27, root=tmp_path / name, optimizer=name, budget=45, progress=False)
    trials = result.trial_list
    continued = [t for t in trials if t.previous_trial is not None]
    assert continued, "no promotion happened"
    for t in continued:
        assert t.info["resumed_from"] == trials[t.previous_trial].fidelity
        assert t.info["sampled_from"] == "promotion"
    assert result.counts["succeeded"] == 45


PRIOR27 = tw.Space(
    x=tw.Float(0.0, 1.0, prior=0.8),
    opt=tw.Categorical(["adam", "sgd"], prior="sgd"),
    epochs=tw.Fidelity(1, 27),
)
BRACKET_OPTIMIZERS = ["successive_halving", "hyperband", "asha", "async_hyperband", "bohb"]


def _mixed_loss(config: dict, fidelity: float) -> float:
    return loss(config, fidelity) + (0.1 if config["opt"] == "adam" else 0.0)


@pytest.mark.parametrize("name", BRACKET_OPTIMIZERS)
def test_prior_first_starts_with_the_prior_configuration_once(name) -> None:
    def run(prior_first: bool) -> list[Trial]:
        optimizer = optimizers.make({"name": name, "prior_first": prior_first})
        return loop.run_sequentially(optimizer, space=PRIOR27, loss=_mixed_loss, n=60, seed=2)

    first, plain = run(True), run(False)
    assert dict(first[0].config) == {"x": 0.8, "opt": "sgd"}
    assert first[0].info["sampled_from"] == "prior_config" and first[0].previous_trial is None
    assert [t.info["sampled_from"] for t in first].count("prior_config") == 1
    assert "prior_config" not in {t.info["sampled_from"] for t in plain}
    assert dict(plain[0].config) != {"x": 0.8, "opt": "sgd"}
    # it replaces the first sample only: the next new configurations are drawn as without it
    assert (first[0].slot, first[0].fidelity) == (plain[0].slot, plain[0].fidelity)
    new_first = [dict(t.config) for t in first[1:] if t.previous_trial is None][:5]
    new_plain = [dict(t.config) for t in plain[1:] if t.previous_trial is None][:5]
    if name != "bohb":  # BOHB's model sees the prior configuration's result
        assert new_first == new_plain
    for t in first:
        PRIOR27.validate_config(dict(t.config))


@pytest.mark.parametrize("name", BRACKET_OPTIMIZERS)
def test_prior_first_is_a_validated_registered_parameter(name) -> None:
    cls = optimizers.get(name)
    assert cls().get_params()["prior_first"] is False
    optimizer = optimizers.make({"name": name, "prior_first": True})
    assert optimizer.prior_first is True and optimizers.make(optimizer.spec()) == optimizer
    with pytest.raises(ValueError, match=f"{name}: prior_first must be True or False"):
        cls(prior_first="yes")


# -- prior_first_fidelity="max": the prior configuration once at full fidelity, outside the brackets

PRIOR_USERS = [*BRACKET_OPTIMIZERS, "priorband"]
SYNCHRONOUS = {"successive_halving", "hyperband", "bohb", "priorband"}


def _at_max(name: str, **params: object) -> dict[str, object]:
    return {"name": name, "prior_first": True, "prior_first_fidelity": "max", **params}


def _shape(trials: list[Trial]) -> list[tuple[object, ...]]:
    """What the schedule decided, whatever was sampled: fidelity, rung, bracket, promoted?"""
    return [
        (t.fidelity, t.info["rung"], t.info.get("bracket"), t.previous_trial is not None)
        for t in trials
    ]


@pytest.mark.parametrize("name", PRIOR_USERS)
def test_prior_first_at_max_fidelity_then_the_brackets_as_without_it(name) -> None:
    optimizer = optimizers.make(_at_max(name))
    first = loop.run_sequentially(optimizer, space=PRIOR27, loss=_mixed_loss, n=80, seed=2)
    plain_spec = {"name": name, "prior_first": False}
    plain = loop.run_sequentially(
        optimizers.make(plain_spec), space=PRIOR27, loss=_mixed_loss, n=79, seed=2
    )
    prior = first[0]
    assert dict(prior.config) == {"x": 0.8, "opt": "sgd"} and prior.previous_trial is None
    assert (prior.fidelity, prior.info["rung"]) == (27, 3) and "bracket" not in prior.info
    assert prior.slot == f"{optimizer.tag}:prior" and prior.info["sampled_from"] == "prior_config"
    assert [t.info["sampled_from"] for t in first].count("prior_config") == 1
    assert len({t.slot for t in first}) == len(first), "a slot was used twice"
    assert all(t.previous_trial != 0 for t in first), "the full-fidelity prior was promoted"
    if name in SYNCHRONOUS:  # the brackets' decisions are those of a run without prior_first
        assert _shape(first[1:]) == _shape(plain)
    again = loop.run_sequentially(optimizer, space=PRIOR27, loss=_mixed_loss, n=80, seed=2)
    assert [(dict(t.config), t.fidelity, t.slot) for t in again] == [
        (dict(t.config), t.fidelity, t.slot) for t in first
    ]


@pytest.mark.parametrize("name", PRIOR_USERS)
def test_prior_at_max_in_a_batch_and_while_it_runs_elsewhere(name) -> None:
    optimizer = optimizers.make(_at_max(name))
    empty = History(space=PRIOR27, seed=1)
    batch = optimizer.ask(empty, 4)
    assert batch[0].slot == f"{optimizer.tag}:prior" and batch[0].fidelity == 27
    assert all(s.fidelity < 27 or name == "asha" for s in batch[1:])
    assert all(s.info["sampled_from"] != "prior_config" for s in batch[1:])
    assert len({s.slot for s in batch}) == 4 and optimizer.ask(empty, 4) == batch
    running = Trial(
        number=0,
        config=batch[0].config,
        status=TrialStatus.RUNNING,
        fidelity=batch[0].fidelity,
        slot=batch[0].slot,
        info=batch[0].info,
    )
    (s,) = optimizer.ask(History(space=PRIOR27, seed=1, trials=(running,)), 1)
    assert s.slot != running.slot and s.info["sampled_from"] != "prior_config"


@pytest.mark.parametrize("name", PRIOR_USERS)
def test_a_failed_prior_at_max_is_not_retried_and_the_search_goes_on(name) -> None:
    optimizer = optimizers.make(_at_max(name))
    trials = loop.run_sequentially(
        optimizer, space=PRIOR27, loss=_mixed_loss, n=40, seed=3, fail=lambda n, s: n % 2 == 0
    )
    assert len(trials) == 40 and trials[0].status is TrialStatus.FAILED
    assert [t.info["sampled_from"] for t in trials].count("prior_config") == 1
    for t in trials:
        PRIOR27.validate_config(dict(t.config))
        assert 1 <= t.fidelity <= 27 and (t.previous_trial is None or t.previous_trial % 2 == 1)


def test_the_full_fidelity_prior_result_is_a_top_rung_result_for_priorband() -> None:
    # PriorBand's incumbent activation needs a success at the top rung. Just before the first
    # bracket's own top-rung trial, "max" already has one (the prior) and "min" has none.
    def before_first_bracket_top(where: str) -> History:
        spec = {"name": "priorband", "prior_first_fidelity": where}
        trials = run_sequentially(optimizers.make(spec), space=PRIOR27, n=60, seed=0)
        top = next(i for i, t in enumerate(trials) if t.fidelity == 27 and "bracket" in t.info)
        return History(space=PRIOR27, seed=0, trials=tuple(trials[:top]))

    rungs = Rungs.of(PRIOR27.fidelity, eta=3)
    at_max, at_min = before_first_bracket_top("max"), before_first_bracket_top("min")
    assert at_max.trials[0].fidelity == 27 and incumbent_active(at_max, rungs)
    assert at_min.trials[0].fidelity == 1 and not incumbent_active(at_min, rungs)


@pytest.mark.parametrize("name", PRIOR_USERS)
def test_prior_first_fidelity_is_a_validated_registered_parameter(name) -> None:
    cls = optimizers.get(name)
    assert cls().get_params()["prior_first_fidelity"] == "min"
    optimizer = optimizers.make(_at_max(name))
    assert optimizer.prior_first_fidelity == "max"
    assert optimizers.make(optimizer.spec()) == optimizer and optimizer.spec() == {
        **cls().spec(),
        **_at_max(name),
    }
    with pytest.raises(ValueError, match=rf"{name}: prior_first_fidelity must be one of \("):
        cls(prior_first=True, prior_first_fidelity="top")
    with pytest.raises(ValueError, match=f"{name}: prior_first_fidelity must be one of"):
        cls(prior_first=True, prior_first_fidelity=27)
    with pytest.raises(ValueError, match=f"{name}: prior_first_fidelity='max' needs prior_first"):
        cls(prior_first=False, prior_first_fidelity="max")


def test_bad_parameters_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="eta must be an integer >= 2"):
        optimizers.Hyperband(eta=1)
    with pytest.raises(ValueError, match="early_stopping_rate"):
        optimizers.ASHA(early_stopping_rate=-1)
    with pytest.raises(ValueError, match=r"needs a space with a tw\.Fidelity"):
        optimizers.Hyperband().check_space(tw.Space(x=tw.Float(0, 1)))
    with pytest.raises(ValueError, match=r"early_stopping_rate must be an integer in 0\.\.3"):
        optimizers.ASHA(early_stopping_rate=5).check_space(SPACE27)
