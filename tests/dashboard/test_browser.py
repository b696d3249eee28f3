"""The dashboard in a real browser: headless Chromium (Playwright) over a served store that is
being written, reading the plotted numbers back from each Plotly figure.

Screenshots of every page land in ``tests/dashboard/screenshots/`` (ignored by git).
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.dashboard import studies
from tests.requirements import unavailable
from tunewise.analysis.study import incumbent_trace
from tunewise.dashboard.app import create_app
from tunewise.storage import StudyHandle
from tunewise.storage.locations import open_study

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
WAIT_MS = 8000


def nulls(values: Any) -> list[Any]:
    """Values as the page holds them: NaN is null in JSON."""
    return [None if isinstance(v, float) and math.isnan(v) else v for v in values]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.is_file():
        unavailable(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@contextmanager
def serving(root: Path) -> Iterator[str]:
    """The dashboard of ``root`` served by uvicorn on a free port, in a thread."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(root, poll_seconds=0.4)
    served = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=served.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not served.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        served.should_exit = True
        thread.join(10)


@pytest.fixture
def server(root: Path, study: StudyHandle) -> Iterator[str]:
    with serving(root) as url:
        yield url


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield opened
    finally:
        context.close()
    assert errors == [], errors


def open_page(page: Any, url: str) -> None:
    page.goto(url)
    page.wait_for_function("window.tunewise && window.tunewise.ready === true", timeout=WAIT_MS)


def show(page: Any, element: str) -> None:
    """Scroll ``element`` into view: the page draws a figure when it first becomes visible."""
    page.locator(f"#{element}").scroll_into_view_if_needed()
    page.wait_for_function(
        "(id) => document.getElementById(id).data || document.getElementById(id).textContent",
        arg=element,
        timeout=WAIT_MS,
    )


def figure(page: Any, element: str) -> list[dict[str, Any]]:
    """The traces Plotly drew in ``element`` (Plotly keeps them on the div as ``.data``)."""
    show(page, element)
    return page.evaluate(
        """(id) => (document.getElementById(id).data || []).map((t) => ({
            name: t.name, x: t.x, y: t.y, text: t.text, color: t.marker && t.marker.color,
            dimensions: t.dimensions
                && t.dimensions.map((d) => ({label: d.label, values: d.values})),
        }))""",
        element,
    )


