"""What the suite needs from the machine: a local run skips without it, CI fails.

A skipped storage, fault or data test hides exactly what CI is for, so with ``CI=true`` (set by
``.ci/run``) a missing PostgreSQL server, data set or test dependency fails the test instead.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason`` locally; fail it in CI."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: a missing service, data set or tool fails the run)")
    pytest.skip(reason)
