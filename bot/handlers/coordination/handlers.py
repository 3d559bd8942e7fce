"""A coordinator finding someone for a request nobody has said yes to: /waiting lists the
branch's requests still waiting; "🔎 Find someone" shows who could help; "Ask {name}" sends
that volunteer a nudge; "🔁 Another round" starts the waves again."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.coordination import views as ui
from bot.handlers.coordination.callbacks import CoordStep, Find
from bot.kit.edit import show_in_place
from bot.kit.formatters import error_text
from bot.kit.guards import Known
from bot.kit.telegram import markup
from core import coordination
from core.models import Member
from core.volunteers import CoordinatorOnly

router = Router(name="coordinator")


@router.message(Command("waiting"))
async def on_waiting(message: Message, session: AsyncSession, member: Member | None) -> None:
    if member is None:
        await message.answer(error_text(CoordinatorOnly()))
        return
    briefs = await coordination.waiting_orders(session, member.id)
    await message.answer(
        ui.waiting_text(briefs), reply_markup=markup(ui.waiting_buttons(briefs, 0))
    )


@router.callback_query(CoordStep.filter(), ~Known())
async def on_step_stranger(query: CallbackQuery) -> None:
    await query.answer(_("Sorry, this button is not for you."), show_alert=True)


@router.callback_query(CoordStep.filter(F.action == Find.LIST), Known())
async def on_list(
    query: CallbackQuery, callback_data: CoordStep, session: AsyncSession, member: Member
) -> None:
    briefs = await coordination.waiting_orders(session, member.id)
    await query.answer()
    await show_in_place(
        query, ui.waiting_text(briefs), ui.waiting_buttons(briefs, callback_data.value)
    )


async def show_finding(
    query: CallbackQuery,
    session: AsyncSession,
    member: Member,
    order_id: int,
    note: str | None = None,
    *,
    page: int = 0,
    asked: coordination.Asked | None = None,
) -> None:
    """Who could help with the order, on `page` (on the asked volunteer's page after an
    ask), with `note` under the tapped button."""
    finding = await coordination.candidates_for_coordinator(
        session, order_id=order_id, coordinator_id=member.id
    )
    if asked is not None:
        note = ui.asked_note(asked, finding)
        page = ui.page_with(finding, page)
    else:
        page = ui.page_of(finding, page)
    await query.answer(note)
    await show_in_place(query, ui.finding_text(finding, page), ui.finding_buttons(finding, page))


@router.callback_query(CoordStep.filter(F.action == Find.VIEW), Known())
async def on_view(
    query: CallbackQuery, callback_data: CoordStep, session: AsyncSession, member: Member
) -> None:
    await show_finding(query, session, member, callback_data.order_id, page=callback_data.value)


@router.callback_query(CoordStep.filter(F.action == Find.ASK), Known())
async def on_ask_volunteer(
    query: CallbackQuery, callback_data: CoordStep, session: AsyncSession, member: Member
) -> None:
    order_id, volunteer_id = callback_data.order_id, callback_data.value
    asked = await coordination.ask_volunteer(
        session, order_id=order_id, coordinator_id=member.id, volunteer_id=volunteer_id
    )
    await show_finding(query, session, member, order_id, page=volunteer_id, asked=asked)


@router.callback_query(CoordStep.filter(F.action == Find.ROUND), Known())
async def on_another_round(
    query: CallbackQuery, callback_data: CoordStep, session: AsyncSession, member: Member
) -> None:
    order_id = callback_data.order_id
    await coordination.another_round(
        session, order_id=order_id, coordinator_id=member.id, after_round=callback_data.value
    )
    note = _("🔁 Looking again: new nudges are on their way.")
    await show_finding(query, session, member, order_id, note)


@router.callback_query(CoordStep.filter(F.action == Find.SPONSOR), Known())
async def on_sponsor(
    query: CallbackQuery, callback_data: CoordStep, session: AsyncSession, member: Member
) -> None:
    order_id = callback_data.order_id
    await coordination.sponsor_order(session, order_id=order_id, coordinator_id=member.id)
    note = _("💝 Thank you. The community pool pays, and the nudges go out now.")
    await show_finding(query, session, member, order_id, note)
