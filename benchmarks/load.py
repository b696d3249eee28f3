"""Load benchmark: tunewise and Optuna throughput with 1-32 workers, and a 100,000-trial study.

Two parts, each measurement in a fresh Python process on a fresh database (SQLite file in a new
temporary folder, or a new PostgreSQL database that the benchmark creates and drops):

1. **Throughput.** N worker processes (forked from a ``forkserver`` that has imported the
   framework) on one study whose objective returns ``0.0`` at once. tunewise: each process runs
   the worker loop that ``tw.run(workers=N)`` and ``tunewise worker`` run (``Worker.run`` over
   ``random_search``); Optuna: each process calls ``load_study`` + ``optimize`` with
   ``RandomSampler`` (the objective suggests the same three parameters). All processes connect
   and load the study first, then wait for a common start; the run lasts ``--seconds`` from the
   start (tunewise: ``Budget(seconds=...)``, Optuna: ``optimize(timeout=...)``). Reported: trials
   finished per second in the steady part (the middle 80% of that time), CPU used by the workers,
   by the study's PostgreSQL backends and by the whole machine in the same window (from
   ``/proc``), time spent in each store call (the calls are timed inside the workers) and, on
   PostgreSQL, a sampled profile of ``pg_stat_activity``: what the study's backends are doing
   (running, waiting for a row lock, inside a transaction waiting for their client, idle) and what
   the holder of a contended lock is doing.
2. **Growth.** One process grows a study to ``--growth-trials`` trials by calling the store's
   public API in a loop (``random_search.ask`` on the last trial, ``StudyStore.claim``,
   ``StudyStore.finish``: the same two transactions a worker makes per trial, without the
   objective or the worker loop around them) and times every claim and finish transaction. At a
   few checkpoints (1,000, 10%, 50%, and at the end) the real worker loop (``Worker.run``, one
   worker) runs ``--segment`` trials on the same study, giving the full time per trial there.

    python benchmarks/load.py          # full run behind benchmarks/README.md (20-40 min)
    python benchmarks/load.py --quick  # smoke run: workers 1 and 4, a 1,000-trial study (< 1 min)

PostgreSQL: ``127.0.0.1:5432``, trust authentication; the admin connection goes to database
``test`` and creates (and drops) one database ``tunewise_load_<pid>_<i>`` per measurement. A
throughput measurement during which the server restarted (other jobs' fault tests restart it) is
run again; the growth loop waits for the server and carries on. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

# Top-level imports stay in the standard library: worker processes (spawn) re-import this file.

POSTGRES_SERVER = "postgresql://postgres@127.0.0.1:5432"
ADMIN_DATABASE = "test"
DB_PREFIX = "tunewise_load"
CASES = {
    # name: (framework, storage kind)
    "tunewise-sqlite": ("tunewise", "sqlite"),
    "optuna-sqlite": ("optuna", "sqlite"),
    "tunewise-postgresql": ("tunewise", "postgresql"),
    "optuna-postgresql": ("optuna", "postgresql"),
}
CHILD_TIMEOUT_S = 1500
READY_TIMEOUT_S = 120
STEADY = (0.1, 0.9)  # the steady window, as fractions of the run's duration
WAIT_SAMPLE_S = 0.05
TUNEWISE_PHASES = ("claim", "finish", "refresh", "history", "ask", "totals", "recover_stale")
PRELOAD = {
    "tunewise": ["tunewise", "tunewise.runtime.worker", "tunewise.optimizers", "tunewise.storage"],
    "optuna": ["optuna", "optuna.storages"],
}
# Optuna storage methods that do not touch the database (left out of "storage calls / trial")
NOT_DB = {"scoped_session", "get_heartbeat_interval", "check_trial_is_updatable"}


# -- the objectives and the space (top level, so worker processes can import them) ----------------


OBJECTIVE_MS_ENV = "TUNEWISE_LOAD_OBJECTIVE_MS"
"""How long each objective call sleeps, in ms (``--objective-ms``; passed to every process that
runs objectives through the environment, since they are started by forkservers)."""


def objective_seconds() -> float:
    return float(os.environ.get(OBJECTIVE_MS_ENV) or 0.0) / 1e3


def tunewise_objective(config: dict[str, Any], trial: Any) -> float:
    seconds = objective_seconds()
    if seconds:
        time.sleep(seconds)
    return 0.0


def optuna_objective(trial: Any) -> float:
    # The same three parameters tunewise samples; suggesting them is part of Optuna's work.
    trial.suggest_float("x", 1e-5, 1e-1, log=True)
    trial.suggest_int("width", 16, 512, log=True)
    trial.suggest_categorical("optimizer", ["adamw", "sgd"])
    seconds = objective_seconds()
    if seconds:
        time.sleep(seconds)
    return 0.0


def tunewise_space() -> Any:
    import tunewise as tw

    return tw.Space(
        x=tw.Float(1e-5, 1e-1, log=True),
        width=tw.Integer(16, 512, log=True),
        optimizer=tw.Categorical(["adamw", "sgd"]),
    )


# -- timing store calls inside a worker -----------------------------------------------------------


class CallTimer:
    """Replaces methods of an object with timed versions; nested timed calls count once."""

    def __init__(self) -> None:
        self.calls: dict[str, list[tuple[float, float]]] = {}  # name -> [(end time, seconds)]
        self.outcomes: Counter[str] = Counter()
        self._depth = 0

    def wrap(self, target: Any, names: Sequence[str]) -> None:
        for name in names:
            method = getattr(target, name, None)
            if callable(method):
                setattr(target, name, self._timed(name, method))

    def _timed(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        calls = self.calls.setdefault(name.lstrip("_"), [])

        def timed(*args: Any, **kwargs: Any) -> Any:
            if self._depth:
                return method(*args, **kwargs)
            self._depth += 1
            start = time.perf_counter()
            try:
                result = method(*args, **kwargs)
            finally:
                calls.append((time.time(), time.perf_counter() - start))
                self._depth -= 1
            outcome = getattr(result, "outcome", None)
            if outcome is not None:
                self.outcomes[f"{name}:{outcome.value}"] += 1
            return result

        return timed

    def dump(self) -> dict[str, Any]:
        return {"calls": self.calls, "outcomes": dict(self.outcomes)}


# -- worker processes -----------------------------------------------------------------------------


def tunewise_worker(url: str, study: str, root: str, ready: Any, go: Any, out: str) -> None:
    """One tunewise worker process, as ``tw.run(workers=N)`` starts it (runtime/attach.py)."""
    from tunewise.runtime.attach import attach
    from tunewise.storage import Store

    timer = CallTimer()
    with Store(url) as store:
        study_store = store.study(study)
        worker = attach(study_store, root=root, evaluate=tunewise_objective)
        optimizer = worker.optimizer
        timer.wrap(study_store, TUNEWISE_PHASES)
        timer.wrap(optimizer, ["ask"])
        ready.release()
        if not go.wait(READY_TIMEOUT_S):
            return  # the measuring process gave up (or died): run nothing
        worker.run()
    Path(out).write_text(json.dumps(timer.dump()))


def _optuna_storage(kind: str, where: str) -> Any:
    import optuna

    if kind == "sqlite":
        # the same 60 s lock timeout tunewise uses (Python's 5 s default fails with many writers)
        return optuna.storages.RDBStorage(
            f"sqlite:///{where}", engine_kwargs={"connect_args": {"timeout": 60.0}}
        )
    return optuna.storages.RDBStorage(where.replace("postgresql://", "postgresql+psycopg://", 1))


def optuna_worker(
    kind: str, where: str, study: str, seconds: float, seed: int, ready: Any, go: Any, out: str
) -> None:
    """One Optuna worker process: ``load_study`` + ``optimize`` for ``seconds``."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    timer = CallTimer()
    storage = _optuna_storage(kind, where)
    # _CachedStorage (which load_study puts in front) calls two private methods of the backend
    public = [n for n in dir(storage) if not n.startswith("_")]
    timer.wrap(storage, [*public, "_create_new_trial", "_set_trial_param"])
    loaded = optuna.load_study(
        study_name=study, storage=storage, sampler=optuna.samplers.RandomSampler(seed=seed)
    )
    ready.release()
    if not go.wait(READY_TIMEOUT_S):
        return  # the measuring process gave up (or died): run nothing
    error = None
    try:
        loaded.optimize(optuna_objective, timeout=seconds)
    except Exception as exc:  # e.g. "database is locked": report it, keep the other workers'
        error = f"{type(exc).__name__}: {exc}".splitlines()[0]
    Path(out).write_text(json.dumps({**timer.dump(), "error": error}))


