"""``tunewise run`` (an objective over a space in YAML) and ``tunewise demo``: both ``tw.run``."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

import tunewise as tw
from tunewise.cli.common import Commands, print_best, tunewise_command
from tunewise.runtime.budget import Budget
from tunewise.runtime.early_stopping import RULES, EarlyStopping
from tunewise.runtime.failures import DEFAULT_MAX_CONSECUTIVE_FAILURES
from tunewise.runtime.loading import load_callable
from tunewise.transfer.layer import METHODS as TRANSFER_METHODS


def add_run_parser(commands: Commands) -> None:
    run = commands.add_parser("run", help="tune MODULE:FUNCTION over a space given in YAML")
    run.add_argument("function", metavar="MODULE:FUNCTION", help="evaluate(config, trial)")
    run.add_argument("--space", required=True, type=Path, help="the search space (YAML)")
    run.add_argument("--root", required=True, type=Path, help="folder for results and trials")
    run.add_argument(
        "--transfer-from",
        action="append",
        default=[],
        metavar="OLD",
        help="start from an earlier study after the space changed: its root, a store URL "
        "(URL#STUDY picks one) or a trials file; repeatable",
    )
    run.add_argument(
        "--transfer",
        choices=list(TRANSFER_METHODS),
        default="best_first+model",
        help="how the old trials are used (default best_first+model)",
    )
    _add_run_options(run)
    run.set_defaults(handler=run_command)


def add_demo_parser(commands: Commands) -> None:
    demo = commands.add_parser("demo", help="tune a PyTorch MLP on the digits data (~45 s)")
    demo.add_argument("--root", type=Path, default=Path("tunewise-demo"))
    demo.add_argument("--workers", type=int, default=2)
    demo.add_argument(
        "--budget",
        default="30x",
        help="Nx = N full-fidelity trainings' worth (default 30x), or N evaluations",
    )
    demo.add_argument("--optimizer", default="auto", help="default: auto (PriorBand here)")
    demo.add_argument("--seed", type=int, default=0)
    demo.set_defaults(handler=demo_command)


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
    parser.add_argument(
        "--max-consecutive-failures",
        type=_failure_limit,
        default=DEFAULT_MAX_CONSECUTIVE_FAILURES,
        metavar="N",
        help="stop after N failed trials in a row, naming the first error "
        f"(default {DEFAULT_MAX_CONSECUTIVE_FAILURES}; 0 never stops)",
    )
    parser.add_argument(
        "--tensorboard",
        action="store_true",
        help="write each finished trial for TensorBoard under ROOT/tensorboard/STUDY/",
    )
    parser.add_argument(
        "--early-stopping",
        choices=list(RULES),
        metavar="RULE",
        help="stop running trials whose reported curve is behind: median or model "
        "(the objective asks trial.should_stop() or reads trial.report's answer)",
    )
    parser.add_argument(
        "--early-stopping-option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an early-stopping parameter: min_steps, min_trials, p (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress display")


def parse_budget(items: Sequence[str]) -> Budget:
    """``["100"]``, ``["20x"]``, ``["cost=3600", "seconds=60"]`` -> a :class:`Budget`."""
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


def _failure_limit(text: str) -> int | None:
    """``--max-consecutive-failures``: a positive count, or 0 (or ``none``) for no limit."""
    if text.strip().lower() in ("0", "none"):
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, not {value}")
    return value


def parse_devices(text: str | None) -> list[int] | None:
    """``"0,1,3"`` -> ``[0, 1, 3]``."""
    if text is None:
        return None
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"--devices {text!r}: expected GPU indices like 0,1,2,3") from None


def parse_options(items: Sequence[str]) -> dict[str, Any]:
    """``["use_priors=true"]`` -> ``{"use_priors": True}`` (values read as YAML)."""
    options = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--option {item!r}: expected KEY=VALUE")
        options[key] = yaml.safe_load(text)
    return options


def parse_early_stopping(rule: str | None, items: Sequence[str]) -> EarlyStopping | None:
    """``--early-stopping median --early-stopping-option min_trials=3`` -> an EarlyStopping."""
    options: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--early-stopping-option {item!r}: expected KEY=VALUE")
        if key not in ("min_steps", "min_trials", "p"):
            raise ValueError(
                f"--early-stopping-option {item!r}: unknown key {key!r}; use min_steps, "
                "min_trials or p"
            )
        options[key] = yaml.safe_load(text)
    if rule is None:
        if options:
            raise ValueError("--early-stopping-option needs --early-stopping RULE")
        return None
    return EarlyStopping(rule=rule, **options)


def run_command(args: argparse.Namespace) -> int:
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
        max_consecutive_failures=args.max_consecutive_failures,
        tensorboard=args.tensorboard,
        early_stopping=parse_early_stopping(args.early_stopping, args.early_stopping_option),
        transfer_from=args.transfer_from or None,
        transfer=args.transfer,
    )
    print_best(result)
    if result.counts["succeeded"] == 0:
        print("tunewise: no trial succeeded", file=sys.stderr)
        return 1
    return 0


def _optimizer(name: str, options: dict[str, Any]) -> str | dict[str, Any]:
    if name == "auto":
        if options:
            raise ValueError("--option needs an explicit --optimizer (auto chooses its own)")
        return name
    return {"name": name, **options}


def demo_command(args: argparse.Namespace) -> int:
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
    best = print_best(result)
    if best is not None:
        accuracy = best.info.get("val_accuracy")
        if accuracy is not None:
            print(f"validation accuracy of the best configuration: {accuracy:.4f}")
    print(f"see all trials with: {tunewise_command()} status {shlex.quote(str(args.root))}")
    return 0
