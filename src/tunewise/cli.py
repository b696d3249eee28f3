"""The ``tunewise`` command: a thin layer over ``tw.run``, the store and the worker loop."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    from tunewise.runtime.signals import Interrupted
    from tunewise.runtime.worker import TrialFailed

    try:
        return int(args.handler(args) or 0)
    except (KeyboardInterrupt, Interrupted):
        print(
            "\ntunewise: interrupted; running trials were re-queued. "
            "Run the same command again to resume.",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except TrialFailed as exc:
        print(f"tunewise: {exc}", file=sys.stderr)
        return 1
    except (ValueError, TypeError, RuntimeError, OSError) as exc:
        print(f"tunewise: error: {exc}", file=sys.stderr)
        return EXIT_ERROR


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tunewise",
        description="Tune deep-learning pipelines with expert priors, fidelities and many workers.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="tune MODULE:FUNCTION over a space given in YAML")
    run.add_argument("function", metavar="MODULE:FUNCTION", help="evaluate(config, trial)")
    run.add_argument("--space", required=True, type=Path, help="the search space (YAML)")
    run.add_argument("--root", required=True, type=Path, help="folder for results and trials")
    _add_run_options(run)
    run.set_defaults(handler=_run)

    status = commands.add_parser("status", help="counts, best trial and failures of a study")
    status.add_argument("location", metavar="ROOT_OR_URL", help="a root folder or storage URL")
    status.add_argument("--study", help="study name (default: the only one, or the root's)")
    status.add_argument("--failures", type=int, default=10, help="failures to list (default 10)")
    status.set_defaults(handler=_status)

    worker = commands.add_parser("worker", help="attach one more worker to an existing study")
    worker.add_argument("location", metavar="ROOT_OR_URL", help="a root folder or storage URL")
    worker.add_argument("--study", help="study name (default: the only one, or the root's)")
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
    worker.set_defaults(handler=_worker)

    demo = commands.add_parser("demo", help="tune a PyTorch MLP on the digits data (~1 minute)")
    demo.add_argument("--root", type=Path, default=Path("tunewise-demo"))
    demo.add_argument("--workers", type=int, default=2)
    demo.add_argument(
        "--budget",
        default="30x",
        help="Nx = N full-fidelity trainings' worth (default 30x), or N evaluations",
    )
    demo.add_argument("--optimizer", default="auto", help="default: auto (PriorBand here)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=_demo)

    migrate = commands.add_parser("migrate", help="upgrade a store written by an older tunewise")
    migrate.add_argument(
        "location", metavar="ROOT_OR_URL", help="a root folder, SQLite file or storage URL"
    )
    migrate.set_defaults(handler=_migrate)

    from tunewise.analysis.command import add_analyze_parser
    from tunewise.suite.command import add_bench_parser

    add_bench_parser(commands)
    add_analyze_parser(commands)
    return parser


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--optimizer", default="auto", help="optimizer name (default: auto, chosen from the space)"
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an optimizer parameter, e.g. --option use_priors=true (repeatable)",
    )
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--devices",
        metavar="N,N,...",
        help="one worker per GPU, e.g. 0,1,2,3 (each sees only its own GPU)",
    )
    parser.add_argument(
        "--executor",
        choices=["local", "dask"],
        default=None,
        help="local processes (default) or Dask tasks (a local cluster unless --dask-address)",
    )
    parser.add_argument(
        "--dask-address",
        metavar="tcp://HOST:PORT",
        help="run the workers on the Dask scheduler there (implies --executor dask)",
    )
    parser.add_argument(
        "--trial-timeout",
        type=float,
        metavar="SECONDS",
        help="stop an evaluation after SECONDS and record it failed (each runs in a child process)",
    )
    parser.add_argument(
        "--trial-memory-limit",
        metavar="SIZE",
        help="stop an evaluation whose memory grows past SIZE (e.g. 4GB) and record it failed",
    )
    parser.add_argument(
        "--budget",
        action="append",
        default=[],
        metavar="N|KIND=VALUE",
        help="N evaluations, Nx full-fidelity evaluations' worth, or evaluations=N, cost=X, "
        "seconds=S, fidelity_units=U (repeatable)",
    )
    parser.add_argument("--storage", help="storage URL (default: ROOT/tunewise.db)")
    parser.add_argument("--study", help="study name (default: the root folder's name)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--on-error", choices=["record", "raise"], default="record")
    parser.add_argument("--max-retries", type=int, default=2)
    parser.add_argument("--quiet", action="store_true", help="no progress display")


def parse_budget(items: Sequence[str]) -> Any:
    from tunewise.runtime.budget import Budget

    values: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep:
            key, text = (
                ("fidelity_units", item[:-1]) if item.endswith("x") else ("evaluations", item)
            )
        if key not in ("evaluations", "cost", "seconds", "fidelity_units"):
            raise ValueError(
                f"--budget: unknown kind {key!r}; use evaluations, cost, seconds or fidelity_units"
            )
        try:
            values[key] = int(text) if key == "evaluations" else float(text)
        except ValueError:
            raise ValueError(f"--budget {item!r}: {text!r} is not a number") from None
    return Budget(**values)


def parse_devices(text: str | None) -> list[int] | None:
    """``"0,1,3"`` -> ``[0, 1, 3]``."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--devices {text!r}: expected GPU indices like 0,1,2,3") from None


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    options = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {item!r}: expected KEY=VALUE")
        options[key] = yaml.safe_load(text)
    return options


