"""Opening a store and one of its studies from a location: a root folder, a store URL or file.

The one place above the implementation that names it: everything else (the runtime, the CLI, the
dashboard, the transfer's old studies) holds the interface of :mod:`tunewise.storage.base` (a
:class:`~tunewise.storage.TrialStore` and its :class:`~tunewise.storage.StudyHandle`), so a
second backend is a change here only.
"""

from __future__ import annotations

import os
from pathlib import Path

from tunewise.storage.base import StudyHandle, TrialStore
from tunewise.storage.store import Store


def default_study_name(root: str | os.PathLike[str]) -> str:
    """A study is named after its root folder unless the user names it."""
    return Path(root).expanduser().resolve().name or "study"


def open_store(
    *,
    root: str | os.PathLike[str] | None = None,
    storage: str | None = None,
    retry_open: bool = False,
) -> TrialStore:
    """The store named by ``storage`` (a URL or SQLite path), else ``<root>/tunewise.db``.

    ``retry_open=True`` rides through transient faults while opening (for workers of a run that
    opened the store already, which may start while its server restarts).
    """
    return Store.at(root=root, storage=storage, retry_open=retry_open)


def split_location(
    location: str | os.PathLike[str],
) -> tuple[Path | None, str | None]:
    """``(root, storage)`` for a root-or-URL argument: a store URL (``postgresql://...``,
    ``sqlite:///...``) or an existing SQLite file is the storage, anything else a root folder."""
    text = os.fspath(location)
    if "://" in text:
        return None, text
    path = Path(text).expanduser()
    if path.is_file():
        return None, str(path)
    return path, None


def open_study(
    *,
    root: str | os.PathLike[str] | None = None,
    storage: str | None = None,
    study: str | None = None,
    retry_open: bool = False,
) -> StudyHandle:
    """A handle on a stored study: ``study``, else the root folder's, else the store's only one.

    The handle's store is open until ``handle.store.close()``.
    """
    store = open_store(root=root, storage=storage, retry_open=retry_open)
    try:
        return store.study(study if study is not None else _default_study(store, root))
    except BaseException:
        store.close()
        raise


def _default_study(store: TrialStore, root: str | os.PathLike[str] | None) -> str:
    names = store.study_names()
    if root is not None and default_study_name(root) in names:
        return default_study_name(root)
    if len(names) != 1:
        raise ValueError(
            f"the store holds {len(names)} studies ({', '.join(names) or 'none'}); "
            "name one with study="
        )
    return names[0]
