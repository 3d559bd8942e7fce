"""The volunteer journey's buttons: Accept / Not this time, Done with the time spent, hand
back, stars and thanks, "something is wrong", messages relayed through the bot; the
volunteer profile and the coordinator's list of volunteers to verify."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from html import escape

from aiogram import F, Router
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.helping import views as ui
from bot.handlers.helping.callbacks import Do, NudgeAnswer, OrderStep
from bot.kit.edit import close_with, show_in_place, show_screen
from bot.kit.guards import Known
from bot.kit.screens import Screen
from core import helping
from core.models import Member, OrderStatus

router = Router(name="volunteer")


class Typing(StatesGroup):
    minutes = State()
    thanks = State()
    relay = State()


async def expect_typed(state: FSMContext, typing: State, order_id: int) -> None:
    """The member's next message is typed about this order: the minutes, thanks, a note."""
    await state.set_state(typing)
    await state.update_data(order_id=order_id)


@router.callback_query(NudgeAnswer.filter())
async def on_nudge(
    query: CallbackQuery, callback_data: NudgeAnswer, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    if not callback_data.accept:
        declined = await helping.decline(
            session, nudge_id=callback_data.nudge_id, member_id=member.id
        )
        if declined.yours is None:
            await close_with(query, _("👌 No problem. Thank you for letting me know!"))
            return
        # A stale "Not this time" after their own Accept: the card stays (or comes back).
        await query.answer(_("You have already said yes to this one. Thank you!"))
        if declined.yours.status == OrderStatus.ACCEPTED:
            f = await ui.facts(session, declined.yours.id)
            await show_in_place(query, ui.accepted_text(f), ui.volunteer_buttons(f))
        return
    accepted = await helping.accept(session, nudge_id=callback_data.nudge_id, member_id=member.id)
    if accepted.replayed:
        await query.answer(_("It is already yours. Thank you!"))
        return
    await query.answer(_("Thank you!"))
    f = await ui.facts(session, accepted.order.id)
    # The pin goes as a new message, under the nudge the card replaces, so it can go first.
    await hand_over_place(query, f)
    await show_in_place(query, ui.accepted_text(f), ui.volunteer_buttons(f))
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


async def hand_over_place(query: CallbackQuery, f: ui.OrderFacts) -> None:
    """The pin of the place, for the volunteer who took the order (and no one before): the
    location the requester shared for it. Help at home has no pin: the point on file is the
    area, not the door, and the card says the address or to ask for it. The card says the
    place in words, so a refused pin loses nothing and undoes nothing."""
    message = query.message
    pin = ui.pin_of(f)
    if not isinstance(message, Message) or pin is None:
        return
    with contextlib.suppress(TelegramAPIError):
        await message.answer_location(latitude=pin[0], longitude=pin[1])


@router.callback_query(OrderStep.filter(), ~Known())
async def on_order_step_stranger(query: CallbackQuery) -> None:
    await query.answer(_("Sorry, this button is not for you."), show_alert=True)


async def volunteers_order(session: AsyncSession, order_id: int, member: Member) -> ui.OrderFacts:
    """The order, when the member is its volunteer; else NotYours."""
    f = await ui.facts(session, order_id)
    if f.order.volunteer_id != member.id:
        raise helping.NotYours()
    return f


@router.callback_query(OrderStep.filter(F.action == Do.DONE), Known())
async def on_done(
    query: CallbackQuery, callback_data: OrderStep, session: AsyncSession, member: Member
) -> None:
    f = await volunteers_order(session, callback_data.order_id, member)
    await query.answer()
    await show_in_place(
        query, _("⏳ How long did it take?"), ui.minutes_buttons(f, callback_data.value)
    )


@router.callback_query(OrderStep.filter(F.action == Do.MINUTES), Known())
async def on_minutes_chosen(
    query: CallbackQuery, callback_data: OrderStep, session: AsyncSession, member: Member
) -> None:
    f = await ui.facts(session, callback_data.order_id)
    minutes = callback_data.value
    await helping.mark_done(session, order_id=f.order.id, member_id=member.id, minutes=minutes)
    await query.answer(_("Thank you!"))
    await show_in_place(query, ui.done_text(f, minutes), None)


@router.callback_query(OrderStep.filter(F.action == Do.OTHER), Known())
async def on_other_minutes(
    query: CallbackQuery,
    callback_data: OrderStep,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    f = await volunteers_order(session, callback_data.order_id, member)
    await query.answer()
    await expect_typed(state, Typing.minutes, f.order.id)
    if query.message:
        await query.message.answer(_("Please type the minutes it took, for example 45."))


@router.callback_query(OrderStep.filter(F.action == Do.BACK), Known())
async def on_hand_back(
    query: CallbackQuery, callback_data: OrderStep, session: AsyncSession, member: Member
) -> None:
    f = await volunteers_order(session, callback_data.order_id, member)
    await query.answer()
    await show_in_place(
        query,
        _("Give this request back, so that I find someone else?"),
        ui.hand_back_buttons(f.order.id, callback_data.value),
    )


@router.callback_query(OrderStep.filter(F.action == Do.CARD), Known())
async def on_card(
    query: CallbackQuery, callback_data: OrderStep, session: AsyncSession, member: Member
) -> None:
    """The request's card again, with its buttons: from the list, a reminder, "No, keep it"
    or Back from "How long did it take?"."""
    order = await helping.card_order(session, callback_data.order_id, member.id)
    f = await ui.facts(session, order.id)
    await query.answer()
    await show_in_place(query, ui.accepted_text(f), ui.volunteer_buttons(f, callback_data.value))


@router.callback_query(OrderStep.filter(F.action == Do.MINE), Known())
async def on_helping_with(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    """The requests the volunteer has accepted, each opening its card."""
    found = [await ui.facts(session, order.id) for order in await helping.helping_with(
        session, member.id)]  # fmt: skip
    await query.answer()
    await show_screen(query, ui.helping_with_screen(found))


@router.callback_query(OrderStep.filter(F.action == Do.BACK_YES), Known())
async def on_hand_back_yes(
    query: CallbackQuery, callback_data: OrderStep, session: AsyncSession, member: Member
) -> None:
    await ui.facts(session, callback_data.order_id)
    await helping.hand_back(session, order_id=callback_data.order_id, member_id=member.id)
    await close_with(query, _("↩️ Done. Thank you for telling me in time."))


@router.callback_query(OrderStep.filter(F.action == Do.STARS), Known())
async def on_stars(
    query: CallbackQuery,
    callback_data: OrderStep,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    f = await ui.facts(session, callback_data.order_id)
    order_id, rating = f.order.id, callback_data.value
    confirmed = await helping.confirm(
        session, order_id=order_id, member_id=member.id, rating=rating
    )
    await query.answer(_("Thank you!"))
    balance = None
    if member.id in (f.order.requester_id, f.order.beneficiary_id):
        balance = await helping.balance(session, member.id)
    thanks = bool(rating) and not confirmed.replayed
    if thanks:
        await expect_typed(state, Typing.thanks, order_id)
    text = ui.confirmed_text(f, confirmed.order, balance, ask_thanks=thanks)
    await show_in_place(query, text, ui.skip_thanks_buttons(order_id) if thanks else None)


@router.callback_query(OrderStep.filter(F.action == Do.THANKS_SKIP), Known())
async def on_thanks_skip(
    query: CallbackQuery, callback_data: OrderStep, session: AsyncSession, state: FSMContext
) -> None:
    await ui.facts(session, callback_data.order_id)
    await state.clear()
    await query.answer()
    if query.message:
        await query.message.edit_reply_markup(reply_markup=None)


async def _show_to_either_side(
    query: CallbackQuery,
    session: AsyncSession,
    order_id: int,
    member: Member,
    screen: Callable[[ui.OrderFacts], Screen],
) -> None:
    """A screen about an order that either side may still say something is wrong with."""
    await helping.disputable(session, order_id, member.id)
    await query.answer()
    await show_screen(query, screen(await ui.facts(session, order_id)))


@router.callback_query(OrderStep.filter(F.action == Do.WRONG), Known())
async def on_something_wrong(
    query: CallbackQuery, callback_data: OrderStep, session: AsyncSession, member: Member
) -> None:
    await _show_to_either_side(query, session, callback_data.order_id, member, ui.wrong_question)


@router.callback_query(OrderStep.filter(F.action == Do.WRONG_YES), Known())
async def on_something_wrong_yes(
    query: CallbackQuery, callback_data: OrderStep, session: AsyncSession, member: Member
) -> None:
    await ui.facts(session, callback_data.order_id)
    await helping.dispute(session, order_id=callback_data.order_id, member_id=member.id)
    await close_with(query, _("⚠️ I have asked a coordinator to look into it."))


@router.callback_query(OrderStep.filter(F.action == Do.RATE), Known())
async def on_rate_again(
    query: CallbackQuery, callback_data: OrderStep, session: AsyncSession, member: Member
) -> None:
    await _show_to_either_side(query, session, callback_data.order_id, member, ui.rate_screen)


@router.callback_query(OrderStep.filter(F.action == Do.RELAY), Known())
async def on_relay_start(
    query: CallbackQuery,
    callback_data: OrderStep,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    f = await ui.facts(session, callback_data.order_id)
    helping.relay_target(f.order, member.id)
    other = f.requester if member.id == f.order.volunteer_id else f.volunteer
    await query.answer()
    await expect_typed(state, Typing.relay, f.order.id)
    if query.message:
        await query.message.answer(
            _("Type your message to {name}, and I will pass it on.").format(
                name=escape(other.name if other else "")
            )
        )


@router.callback_query(Known(), F.data.startswith(OrderStep.__prefix__ + ":"))
async def on_unknown_order_step(query: CallbackQuery) -> None:
    await query.answer()


@router.message(Typing.minutes, F.text)
async def on_minutes(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    data = await state.get_data()
    text = (message.text or "").strip()
    minutes = int(text) if text.isdigit() else 0
    order = await helping.mark_done(
        session, order_id=data["order_id"], member_id=member.id, minutes=minutes
    )
    await state.clear()
    f = await ui.facts(session, order.id)
    await message.answer(ui.done_text(f, minutes))


@router.message(Typing.thanks, F.text)
async def on_thanks(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    data = await state.get_data()
    await helping.add_thanks(
        session, order_id=data["order_id"], member_id=member.id, text=message.text or ""
    )
    await state.clear()
    await message.answer(_("💌 Passed on. Thank you!"))


@router.message(Typing.relay, F.text)
async def on_relay(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    data = await state.get_data()
    await helping.relay(
        session,
        order_id=data["order_id"],
        member_id=member.id,
        text=message.text or "",
        key=f"relay:{message.chat.id}:{message.message_id}",
    )
    await state.clear()
    await message.answer(_("📨 Passed on."))
