"""A space with some parameters fixed: what "only new" and "drop unimportant" tune over.

A fixed parameter becomes a :class:`~tunewise.space.Constant` (a one-choice categorical where it
stays conditional on a parent that is not fixed: constants have no conditions). A condition on a
fixed parent is decided at once: a satisfied clause is dropped, and a child whose clause fails
can never be active, so it leaves the space (and so do its own children).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast

from tunewise.space import Categorical, Constant, Parameter, Space
from tunewise.space.parameters import scalar_key


def fixed_space(space: Space, fixed: Mapping[str, Any]) -> Space:
    """``space`` with the parameters in ``fixed`` set to their values; see the module."""
    unknown = sorted(set(fixed) - set(space.parameters))
    if unknown:
        raise ValueError(f"cannot fix {', '.join(unknown)}: not parameters of the space")
    params: dict[str, Parameter] = {}
    gone: set[str] = set()
    for name, param in _in_dependency_order(space):
        when: dict[str, Any] = {}
        alive = True
        for parent, values in (param.when or {}).items():
            if parent in gone:
                alive = False
            elif parent in fixed:
                alive = alive and scalar_key(fixed[parent]) in {scalar_key(v) for v in values}
            else:
                when[parent] = list(values)
        if not alive:
            gone.add(name)
            continue
        if name in fixed and when:  # still conditional: a one-choice categorical keeps the when
            params[name] = Categorical((fixed[name],), when=when)
        elif name in fixed:
            params[name] = Constant(fixed[name])
        else:
            params[name] = replace(cast(Any, param), when=when or None) if param.when else param
    return Space(**{name: params[name] for name in space if name in params})


def _in_dependency_order(space: Space) -> list[tuple[str, Parameter]]:
    """Parameters with every parent before its children."""
    done: dict[str, Parameter] = {}
    pending = dict(space.parameters)
    while pending:
        for name, param in list(pending.items()):
            if all(p in done for p in (param.when or {})):
                done[name] = param
                del pending[name]
    return list(done.items())
