"""``tw.run``: create or resume a study and work on it with one or more workers."""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunewise.optimizers import Optimizer
from tunewise.optimizers import make as make_optimizer
from tunewise.optimizers.auto import choose as choose_optimizer
from tunewise.runtime.budget import Budget
from tunewise.runtime.context import Evaluate
from tunewise.runtime.devices import check_device_ids, check_devices
from tunewise.runtime.early_stopping import EarlyStopping, early_stopping_from
from tunewise.runtime.failures import DEFAULT_MAX_CONSECUTIVE_FAILURES, raise_if_too_many_failures
from tunewise.runtime.isolated import check_not_preparing, parse_memory
from tunewise.runtime.liveness import recover_gone_workers
from tunewise.runtime.loading import check_picklable, import_path, script_path
from tunewise.runtime.local import WorkerJob, check_not_bootstrapping, run_processes
from tunewise.runtime.paths import default_study_name
from tunewise.runtime.progress import make_reporter
from tunewise.runtime.result import Result
from tunewise.runtime.signals import stop_signals_raise
from tunewise.runtime.worker import Settings, Worker
from tunewise.space import Space
from tunewise.storage import StudyNotFoundError, TrialStore
from tunewise.storage.locations import open_store

if TYPE_CHECKING:
    from distributed import Client

EXECUTORS = ("local", "dask")


