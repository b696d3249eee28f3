"""A bounded memo keyed by object identity, for values computed from immutable derivations.

Derivations are immutable, but hashing one walks the whole tree; children of mutation and
crossover share their untouched subtrees (the same objects) with their parents, so identity is
both the cheap key and the one that finds the shared work. Each entry keeps its key objects
alive, so an id cannot be reused while it is cached. Threads may share one (each operation is
one step of an OrderedDict; a lost race only costs a recomputation).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

V = TypeVar("V")


class IdentityMemo(Generic[V]):
    """Least-recently-used values of at most ``size`` keys, each a tuple of objects."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"IdentityMemo: size must be >= 1, got {size}")
        self.size = size
        self._data: OrderedDict[tuple[int, ...], tuple[tuple[object, ...], V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, *key: object) -> V | None:
        """The value stored for exactly these objects, or None."""
        ids = tuple(map(id, key))
        hit = self._data.get(ids)
        if hit is None:
            return None
        try:  # noqa: SIM105  (a hot path: try costs nothing, contextlib.suppress does)
            self._data.move_to_end(ids)
        except KeyError:  # dropped by another thread meanwhile: the value is still right
            pass
        return hit[1]

    def put(self, key: tuple[object, ...], value: V) -> None:
        """Store ``value`` for the objects of ``key``, dropping the least recently used."""
        ids = tuple(map(id, key))
        self._data[ids] = (key, value)
        self._data.move_to_end(ids)
        while len(self._data) > self.size:
            try:
                self._data.popitem(last=False)
            except KeyError:  # emptied by another thread meanwhile
                break