# -- CPU and PostgreSQL activity, sampled by the measuring process --------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of one process (None if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (user, nice, system, irq, softirq), all cores."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / CLOCK_TICKS


def postgres_url(database: str) -> str:
    return f"{POSTGRES_SERVER}/{database}"


def backend_pids(database: str) -> list[int]:
    import psycopg

    with psycopg.connect(postgres_url(ADMIN_DATABASE), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND backend_type = "
            "'client backend'",
            (database,),
        ).fetchall()
    return [row[0] for row in rows]


def _activity_class(state: str | None, wait_type: str | None, wait: str | None) -> str:
    if state == "active":
        if wait_type is None:
            return "running"
        if wait_type == "Lock":
            return "lock_wait"
        if wait_type in ("IO", "LWLock") and wait and "WAL" in wait:
            return "wal"
        return "active_other"
    if state == "idle in transaction":
        return "in_txn_client"  # holding its locks while its client works (or waits for a CPU)
    if state == "idle":
        return "idle"
    return "other"


ACTIVITY_CLASSES = ("running", "lock_wait", "in_txn_client", "wal", "active_other", "idle", "other")


def _holder(pid: int, blocked_by: dict[int, list[int]], kinds: dict[int, str]) -> str:
    """What the backend at the head of ``pid``'s lock queue is doing.

    Row-lock waiters queue: the first waits for the holder's transaction (``Lock:transactionid``),
    the others for the first (``Lock:tuple``); follow the chain to a backend that is not waiting.
    """
    seen, todo = {pid}, list(blocked_by.get(pid, []))
    while todo:
        blocker = todo.pop(0)
        if blocker in seen:
            continue
        seen.add(blocker)
        kind = kinds.get(blocker, "unknown")
        if kind != "lock_wait":
            return kind
        todo += blocked_by.get(blocker, [])
    return "lock_wait"  # a cycle (deadlock) or a holder outside the sample