def _run(args: argparse.Namespace) -> int:
    import tunewise as tw
    from tunewise.runtime.local import load_callable

    if not args.space.is_file():
        raise ValueError(f"--space: no such file {str(args.space)!r}")
    space = tw.Space.from_yaml(args.space)
    evaluate = load_callable(args.function)
    result = tw.run(
        evaluate,
        space,
        root=args.root,
        optimizer=_optimizer(args.optimizer, parse_options(args.option)),
        budget=parse_budget(args.budget),
        workers=args.workers,
        storage=args.storage,
        study=args.study,
        seed=args.seed,
        on_error=args.on_error,
        max_retries=args.max_retries,
        trial_timeout=args.trial_timeout,
        trial_memory_limit=args.trial_memory_limit,
        devices=parse_devices(args.devices),
        executor=args.executor or ("dask" if args.dask_address else "local"),
        dask_address=args.dask_address,
        progress=False if args.quiet else None,
    )
    _print_best(result)
    return 0


def _optimizer(name: str, options: dict[str, Any]) -> str | dict[str, Any]:
    if name == "auto":
        if options:
            raise ValueError("--option needs an explicit --optimizer (auto chooses its own)")
        return name
    return {"name": name, **options}


def _open_result(location: str, study: str | None) -> Any:
    from tunewise.runtime.result import load

    if "://" in location:
        return load(storage=location, study=study)
    root = Path(location)
    if not (root / "tunewise.db").is_file():
        raise ValueError(f"no tunewise study at {location!r} (no tunewise.db there)")
    return load(root, study=study)


def _status(args: argparse.Namespace) -> int:
    from tunewise.cli_status import print_status

    print_status(_open_result(args.location, args.study), failures=args.failures)
    return 0


def _worker(args: argparse.Namespace) -> int:
    from tunewise.optimizers import make as make_optimizer
    from tunewise.runtime.devices import check_devices, device_environment
    from tunewise.runtime.local import load_callable
    from tunewise.runtime.progress import make_reporter
    from tunewise.runtime.signals import stop_signals_raise
    from tunewise.runtime.worker import Settings, Worker

    device = None
    if args.device is not None:
        (device,) = check_devices([args.device])
        # This process is the worker: pin it to the GPU before the objective can start CUDA.
        os.environ.update(device_environment(device))
    result = _open_result(args.location, args.study)
    study = result._study
    settings = Settings.from_stored(study.record.settings)
    target = args.evaluate or settings.evaluate
    if not target:
        raise ValueError(
            "this study's objective is not importable by name; pass --evaluate MODULE:FUNCTION"
        )
    root = args.root or (result.root if "://" not in args.location else Path.cwd())
    reporter = make_reporter(None)
    reporter.start(study.budget().get("evaluations"))
    worker = Worker(
        study=study,
        evaluate=load_callable(target),
        optimizer=make_optimizer(study.record.optimizer),
        settings=settings,
        root=root,
        device=device,
        on_finished=lambda _t, s: reporter.update(s.trials),
    )
    try:
        with stop_signals_raise():
            evaluated = worker.run()
    finally:
        reporter.stop(study.trials)
    print(f"tunewise: worker {worker.name} evaluated {evaluated} trial(s)", file=sys.stderr)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from tunewise.storage import SCHEMA_VERSION, migrate
    from tunewise.storage.errors import mask_password

    done = migrate(args.location)
    where = mask_password(args.location)
    if not done:
        print(f"tunewise: {where} is already at schema version {SCHEMA_VERSION}; nothing to do")
    for line in done:
        print(f"tunewise: {line}")
    if done:
        print(f"tunewise: {where} is now at schema version {SCHEMA_VERSION}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    import tunewise as tw
    from tunewise.demo import mlp

    budget = parse_budget([args.budget])
    space = mlp.demo_space()
    print(
        f"tunewise demo: tuning a PyTorch MLP on scikit-learn's digits ({len(space.searchable)} "
        f"hyperparameters, 1-27 epochs) with {args.workers} workers, budget {args.budget}, "
        f"optimizer {args.optimizer}; results in {args.root}/",
        file=sys.stderr,
    )
    result = tw.run(
        mlp.evaluate,
        space,
        root=args.root,
        optimizer=args.optimizer,
        budget=budget,
        workers=args.workers,
        seed=args.seed,
    )
    best = _print_best(result)
    if best is not None:
        accuracy = best.info.get("val_accuracy")
        if accuracy is not None:
            print(f"validation accuracy of the best configuration: {accuracy:.4f}")
    print(f"see all trials with: tunewise status {args.root}")
    return 0


def _print_best(result: Any) -> Any:
    best = result.best
    counts = result.counts()
    print(
        f"{counts['succeeded']} succeeded, {counts['failed']} failed, "
        f"{counts['crashed']} crashed, {counts['pending']} pending"
    )
    if best is None:
        print("no successful trial yet")
        return None
    fidelity = f" at fidelity {best.fidelity}" if best.fidelity is not None else ""
    print(f"best: trial {best.number}, objective {best.objective:.6g}{fidelity}")
    for key, value in best.config.items():
        print(f"  {key} = {value!r}")
    return best


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
