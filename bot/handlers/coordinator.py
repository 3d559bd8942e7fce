"""A coordinator finding someone for a request nobody has said yes to: /waiting lists the
branch's requests still waiting; "🔎 Find someone" shows who could help; "Ask {name}" sends
that volunteer a nudge; "🔁 Another round" starts the waves again."""

from __future__ import annotations

from aiogram import Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import coordinator_ui as ui
from bot.callbacks import CoordStep
from bot.volunteer_ui import error_text
from core import coordination
from core.errors import DomainError
from core.models import Member
from core.volunteers import CoordinatorOnly

router = Router(name="coordinator")


async def _show(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    if query.message is None:
        return
    try:
        await query.message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        if "not modified" not in str(error):
            await query.message.answer(text, reply_markup=markup)


@router.message(Command("waiting"))
async def on_waiting(message: Message, session: AsyncSession, member: Member | None) -> None:
    if member is None:
        await message.answer(error_text(CoordinatorOnly()))
        return
    try:
        briefs = await coordination.waiting_orders(session, member.id)
    except DomainError as error:
        await message.answer(error_text(error))
        return
    await message.answer(ui.waiting_text(briefs), reply_markup=ui.waiting_buttons(briefs, 0))


@router.callback_query(CoordStep.filter())
async def on_step(
    query: CallbackQuery, callback_data: CoordStep, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    action, order_id, value = callback_data.action, callback_data.order_id, callback_data.value
    try:
        async with session.begin_nested():
            if action == "list":
                briefs = await coordination.waiting_orders(session, member.id)
                await query.answer()
                await _show(query, ui.waiting_text(briefs), ui.waiting_buttons(briefs, value))
                return
            note = None
            page = value if action == "view" else 0
            if action == "ask":
                asked = await coordination.ask_volunteer(
                    session, order_id=order_id, coordinator_id=member.id, volunteer_id=value
                )
                note = _("📨 I have asked {name}.").format(name=asked.volunteer.name)
            elif action == "round":
                await coordination.another_round(
                    session, order_id=order_id, coordinator_id=member.id, after_round=value
                )
                note = _("🔁 Looking again: new nudges are on their way.")
            elif action != "view":
                await query.answer(_("Sorry, this button is not for you."), show_alert=True)
                return
            finding = await coordination.candidates_for_coordinator(
                session, order_id=order_id, coordinator_id=member.id
            )
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    page = ui.page_with(finding, value) if action == "ask" else ui.page_of(finding, page)
    await query.answer(note)
    await _show(query, ui.finding_text(finding, page), ui.finding_buttons(finding, page))
