"""A study's trials to a file and back: JSON lines or CSV, and importing them into a store.

Old results from elsewhere (another machine, another store, a spreadsheet) seed a transfer this
way: ``tunewise export`` writes a study's trials, :func:`read_trials` reads them back validated
against a space (``transfer_from="old.jsonl"`` reads them so), and :func:`import_trials` records
them in a study of a store, once: importing the same file again skips what is there.

The two layouts (documented in ``docs/trials-format.md``):

- **JSON lines** (``.jsonl``): a header object ``{"format": "tunewise-trials", "version": 1,
  "study": ..., "space": <Space.to_dict()>, "exported_at": ..., "trials": N}``, then one record
  per trial (:data:`~tunewise.transfer.records.RECORD_FIELDS`). Lossless; carries its space.
- **CSV** (``.csv``): one row per trial, columns :data:`COLUMNS`, then ``config.<name>`` per
  parameter (an empty cell: not set), then ``learning_curve`` and ``info`` as JSON. No space:
  reading one needs the space.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TextIO

from tunewise.runtime.paths import default_study_name
from tunewise.runtime.stores import open_store
from tunewise.space import Space, SpaceError
from tunewise.storage import (
    DB_FILENAME,
    Limits,
    StudyHandle,
    StudyMismatchError,
    StudyReader,
    TrialStore,
    worker_name,
)
from tunewise.storage.rows import dumps
from tunewise.transfer.records import (
    RECORD_FIELDS,
    TrialFileError,
    cell,
    json_cell,
    optional_float,
    optional_int,
    parameter_value,
    trial_from_fields,
    trial_record,
)
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

FORMAT = "tunewise-trials"
"""The ``format`` of a JSON-lines header."""
VERSION = 1
"""The version of the layout this tunewise writes and reads."""
COLUMNS = ("number", "status", "fidelity", "objective", "cost", "error", "previous_trial")
"""The CSV columns before the ``config.<name>`` ones."""
JSON_COLUMNS = ("learning_curve", "info")
"""The CSV columns after them, each cell a JSON value (optional when reading)."""
FORMATS = {".jsonl": "jsonl", ".csv": "csv"}

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
    kind = _format(target, format)
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
                _write_jsonl(out, name=name, space=space, trials=trials)
            else:
                _write_csv(out, space=space, trials=trials)
        except BaseException:
            out.close()
            os.unlink(out.name)
            raise
    os.replace(out.name, target)
    return len(trials)


def _format(path: Path, format: str | None) -> str:
    if format is not None:
        if format not in FORMATS.values():
            raise ValueError(f"format must be 'jsonl' or 'csv', got {format!r}")
        return format
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise ValueError(
            f"{str(path)!r}: cannot tell the format from the suffix {path.suffix!r}; "
            "name a .jsonl or .csv file, or give format='jsonl' or 'csv'"
        )
    return kind


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


def _write_jsonl(out: IO[str], *, name: str, space: Space, trials: list[Trial]) -> None:
    header = {
        "format": FORMAT,
        "version": VERSION,
        "study": name,
        "space": space.to_dict(),
        "exported_at": datetime.now(tz=UTC).isoformat(timespec="seconds"),
        "trials": len(trials),
    }
    out.write(dumps(header) + "\n")
    for trial in trials:
        out.write(dumps(trial_record(trial)) + "\n")


def _config_names(space: Space) -> list[str]:
    return [name for name in space if name != space.fidelity_name]


def _write_csv(out: IO[str], *, space: Space, trials: list[Trial]) -> None:
    names = _config_names(space)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*COLUMNS, *(f"config.{n}" for n in names), *JSON_COLUMNS])
    for t in trials:
        fixed = (t.number, t.status.value, t.fidelity, t.objective, t.cost, t.error)
        writer.writerow(
            [
                *(cell(v) for v in (*fixed, t.previous_trial)),
                *(cell(t.config.get(n)) for n in names),
                cell([list(p) for p in t.learning_curve]) if t.learning_curve else "",
                cell(dict(t.info)) if t.info else "",
            ]
        )


# -- reading -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrialsFile:
    """What a trials file holds: the space its trials were validated against, the trials, and
    the header's study name and space (None for a CSV)."""

    space: Space
    trials: list[Trial]
    study: str | None
    file_space: Space | None


