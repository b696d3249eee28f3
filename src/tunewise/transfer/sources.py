"""Where old results come from: a root, a store URL (``...#study``), a ``Result`` or a trials file.

Everything is read into :class:`OldStudy` (the old space and its trials, plain data), so the
mapping and the transfer methods never touch a store.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeAlias, runtime_checkable

from tunewise.space import Space
from tunewise.storage.locations import open_study, split_location
from tunewise.trial import Trial

TRIAL_FILE_SUFFIXES = (".jsonl", ".csv")


@dataclass(frozen=True)
class OldStudy:
    """An earlier study, read back: its space, its trials and a label for messages."""

    space: Space
    trials: tuple[Trial, ...]
    label: str


@runtime_checkable
class _StudyResult(Protocol):
    """What a :class:`~tunewise.Result` offers that a transfer reads (no runtime import here)."""

    @property
    def study(self) -> str: ...
    @property
    def space(self) -> Space: ...
    @property
    def trial_list(self) -> list[Trial]: ...


Source: TypeAlias = "str | os.PathLike[str] | OldStudy | _StudyResult"
Sources: TypeAlias = "Source | Sequence[Source]"


def load_sources(transfer_from: Any) -> list[OldStudy]:
    """Read every old study named by ``transfer_from`` (one source or a list of them).

    A source is an :class:`OldStudy`, a :class:`~tunewise.Result`, a trials file written by
    ``tunewise export`` (``.jsonl``; a ``.csv`` needs its space, so import it first), or a
    location as other commands take it: a root folder or store URL, with ``#name`` to pick one
    study of a store that holds several (``runs/v1``, ``postgresql://host/db#cnn-v1``).
    """
    items = list(transfer_from) if isinstance(transfer_from, list | tuple) else [transfer_from]
    if not items:
        raise ValueError("transfer_from: give at least one old study")
    return [_load(item) for item in items]


def _load(item: Any) -> OldStudy:
    if isinstance(item, OldStudy):
        return item
    if isinstance(item, _StudyResult):
        return OldStudy(space=item.space, trials=tuple(item.trial_list), label=item.study)
    if not isinstance(item, str | os.PathLike):
        raise TypeError(
            "transfer_from: expected a root folder, a store URL, a trials file, a tunewise "
            f"Result or an OldStudy, got {type(item).__name__} {item!r}"
        )
    text = os.fspath(item)
    if Path(text).suffix.lower() in TRIAL_FILE_SUFFIXES:
        return _load_file(Path(text))
    location, _, study = text.partition("#")
    root, storage = split_location(location)
    if root is not None and not (root / "tunewise.db").exists():
        raise ValueError(
            f"transfer_from: {location!r} holds no study (no tunewise.db in that folder); "
            "name the root of an earlier run, a store URL, or a trials file (.jsonl)"
        )
    handle = open_study(root=root, storage=storage, study=study or None)
    try:
        handle.refresh()
        return OldStudy(
            space=handle.space,
            trials=tuple(handle.trials()),
            label=f"{location}#{handle.name}" if study or storage else location,
        )
    finally:
        handle.store.close()


def _load_file(path: Path) -> OldStudy:
    from tunewise.transfer.files import read_trials

    if not path.is_file():
        raise ValueError(f"transfer_from: no trials file {str(path)!r}")
    space, trials = read_trials(path)
    return OldStudy(space=space, trials=tuple(trials), label=str(path))
