"""Grid search: every combination of a few values per dimension, in a fixed order.

Numeric dimensions get ``points_per_dimension`` values evenly spaced in (log-)unit space,
categoricals all their choices; combinations that differ only in inactive conditional parameters
are evaluated once. When the grid is exhausted ``ask`` returns nothing and the run ends.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

from tunewise.optimizers.base import Capabilities, Optimizer, check_n
from tunewise.optimizers.registry import register
from tunewise.space import Space
from tunewise.trial import History, Suggestion, max_fidelity

MAX_GRID_POINTS = 1_000_000


@register
class GridSearch(Optimizer):
    """Exhaustive search of a grid; slot ``grid:i`` is the grid's ``i``-th point."""

    name = "grid_search"
    capabilities = Capabilities(priors=False, fidelity=False, conditions=True)

    def __init__(self, *, points_per_dimension: int = 5) -> None:
        if not isinstance(points_per_dimension, int) or points_per_dimension < 2:
            raise ValueError(
                "grid_search: points_per_dimension must be an integer >= 2, "
                f"got {points_per_dimension!r}"
            )
        self.points_per_dimension = points_per_dimension
        self._cache: tuple[str, list[dict[str, Any]]] | None = None

    def grid(self, space: Space) -> list[dict[str, Any]]:
        """The grid's configurations, in the order they are evaluated."""
        key = space.to_json()
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, _build_grid(space, self.points_per_dimension))
        return self._cache[1]

    def ask(self, history: History, n: int = 1) -> list[Suggestion]:
        check_n(n)
        grid = self.grid(history.space)
        used = {int(s.split(":", 1)[1]) for s in history.slots() if s.startswith("grid:")}
        fidelity = max_fidelity(history.space)
        free = (i for i in range(len(grid)) if i not in used)
        return [
            Suggestion(config=grid[i], slot=f"grid:{i}", fidelity=fidelity)
            for i in itertools.islice(free, n)
        ]


def _build_grid(space: Space, points: int) -> list[dict[str, Any]]:
    searchable = space.searchable
    names = list(searchable)
    values = []
    for name in names:
        param = searchable[name]
        values.append(param.grid(points))
    size = 1
    for v in values:
        size *= len(v)
    if size > MAX_GRID_POINTS:
        raise ValueError(
            f"grid_search: the grid has {size:,} points (more than {MAX_GRID_POINTS:,}); "
            "lower points_per_dimension or use random_search"
        )
    seen: set[str] = set()
    grid = []
    for combination in itertools.product(*values):
        full = dict(zip(names, combination, strict=True))
        config = {k: v for k, v in full.items() if space.is_active(k, full)}
        config.update(space.constants)
        key = json.dumps(config, sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            grid.append(config)
    return grid
