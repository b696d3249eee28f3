"""The dashboard as a Starlette app: read-only pages and a JSON API over one store.

Every route answers GET (and HEAD) only; anything else gets 405 from Starlette's router. The
pages are shells (:mod:`tunewise.dashboard.pages`) whose script polls the API: a study page asks
``/api/study/NAME/changes?since=V`` every two seconds and receives only the trials changed
after version ``V``, then refetches the figures (built once per version by
:class:`~tunewise.dashboard.data.StudyView`, however many pages ask). Plotly's JavaScript is
served from the installed ``plotly`` package, so nothing is loaded from the network.
"""

from __future__ import annotations

import importlib.util
import io
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from tunewise.dashboard import pages
from tunewise.dashboard.data import StoreView, StudyView

STATIC = Path(__file__).parent / "static"


def plotly_js() -> Path:
    """The minified Plotly bundle shipped inside the installed ``plotly`` package."""
    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the dashboard needs the plotly package: pip install plotly")
    path = Path(spec.origin).parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise RuntimeError(f"plotly's JavaScript is missing at {path}; reinstall plotly")
    return path


def create_app(
    store_url_or_root: str | os.PathLike[str],
    study: str | None = None,
    *,
    poll_seconds: float = pages.POLL_SECONDS,
) -> Starlette:
    """The dashboard over the store at ``store_url_or_root`` (a root folder holding
    ``tunewise.db``, or a store URL); ``study`` makes ``/`` open that study's page; pages ask
    for changes every ``poll_seconds``.

    The store is opened here (a wrong location fails now, not at the first request) and closed
    when the app shuts down.
    """
    view = StoreView(store_url_or_root)
    if study is not None and view.study(study) is None:
        view.close()
        raise ValueError(f"no study {study!r} in the store (there are: {', '.join(view.names())})")
    plotly_path = plotly_js()
    if not poll_seconds > 0:
        view.close()
        raise ValueError(f"poll_seconds must be positive, not {poll_seconds!r}")
    shell = pages.Shell(where=view.where, poll_seconds=poll_seconds)

    def page(html: str, status_code: int = 200) -> HTMLResponse:
        return HTMLResponse(html, status_code=status_code)

    def missing(what: str, *, api: bool) -> Response:
        if api:
            return JSONResponse({"error": what}, status_code=404)
        return page(shell.not_found(what=what), 404)

    def with_study(
        handler: Callable[[Request, StudyView], Response], *, api: bool
    ) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            name = request.path_params["name"]
            found = view.study(name)
            if found is None:
                return missing(f"no study named {name!r}", api=api)
            return handler(request, found)

        return endpoint

    def json(payload: Any) -> JSONResponse:
        if isinstance(payload, dict):
            payload = {"epoch": view.epoch, **payload}
        return JSONResponse(payload)

    rendered: dict[str, tuple[Any, bytes]] = {}

    def json_once(key: str, payload: dict[str, Any]) -> Response:
        """``payload`` as JSON, encoded once while the view hands out the same (cached) object:
        a 10,000-trial figure costs more to encode than to look up."""
        found = rendered.get(key)
        if found is None or found[0] is not payload:
            found = (payload, bytes(json(payload).body))
            rendered[key] = found
        return Response(found[1], media_type="application/json")

    # -- pages ----------------------------------------------------------------------------------

    def home(_request: Request) -> Response:
        target = pages.study_path(study) if study is not None else "/studies"
        return RedirectResponse(target, status_code=307)

    def studies_page(_request: Request) -> Response:
        return page(shell.studies())

    def study_page(_request: Request, found: StudyView) -> Response:
        return page(shell.study(name=found.name))

    def trial_page(request: Request, found: StudyView) -> Response:
        number = request.path_params["number"]
        trial = found.trial(number)
        if trial is None:
            return missing(f"study {found.name!r} has no trial {number}", api=False)
        return page(shell.trial(trial=trial))

    def compare_page(request: Request) -> Response:
        names = request.query_params.getlist("study")
        unknown = [n for n in names if view.study(n) is None]
        if unknown:
            return missing(f"no study named {', '.join(map(repr, unknown))}", api=False)
        return page(shell.compare(names=names))

    def export_csv(_request: Request, found: StudyView) -> Response:
        text = found.export_frame().to_csv(index=False)
        return Response(
            text,
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="{_filename(found)}.csv"'},
        )

    def export_parquet(_request: Request, found: StudyView) -> Response:
        buffer = io.BytesIO()
        found.export_frame().to_parquet(buffer, index=False)
        return Response(
            buffer.getvalue(),
            media_type="application/vnd.apache.parquet",
            headers={"content-disposition": f'attachment; filename="{_filename(found)}.parquet"'},
        )

    # -- JSON -----------------------------------------------------------------------------------

    def api_studies(_request: Request) -> Response:
        return json({"where": view.where, "studies": view.studies()})

    def api_part(part: str, read: Callable[[StudyView], Any]) -> Callable[[Request], Response]:
        return with_study(
            lambda _request, found: json_once(f"{found.name}\0{part}", read(found)), api=True
        )

    def api_changes(request: Request, found: StudyView) -> Response:
        try:
            since = int(request.query_params.get("since", "0"))
        except ValueError:
            return JSONResponse({"error": "since must be an integer"}, status_code=400)
        return json(found.changes(since))

    def api_trial(request: Request, found: StudyView) -> Response:
        trial = found.trial(request.path_params["number"])
        if trial is None:
            return missing(f"study {found.name!r} has no trial", api=True)
        return json(trial)

    def api_compare(request: Request) -> Response:
        out = []
        for name in request.query_params.getlist("study"):
            found = view.study(name)
            if found is None:
                return missing(f"no study named {name!r}", api=True)
            trace = found.figures()["trace"]
            out.append(
                {
                    "name": name,
                    "optimizer": found.summary()["optimizer"],
                    "budget": trace["budget"],
                    "elapsed": trace["elapsed"],
                    "best": trace["best"],
                }
            )
        return json({"studies": out})

    def plotly(_request: Request) -> Response:
        return FileResponse(plotly_path, media_type="text/javascript")

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            view.close()

    get = ["GET"]
    routes = [
        Route("/", home, methods=get),
        Route("/studies", studies_page, methods=get),
        Route("/compare", compare_page, methods=get),
        Route("/study/{name}", with_study(study_page, api=False), methods=get),
        Route("/study/{name}/trial/{number:int}", with_study(trial_page, api=False), methods=get),
        Route("/study/{name}/export.csv", with_study(export_csv, api=False), methods=get),
        Route("/study/{name}/export.parquet", with_study(export_parquet, api=False), methods=get),
        Route("/api/studies", api_studies, methods=get),
        Route("/api/compare", api_compare, methods=get),
        Route(
            "/api/study/{name}/summary",
            with_study(lambda _request, found: json(found.summary()), api=True),
            methods=get,
        ),
        Route("/api/study/{name}/figures", api_part("figures", StudyView.figures), methods=get),
        Route(
            "/api/study/{name}/importance",
            api_part("importance", StudyView.importance),
            methods=get,
        ),
        Route("/api/study/{name}/trials", api_part("trials", StudyView.table), methods=get),
        Route("/api/study/{name}/curves", api_part("curves", StudyView.curves), methods=get),
        Route("/api/study/{name}/changes", with_study(api_changes, api=True), methods=get),
        Route("/api/study/{name}/trial/{number:int}", with_study(api_trial, api=True), methods=get),
        Route("/static/plotly.min.js", plotly, methods=get),
        Mount("/static", app=StaticFiles(directory=STATIC), name="static"),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.view = view
    return app


def _filename(found: StudyView) -> str:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in found.name)
    return f"{safe or 'study'}-trials"


__all__ = ["create_app", "plotly_js"]