def read_trials(
    path: str | os.PathLike[str], *, space: Space | None = None, format: str | None = None
) -> tuple[Space, list[Trial]]:
    """The space and the trials of a trials file, each trial validated against ``space`` (else
    the space in the file's header; a CSV has none, so it needs ``space``). ``format``
    (``"jsonl"``, ``"csv"``) as in :func:`export_trials`: None takes it from the suffix.

    Raises:
        TrialFileError: (a ``ValueError``) naming the file, the line and the parameter or field
            at fault: an unknown format or version, bad JSON or CSV, an unknown parameter or
            column, a value outside its bounds or choices, a missing active parameter, a
            fidelity outside its range, an unknown status, a succeeded trial without a finite
            objective, a trial number seen twice.
    """
    read = read_file(path, space=space, format=format)
    return read.space, read.trials


def read_file(
    path: str | os.PathLike[str], *, space: Space | None = None, format: str | None = None
) -> TrialsFile:
    """:func:`read_trials` with the header's study name and space too."""
    source = Path(path)
    kind = _format(source, format)
    try:
        with source.open(encoding="utf-8", newline="") as lines:
            if kind == "jsonl":
                return _read_jsonl(lines, source, space)
            if space is None:
                raise TrialFileError(
                    f"{source}: a CSV file holds no space; give the space its configurations "
                    "belong to (space=..., or --space space.yaml)"
                )
            return _read_csv(lines, source, space)
    except UnicodeDecodeError as error:
        raise TrialFileError(f"{source}: not UTF-8 text ({error})") from None


def read_header(
    path: str | os.PathLike[str], *, format: str | None = None
) -> tuple[str | None, Space | None]:
    """The study name and space a trials file's header names ((None, None) for a CSV)."""
    source = Path(path)
    if _format(source, format) != "jsonl":
        return None, None
    with source.open(encoding="utf-8") as lines:
        header, _ = _header(_numbered(lines, source), source)
    return header.get("study"), _header_space(header, source)


def _numbered(lines: TextIO, source: Path) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed JSON)`` of each non-blank line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as error:
            raise TrialFileError(f"{source}, line {number}: not valid JSON ({error})") from None


def _header(rows: Iterator[tuple[int, Any]], source: Path) -> tuple[dict[str, Any], int]:
    first = next(rows, None)
    if first is None:
        raise TrialFileError(f"{source}: empty file (no header line)")
    line, header = first
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise TrialFileError(
            f"{source}, line {line}: not a tunewise trials file (the first line must be a "
            f'header object with "format": "{FORMAT}")'
        )
    if header.get("version") != VERSION:
        raise TrialFileError(
            f"{source}, line {line}: trials file version {header.get('version')!r}; this "
            f"tunewise reads version {VERSION} (a newer tunewise wrote it?)"
        )
    return header, line


def _header_space(header: Mapping[str, Any], source: Path) -> Space:
    data = header.get("space")
    if not isinstance(data, Mapping):
        raise TrialFileError(f"{source}, line 1: the header has no space object")
    try:
        return Space.from_dict(data)
    except (SpaceError, TypeError, KeyError) as error:
        raise TrialFileError(f"{source}, line 1: the header's space is invalid: {error}") from None


def _read_jsonl(lines: TextIO, source: Path, space: Space | None) -> TrialsFile:
    rows = _numbered(lines, source)
    header, _ = _header(rows, source)
    file_space = _header_space(header, source)
    target = space if space is not None else file_space
    trials: list[Trial] = []
    seen: dict[int, int] = {}
    for line, record in rows:
        where = f"{source}, line {line}"
        if not isinstance(record, dict):
            raise TrialFileError(f"{where}: a trial record must be an object, got {record!r}")
        unknown = sorted(set(record) - set(RECORD_FIELDS))
        if unknown:
            raise TrialFileError(
                f"{where}: unknown field {unknown[0]!r} (a trial has {', '.join(RECORD_FIELDS)})"
            )
        trials.append(
            _checked_new(trial_from_fields(record, target, where=where), seen, where, line)
        )
    expected = header.get("trials")
    if expected is not None and expected != len(trials):
        raise TrialFileError(
            f"{source}: the header announces {expected} trials but the file holds {len(trials)} "
            "(cut short?)"
        )
    study = header.get("study")
    return TrialsFile(target, trials, str(study) if study is not None else None, file_space)


