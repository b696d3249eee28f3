"""Dashboard load times on a 10,000-trial study: every page and JSON endpoint, and a full page load.

1. **The study.** ``--trials`` trials (default 10,000) written through the store's public API, as
   workers write them (``StudyStore.claim`` then ``finish``) into a fresh SQLite file: a
   Hyperband-shaped study on a 4-parameter space with a fidelity 1..27, two thirds of each rung
   promoted (``previous_trial`` set, ``info.sampled_from``), a learning curve of one point per
   epoch for every trial and 2% failures with a traceback.
2. **Requests.** The dashboard (``create_app``) served by a real uvicorn server in a thread; each
   page and endpoint is requested ``--rounds`` times with httpx, in two states: *changed* (one
   more trial is finished through the store before each request, so the view rereads the store
   and rebuilds the tables it serves: what a page polling a live study pays) and *unchanged*
   (the cached answer). Reported: the median and the worst milliseconds, and the response size.
3. **Browser** (when ``/usr/bin/chromium`` exists): headless Chromium opens the study page and the
   studies page ``--rounds`` times; reported is the median time from navigation until the page's
   script has drawn every figure and the table (``window.tunewise.ready``).

    python benchmarks/dashboard_load.py                 # the figures in the dashboard's report
    python benchmarks/dashboard_load.py --trials 2000   # smaller, faster
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

import tunewise as tw
from tunewise.dashboard.app import create_app
from tunewise.storage import Limits, StudyHandle
from tunewise.storage.locations import open_store
from tunewise.trial import Suggestion, TrialStatus

SPACE = tw.Space(
    lr=tw.Float(1e-4, 1e-1, log=True),
    width=tw.Integer(16, 512, log=True),
    dropout=tw.Float(0.0, 0.5),
    optimizer=tw.Categorical(["adam", "sgd", "rmsprop"]),
    epochs=tw.Fidelity(1, 27),
)
RUNGS = (1, 3, 9, 27)
WORKER = "bench"
NAME = "big"


def write_study(storage: str, n_trials: int, *, seed: int = 0) -> StudyHandle:
    """A study of ``n_trials`` finished trials, rung by rung, through claim and finish."""
    store = open_store(storage=storage)
    store.create_or_open_study(
        NAME,
        space=SPACE,
        optimizer={"name": "hyperband", "eta": 3},
        seed=seed,
        budget={"evaluations": None, "cost": None, "fidelity_units": None},
        settings={},
    )
    study = store.study(NAME)
    rng = np.random.default_rng(seed)
    number = 0
    rung: list[tuple[int, dict[str, object], float]] = []  # (trial, config, objective)
    level = 0
    while number < n_trials:
        if level == 0 or not rung:
            level = 0
            configs = [SPACE.sample(rng) for _ in range(27)]
            parents: list[tuple[int | None, dict[str, object]]] = [(None, c) for c in configs]
        else:
            keep = sorted(rung, key=lambda r: r[2])[: max(1, 2 * len(rung) // 3)]
            parents = [(t, c) for t, c, _ in keep]
        fidelity = RUNGS[level]
        done: list[tuple[int, dict[str, object], float]] = []
        for previous, config in parents:
            if number >= n_trials:
                break
            suggestion = Suggestion(
                config=config,
                slot=f"bench:{number}",
                fidelity=fidelity,
                previous_trial=previous,
                info={"sampled_from": "random" if previous is None else "promotion", "rung": level},
            )
            claim = study.claim(suggestion, worker=WORKER, limits=Limits())
            assert claim.trial is not None
            start = RUNGS[level - 1] + 1 if previous is not None else 1
            base = float(rng.uniform(0.1, 1.0))
            curve = [(e, base + 1.0 / e) for e in range(start, fidelity + 1)]
            if rng.random() < 0.02:
                study.finish(
                    claim.trial.number,
                    worker=WORKER,
                    status=TrialStatus.FAILED,
                    error="Traceback (most recent call last):\n  ...\nRuntimeError: diverged",
                )
            else:
                study.finish(
                    claim.trial.number,
                    worker=WORKER,
                    status=TrialStatus.SUCCEEDED,
                    objective=curve[-1][1],
                    cost=float(fidelity),
                    learning_curve=curve,
                )
                done.append((claim.trial.number, config, curve[-1][1]))
            number += 1
        rung = done
        level = (level + 1) % len(RUNGS)
    return study


def serve(root: Path) -> tuple[str, Callable[[], None]]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(root, study=NAME), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return f"http://127.0.0.1:{port}", stop


def one_more(study: StudyHandle, rng: np.random.Generator) -> None:
    """Finish one more trial through the store: the next request sees a changed study."""
    study.refresh()
    number = study.totals().next_number
    claim = study.claim(
        Suggestion(config=SPACE.sample(rng), slot=f"bench:{number}", fidelity=1),
        worker=WORKER,
        limits=Limits(),
    )
    assert claim.trial is not None
    study.finish(
        claim.trial.number,
        worker=WORKER,
        status=TrialStatus.SUCCEEDED,
        objective=float(rng.uniform(0.5, 2.0)),
        learning_curve=[(1, 1.0)],
    )


def time_requests(
    base: str, paths: list[str], study: StudyHandle, rounds: int
) -> list[tuple[str, str, float, float, int]]:
    rng = np.random.default_rng(1)
    rows = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for path in paths:
            for state in ("changed", "unchanged"):
                times = []
                size = 0
                for _ in range(rounds):
                    if state == "changed":
                        one_more(study, rng)
                    else:
                        client.get(path)  # the cached answer is what is timed
                    start = time.perf_counter()
                    response = client.get(path)
                    times.append(time.perf_counter() - start)
                    response.raise_for_status()
                    size = len(response.content)
                rows.append((path, state, 1e3 * statistics.median(times), 1e3 * max(times), size))
    return rows


def time_browser(base: str, paths: list[str], rounds: int) -> list[tuple[str, float, float]]:
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox"]
        )
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 900})
            page.goto(f"{base}/studies")  # plotly.min.js into the browser's cache
            for path in paths:
                times = []
                for _ in range(rounds):
                    start = time.perf_counter()
                    page.goto(f"{base}{path}")
                    page.wait_for_function(
                        "window.tunewise && window.tunewise.ready", timeout=60000
                    )
                    times.append(time.perf_counter() - start)
                rows.append((path, 1e3 * statistics.median(times), 1e3 * max(times)))
        finally:
            browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="tw-dashboard-"))
    root = folder / NAME
    root.mkdir()
    try:
        start = time.perf_counter()
        study = write_study(str(root / "tunewise.db"), args.trials)
        written = time.perf_counter() - start
        print(f"wrote {args.trials} trials through claim + finish in {written:.1f} s")
        base, stop = serve(root)
        try:
            api = f"/api/study/{NAME}"
            paths = [
                "/studies",
                f"/study/{NAME}",
                f"/study/{NAME}/trial/{args.trials // 2}",
                "/api/studies",
                f"{api}/summary",
                f"{api}/figures",
                f"{api}/importance",
                f"{api}/trials",
                f"{api}/curves",
                f"{api}/changes?since=0",
                f"{api}/trial/{args.trials // 2}",
                f"/api/compare?study={NAME}",
                f"/study/{NAME}/export.csv",
                f"/study/{NAME}/export.parquet",
            ]
            print(f"\n{'request':42} {'state':9} {'median ms':>9} {'max ms':>8} {'bytes':>10}")
            for path, state, median, worst, size in time_requests(base, paths, study, args.rounds):
                print(f"{path:42} {state:9} {median:9.1f} {worst:8.1f} {size:10d}")
            if Path("/usr/bin/chromium").is_file():
                print(f"\n{'page in Chromium (until drawn)':42} {'median ms':>9} {'max ms':>8}")
                pages = [f"/study/{NAME}", "/studies", f"/study/{NAME}/trial/{args.trials // 2}"]
                for path, median, worst in time_browser(base, pages, args.rounds):
                    print(f"{path:42} {median:9.1f} {worst:8.1f}")
        finally:
            stop()
            study.store.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
