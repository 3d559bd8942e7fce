"""The bot's own web server: the dashboard Mini App and the branches' live screens.

`add_web_routes` puts them on an aiohttp application: the webhook's, or in polling mode the
small one `start_web_server` starts on `web_host:web_port`.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.web.api import add_api_routes
from bot.web.keys import SESSIONS, SETTINGS
from bot.web.screen import add_screen_routes
from bot.web.texts import STATIC
from core.config import Settings
from core.db import session_factory

# The page itself carries no data; it may be cached no more than its API answers are.
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors *"
    ),
}


async def _dashboard(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "dashboard.html", headers={"Cache-Control": "no-store"})


@web.middleware
async def _headers(request: web.Request, handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers.update(SECURITY_HEADERS)
    return response


def add_web_routes(app: web.Application, settings: Settings, engine: AsyncEngine) -> None:
    app[SETTINGS] = settings
    app[SESSIONS] = session_factory(engine)
    app.middlewares.append(_headers)
    app.router.add_get("/dashboard", _dashboard)
    app.router.add_static("/dashboard/static/", STATIC, show_index=False)
    add_api_routes(app)
    add_screen_routes(app)


def create_web_app(settings: Settings, engine: AsyncEngine) -> web.Application:
    app = web.Application()
    add_web_routes(app, settings, engine)
    return app


async def start_web_server(settings: Settings, engine: AsyncEngine) -> web.AppRunner | None:
    """Serve the pages on web_host:web_port (polling mode); the caller cleans the runner up.

    None without `web_public_url`: nobody could open pages Telegram cannot reach."""
    if not settings.web_public_url:
        return None
    runner = web.AppRunner(create_web_app(settings, engine))
    await runner.setup()
    await web.TCPSite(runner, settings.web_host, settings.web_port).start()
    return runner
