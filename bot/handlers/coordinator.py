"""A coordinator finding someone for a request nobody has said yes to: /waiting lists the
branch's requests still waiting; "🔎 Find someone" shows who could help; "Ask {name}" sends
that volunteer a nudge; "🔁 Another round" starts the waves again."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import coordinator_ui as ui
from bot.callbacks import CoordStep
from bot.replies import show_in_place
from bot.volunteer_ui import error_text
from core import coordination
from core.errors import DomainError
from core.models import Member
from core.volunteers import CoordinatorOnly

router = Router(name="coordinator")


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


@router.callback_query(CoordStep.filter(F.action.in_({"list", "view", "ask", "round", "sponsor"})))
async def on_step(
    query: CallbackQuery, callback_data: CoordStep, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    action, order_id, value = callback_data.action, callback_data.order_id, callback_data.value
    note, asked = None, None
    try:
        async with session.begin_nested():
            if action == "list":
                briefs = await coordination.waiting_orders(session, member.id)
            elif action == "ask":
                asked = await coordination.ask_volunteer(
                    session, order_id=order_id, coordinator_id=member.id, volunteer_id=value
                )
            elif action == "round":
                await coordination.another_round(
                    session, order_id=order_id, coordinator_id=member.id, after_round=value
                )
                note = _("🔁 Looking again: new nudges are on their way.")
            elif action == "sponsor":
                await coordination.sponsor_order(
                    session, order_id=order_id, coordinator_id=member.id
                )
                note = _("💝 Thank you. The pool pays, and the nudges go out now.")
            if action != "list":
                finding = await coordination.candidates_for_coordinator(
                    session, order_id=order_id, coordinator_id=member.id
                )
    except DomainError as error:
        await query.answer(error_text(error), show_alert=True)
        return
    if asked is not None:
        note = ui.asked_note(asked, finding)
    await query.answer(note)
    if action == "list":
        await show_in_place(query, ui.waiting_text(briefs), ui.waiting_buttons(briefs, value))
        return
    if action == "ask":
        page = ui.page_with(finding, value)
    else:
        page = ui.page_of(finding, value if action == "view" else 0)
    await show_in_place(query, ui.finding_text(finding, page), ui.finding_buttons(finding, page))
