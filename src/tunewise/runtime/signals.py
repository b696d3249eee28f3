"""Ctrl-C, SIGTERM and SIGHUP as exceptions, so the running trial is re-queued before the process
stops (SIGHUP: the terminal or SSH session that ran it closed)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(BaseException):
    """The process was asked to stop (SIGTERM, SIGHUP); raised in the main thread like
    KeyboardInterrupt."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


_requested: list[str] = []  # signals received; survives an exception swallowed in a __del__


def _raise_interrupted(signum: int, _frame: FrameType | None) -> None:
    name = signal.Signals(signum).name
    _requested.append(name)
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    raise Interrupted(name)


def raise_if_stop_requested() -> None:
    """Re-raise a stop request whose exception was lost (Python ignores exceptions raised while
    a ``__del__`` or weakref callback runs, and a signal can arrive just then)."""
    if _requested:
        name = _requested[0]
        if name == "SIGINT":
            raise KeyboardInterrupt
        raise Interrupted(name)


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """Within this block SIGTERM and SIGHUP raise :class:`Interrupted`, SIGINT KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _requested.clear()
    previous = {s: signal.signal(s, _raise_interrupted) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _remember(signum: int, _frame: FrameType | None) -> None:
    _requested.append(signal.Signals(signum).name)


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP back while a critical write or cleanup runs; they are
    remembered and acted on by the next :func:`raise_if_stop_requested`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {s: signal.signal(s, _remember) for s in STOP_SIGNALS}
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
