"""Worker utilization of an asynchronous optimizer on the demo (real PyTorch training).

Runs the demo MLP with N worker processes and reports how busy the workers were: the summed
evaluation time divided by N x the span from the first start to the last finish (1.0 = no worker
ever idle), the largest gap a worker waited between two of its trials, and whether any
(configuration, fidelity) pair was evaluated twice.

    python benchmarks/utilization.py --optimizer asha --workers 4 --budget 20
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import tempfile
import time
from collections import defaultdict

import tunewise as tw
from tunewise.demo import mlp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--optimizer", default="asha")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--budget", type=float, default=20.0, help="full-fidelity evaluations")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    root = tempfile.mkdtemp(prefix="tunewise-utilization-")
    try:
        started = time.perf_counter()
        result = tw.run(
            mlp.evaluate,
            mlp.demo_space(),
            root=root,
            optimizer=args.optimizer,
            budget=tw.Budget(fidelity_units=args.budget),
            workers=args.workers,
            seed=args.seed,
            progress=False,
        )
        wall = time.perf_counter() - started
        trials = [t for t in result.trial_list if t.started_at and t.finished_at]
        span = max(t.finished_at for t in trials) - min(t.started_at for t in trials)
        busy = sum(t.finished_at - t.started_at for t in trials)
        per_worker = defaultdict(list)
        for t in trials:
            per_worker[t.worker].append(t)
        gaps = []
        for runs in per_worker.values():
            runs.sort(key=lambda t: t.started_at)
            gaps += [b.started_at - a.finished_at for a, b in itertools.pairwise(runs)]
        pairs = [(json.dumps(dict(t.config), sort_keys=True), t.fidelity) for t in trials]
        report = {
            "optimizer": args.optimizer,
            "workers": args.workers,
            "budget_units": args.budget,
            "trials": len(trials),
            "promotions": sum(t.previous_trial is not None for t in trials),
            "utilization": round(busy / (args.workers * span), 4),
            "median_gap_s": round(sorted(gaps)[len(gaps) // 2], 4) if gaps else None,
            "max_gap_s": round(max(gaps), 4) if gaps else None,
            "duplicate_config_fidelity": len(pairs) - len(set(pairs)),
            "span_s": round(span, 2),
            "wall_s": round(wall, 2),
            "best_val_error": result.best.objective,
        }
        print(json.dumps(report, indent=2))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
