"""Trials files: the JSON-lines and CSV layouts, written from trials and read back validated.

Plain data in and out (a space and trials), no store: :mod:`tunewise.runtime.trials_io` exports a
study with it and imports a file into one, and ``transfer_from="old.jsonl"`` reads one.

- **JSON lines** (``.jsonl``): a header object ``{"format": "tunewise-trials", "version": 1,
  "study": ..., "space": <Space.to_dict()>, "exported_at": ..., "trials": N}``, then one record
  per trial (:data:`~tunewise.transfer.records.RECORD_FIELDS`). Lossless; carries its space.
- **CSV** (``.csv``): one row per trial, columns :data:`COLUMNS`, then ``config.<name>`` per
  parameter (an empty cell: not set), then ``learning_curve`` and ``info`` as JSON. No space:
  reading one needs the space.

Documented for users in ``docs/trials-format.md``.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, TextIO

from tunewise.space import Space, SpaceError
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
from tunewise.trial import Trial

FORMAT = "tunewise-trials"
"""The ``format`` of a JSON-lines header."""
VERSION = 1
"""The version of the layout this tunewise writes and reads."""
COLUMNS = ("number", "status", "fidelity", "objective", "cost", "error", "previous_trial")
"""The CSV columns before the ``config.<name>`` ones."""
JSON_COLUMNS = ("learning_curve", "info")
"""The CSV columns after them, each cell a JSON value (optional when reading)."""
FORMATS = {".jsonl": "jsonl", ".csv": "csv"}


def file_format(path: Path, format: str | None) -> str:
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


def write_jsonl(out: IO[str], *, name: str, space: Space, trials: list[Trial]) -> None:
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


def write_csv(out: IO[str], *, space: Space, trials: list[Trial]) -> None:
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
    kind = file_format(source, format)
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
    if file_format(source, format) != "jsonl":
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
