"""Evaluate one trial in a child process that the worker can kill.

Used when a study sets ``trial_timeout`` or ``trial_memory_limit``, and for GPU workers that run
as Dask tasks. The child gets its own environment (``CUDA_VISIBLE_DEVICES``); an evaluation that
runs too long is stopped (SIGTERM, then SIGKILL) and recorded as failed; one that crashes its
process (a segfault in native code, ``os.abort()``, the kernel's out-of-memory killer) fails its
trial instead of taking the worker down; ``trial.report`` and ``trial.directory`` work as usual.

The child is a fresh interpreter started with :mod:`subprocess` -- not :mod:`multiprocessing`,
which refuses to start children from a daemonic process such as a Dask worker -- in a session of
its own, so that a kill reaches whatever the objective started (data-loader workers) and a Ctrl-C
in the terminal reaches only the worker, which decides. The child is prepared as a ``spawn`` child
(same ``sys.path``, working directory and ``__main__``), so the objective must be importable, as
with ``workers > 1``. Reports and the outcome come back over a pipe; the child exits when the
worker's end of the other pipe closes, so it never outlives its worker.

The memory limit is enforced by watching the resident memory of the child's process tree (as
Dask's nanny does for its workers), not with ``setrlimit(RLIMIT_AS)``: an address-space limit
counts reserved rather than used memory, so it breaks CUDA (whose driver reserves more address
space than the machine has memory) and trips on thread arenas that PyTorch and glibc reserve but
never touch. A limit that is watched can be overshot between two looks (every 0.1 s) by a very
fast allocation; the kernel's OOM killer then takes the child, and that is recorded too.

With early stopping the worker judges each point the child reports (it holds the store) and
sends the verdict back over the other pipe; the child's ``trial.report`` waits for the verdict
on its point up to :data:`VERDICT_WAIT` seconds, so that a trial stops at the same step as in
the worker's own process, and ``trial.should_stop()`` never waits (a verdict that came late is
seen by the next call).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import pickle
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from multiprocessing import spawn
from multiprocessing.connection import Connection
from typing import TYPE_CHECKING, Any

from tunewise.runtime import outcome as outcomes
from tunewise.runtime.signals import Interrupted, signals_deferred
from tunewise.trial import TrialStatus

if TYPE_CHECKING:
    from tunewise.runtime.context import TrialContext

KILL_GRACE = 5.0  # seconds between SIGTERM and SIGKILL
VERDICT_WAIT = 5.0  # seconds a child's trial.report waits for the worker's verdict
START_ALLOWANCE = 60.0  # seconds the child may take to start (import the objective) on top
_POLL = 0.05
_MEMORY_EVERY = 0.1
_BOOT = "from tunewise.runtime.isolated import child_main; child_main()"
_preparing = False  # True in a child while it imports the parent's __main__

IMPORTABLE_ADVICE = (
    "must be importable: define it at the top level of a module (not a lambda, a closure or a "
    "notebook cell)"
)


@dataclass(frozen=True)
class Isolation:
    """How to run evaluations in a child: a time limit, a memory limit, extra environment."""

    timeout: float | None = None
    memory_limit: int | None = None
    env: Mapping[str, str] = field(default_factory=dict)


class IsolationError(RuntimeError):
    """The evaluation process could not start the objective (not the trial's fault)."""


@dataclass(frozen=True)
class _Task:
    """What the child needs: the objective, the configuration, the TrialContext's arguments."""

    evaluate: Callable[..., Any] | str
    config: dict[str, Any]
    context: dict[str, Any]
    judged: bool = False  # the worker sends a verdict for each report


def parse_memory(value: int | str | None) -> int | None:
    """Bytes from ``4_000_000_000``, ``"4GB"``, ``"4GiB"``, ``"512MB"`` or ``"512M"``."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"trial_memory_limit must be bytes or a size like '4GB', not {value!r}")
    if isinstance(value, int | float):
        number, unit = float(value), ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(I?)B?\s*", str(value).upper())
        if match is None:
            raise ValueError(
                f"trial_memory_limit: cannot read {value!r}; give bytes or a size like '4GB', "
                "'512MB' or '8GiB'"
            )
        number = float(match.group(1))
        unit = match.group(2) + match.group(3)
    scale = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    scale |= {"KI": 2**10, "MI": 2**20, "GI": 2**30, "TI": 2**40}
    if unit not in scale:
        raise ValueError(f"trial_memory_limit: unknown unit in {value!r}")
    size = int(number * scale[unit])
    if not math.isfinite(number) or size < 1:
        raise ValueError(f"trial_memory_limit must be positive, not {value!r}")
    return size


def check_not_preparing() -> None:
    """Refuse to start work while an evaluation process imports the user's main script.

    The child imports ``__main__`` as a ``spawn`` child does; a script that calls ``tw.run`` at
    its top level, unguarded, would otherwise start a whole new run inside every evaluation.
    """
    if _preparing:
        raise RuntimeError(
            "tw.run was called while an evaluation process imported your main script; put the "
            'script\'s entry point under `if __name__ == "__main__":` (as with '
            "multiprocessing), so that only the main process runs it"
        )


def format_bytes(size: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:.0f} B"


def evaluate_isolated(
    evaluate: Callable[..., Any] | str,
    config: dict[str, Any],
    context: dict[str, Any],
    *,
    isolation: Isolation,
    on_report: Callable[[list[tuple[float, float]]], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    judge: Callable[[list[tuple[float, float]]], bool] | None = None,
) -> outcomes.Outcome:
    """Run ``evaluate(config, TrialContext(**context))`` in a child and return its outcome.

    A timeout, a memory overrun or a child killed by a signal is a failed outcome with the reason.
    Ctrl-C/SIGTERM of this process, or ``should_stop()`` becoming true, kills the child and raises
    (KeyboardInterrupt / :class:`Interrupted`) so that the caller re-queues the trial. ``judge``
    (early stopping) is called here with the curve after each report; its verdict goes back to
    the child's ``trial.report`` / ``trial.should_stop``.
    """
    try:
        payload = pickle.dumps(_Task(evaluate, config, context, judged=judge is not None))
    except Exception as exc:
        raise TypeError(
            f"an evaluation in a separate process (trial_timeout, trial_memory_limit, devices) "
            f"needs an objective that {IMPORTABLE_ADVICE}; pickling {evaluate!r} failed: {exc}"
        ) from None
    child = _Child(isolation.env)
    try:
        child.send(_preparation())
        child.send_bytes(payload)
        return _supervise(child, isolation, on_report, should_stop, judge)
    finally:
        with signals_deferred():
            child.close()


def _supervise(
    child: _Child,
    isolation: Isolation,
    on_report: Callable[[list[tuple[float, float]]], None] | None,
    should_stop: Callable[[], bool] | None,
    judge: Callable[[list[tuple[float, float]]], bool] | None = None,
) -> outcomes.Outcome:
    curve: list[tuple[float, float]] = []
    spawned = time.monotonic()
    started: float | None = None  # when the objective was called
    next_memory_check = spawned
    result: outcomes.Outcome | None = None

    def failed(error: str) -> outcomes.Outcome:
        elapsed = time.monotonic() - (started if started is not None else spawned)
        return outcomes.Outcome(TrialStatus.FAILED, cost=elapsed, learning_curve=curve, error=error)

    while result is None:
        message = child.receive(_POLL)
        if message is _Child.CLOSED:
            break
        if message is not None:
            kind, value = message
            if kind == "started":
                started = time.monotonic()
            elif kind == "report":
                curve = value
                if on_report is not None:
                    on_report(value)
                if judge is not None:
                    child.verdict(len(value), judge(value))
            elif kind == "outcome":
                result = value
            elif kind == "setup_error":
                raise IsolationError(f"the evaluation process could not start:\n{value}")
        now = time.monotonic()
        if isolation.timeout is not None:
            begin = started if started is not None else spawned + START_ALLOWANCE
            if now - begin >= isolation.timeout and result is None:
                child.kill()
                return failed(f"timed out after {isolation.timeout:g} s")
        if should_stop is not None and result is None and should_stop():
            child.kill()
            raise Interrupted("a stop request")
        if isolation.memory_limit is not None and now >= next_memory_check and result is None:
            next_memory_check = now + _MEMORY_EVERY
            used = child.resident_memory()
            if used > isolation.memory_limit:
                child.kill()
                return failed(
                    f"MemoryError: the evaluation used {format_bytes(used)} of memory, more than "
                    f"trial_memory_limit ({format_bytes(isolation.memory_limit)}); it was stopped"
                )
    code = child.wait(KILL_GRACE)
    if result is not None:
        return result
    if code is not None and code < 0:
        name = signal.Signals(-code).name
        hint = " (often the kernel's out-of-memory killer)" if name == "SIGKILL" else ""
        return failed(f"evaluation process died with {name}{hint}")
    return failed(f"evaluation process exited with code {code} before returning a result")


def _preparation() -> dict[str, Any]:
    """What :func:`multiprocessing.spawn.prepare` needs to make the child look like this process
    (``sys.path``, working directory, ``__main__``); no authentication key, no start method."""
    sys_path = [os.getcwd() if p == "" else p for p in sys.path]
    data: dict[str, Any] = {"sys_path": sys_path, "dir": os.getcwd()}
    main = sys.modules.get("__main__")
    main_name = getattr(getattr(main, "__spec__", None), "name", None)
    if main_name is not None:
        data["init_main_from_name"] = main_name
    else:
        main_file = getattr(main, "__file__", None)
        if main_file:
            data["init_main_from_path"] = os.path.abspath(main_file)
    return data


class _Child:
    """The evaluation process and the two pipes to it."""

    CLOSED = object()

    def __init__(self, env: Mapping[str, str]) -> None:
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _BOOT, str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w),
                env={**os.environ, **env},
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self._to = Connection(to_child_w, readable=False)
        self._from = Connection(from_child_r, writable=False)

    def send(self, value: Any) -> None:
        self._to.send(value)

    def send_bytes(self, data: bytes) -> None:
        self._to.send_bytes(data)

    def verdict(self, points: int, stop: bool) -> None:
        """Tell the child whether to stop, after its report of ``points`` points (a child that
        is gone hears nothing: its end is read below)."""
        with contextlib.suppress(OSError):
            self._to.send(("verdict", points, stop))

    def receive(self, timeout: float) -> Any:
        """The next message, None if none came within ``timeout``, or CLOSED once the child left."""
        try:
            if not self._from.poll(timeout):
                return None
            return self._from.recv()
        except (EOFError, OSError):
            return self.CLOSED

    def resident_memory(self) -> int:
        """Resident bytes of the child and everything it started."""
        import psutil

        try:
            root = psutil.Process(self.process.pid)
            processes = [root, *root.children(recursive=True)]
        except psutil.Error:
            return 0
        total = 0
        for process in processes:
            try:
                total += process.memory_info().rss
            except psutil.Error:
                continue
        return total

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.process.returncode

    def kill(self) -> None:
        """SIGTERM the child's process group, then SIGKILL it after KILL_GRACE seconds."""
        if self.process.poll() is not None:
            return
        self._signal(signal.SIGTERM)
        try:
            self.process.wait(KILL_GRACE)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait()

    def close(self) -> None:
        self.kill()
        self._to.close()
        self._from.close()

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


# -- in the child -------------------------------------------------------------------------------


def child_main() -> None:
    """Entry point of the evaluation process: ``python -c ... READ_FD WRITE_FD``."""
    incoming = Connection(int(sys.argv[1]), writable=False)
    outgoing = Connection(int(sys.argv[2]), readable=False)
    lock = threading.Lock()

    def send(message: tuple[str, Any]) -> None:
        with lock:
            outgoing.send(message)

    global _preparing
    try:
        _preparing = True
        spawn.prepare(incoming.recv())
        _preparing = False
        task: _Task = incoming.recv()
        evaluate = task.evaluate
        if isinstance(evaluate, str):
            from tunewise.runtime.loading import load_callable

            evaluate = load_callable(evaluate)
        from tunewise.runtime.context import TrialContext

        verdicts = _Verdicts()
        context = TrialContext(
            **task.context,
            on_report=lambda curve: send(("report", curve)),
            judge=(lambda curve: verdicts.wait(len(curve))) if task.judged else None,
        )
        verdicts.context = context
    except BaseException:
        send(("setup_error", traceback.format_exc()))
        return
    threading.Thread(target=_listen_to_parent, args=(incoming, verdicts), daemon=True).start()
    send(("started", None))
    started = time.perf_counter()
    try:
        value = evaluate(task.config, context)
    except BaseException as exc:  # SystemExit and KeyboardInterrupt fail the trial too
        result = outcomes.from_exception(
            exc, elapsed=time.perf_counter() - started, curve=context.learning_curve
        )
    else:
        result = outcomes.from_return(
            value, elapsed=time.perf_counter() - started, curve=context.learning_curve
        )
    if context.stop_seen is not None:
        result = dataclasses.replace(result, stop_seen=context.stop_seen)
    send(("outcome", result))
    sys.stdout.flush()
    sys.stderr.flush()


class _Verdicts:
    """The child's side of early stopping: the worker's verdicts on the points reported so far
    (``points``: how many were judged), for ``trial.report`` to wait on."""

    def __init__(self) -> None:
        self.context: TrialContext | None = None
        self.points = 0
        self._changed = threading.Condition()

    def put(self, points: int, stop: bool) -> None:
        if stop and self.context is not None:
            self.context.advise_stop()
        with self._changed:
            self.points = max(self.points, points)
            self._changed.notify_all()

    def wait(self, points: int) -> bool:
        """Wait (up to :data:`VERDICT_WAIT` s) for the verdict on the first ``points`` points;
        the verdict so far. False: go on (a late verdict reaches ``should_stop`` later)."""
        with self._changed:
            self._changed.wait_for(lambda: self.points >= points, timeout=VERDICT_WAIT)
        return self.context is not None and self.context.should_stop()


def _listen_to_parent(incoming: Connection, verdicts: _Verdicts) -> None:
    """Take the worker's verdicts; leave at once when the worker is gone (its end of the pipe
    closed), whatever we run."""
    with contextlib.suppress(EOFError, OSError):
        while True:
            message = incoming.recv()
            if isinstance(message, tuple) and message and message[0] == "verdict":
                _, points, stop = message
                verdicts.put(int(points), bool(stop))
    os._exit(70)
