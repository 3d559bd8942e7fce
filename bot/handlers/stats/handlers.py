"""/stats: the week's figures of the coordinator's branch as text and one chart, a CSV of
the week's requests on request; /report: the month's PDF report (the last month's on a
button)."""

from __future__ import annotations

import asyncio
from datetime import date
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.stats import views as ui
from bot.handlers.stats.callbacks import StatsAct, StatsAction
from bot.kit.formatters import language
from bot.kit.guards import SignedUp
from bot.web.texts import TEXTS
from core import catalog, charts, exports, reports, stats
from core.coordinators import working_branch
from core.db import utcnow
from core.models import Branch, Member

router = Router(name="stats")


def _gettext(message: str) -> str:
    return _(message)


async def _branch(session: AsyncSession, member: Member) -> Branch:
    """The branch the coordinator works in; anyone else gets the coordinators-only answer."""
    _coordinator, branch_id = await working_branch(session, member.id)
    branch = await session.get(Branch, branch_id)
    assert branch is not None
    return branch


def _today(branch: Branch) -> date:
    return stats.today_in(ZoneInfo(branch.time_zone))


@router.message(Command("stats"), SignedUp())
async def on_stats(message: Message, session: AsyncSession, member: Member) -> None:
    await _send_week(message, session, member)


@router.callback_query(StatsAction.filter(F.action == StatsAct.WEEK), SignedUp())
async def on_week_button(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    await _branch(session, member)
    await query.answer()
    if isinstance(query.message, Message):
        await _send_week(query.message, session, member)


async def _send_week(message: Message, session: AsyncSession, member: Member) -> None:
    """The week's figures as text (with the CSV and last month's report on buttons), then
    one chart."""
    branch = await _branch(session, member)
    today = _today(branch)
    figures = await stats.branch_figures(session, branch.id, stats.period_of("week", today))
    lang = language()
    names = {c.id: catalog.localized(c.names, lang) for c in await catalog.categories(session)}
    last_month = reports.previous_month(today).isoformat()
    await message.answer(
        ui.stats_text(figures, catalog.localized(branch.names, lang), names),
        reply_markup=ui.stats_buttons(last_month),
    )
    title, labels, series = ui.chart_of(figures, names)
    png = await asyncio.to_thread(charts.bar_chart, title, labels, series, lang)
    await message.answer_photo(BufferedInputFile(png, f"stats-{today.isoformat()}.png"))


@router.callback_query(StatsAction.filter(F.action == StatsAct.CSV), SignedUp())
async def on_csv(
    query: CallbackQuery, callback_data: StatsAction, session: AsyncSession, member: Member
) -> None:
    branch = await _branch(session, member)
    period = stats.period_of(callback_data.period, _today(branch))
    lang = language()
    table = await exports.export_table(session, branch.id, "orders", period, lang)
    # The dashboard's own column names, so both exports read alike.
    texts = TEXTS.get(lang, TEXTS["en"])
    header = tuple(texts.get(f"col.{column}", column) for column in table.columns)
    await query.answer()
    if isinstance(query.message, Message):
        name = f"orders-{period.first.isoformat()}-{period.last.isoformat()}.csv"
        await query.message.answer_document(
            BufferedInputFile(exports.to_csv(table, header), name),
            caption=_("📄 This week's requests."),
        )


async def _send_report(
    message: Message, session: AsyncSession, member: Member, first: date
) -> None:
    branch = await _branch(session, member)
    lang = language()
    report = await reports.month_report(
        session, coordinator_id=member.id, branch_id=branch.id, first=first, language=lang
    )
    # Charts and fonts take a second or two: off the event loop.
    pdf = await asyncio.to_thread(
        reports.render_report, report, lang, _gettext, generated_at=utcnow()
    )
    await message.answer_document(
        BufferedInputFile(pdf, reports.report_name(branch.code, first)),
        caption=_("📑 The monthly report of {branch}.").format(
            branch=catalog.localized(branch.names, lang)
        ),
    )


@router.message(Command("report"), SignedUp())
async def on_report(message: Message, session: AsyncSession, member: Member) -> None:
    branch = await _branch(session, member)
    await _send_report(message, session, member, _today(branch).replace(day=1))


@router.callback_query(StatsAction.filter(F.action == StatsAct.REPORT), SignedUp())
async def on_report_button(
    query: CallbackQuery, callback_data: StatsAction, session: AsyncSession, member: Member
) -> None:
    try:
        first = date.fromisoformat(callback_data.first)
    except ValueError:
        await query.answer(_("This button is no longer active."))
        return
    await query.answer()
    if isinstance(query.message, Message):
        await _send_report(query.message, session, member, first)
