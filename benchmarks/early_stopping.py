"""Early stopping on real training: the same budget with and without ``should_stop``.

Random search and Bayesian optimization tune ``mlp-digits`` (the demo MLP on scikit-learn's
digits, :mod:`tunewise.benchmarks.training`; no priors), one long trial per configuration at the
full 27 epochs, reporting the validation error every epoch. Each (optimizer, seed) runs three
times on the same budget of ``--evaluations`` trials: without early stopping, with the median
rule and with the model rule (``tw.EarlyStopping(rule, min_trials=--min-trials,
min_steps=--min-steps)``, by default 5 and 1: the defaults). The objective obeys the verdict
(it stops training when ``trial.report`` says so) and returns the error it reached.

Figures per (optimizer, rule), over seeds: the epochs trained (sum of every trial's curve
length), the fraction of epochs saved against the same seed without early stopping, the final
regret (best validation error of the run minus the best known 8/450,
:data:`tunewise.benchmarks.training.BEST_KNOWN`) and its change, with a paired Wilcoxon
signed-rank test over seeds (scipy; two-sided; seeds with no change are dropped, as
``zero_method="wilcox"`` does).

With ``--budget epochs`` the budget is ``--evaluations`` full trainings' worth instead
(``tw.Budget(fidelity_units=...)``, 27 epochs each): a stopped trial gives back the epochs it did
not use, so the runs with early stopping train as many epochs as those without and try more
configurations; the regret change is then the gain at the same cost.

Training is exactly deterministic given the configuration (the trainers' contract: one
``torch.Generator``, one thread), so a configuration trains to the same curve in every run. To
fit the CPU budget, each epoch's validation error is trained for real once per process and
replayed afterwards (:class:`Curves`): a run with early stopping reports the same values as if
it retrained, and the figures (epochs, regret) are those of real training. ``trained_epochs``
in the table counts the epochs this process actually trained.

Run from the repository root (about 20 minutes of one CPU core at the defaults; ``nice`` on a
shared machine)::

    nice .venv/bin/python benchmarks/early_stopping.py               # 10 seeds, 20 trials
    nice .venv/bin/python benchmarks/early_stopping.py --seeds 1 --evaluations 8   # smoke run
    nice .venv/bin/python benchmarks/early_stopping.py --budget epochs --optimizers random_search \
        --out benchmarks/results/early_stopping_epochs.csv     # the same epochs, more trials

It prints markdown tables and writes ``benchmarks/results/early_stopping.csv`` (one row per
optimizer, rule and seed).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import csv
import json
import logging
import statistics
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scipy.stats import wilcoxon

import tunewise as tw
from tunewise.benchmarks.training import BEST_KNOWN, MLPDigitsBenchmark
from tunewise.demo import mlp

RULES = ("none", "median", "model")
OPTIMIZERS = {
    "random_search": {"name": "random_search"},
    "bayesian_optimization": {"name": "bayesian_optimization"},
}
EPOCHS = 27


class _Stop(Exception):
    """Raised from ``report`` when early stopping says stop: ends the trainer's epoch loop."""


class _Replay:
    """What the trainer sees as its trial: reports go to the real trial, except those of epochs
    already replayed from the cache, and a stop verdict ends training (:class:`_Stop`)."""

    def __init__(self, trial: tw.TrialContext, replayed: int, record: list[float]) -> None:
        self._trial, self._replayed, self._record = trial, replayed, record
        self.trained = 0  # epochs trained

    def __getattr__(self, name: str) -> Any:
        return getattr(self._trial, name)

    def report(self, step: float, value: float) -> bool:
        self.trained += 1
        if step > len(self._record):
            self._record.append(value)
        if step <= self._replayed:
            return False
        if self._trial.report(step, value):
            raise _Stop
        return False


class Curves:
    """The trainer's per-epoch validation errors, trained once per configuration and replayed.

    ``trained`` counts the epochs trained for real in this process. A configuration asked for
    more epochs than were trained is retrained from scratch (deterministic: the same values),
    its known epochs not reported again.
    """

    def __init__(self) -> None:
        self.known: dict[str, list[float]] = {}
        self.trained = 0
        self.benchmark = MLPDigitsBenchmark()

    def __call__(self, config: dict[str, Any], trial: tw.TrialContext) -> dict[str, Any]:
        key = json.dumps(_searched(config), sort_keys=True, default=str)
        record = self.known.setdefault(key, [])
        replayed = 0
        try:
            for epoch, value in enumerate(record, start=1):
                replayed = epoch
                if trial.report(epoch, value):
                    raise _Stop
            if replayed < EPOCHS:
                replay = _Replay(trial, replayed, record)
                try:
                    self._train(config, replay)
                finally:
                    self.trained += replay.trained
        except _Stop:
            pass
        curve = trial.learning_curve
        return {"objective": curve[-1][1], "info": {"epochs": len(curve)}}

    def _train(self, config: Mapping[str, Any], trial: Any) -> None:
        self.benchmark.objective(seed=0)(dict(config), trial)


def _searched(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in config.items() if k != mlp.FIDELITY}


