"""A branch's public live screen: no login, reached by its token, aggregates only."""

from __future__ import annotations

from aiohttp import web

from bot.web.keys import SESSIONS
from bot.web.texts import STATIC
from core import screen
from core.catalog import localized

NOT_FOUND = "This screen's address has changed. Ask your coordinator for the new one."


async def _branch(request: web.Request) -> int:
    async with request.app[SESSIONS]() as session:
        branch_id = await screen.branch_of_token(session, request.match_info["token"])
    if branch_id is None:
        raise web.HTTPNotFound(text=NOT_FOUND)
    return branch_id


async def page(request: web.Request) -> web.FileResponse:
    await _branch(request)
    return web.FileResponse(STATIC / "screen.html", headers={"Cache-Control": "no-store"})


async def figures(request: web.Request) -> web.Response:
    branch_id = await _branch(request)
    async with request.app[SESSIONS]() as session:
        found = await screen.screen_figures(session, branch_id)
    language = request.query.get("lang", "")
    return web.json_response(
        {
            "branch": localized(found.branch_names, language),
            "branch_names": found.branch_names,
            "minutes": found.minutes_this_month,
            "done": found.requests_done,
            "volunteers": found.volunteers_active,
            "thanks": found.thanks,
        },
        headers={"Cache-Control": "no-store"},
    )


def add_screen_routes(app: web.Application) -> None:
    app.router.add_get("/screen/{token}", page)
    app.router.add_get("/screen/{token}/figures", figures)
