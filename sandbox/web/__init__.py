"""The demo web chat page (static files served by the sandbox server)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"


async def _index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "index.html")


def add_routes(app: web.Application) -> None:
    """Serve the demo page at ``/`` and its assets under ``/static/``."""
    app.router.add_get("/", _index)
    app.router.add_static("/static/", STATIC, show_index=False)
