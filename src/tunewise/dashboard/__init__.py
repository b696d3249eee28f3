"""``tunewise dashboard``: a live, read-only web app over a tunewise store.

The app (:func:`create_app`, Starlette) reads the store through the storage interface only
(:mod:`tunewise.dashboard.data`), serves small page shells (:mod:`tunewise.dashboard.pages`)
whose script draws with Plotly's bundled JavaScript and polls a JSON API for what changed, and
is served by uvicorn (:mod:`tunewise.dashboard.server`), on 127.0.0.1 by default. Starlette and
pandas are imported when the app is first asked for, so the ``tunewise`` command starts fast.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from tunewise.dashboard.app import create_app

        return create_app
    raise AttributeError(f"module 'tunewise.dashboard' has no attribute {name!r}")
