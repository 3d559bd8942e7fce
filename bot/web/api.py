"""The dashboard's JSON API and exports: one service call per request, for a coordinator of
the branch (see `bot.web.auth`); nothing is answered before that check."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict
from datetime import date, datetime
from functools import cache, wraps
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import I18n
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.i18n import create_i18n
from bot.web.auth import Viewer, coordinator_of, init_data_of
from bot.web.keys import SESSIONS, SETTINGS
from bot.web.texts import TEXTS
from core import (
    board,
    catalog,
    coordination,
    directory,
    exports,
    helping,
    member_care,
    needs,
    reports,
    screen,
    stats,
    volunteers,
)
from core.db import transaction, utcnow
from core.errors import DomainError
from core.models import Branch

Handler = Callable[[web.Request, AsyncSession, Viewer], Awaitable[web.StreamResponse]]


def _bad_request(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": reason}), content_type="application/json")


def _branch_param(request: web.Request) -> int | None:
    raw = request.query.get("branch")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 9:
        raise _bad_request("branch")
    return int(raw)


def coordinator_only(*, write: bool = False) -> Callable[[Handler], Callable]:
    """Check initData and the role first; then run the handler in one transaction."""

    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        @wraps(handler)
        async def checked(request: web.Request) -> web.StreamResponse:
            data = init_data_of(request, request.app[SETTINGS], utcnow())
            branch_id = _branch_param(request)
            async with transaction(request.app[SESSIONS], write=write) as session:
                viewer = await coordinator_of(session, data, branch_id)
                try:
                    return await handler(request, session, viewer)
                except DomainError as error:
                    raise _bad_request(type(error).__name__) from None

        return checked

    return wrap


def _period(request: web.Request, viewer: Viewer) -> stats.Period:
    query = request.query

    def day(name: str) -> date | None:
        raw = query.get(name)
        if not raw:
            return None
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise _bad_request("period") from None

    today = stats.today_in(ZoneInfo(viewer.time_zone))
    return stats.period_of(query.get("period", "month"), today, day("from"), day("to"))


def _json(value: Any) -> web.Response:
    def default(item: Any) -> Any:
        if isinstance(item, datetime | date):
            return item.isoformat()
        raise TypeError(type(item).__name__)

    return web.json_response(value, dumps=lambda v: json.dumps(v, default=default))


@coordinator_only()
async def me(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.Response:
    branch = await session.get(Branch, viewer.branch_id)
    assert branch is not None
    return _json(
        {
            "branch": {"id": branch.id, "name": catalog.localized(branch.names, viewer.language)},
            "language": viewer.language,
            "time_zone": viewer.time_zone,
        }
    )


@coordinator_only()
async def figures(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.Response:
    period = _period(request, viewer)
    found = await stats.branch_figures(session, viewer.branch_id, period)
    language = viewer.language
    categories = {c.id: c for c in await catalog.categories(session)}
    areas = {a.id: a for a in await catalog.neighbourhoods(session, viewer.branch_id)}

    def category_name(category_id: int) -> str:
        category = categories[category_id]
        return f"{category.emoji} {catalog.localized(category.names, language)}".strip()

    def area_name(area_id: int | None) -> str | None:
        return catalog.localized(areas[area_id].names, language) if area_id in areas else None

    return _json(
        {
            "branch_id": viewer.branch_id,
            "period": {
                "kind": period.kind,
                "first": period.first,
                "last": period.last,
            },
            "totals": asdict(found.totals),
            "active_volunteers": found.active_volunteers,
            "active_residents": found.active_residents,
            "new_members": found.new_members,
            "by_category": [
                {"id": key, "name": category_name(key), **asdict(counts)}
                for key, counts in sorted(
                    found.by_category.items(), key=lambda item: categories[item[0]].sort_order
                )
            ],
            "by_neighbourhood": [
                {"id": key, "name": area_name(key), **asdict(counts)}
                for key, counts in sorted(
                    found.by_neighbourhood.items(),
                    key=lambda item: (
                        (item[0] is None, areas[item[0]].sort_order)
                        if item[0] in areas
                        else (True, 0)
                    ),
                )
            ],
            "by_week": [
                {"week": monday, **asdict(counts)} for monday, counts in found.by_week.items()
            ],
        }
    )


@coordinator_only()
async def order_board(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.Response:
    rows = await board.board(session, viewer.branch_id, request.query.get("list", "open"))
    language = viewer.language
    return _json(
        [
            {
                **asdict(row),
                "category": catalog.localized(row.category, language),
                "area": catalog.localized(row.area, language) if row.area else None,
            }
            for row in rows
        ]
    )


@coordinator_only()
async def members(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.Response:
    found = await directory.search_members(session, viewer.branch_id, request.query.get("q", ""))
    return _json([asdict(member) for member in found])


@coordinator_only()
async def survey(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.Response:
    """The needs survey: each category counted, with the trend, and the needs themselves."""
    language = viewer.language
    counts = await needs.needs_by_category(session, viewer.branch_id)
    rows = await needs.list_needs(session, viewer.branch_id)
    names = {c.category.id: catalog.localized(c.category.names, language) for c in counts}
    return _json(
        {
            "categories": [
                {
                    "id": c.category.id,
                    "name": names[c.category.id],
                    "open": c.open,
                    "planned": c.planned,
                    "done": c.done,
                    "last_days": c.last_days,
                    "days_before": c.days_before,
                }
                for c in counts
            ],
            "needs": [{**asdict(row), "category": names[row.category_id]} for row in rows],
        }
    )


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


@coordinator_only()
async def export(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.Response:
    kind, file_format = request.query.get("kind", ""), request.query.get("format", "csv")
    if file_format not in CONTENT_TYPES:
        raise _bad_request("format")
    period = _period(request, viewer)
    table = await exports.export_table(session, viewer.branch_id, kind, period, viewer.language)
    texts = TEXTS[viewer.language]
    header = tuple(texts.get(f"col.{column}", column) for column in table.columns)
    name = f"{kind}-{period.first.isoformat()}-{period.last.isoformat()}.{file_format}"
    body = (
        exports.to_csv(table, header)
        if file_format == "csv"
        else exports.to_xlsx(table, header, texts.get(f"export.{kind}", kind))
    )
    return web.Response(
        body=body,
        headers={
            "Content-Type": CONTENT_TYPES[file_format],
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@coordinator_only(write=True)
async def screen_address(
    request: web.Request, session: AsyncSession, viewer: Viewer
) -> web.Response:
    """The branch's live screen address; a POST retires the old one and makes a new one."""
    if request.method == "POST":
        token = await screen.rotate_screen_token(session, viewer.branch_id, viewer.member_id)
    else:
        token = await screen.screen_token(session, viewer.branch_id)
    return _json({"path": f"/screen/{token}"})


