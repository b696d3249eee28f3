"""The one error type of the search space."""

from __future__ import annotations


class SpaceError(ValueError):
    """An invalid space, parameter or configuration; the message names the parameter at fault."""


def named(name: str, error: Exception) -> SpaceError:
    """Return ``error`` re-worded as ``"parameter 'name': ..."`` (used where the name is known)."""
    return SpaceError(f"parameter {name!r}: {error}")