def shoot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_study_page_plots_the_store_and_updates_live(
    page: Any, server: str, study: StudyHandle
) -> None:
    running = studies.start(study, {"x": 0.42, "n": 3, "kind": "b"}, fidelity=9)
    study.heartbeat(running.number, worker=studies.WORKER, learning_curve=[(1, 0.9), (2, 0.6)])
    open_page(page, f"{server}/study/runs")

    expected = incumbent_trace(study.trials(), studies.SPACE)
    incumbent, points = figure(page, "trace-budget")
    assert incumbent["x"] == pytest.approx(list(expected["budget"]))
    assert incumbent["y"] == nulls(expected["best"])
    assert points["y"] == nulls(expected["objective"])
    assert points["color"] == list(expected["fidelity"])  # coloured by fidelity
    over_time = figure(page, "trace-time")[0]
    assert over_time["x"] == pytest.approx(list(expected["elapsed"]))
    curves = {t["name"]: t for t in figure(page, "curves")}
    assert curves[f"trial {running.number}"]["y"] == [0.9, 0.6]
    assert curves["trial 8"]["x"] == list(range(4, 10))
    rung_rows = page.locator("#rung-summary tbody tr").all_inner_texts()
    assert [r.split("\t")[:2] for r in rung_rows] == [["1", "6"], ["3", "2"], ["9", "2"]]
    (parallel,) = figure(page, "parallel")
    assert [d["label"] for d in parallel["dimensions"]] == ["x", "n", "kind", "epochs", "objective"]
    assert page.locator("#trials tbody tr").count() == 10
    show(page, "importance")
    assert "needs at least 10" in page.locator("#importance").inner_text()
    shoot(page, "study")

    # The running trial reports more, then finishes as the new incumbent: the page follows.
    study.heartbeat(
        running.number, worker=studies.WORKER, learning_curve=[(1, 0.9), (2, 0.6), (3, 0.3)]
    )
    page.wait_for_function(
        f"""() => (document.getElementById('curves').data || []).some(
            (t) => t.name === 'trial {running.number}' && t.y.length === 3)""",
        timeout=WAIT_MS,
    )
    studies.finish(study, running.number, 0.05, curve=[(1, 0.9), (2, 0.6), (3, 0.05)])
    page.wait_for_function(
        """() => { const d = document.getElementById('trace-budget').data;
                   return d && d[0].y[d[0].y.length - 1] === 0.05; }""",
        timeout=WAIT_MS,
    )
    page.wait_for_function("window.tunewise.updates >= 2", timeout=WAIT_MS)  # two live updates
    expected = incumbent_trace(study.trials(), studies.SPACE)
    incumbent, _ = figure(page, "trace-budget")
    assert incumbent["x"] == pytest.approx(list(expected["budget"]))
    assert incumbent["y"] == nulls(expected["best"])
    row = page.locator(f'#trials tbody tr[data-number="{running.number}"]').inner_text()
    assert "succeeded" in row and "0.050000" in row
    assert "best: 0.050000 (trial 9 at epochs 9)" in page.locator("#summary").inner_text()

    # filter and sort the table
    page.fill("#filter", "status=failed")
    assert page.locator("#trials tbody tr").all_inner_texts()[0].startswith("4\tfailed")
    page.fill("#filter", "")
    page.click('#trials th[data-column="objective"]')
    first = page.locator("#trials tbody tr").first.inner_text()
    assert first.startswith(f"{running.number}\t")
    shoot(page, "study-after-update")


def test_studies_trial_and_compare_pages(
    page: Any, server: str, root: Path, study: StudyHandle
) -> None:
    other = studies.create(storage=str(root / "tunewise.db"), name="other")
    try:
        for i, objective in enumerate((0.6, 0.25, 0.4)):
            t = studies.start(other, {"x": 0.2 * i, "n": 1, "kind": "a"}, fidelity=9)
            studies.finish(other, t.number, objective)
        open_page(page, f"{server}/studies")
        rows = page.locator("#studies tbody tr").all_inner_texts()
        assert len(rows) == 2
        assert "runs\thyperband\t8 succeeded, 1 failed" in rows[0]
        assert "evaluations: 9 / 100" in rows[0]
        assert "0.20000 (trial 8 at epochs 9)" in rows[0]
        assert "0.25000 (trial 1 at epochs 9)" in rows[1]
        shoot(page, "studies")

        page.check('input[value="runs"]')
        page.check('input[value="other"]')
        page.click("button[type=submit]")
        page.wait_for_function("window.tunewise && window.tunewise.ready === true", timeout=WAIT_MS)
        traces = {t["name"]: t for t in figure(page, "compare-budget")}
        for name, handle in (("runs", study), ("other", other)):
            expected = incumbent_trace(handle.trials(), studies.SPACE)
            drawn = traces[f"{name} (hyperband)"]
            assert drawn["x"] == pytest.approx(list(expected["budget"]))
            assert drawn["y"] == nulls(expected["best"])
        shoot(page, "compare")

        open_page(page, f"{server}/study/runs/trial/8")
        *earlier, curve = figure(page, "trial-curve")  # the chain's earlier steps, then its own
        stored = study.trial(8)
        assert stored is not None
        assert len(earlier) == 1 and earlier[0]["name"] == "earlier trials of this configuration"
        assert curve["x"] == [s for s, _ in stored.learning_curve]
        assert curve["y"] == [v for _, v in stored.learning_curve]
        text = page.locator("main").inner_text()
        assert "3 → 6 → 8" in text
        assert str(root / "trials" / "8") in text
        shoot(page, "trial")

        open_page(page, f"{server}/study/runs/trial/4")
        assert page.locator("#trial-error").inner_text().endswith("ValueError: x")
        shoot(page, "trial-failed")

        # a running trial's page draws its curve as it is reported
        running = studies.start(study, {"x": 0.9, "n": 2, "kind": "a"}, fidelity=9)
        study.heartbeat(running.number, worker=studies.WORKER, learning_curve=[(1, 0.8)])
        open_page(page, f"{server}/study/runs/trial/{running.number}")
        study.heartbeat(running.number, worker=studies.WORKER, learning_curve=[(1, 0.8), (2, 0.7)])
        page.wait_for_function(
            "() => (document.getElementById('trial-curve').data || [{y: []}])"
            ".at(-1).y.length === 2",
            timeout=WAIT_MS,
        )
        shoot(page, "trial-running")
    finally:
        other.store.close()


