"""Attaching a worker to a stored study: how every worker joins, wherever it runs.

A study's store holds what a worker needs besides the objective: the optimizer's specification,
the worker settings and the budget (which :meth:`Worker.run` reads from the store). ``tw.run``'s
worker processes, its Dask tasks and ``tunewise worker`` all build their :class:`Worker` here, so
that an attached worker behaves like the ones the run started.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from tunewise.optimizers import make as make_optimizer
from tunewise.runtime.context import Evaluate
from tunewise.runtime.worker import Settings, Worker
from tunewise.storage import StudyHandle
from tunewise.storage.locations import open_study
from tunewise.trial import Trial


def attach(
    study: StudyHandle,
    *,
    root: str | os.PathLike[str],
    evaluate: Evaluate | str | None = None,
    name: str | None = None,
    device: str | None = None,
    stop: threading.Event | None = None,
    child_env: Mapping[str, str] | None = None,
    on_finished: Callable[[Trial, StudyHandle], None] | None = None,
) -> Worker:
    """A worker for ``study`` with the stored optimizer and settings; trial folders under ``root``.

    ``evaluate`` is the objective, or its path (``module:function`` or ``script.py:function``);
    by default the import path stored with the study. The other arguments are the
    :class:`Worker`'s.

    Raises:
        ValueError: no ``evaluate`` given and the study's objective is not importable by name.
    """
    settings = Settings.from_stored(study.record.settings)
    objective = evaluate if evaluate is not None else settings.evaluate
    if objective is None:
        raise ValueError(
            "this study's objective is not importable by name; pass --evaluate MODULE:FUNCTION"
        )
    return Worker(
        study=study,
        evaluate=objective,
        optimizer=make_optimizer(study.record.optimizer),
        settings=settings,
        root=root,
        name=name,
        device=device,
        stop=stop,
        child_env=child_env,
        on_finished=on_finished,
    )


@contextmanager
def attached(
    url: str,
    study: str,
    *,
    root: str | os.PathLike[str],
    evaluate: Evaluate | str | None = None,
    name: str | None = None,
    device: str | None = None,
    stop: threading.Event | None = None,
    child_env: Mapping[str, str] | None = None,
) -> Iterator[Worker]:
    """:func:`attach` a worker to study ``study`` of the store at ``url``, which a run opened
    already (so opening rides through transient faults); the store is closed on leaving."""
    handle = open_study(storage=url, study=study, retry_open=True)
    try:
        yield attach(
            handle,
            root=root,
            evaluate=evaluate,
            name=name,
            device=device,
            stop=stop,
            child_env=child_env,
        )
    finally:
        handle.store.close()
