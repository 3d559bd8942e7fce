"""A coordinator settling a disputed or unconfirmed order from its alert: confirm the
reported time, credit another time (a button or typed), or no credit with an optional
reason. Only the branch's coordinators may; the first decision stands."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot import volunteer_ui as ui
from bot.replies import show_in_place as show
from bot.volunteer_ui import Settle
from core import helping
from core.errors import DomainError
from core.models import Member

router = Router(name="disputes")


class Settling(StatesGroup):
    minutes = State()
    reason = State()


@router.callback_query(Settle.filter())
async def on_settle(
    query: CallbackQuery,
    callback_data: Settle,
    session: AsyncSession,
    member: Member | None,
    state: FSMContext,
) -> None:
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    try:
        async with session.begin_nested():
            await _step(query, callback_data, session, member, state)
    except DomainError as error:
        await query.answer(ui.error_text(error), show_alert=True)


async def _step(
    query: CallbackQuery,
    step: Settle,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    order_id = step.order_id
    if step.action == "credit":
        settled = await helping.settle_with_credit(
            session, order_id=order_id, member_id=member.id, minutes=step.value
        )
        await _done(query, session, state, settled)
        return
    if step.action == "none_yes":
        settled = await helping.settle_without_credit(
            session, order_id=order_id, member_id=member.id
        )
        await _done(query, session, state, settled)
        return
    _order, _actor, progress = await helping.may_settle(session, order_id, member.id)
    f = await ui.facts(session, order_id)
    await query.answer()
    if step.action == "minutes":
        await show(query, *ui.settle_minutes(f))
    elif step.action == "other":
        await state.set_state(Settling.minutes)
        await state.update_data(order_id=order_id)
        if query.message:
            await query.message.answer(_("Please type the minutes to credit, for example 45."))
    elif step.action == "none":
        await state.set_state(Settling.reason)
        await state.update_data(order_id=order_id)
        await show(query, *ui.settle_nothing(f))
    else:
        await state.clear()
        by = await session.get(Member, progress.disputed_by_id) if progress.disputed_by_id else None
        await show(query, *ui.settle_view(f, by))


async def _done(
    query: CallbackQuery, session: AsyncSession, state: FSMContext, settled: helping.Settled
) -> None:
    await state.clear()
    await query.answer(_("Thank you!"))
    f = await ui.facts(session, settled.order.id)
    await show(query, ui.settled_for_coordinator(f, settled), None)


@router.message(Settling.minutes, F.text)
async def on_minutes(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    text = (message.text or "").strip()
    minutes = int(text) if text.isdigit() and len(text) < 5 else 0
    await _settle_typed(message, state, session, member, minutes=minutes)


@router.message(Settling.reason, F.text)
async def on_reason(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    await _settle_typed(message, state, session, member, reason=message.text or "")


async def _settle_typed(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
    *,
    minutes: int | None = None,
    reason: str = "",
) -> None:
    order_id = (await state.get_data())["order_id"]
    try:
        async with session.begin_nested():
            if minutes is None:
                settled = await helping.settle_without_credit(
                    session, order_id=order_id, member_id=member.id, reason=reason
                )
            else:
                settled = await helping.settle_with_credit(
                    session, order_id=order_id, member_id=member.id, minutes=minutes
                )
    except (helping.AlreadySettled, helping.NotYours, helping.WrongStep) as error:
        await state.clear()
        await message.answer(ui.error_text(error))
        return
    except DomainError as error:
        await message.answer(ui.error_text(error))
        return
    await state.clear()
    f = await ui.facts(session, settled.order.id)
    await message.answer(ui.settled_for_coordinator(f, settled))