def run_one(
    optimizer: str,
    rule: str,
    seed: int,
    *,
    evaluations: int,
    min_trials: int,
    min_steps: float,
    budget_kind: str,
    curves: Curves,
) -> dict[str, Any]:
    space = MLPDigitsBenchmark().space()
    early = (
        None
        if rule == "none"
        else tw.EarlyStopping(rule=rule, min_trials=min_trials, min_steps=min_steps)
    )
    trained_before = curves.trained
    started, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="tw-es-") as root:
        result = tw.run(
            curves,
            space,
            root=root,
            optimizer=OPTIMIZERS[optimizer],
            budget=(
                evaluations
                if budget_kind == "evaluations"
                else tw.Budget(fidelity_units=evaluations)
            ),
            seed=seed,
            early_stopping=early,
            progress=False,
        )
        trials = result.trial_list
        result.close()
    best = min(t.objective for t in trials if t.objective is not None)
    return {
        "optimizer": optimizer,
        "rule": rule,
        "seed": seed,
        "budget": budget_kind,
        "trials": len(trials),
        "epochs": sum(len(t.learning_curve) for t in trials),
        "stopped": sum(1 for t in trials if t.info.get("stopped_early")),
        "best": best,
        "regret": best - BEST_KNOWN["mlp-digits"],
        "judge_seconds": sum(float(t.info.get("early_stopping_seconds", 0.0)) for t in trials),
        "trained_epochs": curves.trained - trained_before,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
    }


def summarize(rows: list[dict[str, Any]]) -> str:
    by = {(r["optimizer"], r["rule"], r["seed"]): r for r in rows}
    lines = [
        "| optimizer | rule | trials (mean) | epochs (mean) | epochs saved | stopped trials "
        "| regret (mean) | regret change (mean) | better / same / worse | Wilcoxon p "
        "| judging s per run |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for optimizer in OPTIMIZERS:
        seeds = sorted({r["seed"] for r in rows if r["optimizer"] == optimizer})
        for rule in RULES:
            pairs = [
                (by[(optimizer, rule, s)], by[(optimizer, "none", s)])
                for s in seeds
                if (optimizer, rule, s) in by and (optimizer, "none", s) in by
            ]
            if not pairs:
                continue
            runs = [a for a, _ in pairs]
            saved = statistics.mean(1 - a["epochs"] / b["epochs"] for a, b in pairs)
            change = [a["regret"] - b["regret"] for a, b in pairs]
            better = sum(1 for c in change if c < -1e-12)
            worse = sum(1 for c in change if c > 1e-12)
            p = _wilcoxon(change)
            lines.append(
                f"| {optimizer} | {rule} | {statistics.mean(r['trials'] for r in runs):.1f} "
                f"| {statistics.mean(r['epochs'] for r in runs):.0f} "
                f"| {saved:.1%} | {statistics.mean(r['stopped'] for r in runs):.1f} "
                f"| {statistics.mean(r['regret'] for r in runs):.4f} "
                f"| {statistics.mean(change):+.4f} | {better} / {len(change) - better - worse} "
                f"/ {worse} | {p} | {statistics.mean(r['judge_seconds'] for r in runs):.1f} |"
            )
    return "\n".join(lines)


def _number(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _wilcoxon(change: list[float]) -> str:
    nonzero = [c for c in change if abs(c) > 1e-12]
    if len(nonzero) == 0:
        return "-"
    return f"{wilcoxon(nonzero).pvalue:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--evaluations", type=int, default=20, help="trials per run")
    parser.add_argument("--min-trials", type=int, default=5, help="EarlyStopping.min_trials")
    parser.add_argument("--min-steps", type=float, default=1.0, help="EarlyStopping.min_steps")
    parser.add_argument(
        "--budget",
        choices=["evaluations", "epochs"],
        default="evaluations",
        help="count trials (default) or full trainings' worth of epochs",
    )
    parser.add_argument("--optimizers", nargs="+", default=list(OPTIMIZERS))
    parser.add_argument("--rules", nargs="+", default=list(RULES))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/early_stopping.csv"))
    parser.add_argument("--table", type=Path, help="print the tables of a CSV written before")
    args = parser.parse_args()
    if args.table is not None:
        with args.table.open() as f:
            stored = [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f)]
        print(summarize(stored))
        return
    logging.getLogger("tunewise").setLevel(logging.WARNING)
    curves = Curves()
    rows: list[dict[str, Any]] = []
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for optimizer in args.optimizers:
        for seed in range(args.seeds):
            for rule in args.rules:  # "none" first: it trains what the others replay
                row = run_one(
                    optimizer,
                    rule,
                    seed,
                    evaluations=args.evaluations,
                    min_trials=args.min_trials,
                    min_steps=args.min_steps,
                    budget_kind=args.budget,
                    curves=curves,
                )
                rows.append(row)
                print(
                    f"{optimizer} {rule} seed {seed}: {row['epochs']} epochs, "
                    f"{row['stopped']} stopped, regret {row['regret']:.4f}, "
                    f"{row['seconds']:.0f} s",
                    flush=True,
                )
                with args.out.open("w", newline="") as f:
                    writer = csv.DictWriter(f, fieldnames=list(rows[0]))
                    writer.writeheader()
                    writer.writerows(rows)
    print()
    print(summarize(rows))


if __name__ == "__main__":
    main()
