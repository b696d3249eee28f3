"""``tunewise worker``: attach one more worker to a stored study (e.g. in a SLURM array job)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tunewise.cli.common import Commands, add_location, locate
from tunewise.runtime.attach import attach
from tunewise.runtime.devices import check_devices, device_environment
from tunewise.runtime.liveness import recover_gone_workers
from tunewise.runtime.progress import make_reporter
from tunewise.runtime.signals import stop_signals_raise
from tunewise.runtime.worker import Settings
from tunewise.storage.locations import open_study


def add_worker_parser(commands: Commands) -> None:
    worker = commands.add_parser("worker", help="attach one more worker to an existing study")
    add_location(worker)
    worker.add_argument(
        "--evaluate",
        metavar="MODULE:FUNCTION",
        help="the objective (default: the one the study was started with, if importable)",
    )
    worker.add_argument(
        "--root", type=Path, help="folder for trial directories (default: ROOT, or the cwd)"
    )
    worker.add_argument(
        "--device",
        type=int,
        metavar="N",
        help="work on GPU N only (sets CUDA_VISIBLE_DEVICES; recorded with each trial)",
    )
    worker.set_defaults(handler=worker_command)


def worker_command(args: argparse.Namespace) -> int:
    device = None
    if args.device is not None:
        (device,) = check_devices([args.device])
        # This process is the worker: pin it to the GPU before the objective can start CUDA.
        os.environ.update(device_environment(device))
    root, storage = locate(args.location)
    study = open_study(root=root, storage=storage, study=args.study)
    try:
        settings = Settings.from_stored(study.record.settings)
        if settings.tensorboard and args.root is None and root is None:
            raise ValueError(
                "this study writes TensorBoard files under ROOT/tensorboard/ (it was started "
                "with tensorboard=True): pass --root ROOT"
            )
        recover_gone_workers(study, max_retries=settings.max_retries)
        reporter = make_reporter(None, fidelity_name=study.space.fidelity_name)
        worker = attach(
            study,
            root=args.root or root or Path.cwd(),
            evaluate=args.evaluate,
            device=device,
            on_finished=lambda _trial, s: reporter.update(s.trials),
        )
        reporter.start(study.budget().get("evaluations"))
        try:
            with stop_signals_raise():
                evaluated = worker.run()
        finally:
            reporter.stop(study.trials)
    finally:
        study.store.close()
    print(f"tunewise: worker {worker.name} evaluated {evaluated} trial(s)", file=sys.stderr)
    if worker.too_many_failures is not None:
        print(f"tunewise: error: {worker.too_many_failures}", file=sys.stderr)
        return 1
    return 0