def _checked_new(trial: Trial, seen: dict[int, int], where: str, line: int) -> Trial:
    """``trial``, unless its number was seen before (``seen``: number -> line)."""
    first = seen.get(trial.number)
    if first is not None:
        raise TrialFileError(
            f"{where}: trial number {trial.number} appears twice (first on line {first})"
        )
    seen[trial.number] = line
    return trial


def _read_csv(lines: TextIO, source: Path, space: Space) -> TrialsFile:
    reader = csv.reader(lines)
    header = next(reader, None)
    if header is None:
        raise TrialFileError(f"{source}: empty file (no header row)")
    names = _config_names(space)
    known = {*COLUMNS, *JSON_COLUMNS, *(f"config.{n}" for n in names)}
    for column in header:
        if column in known:
            continue
        if column.startswith("config."):
            where = f"{source}, line 1: column {column!r}"
            if column[len("config.") :] == space.fidelity_name:
                raise TrialFileError(f"{where}: the fidelity goes in the 'fidelity' column")
            raise TrialFileError(
                f"{where}: unknown parameter {column[len('config.') :]!r} (known: {names})"
            )
        raise TrialFileError(
            f"{source}, line 1: unknown column {column!r} (columns: {', '.join(COLUMNS)}, "
            f"config.<parameter>, {', '.join(JSON_COLUMNS)})"
        )
    if len(set(header)) != len(header):
        twice = next(c for c in header if header.count(c) > 1)
        raise TrialFileError(f"{source}, line 1: column {twice!r} appears twice")
    trials: list[Trial] = []
    seen: dict[int, int] = {}
    for position, row in enumerate(reader):
        line = reader.line_num
        if not any(row):
            continue
        where = f"{source}, line {line}"
        if len(row) != len(header):
            raise TrialFileError(
                f"{where}: {len(row)} cells, but the header has {len(header)} (a value with a "
                'comma, such as an architecture, goes in double quotes: "Cell(a, b)")'
            )
        fields = _csv_fields(dict(zip(header, row, strict=True)), space, where, position)
        trials.append(
            _checked_new(trial_from_fields(fields, space, where=where), seen, where, line)
        )
    return TrialsFile(space, trials, None, None)


def _csv_fields(cells: dict[str, str], space: Space, where: str, position: int) -> dict[str, Any]:
    """One CSV row as the fields of a JSON record (cells parsed by their column's type)."""

    def fail(what: str) -> TrialFileError:
        return TrialFileError(f"{where}: {what}")

    config: dict[str, Any] = {}
    for column, text in cells.items():
        if not column.startswith("config.") or text == "":
            continue
        name = column[len("config.") :]
        try:
            config[name] = parameter_value(space[name], text)
        except SpaceError as problem:
            raise fail(f"parameter {name!r}: {problem}") from None
    number = optional_int(cells.get("number", ""), "number", fail)
    return {
        "number": position if number is None else number,
        "status": cells.get("status") or "succeeded",
        "config": config,
        "fidelity": optional_float(cells.get("fidelity", ""), "fidelity", fail),
        "objective": optional_float(cells.get("objective", ""), "objective", fail),
        "cost": optional_float(cells.get("cost", ""), "cost", fail),
        "error": cells.get("error") or None,
        "previous_trial": optional_int(cells.get("previous_trial", ""), "previous_trial", fail),
        "learning_curve": json_cell(cells.get("learning_curve", ""), "learning_curve", fail),
        "info": json_cell(cells.get("info", ""), "info", fail),
    }


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
