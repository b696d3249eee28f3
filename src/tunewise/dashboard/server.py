"""Serving the dashboard with uvicorn, on 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import os

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def serve(
    location: str | os.PathLike[str],
    *,
    study: str | None = None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
) -> None:
    """Serve the dashboard of the store at ``location`` until interrupted.

    The store is named in what is printed without its password. Another host than 127.0.0.1
    exposes the studies (configs, errors) to the network without authentication, which the
    printed line says.
    """
    import uvicorn

    from tunewise.dashboard.app import create_app

    app = create_app(location, study=study)
    where = app.state.view.where
    shown = f"[{host}]" if ":" in host else host
    print(f"tunewise dashboard of {where} at http://{shown}:{port}/ (read only)", flush=True)
    if host in ("127.0.0.1", "localhost", "::1"):
        print(
            f"bound to {host}: only this machine can open it; from elsewhere, tunnel with "
            f"ssh -L {port}:127.0.0.1:{port} THIS_HOST",
            flush=True,
        )
    else:
        print(
            f"warning: bound to {host}: anyone who can reach this port sees the studies "
            "(there is no login)",
            flush=True,
        )
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)