class ActivitySampler(threading.Thread):
    """Samples ``pg_stat_activity`` for one database every WAIT_SAMPLE_S seconds."""

    QUERY = (
        "SELECT pid, state, wait_event_type, wait_event, left(query, 48), "
        "CASE WHEN wait_event_type = 'Lock' THEN pg_blocking_pids(pid) END "
        "FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
    )

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.stop = threading.Event()
        self.samples = 0
        self.classes: Counter[str] = Counter()
        self.holders: Counter[str] = Counter()  # what the first blocker of a lock waiter does
        self.waiting_on: Counter[str] = Counter()  # the statements that wait for locks
        self.events: Counter[str] = Counter()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(postgres_url(ADMIN_DATABASE), autocommit=True) as conn:
            while not self.stop.wait(WAIT_SAMPLE_S):
                rows = conn.execute(self.QUERY, (self.database,)).fetchall()
                self.samples += 1
                by_pid = {}
                for pid, state, wait_type, wait, query, _blockers in rows:
                    kind = _activity_class(state, wait_type, wait)
                    by_pid[pid] = kind
                    self.classes[kind] += 1
                    self.events[f"{state}|{wait_type}:{wait}"] += 1
                    if kind == "lock_wait":
                        self.waiting_on[" ".join(str(query).split())] += 1
                blocked_by = {row[0]: row[5] for row in rows if row[5]}
                for pid in blocked_by:
                    self.holders[_holder(pid, blocked_by, by_pid)] += 1

    def summary(self) -> dict[str, Any]:
        n = max(self.samples, 1)
        out: dict[str, Any] = {"pg_samples": self.samples}
        for kind in ACTIVITY_CLASSES:
            out[f"pg_{kind}"] = self.classes[kind] / n  # mean number of backends in that state
        waiters = sum(self.holders.values())
        for kind in ("in_txn_client", "running", "wal", "lock_wait", "idle", "unknown"):
            out[f"holder_{kind}"] = self.holders[kind] / waiters if waiters else math.nan
        out["pg_events"] = json.dumps(dict(self.events.most_common(12)))
        out["pg_waiting_on"] = json.dumps(dict(self.waiting_on.most_common(4)))
        return out


# -- one throughput measurement, in a fresh process -----------------------------------------------


def measure_throughput(spec: dict[str, Any]) -> dict[str, Any]:
    """N worker processes on one fresh study for ``seconds``; figures from the steady window."""
    import multiprocessing

    framework, kind = CASES[spec["case"]]
    workers, seconds = spec["workers"], spec["seconds"]
    workdir = Path(tempfile.mkdtemp(prefix="tw-load-"))
    # Workers fork from a server that has already imported the framework, so 32 of them start in
    # seconds rather than a minute on 2 cores; start-up is outside the measured window either way.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([*PRELOAD[framework], "sqlalchemy", "psycopg"])
    ready, go = context.Semaphore(0), context.Event()  # workers release when set up
    stats = [str(workdir / f"stats-{i}.json") for i in range(workers)]
    try:
        if framework == "tunewise":
            where, start_budget = _tunewise_study(spec, kind, workdir)
            targets = [
                (tunewise_worker, (where, spec["study"], str(workdir), ready, go, stats[i]))
                for i in range(workers)
            ]
        else:
            where = postgres_url(spec["database"]) if kind == "postgresql" else ""
            where = where or str(workdir / "optuna.db")
            _optuna_study(spec, kind, where)
            targets = [
                (
                    optuna_worker,
                    (kind, where, spec["study"], seconds, spec["seed"] + i, ready, go, stats[i]),
                )
                for i in range(workers)
            ]
        t_spawn = time.perf_counter()
        processes = [context.Process(target=target, args=args) for target, args in targets]
        for process in processes:
            process.start()
        _wait_ready(ready, processes)
        startup = time.perf_counter() - t_spawn
        if framework == "tunewise":
            start_budget(seconds)  # the deadline counts from now
        t0 = time.time()
        go.set()
        row = _observe(spec, kind, t0, [p.pid for p in processes])
        for process in processes:
            process.join(timeout=seconds + 300)
            if process.is_alive():
                process.kill()
        wall = time.time() - t0
        finished = (
            _tunewise_finished(where, spec["study"])
            if framework == "tunewise"
            else _optuna_finished(kind, where, spec["study"])
        )
        dumps = [json.loads(Path(s).read_text()) for s in stats if Path(s).exists()]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    lo, hi = t0 + STEADY[0] * seconds, t0 + STEADY[1] * seconds
    in_window = sum(lo <= t < hi for t in finished)
    row.update(
        {
            **spec,
            "startup_s": startup,
            "wall_s": wall,
            "trials": len(finished),
            "steady_per_s": in_window / (hi - lo),
            # a worker that raised (no stats written) or reported an exception it caught
            "worker_errors": sum(p.exitcode != 0 for p in processes)
            + sum(1 for d in dumps if d.get("error")),
        }
    )
    errors = [d["error"] for d in dumps if d.get("error")]
    if errors:
        row["first_error"] = errors[0]
    window_trials = max(in_window, 1)
    used = row["cpu_workers"] + (row["cpu_pg"] if not math.isnan(row["cpu_pg"]) else 0.0)
    row["cpu_ms_per_trial"] = 1e3 * used * (hi - lo) / window_trials
    row.update(_phases(dumps, lo, hi, workers, window_trials))
    return row


