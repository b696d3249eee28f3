"""The invariants every fault-injection scenario must keep, checked against the store and the
objective's own ground-truth log (see :mod:`tests.faults.objectives`).

After the run, for a study with an evaluation budget of ``budget``:

1. **Budget exact.** Nothing is left running or pending; exactly ``budget`` trials are finished
   (succeeded or failed), no more, and the study's counters (``n_finished``, ``n_live``) agree.
   Trial numbers are dense.
2. **Recorded once.** Every trial has a slot, or is a crashed trial whose slot passed to exactly
   one retry (``retry_of``) with the same configuration; following those retries, the trials of
   one slot form a chain of crashed trials ending in exactly one finished trial. So no slot is
   finished twice, and slots are unique among the trials that are not crashed.
3. **Never claimed twice at once.** In the store, each retry of a slot started after its
   predecessor was declared crashed. In the log, the evaluations of one slot never overlap in
   time: an evaluation that never returned (its process was killed) ends, at the latest, at the
   first store timestamp of its trial after it began (the crash was declared, the trial was
   re-queued and claimed again, or its failure was recorded).
4. **The table is what the objective returned.** Every succeeded trial's objective and nonce are
   those of an ``end`` line of that trial in the log, and equal ``value_of(config)``. An ``end``
   line whose nonce is not in the store is an evaluation that returned but was never recorded:
   allowed only for a process the test killed or stopped (between returning and recording), and
   its trial is then crashed or re-queued and evaluated again. Every other returned value is
   recorded. Failed trials are allowed only where the test expects them.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.objectives import LOG_NAME, value_of
from tunewise.runtime.paths import study_directory
from tunewise.storage import Store
from tunewise.trial import Trial, TrialStatus


@dataclass(frozen=True)
class Evaluation:
    """One call of the objective, from its ``begin`` line to its ``end`` line (if it returned)."""

    number: int
    pid: int
    began: float
    ended: float | None = None
    value: float | None = None
    nonce: str | None = None


@dataclass
class Summary:
    """What happened in a checked run, for the scenario's own assertions."""

    trials: list[Trial]
    evaluations: list[Evaluation]
    crashed: list[Trial] = field(default_factory=list)
    failed: list[Trial] = field(default_factory=list)
    unrecorded: list[Evaluation] = field(default_factory=list)  # returned, killed before recording

    def __str__(self) -> str:
        return (
            f"{len(self.trials)} trials, {len(self.evaluations)} evaluations, "
            f"{len(self.crashed)} crashed, {len(self.failed)} failed, "
            f"{len(self.unrecorded)} returned but unrecorded"
        )


def ground_truth_log(root: str | Path, study: str) -> Path:
    return study_directory(root, study) / LOG_NAME


def read_evaluations(log: Path) -> list[Evaluation]:
    """The log's evaluations, each ``begin`` paired with the next ``end`` of its trial and pid."""
    open_: dict[tuple[int, int], list[Evaluation]] = defaultdict(list)
    done: list[Evaluation] = []
    text = log.read_text() if log.exists() else ""
    lines = text.splitlines()
    if not text.endswith("\n") and lines:
        lines.pop()  # a line being written while we read
    for line in lines:
        kind, number, pid, at, *rest = line.split()
        key = (int(number), int(pid))
        if kind == "begin":
            open_[key].append(Evaluation(int(number), int(pid), float(at)))
        else:
            assert kind == "end" and open_[key], f"an end without a begin in the log: {line!r}"
            begun = open_[key].pop()
            assert not open_[key], f"two evaluations of one trial in one process: {line!r}"
            value, nonce = rest
            done.append(
                Evaluation(begun.number, begun.pid, begun.began, float(at), float(value), nonce)
            )
    unfinished = [e for evaluations in open_.values() for e in evaluations]
    return sorted(done + unfinished, key=lambda e: e.began)


def check_invariants(
    url: str,
    study: str,
    *,
    root: str | Path,
    budget: int,
    signalled: Collection[int] = (),
    expected_failure: Callable[[Trial], bool] | None = None,
    value: Callable[[dict], float] = value_of,
) -> Summary:
    """Assert the four invariants above for ``study`` in the store at ``url``.

    ``signalled`` are the pids of the processes the test killed or stopped; ``expected_failure``
    says which failed trials the scenario expects (none by default). A violation's message ends
    with the trials that were crashed, retried, failed or have no slot.
    """
    try:
        return _check(url, study, root, budget, signalled, expected_failure, value)
    except AssertionError as exc:
        with Store(url) as store:
            view = store.study(study)
            view.refresh()
            odd = [
                t
                for t in view.trials()
                if t.status is not TrialStatus.SUCCEEDED or t.slot is None or t.retry_of is not None
            ]
        raise AssertionError(f"{exc}\nunusual trials: {_show(odd)}") from None


