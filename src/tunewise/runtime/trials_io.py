"""A study's trials to a file and back: JSON lines or CSV, and importing them into a store.

Old results from elsewhere (another machine, another store, a spreadsheet) seed a transfer this
way: ``tunewise export`` writes a study's trials, :func:`read_trials` reads them back validated
against a space (``transfer_from="old.jsonl"`` reads them so), and :func:`import_trials` records
them in a study of a store, once: importing the same file again skips what is there.

The layouts, and reading and writing them, are :mod:`tunewise.transfer.files`; this module
is where they meet a store.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunewise.runtime.paths import default_study_name
from tunewise.space import Space
from tunewise.storage import (
    DB_FILENAME,
    Limits,
    StudyHandle,
    StudyMismatchError,
    StudyReader,
    TrialStore,
    worker_name,
)
from tunewise.storage.locations import open_store
from tunewise.transfer.files import (
    COLUMNS,
    FORMAT,
    VERSION,
    file_format,
    read_file,
    read_header,
    read_trials,
    write_csv,
    write_jsonl,
)
from tunewise.transfer.records import TrialFileError
from tunewise.trial import Suggestion, Trial, config_key, fidelity_units, used_fidelity

if TYPE_CHECKING:
    from tunewise.optimizers.base import Optimizer
    from tunewise.runtime.ask_tell import Study
    from tunewise.runtime.result import Result

__all__ = [
    "COLUMNS",
    "FORMAT",
    "VERSION",
    "ImportReport",
    "TrialFileError",
    "export_trials",
    "import_trials",
    "read_trials",
]

IMPORTED = "imported_from"
"""The ``info`` key of an imported trial: ``{"file", "study", "number"}`` of where it came from."""


# -- export --------------------------------------------------------------------------------------


def export_trials(
    study: StudyReader | Result | Study,
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
) -> int:
    """Write every trial of ``study`` to ``path``; returns how many.

    ``format`` is ``"jsonl"`` or ``"csv"``; None takes it from the suffix (``.jsonl``, ``.csv``).
    The file is written whole or not at all (a temporary file renamed into place).
    """
    target = Path(path)
    kind = file_format(target, format)
    name, space, trials = _contents(study)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w",
        dir=target.parent,
        prefix=f".{target.name}.",
        delete=False,
        encoding="utf-8",
        newline="",
    ) as out:
        try:
            if kind == "jsonl":
                write_jsonl(out, name=name, space=space, trials=trials)
            else:
                write_csv(out, space=space, trials=trials)
        except BaseException:
            out.close()
            os.unlink(out.name)
            raise
    os.replace(out.name, target)
    return len(trials)


def _contents(study: StudyReader | Result | Study) -> tuple[str, Space, list[Trial]]:
    """The name, space and trials (as stored now) of a study handle, a Result or a tw.Study."""
    from tunewise.runtime.ask_tell import Study
    from tunewise.runtime.result import Result

    if isinstance(study, StudyReader):
        study.refresh()
        return study.name, study.space, study.trials()
    if isinstance(study, Result):
        study.refresh()
        return study.study, study.space, list(study.trial_list)
    if isinstance(study, Study):
        return study.name, study.space, study.trials()
    raise TypeError(
        "export_trials: expected a study handle, a tunewise Result or a tunewise Study, got "
        f"{type(study).__name__}"
    )


# -- import into a store -------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportReport:
    """What :func:`import_trials` did: into which study, and how many trials it recorded,
    found there already (imported before) and left out because they had not finished."""

    study: str
    imported: int
    skipped_present: int
    skipped_unfinished: int
    created: bool


def import_trials(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str] | None = None,
    storage: str | None = None,
    study: str | None = None,
    space: Space | None = None,
    source: str | None = None,
    optimizer: str | Mapping[str, Any] | Optimizer = "auto",
    seed: int | None = None,
    format: str | None = None,
) -> ImportReport:
    """Record the finished trials of a trials file in a study of a store, once.

    The store is ``storage`` (a URL or SQLite path), else ``<root>/tunewise.db``; the study is
    ``study``, else the root's (as ``tw.run`` names it), else the file's study name (a CSV: the
    file's stem); ``format`` as in :func:`read_trials`. A study that does not exist is created
    with ``space`` (else the file's) and the optimizer ``optimizer`` (``"auto"``: what
    ``tw.run`` would choose for the space), so ``tw.run`` with the same settings continues it;
    ``seed`` as in ``tw.run``.

    Every trial is validated against the study's space before anything is written, so a bad
    file imports nothing. Succeeded and failed trials are recorded (config, fidelity, objective,
    cost, learning curve, info, error; each a new number of the study, ``previous_trial``
    renumbered), with ``info["imported_from"] = {"file", "study", "number"}``; pending, running
    and crashed ones are skipped. Each keeps the slot ``imported:<source>:<number>``
    (``source``: the file's study name unless given), so importing the file again skips what is
    there.

    Raises:
        TrialFileError: the file is not valid in the study's space (see :func:`read_trials`).
        StudyMismatchError: ``space`` differs from the existing study's, or a trial of the same
            source and number was imported before with another configuration or result (another
            study of the same name: give ``source``).
    """
    file_study, file_space = read_header(path, format=format)
    source = source or file_study or Path(path).stem
    root_path = Path(root).expanduser().resolve() if root is not None else None
    name = study or (default_study_name(root_path) if root_path is not None else source)
    if root_path is not None and storage is None and not (root_path / DB_FILENAME).exists():
        # no study there yet: check the file before a folder or store is made for it
        read_file(path, space=space if space is not None else file_space, format=format)
    if root_path is not None and storage is None:
        root_path.mkdir(parents=True, exist_ok=True)
    with open_store(root=root_path, storage=storage) as store:
        existing = store.open_study(name).space if name in store.study_names() else None
        if existing is not None and space is not None and space != existing:
            raise StudyMismatchError(
                f"study {name!r} exists with another space than the one given: "
                + "; ".join(existing.diff(space))
            )
        target = existing if existing is not None else space if space is not None else file_space
        read = read_file(path, space=target, format=format)  # all checked before any write
        if existing is None:
            _create(store, name, space=read.space, optimizer=optimizer, seed=seed)
        handle = store.study(name)
        return _record(
            handle, read.trials, path=Path(path), source=source, created=existing is None
        )


def _create(
    store: TrialStore,
    name: str,
    *,
    space: Space,
    optimizer: str | Mapping[str, Any] | Optimizer,
    seed: int | None,
) -> None:
    """Create study ``name`` as ``tw.run`` would for ``optimizer`` (default settings, no
    budget), so that a run of it later opens it unchanged."""
    from tunewise.optimizers import make
    from tunewise.optimizers.auto import choose
    from tunewise.runtime.budget import Budget
    from tunewise.runtime.worker import Settings

    chosen = choose(space) if optimizer == "auto" else make(optimizer)
    chosen.check_space(space)
    store.create_or_open_study(
        name,
        space=space,
        optimizer=chosen.spec(),
        seed=seed if seed is not None else secrets.randbelow(2**31),
        budget=Budget().to_stored(),
        settings=Settings().to_stored(),
        check_seed=seed is not None,
    )


def _record(
    handle: StudyHandle, trials: list[Trial], *, path: Path, source: str, created: bool
) -> ImportReport:
    """Claim and finish each finished trial not imported before (see :func:`_plan`)."""
    todo, numbers, unfinished = _plan(handle, trials, path=path, source=source)
    worker = worker_name()
    fidelities = {t.number: t.fidelity for t in trials}
    imported = 0
    for trial in todo:
        previous = numbers.get(trial.previous_trial) if trial.previous_trial is not None else None
        claim = handle.claim(
            Suggestion(
                config=trial.config,
                slot=_slot(source, trial.number),
                fidelity=trial.fidelity,
                previous_trial=previous,
            ),
            worker=worker,
            limits=Limits(),
        )
        if claim.trial is None:  # another import took the slot meanwhile
            continue
        before = None
        if previous is not None and trial.previous_trial is not None:
            before = fidelities.get(trial.previous_trial)
        stopped = used_fidelity(handle.space, trial)
        recorded = handle.finish(
            claim.trial.number,
            worker=worker,
            status=trial.status,
            objective=trial.objective,
            cost=trial.cost,
            learning_curve=trial.learning_curve,
            info={
                **trial.info,
                IMPORTED: {"file": str(path), "study": source, "number": trial.number},
            },
            error=trial.error,
            fidelity_used=None
            if stopped == trial.fidelity
            else fidelity_units(handle.space, stopped, before),
        )
        numbers[trial.number] = recorded.number
        imported += 1
    return ImportReport(
        study=handle.name,
        imported=imported,
        skipped_present=len(trials) - unfinished - imported,
        skipped_unfinished=unfinished,
        created=created,
    )


def _plan(
    handle: StudyHandle, trials: list[Trial], *, path: Path, source: str
) -> tuple[list[Trial], dict[int, int], int]:
    """The finished trials not imported yet, the file -> study numbers of those imported
    before (each checked to be the same trial), and how many trials have not finished."""
    handle.refresh()
    present = {t.slot: t for t in handle.trials() if t.slot is not None}
    todo: list[Trial] = []
    numbers: dict[int, int] = {}
    unfinished = 0
    for trial in trials:
        if not trial.finished:
            unfinished += 1
            continue
        there = present.get(_slot(source, trial.number))
        if there is None:
            todo.append(trial)
            continue
        if _result(there) != _result(trial):
            raise StudyMismatchError(
                f"{path}: trial {trial.number} of {source!r} was imported into study "
                f"{handle.name!r} before (as trial {there.number}) with another configuration "
                "or result; if this file is another study of the same name, import it with "
                "source=NAME (tunewise import --source NAME)"
            )
        numbers[trial.number] = there.number
    return todo, numbers, unfinished


def _slot(source: str, number: int) -> str:
    return f"imported:{source}:{number}"


def _result(trial: Trial) -> tuple[Any, ...]:
    """What must agree between a trial and its earlier import: config, fidelity and result."""
    return (config_key(trial.config), trial.fidelity, trial.status, trial.objective)
