"""My requests: the list, one request's details, cancelling with a reason, and keeping a
typed address as home after sending. The asking itself is `bot.conversations.request_help`."""

from __future__ import annotations

from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, or_f
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.asking.callbacks import CancelWhy, OrderCancel, OrderOpen, RememberHome
from bot.handlers.asking.views import (
    REASON_LABELS,
    details_buttons,
    details_text,
    orders_list_view,
    reason_buttons,
)
from bot.kit import keyboards, labels
from bot.kit.edit import show_in_place
from bot.kit.formatters import error_text
from bot.kit.guards import Known, SignedUp
from bot.kit.keyboards import menu_for
from bot.kit.replies import finish_typing
from bot.kit.screens import Keyboard
from bot.kit.telegram import markup
from core import orders
from core.errors import DomainError
from core.models import Member
from core.orders import OrderView

router = Router(name="orders")


class CancelReason(StatesGroup):
    typing = State()


async def orders_list(session: AsyncSession, member: Member) -> tuple[str, Keyboard | None]:
    return orders_list_view(await orders.my_orders(session, member.id), member)


MY_ORDERS = or_f(Command("myorders"), F.text == labels.MENU_MY_ORDERS)


@router.message(MY_ORDERS, ~SignedUp())
async def on_my_orders_not_signed_up(message: Message, member: Member | None) -> None:
    await message.answer(_(orders.NoBranch.key), reply_markup=menu_for(member))


@router.message(MY_ORDERS, SignedUp())
async def on_my_orders(
    message: Message, state: FSMContext, session: AsyncSession, member: Member
) -> None:
    if await state.get_state() == CancelReason.typing.state:
        await state.clear()
    text, buttons = await orders_list(session, member)
    if buttons is None:
        await message.answer(text, reply_markup=keyboards.main_menu())
    else:
        await message.answer(text, reply_markup=markup(buttons))


@router.callback_query(OrderOpen.filter(), Known())
async def on_open(
    query: CallbackQuery, callback_data: OrderOpen, session: AsyncSession, member: Member
) -> None:
    if callback_data.order_id == 0:
        await query.answer()
        text, markup = await orders_list(session, member)
        await show_in_place(query, text, markup)
        return
    view = await orders.order_view(session, callback_data.order_id, member.id)
    await query.answer()
    await show_in_place(query, details_text(view, member), details_buttons(view))


async def _cancelled(session: AsyncSession, member: Member, result: orders.Cancelled) -> str:
    """The details of the order, now cancelled."""
    view = await orders.order_view(session, result.order.id, member.id)
    return details_text(view, member)


async def cancellable(
    query: CallbackQuery, order_id: int, session: AsyncSession, member: Member
) -> OrderView | None:
    """The member's order if it may still be cancelled; else they are told, and see it."""
    view = await orders.order_view(session, order_id, member.id)
    if view.can_cancel:
        return view
    await query.answer(error_text(orders.CannotCancel()))
    await show_in_place(query, details_text(view, member), details_buttons(view))
    return None


@router.callback_query(OrderCancel.filter(F.reason == CancelWhy.ASK), Known())
async def on_cancel_order(
    query: CallbackQuery, callback_data: OrderCancel, session: AsyncSession, member: Member
) -> None:
    view = await cancellable(query, callback_data.order_id, session, member)
    if view is None:
        return
    await query.answer()
    await show_in_place(
        query,
        details_text(view, member) + "\n\n" + _("Why would you like to cancel?"),
        reason_buttons(view.order.id),
    )


@router.callback_query(
    OrderCancel.filter(F.reason == CancelWhy.TYPED), Known(), F.message.as_("message")
)
async def on_type_a_reason(
    query: CallbackQuery,
    callback_data: OrderCancel,
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    view = await cancellable(query, callback_data.order_id, session, member)
    if view is None:
        return
    await query.answer()
    await state.set_state(CancelReason.typing)
    await state.update_data(cancel_order_id=view.order.id)
    await message.answer(
        _("Please type the reason in a few words."),
        reply_markup=keyboards.reply_keyboard([], back=True, cancel=True),
    )


@router.callback_query(OrderCancel.filter(F.reason.in_(REASON_LABELS)), Known())
async def on_cancel_for_reason(
    query: CallbackQuery, callback_data: OrderCancel, session: AsyncSession, member: Member
) -> None:
    view = await cancellable(query, callback_data.order_id, session, member)
    if view is None:
        return
    result = await orders.cancel_order(
        session,
        order_id=view.order.id,
        actor_id=member.id,
        reason=callback_data.reason.value,
        key=f"tg-callback:{query.id}",
    )
    await query.answer(
        _("This request was already cancelled.") if result.replayed else _("Cancelled.")
    )
    text = await _cancelled(session, member, result)
    view = await orders.order_view(session, view.order.id, member.id)
    await show_in_place(query, text, details_buttons(view))


@router.callback_query(Known(), F.data.startswith(OrderCancel.__prefix__ + ":"))
async def on_unknown_cancel_button(query: CallbackQuery) -> None:
    await query.answer(_("Sorry, I did not understand that."))


@router.message(CancelReason.typing, F.text.in_([labels.BACK, labels.CANCEL]))
async def on_keep_order(message: Message, state: FSMContext, member: Member) -> None:
    await finish_typing(message, state, member, _("Okay, the request stays as it is."))


@router.message(CancelReason.typing, F.text, ~F.text.startswith("/"))
async def on_typed_reason(
    message: Message,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    data: dict[str, Any] = await state.get_data()
    try:
        result = await orders.cancel_order(
            session,
            order_id=int(data.get("cancel_order_id", 0)),
            actor_id=member.id,
            reason=message.text or "",
            key=f"tg-message:{message.chat.id}:{message.message_id}",
        )
    except orders.ReasonInvalid as error:
        await message.answer(_(error.key))
        return
    except DomainError as error:
        await finish_typing(message, state, member, _(error.key))
        return
    text = await _cancelled(session, member, result)
    await finish_typing(message, state, member, _("✖️ The request is cancelled.") + "\n\n" + text)


@router.message(CancelReason.typing)
async def on_reason_not_text(message: Message) -> None:
    await message.answer(_("Please type the reason in a few words."))


@router.callback_query(RememberHome.filter())
async def on_remember_home(
    query: CallbackQuery, callback_data: RememberHome, session: AsyncSession, member: Member | None
) -> None:
    """After an order with a typed address: keep it as the member's home (or not)."""
    if member is None:
        await query.answer(_("Sorry, this button is not for you."), show_alert=True)
        return
    if callback_data.keep:
        kept = await orders.remember_home(
            session, member_id=member.id, order_id=callback_data.order_id
        )
        text = _("🏠 Thank you, I will remember {address} as your home.").format(
            address=escape(kept.address or "")
        )
    else:
        text = _("All right, I will not keep it.")
    await query.answer()
    await show_in_place(query, text, None)