def _check(
    url: str,
    study: str,
    root: str | Path,
    budget: int,
    signalled: Collection[int],
    expected_failure: Callable[[Trial], bool] | None,
    value: Callable[[dict], float],
) -> Summary:
    with Store(url) as store:
        view = store.study(study)
        view.refresh()
        trials = view.trials()
        totals = view.totals()
    evaluations = read_evaluations(ground_truth_log(root, study))
    by_number = {t.number: t for t in trials}
    summary = Summary(trials=trials, evaluations=evaluations)
    statuses = {status: [t for t in trials if t.status is status] for status in TrialStatus}
    summary.crashed = statuses[TrialStatus.CRASHED]
    summary.failed = statuses[TrialStatus.FAILED]
    finished = statuses[TrialStatus.SUCCEEDED] + summary.failed

    # 1. The budget is reached exactly.
    left = statuses[TrialStatus.RUNNING] + statuses[TrialStatus.PENDING]
    assert not left, f"trials left unfinished: {_show(left)}"
    assert sorted(by_number) == list(range(len(trials))), "trial numbers are not dense"
    assert len(finished) == budget, f"{len(finished)} trials finished, budget {budget}: {summary}"
    assert totals.n_finished == budget, f"the study counts {totals.n_finished} finished trials"
    assert totals.n_live == budget, f"the study counts {totals.n_live} live trials"

    # 2. Every slot is finished once, through a chain of crashed trials and their retries.
    retries: dict[int, list[Trial]] = defaultdict(list)
    for trial in trials:
        if trial.retry_of is not None:
            retries[trial.retry_of].append(trial)
    for trial in trials:
        if trial.status is TrialStatus.CRASHED:
            assert trial.slot is None, f"crashed trial {trial.number} kept its slot"
            assert len(retries[trial.number]) == 1, (
                f"crashed trial {trial.number} has retries {_show(retries[trial.number])}"
            )
            assert retries[trial.number][0].config == trial.config, "a retry changed the config"
        else:
            assert trial.slot is not None, f"trial {trial.number} ({trial.status}) has no slot"
            assert not retries[trial.number], f"{trial.status} trial {trial.number} was retried"
    live_slots = [t.slot for t in trials if t.status is not TrialStatus.CRASHED]
    assert len(set(live_slots)) == len(live_slots), "two live trials share a slot"

    def slot_of(trial: Trial) -> str:
        while trial.slot is None:
            trial = retries[trial.number][0]
        return trial.slot

    chains: dict[str, list[Trial]] = defaultdict(list)
    for trial in trials:
        chains[slot_of(trial)].append(trial)
    assert len(chains) == budget, f"{len(chains)} slots were claimed, budget {budget}"
    for slot, chain in chains.items():
        *before, last = sorted(chain, key=lambda t: t.number)
        assert last.finished and all(t.status is TrialStatus.CRASHED for t in before), (
            f"slot {slot!r} is not crashed trials then one finished trial: {_show(chain)}"
        )

    # 3. No slot was claimed twice at once: not in the store, not in the objective's log.
    for slot, chain in chains.items():
        chain = sorted(chain, key=lambda t: t.number)
        for earlier, later in itertools.pairwise(chain):
            assert later.started_at >= earlier.finished_at, (
                f"slot {slot!r}: trial {later.number} started before trial {earlier.number} "
                "was declared crashed"
            )
    spans: dict[str, list[tuple[float, float, Evaluation]]] = defaultdict(list)
    for evaluation in evaluations:
        trial = by_number.get(evaluation.number)
        assert trial is not None, f"the log has an evaluation of unknown trial {evaluation}"
        spans[slot_of(trial)].append((evaluation.began, _end(evaluation, trial), evaluation))
    for slot, intervals in spans.items():
        intervals.sort(key=lambda span: span[0])
        for (_, end, first), (start, _, second) in itertools.pairwise(intervals):
            assert start >= end, f"slot {slot!r} was evaluated twice at once: {first}, {second}"

    # 4. The table holds exactly what the objective returned.
    returned = {e.nonce: e for e in evaluations if e.nonce is not None}
    for trial in statuses[TrialStatus.SUCCEEDED]:
        nonce = trial.info.get("nonce")
        evaluation = returned.get(nonce)
        assert evaluation is not None and evaluation.number == trial.number, (
            f"trial {trial.number} recorded {trial.objective} (nonce {nonce}), which no "
            "evaluation of it returned"
        )
        assert trial.objective == evaluation.value == value(dict(trial.config)), (
            f"trial {trial.number}: recorded {trial.objective}, returned {evaluation.value}"
        )
    recorded = {t.info.get("nonce") for t in trials if t.status is TrialStatus.SUCCEEDED}
    for evaluation in returned.values():
        trial = by_number[evaluation.number]
        assert evaluation.value == value(dict(trial.config)), f"{evaluation} used another config"
        if evaluation.nonce in recorded:
            continue
        assert evaluation.pid in signalled, (
            f"trial {trial.number} returned {evaluation.value} in process {evaluation.pid}, which "
            f"the test never stopped, but the store has {trial.status} {trial.objective}"
        )
        again = [
            e for e in evaluations if e.number == evaluation.number and e.began > evaluation.began
        ]
        assert trial.status is TrialStatus.CRASHED or again, (
            f"trial {trial.number} returned {evaluation.value} in process {evaluation.pid}, "
            f"unrecorded, yet it is {trial.status} and was not evaluated again"
        )
        summary.unrecorded.append(evaluation)
    for trial in summary.failed:
        assert expected_failure is not None and expected_failure(trial), (
            f"trial {trial.number} failed unexpectedly: {trial.error}"
        )
        assert "nonce" not in trial.info, f"failed trial {trial.number} has a returned value"
    return summary


def _end(evaluation: Evaluation, trial: Trial) -> float:
    """When an evaluation ended: its ``end`` line, or else, at the latest, the first store
    timestamp of its trial after it began (crash declared, re-queued and re-claimed, failed)."""
    if evaluation.ended is not None:
        return evaluation.ended
    later = [t for t in (trial.started_at, trial.finished_at) if t and t >= evaluation.began]
    return min(later) if later else math.inf


def _show(trials: list[Trial]) -> str:
    return "; ".join(
        f"\n  #{t.number} {t.status} slot={t.slot} retry_of={t.retry_of} worker={t.worker} "
        f"started={t.started_at} finished={t.finished_at} error={t.error!r}"
        for t in trials
    )
