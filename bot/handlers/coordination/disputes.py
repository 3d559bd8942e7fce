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

from bot.handlers.coordination.callbacks import Settle, SettleAction
from bot.handlers.helping import views as ui
from bot.kit.edit import show_in_place, show_screen
from bot.kit.formatters import error_text
from bot.kit.guards import Known
from core import helping
from core.models import Member, OrderProgress

router = Router(name="disputes")


class Settling(StatesGroup):
    minutes = State()
    reason = State()


@router.callback_query(Settle.filter(), ~Known())
async def on_settle_stranger(query: CallbackQuery) -> None:
    await query.answer(_("Sorry, this button is not for you."), show_alert=True)


@router.callback_query(Settle.filter(F.action == SettleAction.CREDIT), Known())
async def on_credit(
    query: CallbackQuery,
    callback_data: Settle,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    settled = await helping.settle_with_credit(
        session, order_id=callback_data.order_id, member_id=member.id, minutes=callback_data.value
    )
    await _done(query, session, state, settled)


@router.callback_query(Settle.filter(F.action == SettleAction.NONE_YES), Known())
async def on_no_credit_yes(
    query: CallbackQuery,
    callback_data: Settle,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    settled = await helping.settle_without_credit(
        session, order_id=callback_data.order_id, member_id=member.id
    )
    await _done(query, session, state, settled)


async def settling(
    query: CallbackQuery, order_id: int, session: AsyncSession, member: Member
) -> tuple[ui.OrderFacts, OrderProgress]:
    """The order, when the member may settle it (else a refusal); the button is answered."""
    _order, _actor, progress = await helping.may_settle(session, order_id, member.id)
    f = await ui.facts(session, order_id)
    await query.answer()
    return f, progress


@router.callback_query(Settle.filter(F.action == SettleAction.VIEW), Known())
async def on_view(
    query: CallbackQuery,
    callback_data: Settle,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    f, progress = await settling(query, callback_data.order_id, session, member)
    await state.clear()
    by = await session.get(Member, progress.disputed_by_id) if progress.disputed_by_id else None
    await show_screen(query, ui.settle_view(f, by))


@router.callback_query(Settle.filter(F.action == SettleAction.MINUTES), Known())
async def on_minutes_offered(
    query: CallbackQuery, callback_data: Settle, session: AsyncSession, member: Member
) -> None:
    f, _progress = await settling(query, callback_data.order_id, session, member)
    await show_screen(query, ui.settle_minutes(f))


async def _settle_by_typing(
    query: CallbackQuery,
    order_id: int,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
    typing: State,
) -> ui.OrderFacts:
    """The order the coordinator settles with what they type next: minutes, or a reason."""
    f, _progress = await settling(query, order_id, session, member)
    await state.set_state(typing)
    await state.update_data(order_id=f.order.id)
    return f


@router.callback_query(Settle.filter(F.action == SettleAction.OTHER), Known())
async def on_other_minutes(
    query: CallbackQuery,
    callback_data: Settle,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    await _settle_by_typing(query, callback_data.order_id, session, member, state, Settling.minutes)
    if query.message:
        await query.message.answer(_("Please type the minutes to credit, for example 45."))


@router.callback_query(Settle.filter(F.action == SettleAction.NONE), Known())
async def on_no_credit(
    query: CallbackQuery,
    callback_data: Settle,
    session: AsyncSession,
    member: Member,
    state: FSMContext,
) -> None:
    order_id = callback_data.order_id
    f = await _settle_by_typing(query, order_id, session, member, state, Settling.reason)
    await show_screen(query, ui.settle_nothing(f))


async def _done(
    query: CallbackQuery, session: AsyncSession, state: FSMContext, settled: helping.Settled
) -> None:
    await state.clear()
    await query.answer(_("Thank you!"))
    f = await ui.facts(session, settled.order.id)
    await show_in_place(query, ui.settled_for_coordinator(f, settled), None)


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
        await message.answer(error_text(error))
        return
    await state.clear()
    f = await ui.facts(session, settled.order.id)
    await message.answer(ui.settled_for_coordinator(f, settled))