def _wait_ready(ready: Any, processes: list[Any]) -> None:
    """Wait until every worker is set up; stop them all if one dies first or it takes too long."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    count = 0
    while count < len(processes):
        if ready.acquire(timeout=0.5):
            count += 1
            continue
        if time.monotonic() > deadline or any(p.exitcode is not None for p in processes):
            for process in processes:
                process.kill()
            raise RuntimeError(f"only {count} of {len(processes)} workers started (see above)")


def _tunewise_study(
    spec: dict[str, Any], kind: str, workdir: Path
) -> tuple[str, Callable[[float], None]]:
    """Create the study; returns its store URL and a function that starts its time budget."""
    import tunewise as tw
    from tunewise.optimizers import make as make_optimizer
    from tunewise.runtime.worker import Settings
    from tunewise.storage import Store, storage_url

    if kind == "postgresql":
        url = storage_url(storage=postgres_url(spec["database"]))
    else:
        url = storage_url(root=workdir / "root")
    store = Store(url)
    settings = Settings().to_stored()

    def create(budget: Any) -> None:
        store.create_or_open_study(
            spec["study"],
            space=tunewise_space(),
            optimizer=make_optimizer("random_search").spec(),
            seed=spec["seed"],
            budget=budget.to_stored(),
            settings=settings,
        )

    create(tw.Budget(seconds=3600))  # replaced just before the barrier opens

    def start(seconds: float) -> None:
        create(tw.Budget(seconds=seconds))
        store.close()

    return url, start


def _optuna_study(spec: dict[str, Any], kind: str, where: str) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = _optuna_storage(kind, where)
    optuna.create_study(study_name=spec["study"], storage=storage)
    storage.engine.dispose()  # no idle connection of the measuring process during the run


def _tunewise_finished(url: str, study: str) -> list[float]:
    from tunewise.storage import Store

    with Store(url) as store:
        study_store = store.study(study)
        study_store.refresh()
        return sorted(
            t.finished_at
            for t in study_store.trials()
            if t.status.value == "succeeded" and t.finished_at is not None
        )


def _optuna_finished(kind: str, where: str, study: str) -> list[float]:
    import optuna

    loaded = optuna.load_study(study_name=study, storage=_optuna_storage(kind, where))
    done = loaded.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return sorted(t.datetime_complete.timestamp() for t in done)


def _observe(spec: dict[str, Any], kind: str, t0: float, pids: list[int]) -> dict[str, Any]:
    """CPU use and (PostgreSQL) backend activity over the steady window."""
    seconds = spec["seconds"]
    time.sleep(max(t0 + STEADY[0] * seconds - time.time(), 0.0))
    pg_pids = backend_pids(spec["database"]) if kind == "postgresql" else []
    sampler = ActivitySampler(spec["database"]) if kind == "postgresql" else None
    t_start, machine_start = time.time(), machine_busy_seconds()
    own_start = time.process_time()
    workers_start = {pid: cpu_seconds(pid) for pid in pids}
    pg_start = {pid: cpu_seconds(pid) for pid in pg_pids}
    if sampler is not None:
        sampler.start()
    time.sleep(max(t0 + STEADY[1] * seconds - time.time(), 0.0))
    span = time.time() - t_start
    if sampler is not None:
        sampler.stop.set()

    def used(start: dict[int, float | None]) -> float:
        total = 0.0
        for pid, before in start.items():
            after = cpu_seconds(pid)
            if before is not None and after is not None:
                total += after - before
        return total / span

    row: dict[str, Any] = {
        "cpu_workers": used(workers_start),
        "cpu_pg": used(pg_start) if kind == "postgresql" else math.nan,
        "cpu_machine": (machine_busy_seconds() - machine_start) / span,
        "cpu_measurer": (time.process_time() - own_start) / span,
        "pg_backends": len(pg_pids) if kind == "postgresql" else math.nan,
    }
    ours = row["cpu_workers"] + (row["cpu_pg"] if kind == "postgresql" else 0.0)
    row["cpu_other"] = row["cpu_machine"] - ours - row["cpu_measurer"]
    if sampler is not None:
        sampler.join(timeout=10)
        row.update(sampler.summary())
    return row


def _phases(
    dumps: list[dict[str, Any]], lo: float, hi: float, workers: int, trials: int
) -> dict[str, Any]:
    """Median, p90 and share of worker time of each timed call that ended in the window."""
    durations: dict[str, list[float]] = {}
    for dump in dumps:
        for name, calls in dump["calls"].items():
            durations.setdefault(name, []).extend(d for t, d in calls if lo <= t < hi)
    out: dict[str, Any] = {}
    worker_seconds = workers * (hi - lo)
    timed_total = 0.0
    for name, values in durations.items():
        if not values:
            continue
        values.sort()
        total = sum(values)
        timed_total += total
        out[f"{name}_ms"] = 1e3 * statistics.median(values)
        out[f"{name}_p90_ms"] = 1e3 * values[int(0.9 * (len(values) - 1))]
        out[f"{name}_per_trial"] = len(values) / trials
        out[f"{name}_share"] = total / worker_seconds
    out["untimed_share"] = 1.0 - timed_total / worker_seconds
    outcomes: Counter[str] = Counter()
    for dump in dumps:
        outcomes.update(dump.get("outcomes", {}))
    claims = sum(v for k, v in outcomes.items() if k.startswith("claim:"))
    if claims:
        out["conflicts_per_claim"] = outcomes["claim:conflict"] / claims
    return out


# -- the growing study, in a fresh process --------------------------------------------------------


def measure_growth(spec: dict[str, Any]) -> dict[str, Any]:
    """Grow one study to ``trials`` trials; time every claim and finish, and the worker loop."""
    from sqlalchemy.exc import DBAPIError

    import tunewise as tw
    from tunewise.optimizers import make as make_optimizer
    from tunewise.runtime.worker import Settings, Worker
    from tunewise.storage import ClaimOutcome, Limits, Store, storage_url

    workdir = Path(tempfile.mkdtemp(prefix="tw-load-growth-"))
    if spec["backend"] == "postgresql":
        url = storage_url(storage=postgres_url(spec["database"]))
    else:
        url = storage_url(root=workdir / "root")
    n_trials, segment, name = spec["trials"], spec["segment"], spec["study"]
    space, optimizer = tunewise_space(), make_optimizer("random_search")
    claim_ms = [math.nan] * n_trials
    finish_ms = [math.nan] * n_trials
    segments = []
    store = Store(url)

    def set_budget(evaluations: int) -> None:
        store.create_or_open_study(
            name,
            space=space,
            optimizer=optimizer.spec(),
            seed=0,
            budget=tw.Budget(evaluations=evaluations).to_stored(),
            settings=Settings().to_stored(),
        )

    try:
        set_budget(n_trials)
        study = store.study(name)
        limits = Limits(max_trials=n_trials)
        last: tuple[Any, ...] = ()
        k = 0
        t_start = time.perf_counter()
        interrupted = 0
        pending = [c for c in spec["checkpoints"] if c + segment <= n_trials]
        while k < n_trials:
            try:
                if pending and k >= pending[0]:
                    run = _worker_segment(study, set_budget, k, segment, workdir, Worker)
                    segments.append({**run, "interrupted": interrupted})
                    pending.pop(0)
                    k = len(study.trials())
                    last = (study.trials()[-1],)
                    continue
                (suggestion,) = optimizer.ask(tw.History(space=space, seed=0, trials=last), 1)
                t_claim = time.perf_counter()
                claim = study.claim(suggestion, worker="load-growth", limits=limits)
                t_finish = time.perf_counter()
                if claim.outcome is not ClaimOutcome.CLAIMED or claim.trial is None:
                    raise RuntimeError(f"claim {k} was not granted: {claim.outcome}")
                trial = study.finish(
                    claim.trial.number,
                    worker="load-growth",
                    status=tw.TrialStatus.SUCCEEDED,
                    objective=0.0,
                    cost=0.0,
                )
                t_end = time.perf_counter()
                claim_ms[k], finish_ms[k] = 1e3 * (t_finish - t_claim), 1e3 * (t_end - t_finish)
                last = (trial,)
                k += 1
            except DBAPIError:  # the server restarted under us (another job): carry on after it
                interrupted += 1
                k = _resume_after_restart(study)
                last = (study.trials()[-1],) if k else ()
        wall = time.perf_counter() - t_start
        study.refresh()
        n_done = sum(t.status.value == "succeeded" for t in study.trials())
    finally:
        store.close()
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        **spec,
        "wall_s": wall,
        "n_done": n_done,
        "claim_ms": claim_ms,
        "finish_ms": finish_ms,
        "segments": segments,
        "interrupted": interrupted,
    }


def _resume_after_restart(study: Any, wait_s: float = 300.0) -> int:
    """Wait for the database, finish the trials this process left running; the study's size."""
    from sqlalchemy.exc import DBAPIError

    import tunewise as tw

    deadline = time.monotonic() + wait_s
    while True:
        try:
            study.refresh()
            for trial in study.pending_trials():
                if (
                    trial.worker in ("load-growth", "load-worker")
                    and trial.status.value == "running"
                ):
                    study.finish(
                        trial.number,
                        worker=trial.worker,
                        status=tw.TrialStatus.SUCCEEDED,
                        objective=0.0,
                        cost=0.0,
                    )
            return len(study.trials())
        except DBAPIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def _worker_segment(
    study: Any, set_budget: Callable[[int], None], at: int, n: int, root: Path, worker_class: Any
) -> dict[str, Any]:
    """Run the real worker loop (one worker) for ``n`` trials on the grown study."""
    from tunewise.optimizers import make as make_optimizer
    from tunewise.runtime.worker import Settings

    study.refresh()  # catch up with the trials the growth loop wrote (untimed)
    set_budget(at + n)
    optimizer = make_optimizer("random_search")
    timer = CallTimer()
    timer.wrap(study, TUNEWISE_PHASES)
    timer.wrap(optimizer, ["ask"])
    worker = worker_class(
        study=study,
        evaluate=tunewise_objective,
        optimizer=optimizer,
        settings=Settings(),
        root=root,
        name="load-worker",
    )
    t0 = time.perf_counter()
    try:
        done = worker.run()
    finally:
        for name in TUNEWISE_PHASES:
            study.__dict__.pop(name, None)  # back to the plain methods
    wall = time.perf_counter() - t0
    ends = sorted(t for t, _ in timer.calls["finish"])
    gaps = [b - a for a, b in itertools.pairwise(ends)]
    out: dict[str, Any] = {
        "at": at,
        "trials": done,
        "ms_per_trial": 1e3 * wall / max(done, 1),
        "gap_ms": 1e3 * statistics.median(gaps) if gaps else math.nan,
    }
    for name, calls in timer.calls.items():
        if calls:
            out[f"{name}_ms"] = 1e3 * statistics.median(d for _, d in calls)
    return out


