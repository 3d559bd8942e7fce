"""The volunteer journey's buttons: Accept / Not this time, Done with the time spent, hand
back, stars and thanks, "something is wrong", messages relayed through the bot; the
volunteer profile and the coordinator's list of volunteers to verify."""

from __future__ import annotations

import contextlib

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot import volunteer_ui as ui
from bot.conversations.request_help import category_text, duration_text
from bot.volunteer_ui import NudgeAnswer, OrderStep
from core import helping
from core.errors import DomainError
from core.models import Member

router = Router(name="volunteer")


class Typing(StatesGroup):
    minutes = State()
    thanks = State()
    relay = State()


async def _edit(query: CallbackQuery, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """The tapped message now says `text` (a voice note's caption); if it cannot be
    edited, a new message says it."""
    message = query.message
    if not isinstance(message, Message):
        return
    try:
        if message.voice is not None:
            await message.edit_caption(caption=text, reply_markup=markup)
        else:
            await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest:
        await message.answer(text, reply_markup=markup)


@router.callback_query(NudgeAnswer.filter())
async def on_nudge(
    query: CallbackQuery, callback_data: NudgeAnswer, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    try:
        if not callback_data.accept:
            await helping.decline(session, nudge_id=callback_data.nudge_id, member_id=member.id)
            await query.answer()
            await _edit(query, _("👌 No problem. Thank you for letting me know!"), None)
            return
        async with session.begin_nested():
            accepted = await helping.accept(
                session, nudge_id=callback_data.nudge_id, member_id=member.id
            )
    except DomainError as error:
        await query.answer(ui.error_text(error), show_alert=True)
        return
    await query.answer(_("Thank you!"))
    f = await ui.facts(session, accepted.order.id)
    await _edit(query, ui.accepted_text(f), ui.volunteer_buttons(f))
    await _hand_over_voice(query, f.order.voice_file_id)


async def _hand_over_voice(query: CallbackQuery, voice_file_id: str | None) -> None:
    """The requester's voice note, for the volunteer who took the order: it is the tapped
    message itself when the nudge went as a voice note; else (their settings refused it
    then) it is sent now, and if still refused, the accepted view says it exists."""
    message = query.message
    if voice_file_id is None or not isinstance(message, Message) or message.voice is not None:
        return
    with contextlib.suppress(TelegramBadRequest):
        await message.answer_voice(voice_file_id)


@router.callback_query(OrderStep.filter())
async def on_order_step(
    query: CallbackQuery,
    callback_data: OrderStep,
    session: AsyncSession,
    member: Member | None,
    state: FSMContext,
) -> None:
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    action, order_id = callback_data.action, callback_data.order_id
    try:
        async with session.begin_nested():
            await _step(query, action, order_id, callback_data.value, session, member, state)
    except DomainError as error:
        await query.answer(ui.error_text(error), show_alert=True)


async def _step(
    query: CallbackQuery,
    action: str,
    order_id: int,
    value: int,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    f = await ui.facts(session, order_id)
    if action == "done":
        if f.order.volunteer_id != member.id:
            raise helping.NotYours()
        await query.answer()
        await _edit(query, _("⏳ How long did it take?"), ui.minutes_buttons(f))
    elif action == "minutes":
        await helping.mark_done(session, order_id=order_id, member_id=member.id, minutes=value)
        await query.answer(_("Thank you!"))
        await _edit(
            query,
            _("✔️ Thank you! I have asked {name} to confirm {duration}.").format(
                name=f.requester.name, duration=duration_text(value)
            ),
            None,
        )
    elif action == "other":
        if f.order.volunteer_id != member.id:
            raise helping.NotYours()
        await query.answer()
        await state.set_state(Typing.minutes)
        await state.update_data(order_id=order_id)
        if query.message:
            await query.message.answer(_("Please type the minutes it took, for example 45."))
    elif action == "back":
        if f.order.volunteer_id != member.id:
            raise helping.NotYours()
        await query.answer()
        buttons = InlineKeyboardBuilder()
        buttons.button(
            text=str(ui.HAND_BACK_YES),
            callback_data=OrderStep(action="back_yes", order_id=order_id),
        )
        await _edit(
            query,
            _("Give this request back, so that I find someone else?"),
            buttons.as_markup(),
        )
    elif action == "back_yes":
        await helping.hand_back(session, order_id=order_id, member_id=member.id)
        await query.answer()
        await _edit(query, _("↩️ Done. Thank you for telling me in time."), None)
    elif action == "stars":
        confirmed = await helping.confirm(
            session, order_id=order_id, member_id=member.id, rating=value
        )
        await query.answer(_("Thank you!"))
        minutes = confirmed.order.actual_minutes or confirmed.order.estimated_minutes
        lines = [
            _("✅ Confirmed: {duration} for {category}.").format(
                duration=duration_text(minutes), category=category_text(f.category)
            )
        ]
        if member.id in (f.order.requester_id, f.order.beneficiary_id):
            lines.append(ui.balance_text(await helping.balance(session, member.id)))
        markup = None
        if value and not confirmed.replayed:
            lines.append(_("Would you like to add a thank-you note? Just type it."))
            await state.set_state(Typing.thanks)
            await state.update_data(order_id=order_id)
            buttons = InlineKeyboardBuilder()
            buttons.button(
                text=str(ui.SKIP_THANKS),
                callback_data=OrderStep(action="thanks_skip", order_id=order_id),
            )
            markup = buttons.as_markup()
        await _edit(query, "\n".join(lines), markup)
    elif action == "thanks_skip":
        await state.clear()
        await query.answer()
        if query.message:
            await query.message.edit_reply_markup(reply_markup=None)
    elif action == "wrong":
        await helping.dispute(session, order_id=order_id, member_id=member.id)
        await query.answer()
        await _edit(query, _("⚠️ I have asked a coordinator to look into it."), None)
    elif action == "relay":
        other = f.requester if member.id == f.order.volunteer_id else f.volunteer
        if member.id not in (f.order.volunteer_id, f.order.requester_id, f.order.beneficiary_id):
            raise helping.NotYours()
        await query.answer()
        await state.set_state(Typing.relay)
        await state.update_data(order_id=order_id)
        if query.message:
            await query.message.answer(
                _("Type your message to {name}, and I will pass it on.").format(
                    name=other.name if other else ""
                )
            )
    else:
        await query.answer()


@router.message(Typing.minutes, F.text)
async def on_minutes(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    data = await state.get_data()
    text = (message.text or "").strip()
    try:
        minutes = int(text) if text.isdigit() else 0
        async with session.begin_nested():
            order = await helping.mark_done(
                session, order_id=data["order_id"], member_id=member.id, minutes=minutes
            )
    except DomainError as error:
        await message.answer(ui.error_text(error))
        return
    await state.clear()
    f = await ui.facts(session, order.id)
    await message.answer(
        _("✔️ Thank you! I have asked {name} to confirm {duration}.").format(
            name=f.requester.name, duration=duration_text(minutes)
        )
    )


@router.message(Typing.thanks, F.text)
async def on_thanks(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    data = await state.get_data()
    try:
        async with session.begin_nested():
            await helping.add_thanks(
                session, order_id=data["order_id"], member_id=member.id, text=message.text or ""
            )
    except DomainError as error:
        await message.answer(ui.error_text(error))
        return
    await state.clear()
    await message.answer(_("💌 Passed on. Thank you!"))


@router.message(Typing.relay, F.text)
async def on_relay(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    data = await state.get_data()
    try:
        async with session.begin_nested():
            await helping.relay(
                session,
                order_id=data["order_id"],
                member_id=member.id,
                text=message.text or "",
                key=f"relay:{message.chat.id}:{message.message_id}",
            )
    except DomainError as error:
        await message.answer(ui.error_text(error))
        return
    await state.clear()
    await message.answer(_("📨 Passed on."))
