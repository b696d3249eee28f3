"""Scale out: a Dask cluster of workers sharing one store, with a per-trial time limit.

Runs on one machine with a Dask LocalCluster; point ``--dask-address`` at a running scheduler
(``dask scheduler`` plus ``dask worker tcp://...`` on other machines, or a dask-jobqueue
SLURMCluster) and ``--storage`` at PostgreSQL to use many machines. Every fourth configuration
"hangs" (sleeps far past the limit) to show ``trial_timeout`` recording it as failed while the
other workers go on::

    python examples/cluster.py                         # 4 Dask workers, SQLite in ./runs/cluster
    python examples/cluster.py --workers 8 --trials 40 \\
        --storage postgresql://postgres@127.0.0.1:5432/test --dask-address tcp://10.0.0.5:8786
"""

from __future__ import annotations

import argparse
import math
import time
from collections import Counter

import tunewise as tw

SPACE = tw.Space(
    x=tw.Float(-5.0, 10.0),
    y=tw.Float(0.0, 15.0),
)


def evaluate(config: dict, trial: tw.TrialContext) -> float:
    """Branin, with a short sleep standing in for training; trial 3, 7, 11, ... hang."""
    if trial.number % 4 == 3:
        time.sleep(3600)  # a stuck data loader, say: trial_timeout stops it
    time.sleep(0.2)
    x, y = config["x"], config["y"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (y - b * x**2 + c * x - 6) ** 2 + 10 * (1 - t) * math.cos(x) + 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--storage", default=None, help="database URL (default: SQLite in root)")
    parser.add_argument("--dask-address", default=None, help="scheduler (default: LocalCluster)")
    parser.add_argument("--root", default="runs/cluster")
    parser.add_argument("--trial-timeout", type=float, default=5.0, help="seconds per trial")
    args = parser.parse_args()
    result = tw.run(
        evaluate,
        SPACE,
        root=args.root,
        storage=args.storage,
        study="cluster-example",
        optimizer="random_search",
        budget=args.trials,
        workers=args.workers,
        executor="dask",
        dask_address=args.dask_address,
        trial_timeout=args.trial_timeout,
        progress=False,
    )
    trials = result.trials
    print(f"statuses: {dict(Counter(trials['status']))}")
    print(f"trials per worker: {sorted(Counter(trials['worker']).values(), reverse=True)}")
    print(f"best objective {result.best.objective:.4f} (Branin's minimum is 0.3979)")


if __name__ == "__main__":
    main()