# -- running children -----------------------------------------------------------------------------


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure ``spec`` in a fresh interpreter (clean imports, caches and memory)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    timeout = spec["seconds"] + 300 if spec["part"] == "throughput" else CHILD_TIMEOUT_S
    # its own process group, so that a stuck measurement is stopped with all its workers
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return {**spec, "error": f"timed out after {timeout} s"}
        except BaseException:  # Ctrl-C: stop the measurement and its workers too
            os.killpg(child.pid, signal.SIGKILL)
            raise
    proc = subprocess.CompletedProcess(command, child.returncode, stdout, stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {**spec, "error": " | ".join(tail) or f"exit code {proc.returncode}"}
    return json.loads(lines[-1])


def child_main(spec: dict[str, Any]) -> dict[str, Any]:
    if spec["part"] == "throughput":
        return measure_throughput(spec)
    return measure_growth(spec)


# -- PostgreSQL housekeeping ----------------------------------------------------------------------


def _admin(statements: Sequence[str], *, wait_s: float = 180.0) -> list[Any]:
    """Run statements on the admin database; waits for a server that is restarting.

    Other jobs on this machine (the store's fault tests) restart the local PostgreSQL now and then.
    """
    import psycopg

    deadline = time.monotonic() + wait_s
    while True:
        try:
            with psycopg.connect(
                postgres_url(ADMIN_DATABASE), autocommit=True, connect_timeout=10
            ) as conn:
                cursors = [conn.execute(statement) for statement in statements]
                return [c.fetchall() if c.description else [] for c in cursors]
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def create_database(name: str) -> None:
    _admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'])


def drop_database(name: str) -> None:
    _admin([f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'])


def postmaster_started() -> str:
    """When the PostgreSQL server last started: a change means it restarted in between."""
    return str(_admin(["SELECT pg_postmaster_start_time()::text"])[0][0][0])


def postgres_version() -> str:
    try:
        import psycopg

        with psycopg.connect(postgres_url(ADMIN_DATABASE), connect_timeout=10) as conn:
            version = conn.execute("SHOW server_version").fetchone()
            sync = conn.execute("SHOW synchronous_commit").fetchone()
        return (
            f"PostgreSQL {version[0] if version else '?'} (synchronous_commit={sync and sync[0]})"
        )
    except Exception as exc:  # reported, not fatal: the SQLite cases still run
        return f"PostgreSQL unavailable ({type(exc).__name__})"


# -- the sweep ------------------------------------------------------------------------------------


def plan(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Throughput measurements, interleaved: each repeat runs every case once per worker count,
    in an order that rotates from repeat to repeat; then one growth study per backend."""
    specs: list[dict[str, Any]] = []
    cases = list(args.cases)
    if "throughput" in args.parts:
        for repeat in range(args.repeats):
            for workers in args.workers:
                rotation = (repeat + len(specs)) % len(cases)
                for case in cases[rotation:] + cases[:rotation]:
                    specs.append(
                        {
                            "part": "throughput",
                            "case": case,
                            "workers": workers,
                            "seconds": args.seconds,
                            "repeat": repeat,
                            "seed": repeat,
                            "study": f"load-{len(specs)}",
                            "objective_ms": args.objective_ms,
                        }
                    )
    if "growth" in args.parts:
        n = args.growth_trials
        checkpoints = sorted({min(1000, n // 10), n // 10, n // 2, n - args.segment})
        for backend in args.growth_backends:
            specs.append(
                {
                    "part": "growth",
                    "backend": backend,
                    "trials": n,
                    "segment": args.segment,
                    "checkpoints": checkpoints,
                    "study": f"load-growth-{backend}",
                }
            )
    for i, spec in enumerate(specs):
        spec["database"] = f"{DB_PREFIX}_{os.getpid()}_{i}"
    return specs


def measure_with_retries(spec: dict[str, Any], attempts: int = 3) -> dict[str, Any]:
    """Run one measurement; a throughput run during which PostgreSQL restarted is run again."""
    if not uses_postgres(spec):
        return run_child(spec)
    for attempt in range(attempts):
        before = postmaster_started()
        create_database(spec["database"])
        try:
            row = run_child(spec)
        finally:
            drop_database(spec["database"])
        restarted = postmaster_started() != before
        row["pg_restarted"] = int(restarted)
        if not restarted or spec["part"] == "growth":  # the growth loop rides through restarts
            return row
        print(f"  (PostgreSQL restarted during attempt {attempt + 1}; measuring again)")
    return {**spec, "error": f"PostgreSQL restarted during each of {attempts} attempts"}


def uses_postgres(spec: dict[str, Any]) -> bool:
    if spec["part"] == "growth":
        return bool(spec["backend"] == "postgresql")
    return CASES[spec["case"]][1] == "postgresql"


# -- report ---------------------------------------------------------------------------------------


def _median(values: list[float]) -> float:
    values = [v for v in values if isinstance(v, int | float) and not math.isnan(v)]
    return statistics.median(values) if values else math.nan


def throughput_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (case, workers): the median of every numeric figure over the repeats."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        if row["part"] == "throughput" and "error" not in row:
            groups.setdefault((row["case"], row["workers"]), []).append(row)
    table = []
    for (case, workers), group in groups.items():
        entry: dict[str, Any] = {"case": case, "workers": workers, "n": len(group)}
        keys = {k for g in group for k, v in g.items() if isinstance(v, int | float)}
        for key in sorted(keys - {"workers", "repeat", "seed", "seconds"}):
            entry[key] = _median([g.get(key, math.nan) for g in group])
        table.append(entry)
    by_key = {(e["case"], e["workers"]): e for e in table}
    for entry in table:
        one = by_key.get((entry["case"], 1))
        entry["speedup"] = entry["steady_per_s"] / one["steady_per_s"] if one else math.nan
    order = list(CASES)
    table.sort(key=lambda e: (order.index(e["case"]), e["workers"]))
    return table


def fmt(value: Any, digits: int = 2) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(header: Sequence[str], rows: Sequence[Sequence[Any]], digits: int = 2) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v, digits) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def throughput_report(table: list[dict[str, Any]]) -> str:
    by_key = {(e["case"], e["workers"]): e for e in table}
    workers = sorted({e["workers"] for e in table})
    nan = math.nan

    def get(case: str, n: int, key: str) -> float:
        entry = by_key.get((case, n))
        return entry.get(key, nan) if entry else nan

    def cell(case: str, n: int) -> str:
        rate, speedup = get(case, n, "steady_per_s"), get(case, n, "speedup")
        if math.isnan(rate):
            return "—"
        return f"{rate:,.0f}" + ("" if n == 1 else f" ({speedup:.2f}×)")

    header = ["workers"]
    for backend in ("sqlite", "postgresql"):
        header += [f"tunewise {backend}", f"Optuna {backend}", "tunewise ÷ Optuna"]
    body = []
    for n in workers:
        line: list[Any] = [n]
        for backend in ("sqlite", "postgresql"):
            tw_case, op_case = f"tunewise-{backend}", f"optuna-{backend}"
            ratio = get(tw_case, n, "steady_per_s") / get(op_case, n, "steady_per_s")
            line += [cell(tw_case, n), cell(op_case, n), ratio]
        body.append(line)
    parts = [
        "### Throughput: steady trials/s (speed-up over 1 worker), medians over repeats",
        "",
        markdown(header, body),
        "",
        "### CPU in the steady window (cores busy, of the machine's "
        f"{os.cpu_count()}), and CPU per trial",
        "",
        markdown(
            [
                "case",
                "workers",
                "n",
                "trials",
                "start-up s",
                "machine",
                "workers",
                "PostgreSQL (study's backends)",
                "other",
                "CPU ms / trial",
                "worker errors",
            ],
            [
                [
                    e["case"],
                    e["workers"],
                    e["n"],
                    f"{e['trials']:,.0f}",
                    e["startup_s"],
                    e["cpu_machine"],
                    e["cpu_workers"],
                    e["cpu_pg"],
                    e["cpu_other"],
                    e["cpu_ms_per_trial"],
                    e.get("worker_errors", 0),
                ]
                for e in table
            ],
        ),
        "",
        "### tunewise: where a worker's time goes (calls ending in the steady window)",
        "",
        markdown(
            [
                "case",
                "workers",
                "claim ms (p90)",
                "finish ms (p90)",
                "refresh ms",
                "history + ask ms",
                "conflicts / claim",
                "share: claim",
                "finish",
                "refresh",
                "history + ask",
                "rest",
            ],
            [
                [
                    e["case"],
                    e["workers"],
                    f"{e.get('claim_ms', nan):.2f} ({e.get('claim_p90_ms', nan):.2f})",
                    f"{e.get('finish_ms', nan):.2f} ({e.get('finish_p90_ms', nan):.2f})",
                    e.get("refresh_ms", nan),
                    e.get("history_ms", nan) + e.get("ask_ms", nan),
                    e.get("conflicts_per_claim", nan),
                    e.get("claim_share", nan),
                    e.get("finish_share", nan),
                    e.get("refresh_share", nan),
                    e.get("history_share", nan) + e.get("ask_share", nan),
                    e.get("untimed_share", nan),
                ]
                for e in table
                if e["case"].startswith("tunewise")
            ],
        ),
        "",
        "### Optuna: time in its storage calls (calls ending in the steady window)",
        "",
        markdown(
            [
                "case",
                "workers",
                "create_new_trial ms (p90)",
                "set_trial_param ms",
                "set_trial_state_values ms (p90)",
                "storage calls / trial",
                "share: storage",
                "rest",
            ],
            [
                [
                    e["case"],
                    e["workers"],
                    f"{e.get('create_new_trial_ms', nan):.2f} "
                    f"({e.get('create_new_trial_p90_ms', nan):.2f})",
                    e.get("set_trial_param_ms", nan),
                    f"{e.get('set_trial_state_values_ms', nan):.2f} "
                    f"({e.get('set_trial_state_values_p90_ms', nan):.2f})",
                    sum(
                        v
                        for k, v in e.items()
                        if k.endswith("_per_trial") and k[: -len("_per_trial")] not in NOT_DB
                    ),
                    1.0 - e.get("untimed_share", nan),
                    e.get("untimed_share", nan),
                ]
                for e in table
                if e["case"].startswith("optuna")
            ],
        ),
    ]
    pg = [e for e in table if e["case"].endswith("postgresql") and "pg_running" in e]
    if pg:
        parts += [
            "",
            "### PostgreSQL: what the study's backends do (mean number of backends, sampled "
            f"every {1e3 * WAIT_SAMPLE_S:.0f} ms), and what a contended lock's holder does",
            "",
            markdown(
                [
                    "case",
                    "workers",
                    "running",
                    "waiting for a lock",
                    "in a transaction, waiting for its client",
                    "WAL flush",
                    "idle (client's turn)",
                    "holder waits for its client",
                    "holder running",
                    "holder in WAL flush",
                    "holder: other",
                ],
                [
                    [
                        e["case"],
                        e["workers"],
                        e["pg_running"],
                        e["pg_lock_wait"],
                        e["pg_in_txn_client"],
                        e["pg_wal"],
                        e["pg_idle"],
                        e.get("holder_in_txn_client", nan),
                        e.get("holder_running", nan),
                        e.get("holder_wal", nan),
                        1.0
                        - e.get("holder_in_txn_client", nan)
                        - e.get("holder_running", nan)
                        - e.get("holder_wal", nan),
                    ]
                    for e in pg
                ],
            ),
        ]
    return "\n".join(parts)


def growth_report(rows: list[dict[str, Any]], bins: int) -> tuple[str, list[dict[str, Any]]]:
    """Claim and finish latency along the study, and the worker loop at the checkpoints."""
    parts = []
    curve: list[dict[str, Any]] = []
    for row in rows:
        if row["part"] != "growth" or "error" in row:
            continue
        n = row["trials"]
        claim, finish = row["claim_ms"], row["finish_ms"]
        size = max(n // bins, 1)
        for start in range(0, n, size):
            c = [v for v in claim[start : start + size] if v is not None and not math.isnan(v)]
            f = [v for v in finish[start : start + size] if v is not None and not math.isnan(v)]
            if c:
                c.sort()
                curve.append(
                    {
                        "backend": row["backend"],
                        "from": start,
                        "to": start + size,
                        "n": len(c),
                        "claim_ms": statistics.median(c),
                        "claim_p90_ms": c[int(0.9 * (len(c) - 1))],
                        "finish_ms": statistics.median(f),
                    }
                )
        lines = []
        for seg in row["segments"]:
            at = seg["at"]
            width = min(1000, max(at // 2, 1))
            before = [v for v in claim[max(at - width, 0) : at] if not math.isnan(v)]
            before_f = [v for v in finish[max(at - width, 0) : at] if not math.isnan(v)]
            lines.append(
                [
                    row["backend"],
                    f"{at:,}",
                    f"{max(at - width, 0):,}–{at:,}",
                    _median(before),
                    _median(before_f),
                    f"{at:,}–{at + seg['trials']:,}",
                    seg["gap_ms"],
                    seg.get("claim_ms", math.nan),
                    seg.get("finish_ms", math.nan),
                    seg.get("refresh_ms", math.nan),
                    seg.get("history_ms", math.nan) + seg.get("ask_ms", math.nan),
                ]
            )
        first, last = lines[0], lines[-1]
        ratio_claim = last[3] / first[3]
        ratio_loop = last[6] / first[6]
        parts += [
            f"### {row['backend']}: a study growing to {n:,} trials (1 process; growth loop "
            f"{row['wall_s']:.0f} s"
            + (
                f"; the server restarted {row['interrupted']} time(s) under it, the trials it "
                "interrupted are left out"
                if row.get("interrupted")
                else ""
            )
            + ")",
            "",
            markdown(
                [
                    "backend",
                    "trials in study",
                    "growth loop: trials",
                    "claim txn ms",
                    "finish txn ms",
                    "worker loop: trials",
                    "ms / trial",
                    "claim ms",
                    "finish ms",
                    "refresh ms",
                    "history + ask ms",
                ],
                lines,
                digits=3,
            ),
            "",
            f"Last ÷ first checkpoint: claim transaction {ratio_claim:.2f}×, worker loop time "
            f"per trial {ratio_loop:.2f}×.",
            "",
        ]
    if curve:
        shown = []
        for backend in dict.fromkeys(c["backend"] for c in curve):
            own = [c for c in curve if c["backend"] == backend]
            step = max(len(own) // 10, 1)  # about 10 rows per backend
            shown += [c for i, c in enumerate(own) if i % step == 0 or i == len(own) - 1]
        parts += [
            "### Claim latency along the growth loop (median per bin; full curve in the CSV)",
            "",
            markdown(
                ["backend", "trials", "claims", "claim ms", "claim p90 ms", "finish ms"],
                [
                    [
                        c["backend"],
                        f"{c['from']:,}–{c['to']:,}",
                        c["n"],
                        c["claim_ms"],
                        c["claim_p90_ms"],
                        c["finish_ms"],
                    ]
                    for c in shown
                ],
                digits=3,
            ),
        ]
    return "\n".join(parts), curve


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for row in rows:
        keys += [k for k in row if k not in keys]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)


def machine() -> str:
    uptime = subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout
    return (
        f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S %Z}, {platform.node()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, commit {commit.strip()}; "
        f"uptime: {uptime.strip()}"
    )


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", default=["throughput", "growth"])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4, 16, 32])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each throughput run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--growth-trials", type=int, default=100_000)
    parser.add_argument(
        "--growth-backends",
        nargs="+",
        default=["sqlite", "postgresql"],
        choices=["sqlite", "postgresql"],
    )
    parser.add_argument(
        "--segment", type=int, default=1000, help="worker-loop trials at each growth checkpoint"
    )
    parser.add_argument(
        "--objective-ms",
        type=float,
        default=0.0,
        help="each objective call sleeps this long (default 0: the store and loop alone)",
    )
    parser.add_argument("--quick", action="store_true", help="workers 1 and 4, 1,000 trials")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="raw CSV (default benchmarks/results/load.csv, load_quick.csv with --quick); the "
        "growth curve goes to *_growth.csv and the tables to *.md",
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.workers, args.repeats, args.seconds = [1, 4], 1, 1.0
        args.growth_trials, args.segment = 1000, 100
    if args.out is None:
        args.out = Path("benchmarks/results") / ("load_quick.csv" if args.quick else "load.csv")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    if args.child:
        spec = json.loads(args.child)
        # the workers this measurement starts read it (they come from a forkserver)
        os.environ[OBJECTIVE_MS_ENV] = str(spec.get("objective_ms", 0.0))
        print(json.dumps(child_main(spec)), flush=True)
        return 0
    specs = plan(args)
    started = machine()
    print(f"# tunewise load benchmark — {started}", flush=True)
    print(f"# {postgres_version()}; {len(specs)} measurements; raw rows: {args.out}", flush=True)
    rows = []
    t_start = time.perf_counter()
    for i, spec in enumerate(specs, 1):
        row = measure_with_retries(spec)
        rows.append(row)
        if "error" in row:
            detail = f"ERROR {row['error']}"
        elif spec["part"] == "throughput":
            detail = (
                f"{row['steady_per_s']:8.1f}/s  trials {row['trials']:6d}  "
                f"cpu workers {row['cpu_workers']:.2f} pg {row['cpu_pg']:.2f} "
                f"machine {row['cpu_machine']:.2f}  start-up {row['startup_s']:.1f} s"
            )
        else:
            detail = f"{row['n_done']} trials, growth loop {row['wall_s']:.0f} s"
        where = (
            f"{spec['case']:20s} workers={spec['workers']:<2d} repeat={spec['repeat']}"
            if spec["part"] == "throughput"
            else f"growth {spec['backend']:10s} trials={spec['trials']}"
        )
        print(f"[{i:3d}/{len(specs)} {time.perf_counter() - t_start:6.0f} s] {where}  {detail}")
        sys.stdout.flush()
    table = throughput_table(rows)
    sections = [throughput_report(table)] if table else []
    growth_text, curve = growth_report(rows, bins=100)
    if growth_text:
        sections.append(growth_text)
    text = "\n\n".join(sections)
    print()
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    flat = [
        {k: v for k, v in r.items() if k not in ("claim_ms", "finish_ms")}
        | ({"segments": json.dumps(r["segments"])} if "segments" in r else {})
        for r in rows
    ]
    write_csv(args.out, flat)
    if curve:
        write_csv(args.out.with_name(args.out.stem + "_growth.csv"), curve)
    finished = machine()
    command = "python " + " ".join(sys.argv)
    args.out.with_suffix(".md").write_text(
        f"`{command}`\n\nstarted {started}\nfinished {finished}\n\n{text}\n"
    )
    failed = [r for r in rows if "error" in r]
    for row in failed:
        print(f"FAILED: {row.get('case') or row.get('backend')}: {row['error']}")
    print(f"\n# finished {finished}\n# done in {time.perf_counter() - t_start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