def run(
    evaluate: Evaluate,
    space: Space,
    *,
    root: str | os.PathLike[str],
    optimizer: str | Mapping[str, Any] | Optimizer = "auto",
    budget: Budget | int | None = None,
    workers: int = 1,
    storage: str | None = None,
    study: str | None = None,
    seed: int | None = None,
    on_error: str = "record",
    max_retries: int = 2,
    heartbeat_interval: float = 10.0,
    stale_after: float = 60.0,
    trial_timeout: float | None = None,
    trial_memory_limit: int | str | None = None,
    devices: Sequence[int] | None = None,
    executor: str = "local",
    dask_address: str | None = None,
    client: Client | None = None,
    progress: bool | None = None,
    max_consecutive_failures: int | None = DEFAULT_MAX_CONSECUTIVE_FAILURES,
    tensorboard: bool = False,
    early_stopping: str | EarlyStopping | None = None,
    transfer_from: Any = None,
    transfer: str = "best_first+model",
) -> Result:
    """Minimize ``evaluate(config, trial)`` over ``space`` until ``budget`` is spent.

    Results go to ``<root>/tunewise.db`` (or the ``storage`` URL, e.g. PostgreSQL) under the study
    name ``study`` (default: the root folder's name); trial folders for checkpoints go under
    ``root``. Running again on the same root resumes the study up to the given budget.
    ``optimizer="auto"`` picks PriorBand for a space with priors and a fidelity, Hyperband for a
    fidelity alone, piBO for priors alone, Bayesian optimization otherwise.
    ``workers=1`` evaluates in this process (lambdas and closures work); ``workers=N`` starts N
    processes. A failing trial is recorded and the run goes on (``on_error="record"``) or, after
    recording it, raises :class:`~tunewise.runtime.worker.TrialFailed` (``"raise"``).

    ``trial_timeout`` (seconds) and ``trial_memory_limit`` (bytes, or ``"4GB"``) run each
    evaluation in a child process that is stopped when it passes them; the trial is then recorded
    failed ("timed out after 60 s", "MemoryError: ..."), as is one whose process crashes (a
    segfault). ``devices=[0, 1]`` starts one worker per GPU, each seeing only its own.
    ``executor="dask"`` runs the ``workers`` as tasks on a Dask cluster: ``client``'s, the
    scheduler at ``dask_address``, or else a LocalCluster started for this call; the store and
    ``root`` must then be reachable from every Dask worker (PostgreSQL and a shared filesystem).
    After ``max_consecutive_failures`` failed trials in a row (counted over all workers) the
    workers stop and :class:`~tunewise.runtime.failures.TooManyFailures` is raised, naming the
    first error of the streak; None never stops. ``tensorboard=True`` writes each finished
    trial (its learning curve and results as scalars, its config as hparams) under
    ``<root>/tensorboard/<study>/``: ``tensorboard --logdir <root>/tensorboard``.
    ``early_stopping="median"`` (or ``"model"``, or a :class:`~tunewise.EarlyStopping`) judges
    each point an objective reports: ``trial.report`` returns True (and ``trial.should_stop()``
    says so) once the trial is worse than the others at that step; an objective that then
    returns is recorded with ``info["stopped_early"]`` and counts only the fidelity it used (see
    :mod:`tunewise.runtime.early_stopping`).
    ``transfer_from`` starts a new study from earlier ones after the space changed: a root, a
    store URL (``...#study``), a trials file, a :class:`Result`, or a list of them. Their trials
    are mapped onto ``space`` (shared parameters kept, removed ones dropped, new ones filled,
    illegal values discarded) and ``transfer`` says how they are used: ``"best_first+model"``
    (the default), ``"best_first"``, ``"model"``, ``"only_new"`` or ``"drop_unimportant"``
    (:mod:`tunewise.transfer.layer`). What carried over is printed and shown by
    ``tunewise status``.
    """
    check_not_preparing()
    check_not_bootstrapping()
    if not isinstance(space, Space):
        raise TypeError(f"space must be a tunewise.Space, not {type(space).__name__}")
    if not callable(evaluate):
        raise TypeError(f"evaluate must be callable, not {type(evaluate).__name__}")
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a positive integer, not {workers!r}")
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, not {executor!r}")
    if executor != "dask" and (client is not None or dask_address is not None):
        raise ValueError("client= and dask_address= need executor='dask'")
    if client is not None and dask_address is not None:
        raise ValueError("give client= or dask_address=, not both")
    device_ids: list[str] | None = None
    if devices is not None:
        device_ids = check_device_ids(devices)
        if workers not in (1, len(device_ids)):
            raise ValueError(
                f"devices={list(devices)} starts one worker per GPU; workers={workers} does not "
                "match (leave workers unset)"
            )
        workers = len(device_ids)
        if executor == "local" or (client is None and dask_address is None):
            device_ids = check_devices(devices)  # on a remote cluster, each task checks its host
    if isinstance(budget, int) and not isinstance(budget, bool):
        budget = Budget(evaluations=budget)
    budget = budget or Budget()
    if not isinstance(budget, Budget):
        raise TypeError(f"budget must be a tunewise.Budget or an int, not {type(budget).__name__}")
    if tensorboard:
        from tunewise.integrations.tensorboard import check_available

        check_available()  # the install hint now, not a warning per trial
    chosen = choose_optimizer(space) if optimizer == "auto" else make_optimizer(optimizer)
    chosen.check_space(space)
    settings = Settings(
        max_retries=max_retries,
        heartbeat_interval=heartbeat_interval,
        stale_after=stale_after,
        on_error=on_error,
        evaluate=import_path(evaluate),
        trial_timeout=trial_timeout,
        trial_memory_limit=parse_memory(trial_memory_limit),
        max_consecutive_failures=max_consecutive_failures,
        failures_since=time.time(),
        tensorboard=bool(tensorboard),
        early_stopping=early_stopping_from(early_stopping),
    )
    if settings.trial_timeout is not None:
        check_picklable(evaluate, why="trial_timeout")
    elif settings.trial_memory_limit is not None:
        check_picklable(evaluate, why="trial_memory_limit")
    elif device_ids is not None:
        check_picklable(evaluate, why="devices")
    elif executor == "local" and workers > 1:
        check_picklable(evaluate)
    root_path = Path(root).expanduser().resolve()
    if root_path.exists() and not root_path.is_dir():
        raise ValueError(
            f"root {str(root_path)!r} is a file, not a folder: root is the folder for the "
            "study's results (tunewise.db) and trial folders; name a folder (new or existing), "
            "and give a store file or URL as storage=..."
        )
    root_path.mkdir(parents=True, exist_ok=True)
    name = study or default_study_name(root_path)

    store = open_store(root=root_path, storage=storage)
    try:
        from tunewise.transfer.start import transfer_layer

        chosen, notes = transfer_layer(
            chosen,
            space=space,
            transfer_from=transfer_from,
            method=transfer,
            stored=_stored_optimizer(store, name),
        )
        store.create_or_open_study(
            name,
            space=space,
            optimizer=chosen.spec(),
            seed=seed if seed is not None else secrets.randbelow(2**31),
            budget=budget.to_stored(),
            settings=settings.to_stored(),
            check_seed=seed is not None,
        )
        study_store = store.study(name)
        recover_gone_workers(study_store, max_retries=settings.max_retries)  # kill -9 before
        reporter = make_reporter(progress, fidelity_name=space.fidelity_name)
        reporter.note(notes)
        reporter.start(budget.evaluations)
        try:
            job = WorkerJob(evaluate=evaluate, url=store.url, study=name, root=str(root_path))
            if executor == "dask":
                if settings.isolated or device_ids is not None:
                    # Evaluations run in child processes of the Dask workers, which cannot
                    # unpickle a function of this script's __main__; they load it from the file.
                    job = replace(job, evaluate=script_path(evaluate) or evaluate)
                from tunewise.runtime.dask_executor import run_dask

                run_dask(
                    workers=workers,
                    job=job,
                    study=study_store,
                    reporter=reporter,
                    settings=settings,
                    devices=device_ids,
                    client=client,
                    address=dask_address,
                )
            elif workers == 1 and device_ids is None:
                worker = Worker(
                    study=study_store,
                    evaluate=evaluate,
                    optimizer=chosen,
                    settings=settings,
                    root=root_path,
                    on_finished=lambda _trial, s: reporter.update(s.trials),
                )
                with stop_signals_raise():
                    worker.run()
            else:
                run_processes(
                    workers=workers,
                    job=job,
                    study=study_store,
                    reporter=reporter,
                    settings=settings,
                    devices=device_ids,
                )
        finally:
            study_store.refresh()
            reporter.stop(study_store.trials)
        raise_if_too_many_failures(
            study_store.trials(),
            limit=settings.max_consecutive_failures,
            since=settings.failures_since,
        )
        return Result(study_store, root_path)
    except BaseException:
        store.close()
        raise


def _stored_optimizer(store: TrialStore, name: str) -> Mapping[str, Any] | None:
    """The stored optimizer spec of study ``name``, or None when the study is new."""
    try:
        return store.open_study(name).optimizer
    except StudyNotFoundError:
        return None