MAX_BODY = 4096


@cache
def _catalogs() -> I18n:
    return create_i18n("en")


def report_gettext(language: str) -> Callable[[str], str]:
    """The bot's own translations, for the report's words (no chat, so no i18n context)."""
    catalogs = _catalogs()
    return lambda message: catalogs.gettext(message, locale=language)


async def _body(request: web.Request) -> dict[str, Any]:
    """The POSTed JSON object, small; anything else is a 400."""
    if request.content_length is None or request.content_length > MAX_BODY:
        raise _bad_request("body")
    try:
        body = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise _bad_request("body") from None
    if not isinstance(body, dict):
        raise _bad_request("body")
    return body


def _whole(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if type(value) is not int or abs(value) > 10**9:
        raise _bad_request(name)
    return value


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > 500:
        raise _bad_request(name)
    return value


@coordinator_only()
async def candidates(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.Response:
    """Who could help with a waiting request, best first, as the chat's "Find someone"."""
    raw = request.query.get("order", "")
    if not raw.isdigit() or len(raw) > 9:
        raise _bad_request("order")
    finding = await coordination.candidates_for_coordinator(
        session, order_id=int(raw), coordinator_id=viewer.member_id
    )
    return _json(
        [
            {
                "member_id": row.member_id,
                "name": row.name,
                "distance_m": row.distance_m,
                "fits": row.fits,
                "reasons": [str(why) for why in row.reasons],
            }
            for row in finding.candidates
        ]
    )


@coordinator_only(write=True)
async def board_action(request: web.Request, session: AsyncSession, viewer: Viewer) -> web.Response:
    """Ask a volunteer, let the community pool pay, or settle: the chat's own services."""
    body = await _body(request)
    action, order_id = body.get("action"), _whole(body, "order_id")
    if action == "ask":
        asked = await coordination.ask_volunteer(
            session,
            order_id=order_id,
            coordinator_id=viewer.member_id,
            volunteer_id=_whole(body, "volunteer_id"),
        )
        return _json({"ok": True, "waits_until": asked.waits_until})
    if action == "sponsor":
        await coordination.sponsor_order(
            session, order_id=order_id, coordinator_id=viewer.member_id
        )
    elif action == "credit":
        await helping.settle_with_credit(
            session, order_id=order_id, member_id=viewer.member_id, minutes=_whole(body, "minutes")
        )
    elif action == "no_credit":
        await helping.settle_without_credit(
            session, order_id=order_id, member_id=viewer.member_id, reason=_text(body, "reason")
        )
    else:
        raise _bad_request("action")
    return _json({"ok": True})


def _member_id(request: web.Request) -> int:
    raw = request.match_info.get("member_id", "")
    if not raw.isdigit() or len(raw) > 9:
        raise _bad_request("member")
    return int(raw)


@coordinator_only()
async def member_address(
    request: web.Request, session: AsyncSession, viewer: Viewer
) -> web.Response:
    """A member's address, only when the coordinator opens it; the opening is logged."""
    address = await member_care.open_address(
        session, coordinator_id=viewer.member_id, member_id=_member_id(request)
    )
    response = _json({"address": address})
    response.headers["Cache-Control"] = "no-store"
    return response


@coordinator_only(write=True)
async def member_verify(
    request: web.Request, session: AsyncSession, viewer: Viewer
) -> web.Response:
    member = await volunteers.verify(session, viewer.member_id, _member_id(request))
    return _json({"verified": member.verified})


@coordinator_only(write=True)
async def member_adjust(
    request: web.Request, session: AsyncSession, viewer: Viewer
) -> web.Response:
    """Credit or debit a member's time with a reason; `key` (from the page, one per form
    sent) makes a repeated send record it once."""
    body = await _body(request)
    key = body.get("key")
    if not isinstance(key, str) or not 8 <= len(key) <= 64:
        raise _bad_request("key")
    posting = await member_care.adjust_time(
        session,
        coordinator_id=viewer.member_id,
        member_id=_member_id(request),
        minutes=_whole(body, "minutes"),
        reason=_text(body, "reason"),
        key=key,
    )
    return _json({"ok": True, "replayed": posting.replayed})


@coordinator_only()
async def monthly_report(
    request: web.Request, session: AsyncSession, viewer: Viewer
) -> web.Response:
    """The branch's PDF report of a month (`month=YYYY-MM`; this month by default)."""
    raw = request.query.get("month", "")
    try:
        first = date.fromisoformat(f"{raw}-01") if raw else None
    except ValueError:
        raise _bad_request("month") from None
    if first is None:
        first = stats.today_in(ZoneInfo(viewer.time_zone)).replace(day=1)
    report = await reports.month_report(
        session,
        coordinator_id=viewer.member_id,
        branch_id=viewer.branch_id,
        first=first,
        language=viewer.language,
    )
    pdf = await asyncio.to_thread(
        reports.render_report, report, viewer.language, report_gettext(viewer.language),
        generated_at=utcnow(),
    )  # fmt: skip
    branch = await session.get(Branch, viewer.branch_id)
    assert branch is not None
    name = reports.report_name(branch.code, first)
    return web.Response(
        body=pdf,
        headers={
            "Content-Type": "application/pdf",
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def add_api_routes(app: web.Application) -> None:
    app.router.add_get("/dashboard/api/me", me)
    app.router.add_get("/dashboard/api/figures", figures)
    app.router.add_get("/dashboard/api/board", order_board)
    app.router.add_get("/dashboard/api/members", members)
    app.router.add_get("/dashboard/api/needs", survey)
    app.router.add_get("/dashboard/api/export", export)
    app.router.add_get("/dashboard/api/screen", screen_address)
    app.router.add_post("/dashboard/api/screen", screen_address)
    app.router.add_get("/dashboard/api/candidates", candidates)
    app.router.add_post("/dashboard/api/board", board_action)
    app.router.add_get("/dashboard/api/members/{member_id}/address", member_address)
    app.router.add_post("/dashboard/api/members/{member_id}/verify", member_verify)
    app.router.add_post("/dashboard/api/members/{member_id}/adjust", member_adjust)
    app.router.add_get("/dashboard/api/report", monthly_report)