RUN_SCRIPT = """
import sys, time
import tunewise as tw

space = tw.Space(x=tw.Float(0.0, 1.0), kind=tw.Categorical(["a", "b"]), epochs=tw.Fidelity(1, 9))

def evaluate(config, trial):
    time.sleep(0.15)
    return (config["x"] - 0.3) ** 2 + 1.0 / trial.fidelity

if __name__ == "__main__":
    tw.run(evaluate, space, root=sys.argv[1], budget=tw.Budget(evaluations=int(sys.argv[2])),
           optimizer="auto", seed=3, progress=False)
"""


def started(root: Path) -> bool:
    """True once the study at ``root`` holds a trial."""
    if not (root / "tunewise.db").is_file():
        return False
    try:
        handle = open_study(root=root)
    except Exception:  # created but not yet holding the study (or its schema)
        return False
    try:
        handle.refresh()
        return len(handle.trials()) > 0
    finally:
        handle.store.close()


def test_study_page_follows_a_running_tw_run(page: Any, tmp_path: Path) -> None:
    """``tw.run`` in another process writes the study while the page is open."""
    script = tmp_path / "tune.py"
    script.write_text(RUN_SCRIPT)
    root = tmp_path / "live"
    evaluations = 24
    run = subprocess.Popen([sys.executable, str(script), str(root), str(evaluations)])
    try:
        deadline = time.monotonic() + 30
        while not started(root):
            assert run.poll() is None and time.monotonic() < deadline, "tw.run did not start"
            time.sleep(0.1)
        with serving(root) as url:
            open_page(page, f"{url}/study/live")
            seen = len(figure(page, "trace-budget")[0]["x"])
            assert seen < evaluations
            page.wait_for_function("window.tunewise.updates >= 2", timeout=WAIT_MS)
            assert run.wait(timeout=30) == 0
            page.wait_for_function(
                f"document.querySelectorAll('#trials tbody tr').length === {evaluations}"
                " && window.tunewise.updates >= 3",
                timeout=WAIT_MS,
            )
            page.wait_for_function(
                f"document.getElementById('trace-budget').data[0].x.length === {evaluations}",
                timeout=WAIT_MS,
            )
            # The summary is its own request: it may come one poll after the figures.
            page.wait_for_function(
                f"document.getElementById('summary').innerText.includes('{evaluations} succeeded')",
                timeout=WAIT_MS,
            )
            handle = open_study(root=root)
            try:
                handle.refresh()
                expected = incumbent_trace(handle.trials(), handle.space)
            finally:
                handle.store.close()
            incumbent, points = figure(page, "trace-budget")
            assert incumbent["x"] == pytest.approx(list(expected["budget"]))
            assert incumbent["y"] == nulls(expected["best"])
            assert points["color"] == list(expected["fidelity"])
            assert f"{evaluations} succeeded" in page.locator("#summary").inner_text()
            assert "optimizer: hyperband (eta=3," in page.locator("#summary").inner_text()
            shoot(page, "study-live-run")
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
