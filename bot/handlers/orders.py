"""My orders: the list, one order's details, and cancelling with a reason.

This router also carries the help-request conversation and Family, so the app includes one
router for asking for help.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_skeleton
from sqlalchemy.ext.asyncio import AsyncSession

from bot import keyboards, labels
from bot.callbacks import OrderCancel, OrderOpen
from bot.conversations import request_help
from bot.conversations.request_help import (
    category_text,
    description_text,
    duration_text,
    language,
    order_when_text,
    place_text,
)
from bot.handlers import family
from bot.handlers.common import menu_for
from bot.replies import show_in_place
from core import orders
from core.errors import DomainError
from core.models import Member, OrderFunding, OrderStatus
from core.orders import OrderView

router = Router(name="orders")
router.include_routers(request_help.router, family.router)


class CancelReason(StatesGroup):
    typing = State()


REASON_LABELS = {
    "not_needed": labels.REASON_NOT_NEEDED,
    "found_help": labels.REASON_FOUND_HELP,
    "wrong_time": labels.REASON_WRONG_TIME,
}


def status_text(view: OrderView) -> str:
    status = view.order.status
    uncovered = view.order.funding == OrderFunding.NEEDS_SPONSOR
    if status == OrderStatus.OPEN:
        if uncovered:
            return _("🕓 Waiting for a coordinator to help with the cost")
        return _("🕓 Waiting for a volunteer")
    if status == OrderStatus.ACCEPTED:
        if view.volunteer is not None:
            return _("🤝 {name} is coming to help").format(name=escape(view.volunteer.name))
        return _("🤝 A volunteer is coming to help")
    if status == OrderStatus.DONE:
        return _("✔️ Done, waiting to be confirmed")
    if status == OrderStatus.CONFIRMED:
        return _("✅ Done and confirmed")
    if status == OrderStatus.NOT_CREDITED:
        return _("🚫 Closed by a coordinator: no time credited")
    if status == OrderStatus.CANCELLED:
        return _("✖️ Cancelled")
    if uncovered:
        return _("⌛ Expired: the cost was not covered in time")
    return _("⌛ Expired: nobody was free in time")


def order_when(view: OrderView) -> str:
    return order_when_text(view.order, view.branch.time_zone)


def short_when(view: OrderView) -> str:
    order = view.order
    if order.when_asked and order.when_asked.get("kind") == "asap":
        return _("As soon as possible")
    start: datetime = order.window_start or order.created_at
    local = start.astimezone(ZoneInfo(view.branch.time_zone))
    return format_skeleton("MEd", local, locale=language())


def details_text(view: OrderView, viewer: Member) -> str:
    order = view.order
    lines = [f"<b>{escape(category_text(view.category))}</b>", status_text(view)]
    if view.by_proxy:
        if viewer.id == order.beneficiary_id:
            lines.append(_("Asked for you by {name}").format(name=escape(view.requester.name)))
        else:
            lines.append(_("For {name}").format(name=escape(view.beneficiary.name)))
    lines += [
        description_text(order.description, order.voice_file_id),
        "🕒 " + order_when(view),
        place_text(order.place_kind, order.address, show_address=view.shows_address),
        "⏳ " + _("About {duration}").format(duration=duration_text(order.estimated_minutes)),
    ]
    return "\n".join(lines)


def details_buttons(view: OrderView) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    if view.can_cancel:
        buttons.button(
            text=str(labels.CANCEL_ORDER), callback_data=OrderCancel(order_id=view.order.id)
        )
    buttons.button(text=str(labels.ALL_MY_ORDERS), callback_data=OrderOpen(order_id=0))
    buttons.adjust(1)
    return buttons.as_markup()


def reason_buttons(order_id: int) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for reason, label in REASON_LABELS.items():
        buttons.button(text=str(label), callback_data=OrderCancel(order_id=order_id, reason=reason))
    buttons.button(
        text=str(labels.REASON_TYPE), callback_data=OrderCancel(order_id=order_id, reason="typed")
    )
    buttons.button(text=str(labels.KEEP_ORDER), callback_data=OrderOpen(order_id=order_id))
    buttons.adjust(1)
    return buttons.as_markup()


async def orders_list(
    session: AsyncSession, member: Member
) -> tuple[str, InlineKeyboardMarkup | None]:
    views = await orders.my_orders(session, member.id)
    if not views:
        return _("You have no requests yet. Tap “🙋 Ask for help” to make one."), None
    lines = [_("<b>Your requests</b> (tap one to see it or cancel it):"), ""]
    buttons = InlineKeyboardBuilder()
    for number, view in enumerate(views, start=1):
        who = ""
        if view.by_proxy and member.id != view.order.beneficiary_id:
            who = " · " + escape(view.beneficiary.name)
        lines.append(
            f"{number}. {escape(category_text(view.category))}{who} · {short_when(view)}\n"
            f"    {status_text(view)}"
        )
        buttons.button(
            text=f"{number}. {category_text(view.category)} · {short_when(view)}",
            callback_data=OrderOpen(order_id=view.order.id),
        )
    buttons.adjust(1)
    return "\n".join(lines), buttons.as_markup()


@router.message(Command("myorders"))
@router.message(F.text == labels.MENU_MY_ORDERS)
async def on_my_orders(
    message: Message, state: FSMContext, session: AsyncSession, member: Member | None
) -> None:
    if member is None or member.onboarded_at is None:
        await message.answer(_(orders.NoBranch.key), reply_markup=menu_for(member))
        return
    if await state.get_state() == CancelReason.typing.state:
        await state.clear()
    text, markup = await orders_list(session, member)
    if markup is None:
        await message.answer(text, reply_markup=keyboards.main_menu())
    else:
        await message.answer(text, reply_markup=markup)


@router.callback_query(OrderOpen.filter())
async def on_open(
    query: CallbackQuery, callback_data: OrderOpen, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        await query.answer(_("This button is no longer active."))
        return
    if callback_data.order_id == 0:
        await query.answer()
        text, markup = await orders_list(session, member)
        await show_in_place(query, text, markup)
        return
    try:
        view = await orders.order_view(session, callback_data.order_id, member.id)
    except DomainError as error:
        await query.answer(_(error.key))
        return
    await query.answer()
    await show_in_place(query, details_text(view, member), details_buttons(view))


async def _cancelled(
    session: AsyncSession,
    member: Member,
    result: orders.Cancelled,
) -> str:
    """Tell everyone else with a part in the order; return the details, now cancelled."""
    view = await orders.order_view(session, result.order.id, member.id)
    return details_text(view, member)


@router.callback_query(OrderCancel.filter())
async def on_cancel_order(
    query: CallbackQuery,
    callback_data: OrderCancel,
    state: FSMContext,
    session: AsyncSession,
    member: Member | None,
) -> None:
    if member is None:
        await query.answer(_("This button is no longer active."))
        return
    try:
        view = await orders.order_view(session, callback_data.order_id, member.id)
    except DomainError as error:
        await query.answer(_(error.key))
        return
    reason = callback_data.reason
    if not view.can_cancel:
        await query.answer(_(orders.CannotCancel.key))
        await show_in_place(query, details_text(view, member), details_buttons(view))
        return
    if reason == "":
        await query.answer()
        await show_in_place(
            query,
            details_text(view, member) + "\n\n" + _("Why would you like to cancel?"),
            reason_buttons(view.order.id),
        )
        return
    if reason == "typed":
        await query.answer()
        await state.set_state(CancelReason.typing)
        await state.update_data(cancel_order_id=view.order.id)
        if isinstance(query.message, Message):
            await query.message.answer(
                _("Please type the reason in a few words."),
                reply_markup=keyboards.reply_keyboard([], back=True, cancel=True),
            )
        return
    if reason not in orders.CANCEL_REASONS:
        await query.answer(_("Sorry, I did not understand that."))
        return
    try:
        result = await orders.cancel_order(
            session,
            order_id=view.order.id,
            actor_id=member.id,
            reason=reason,
            key=f"tg-callback:{query.id}",
        )
    except DomainError as error:
        await query.answer(_(error.key))
        return
    await query.answer(
        _("This request was already cancelled.") if result.replayed else _("Cancelled.")
    )
    text = await _cancelled(session, member, result)
    await show_in_place(
        query, text, details_buttons(await orders.order_view(session, view.order.id, member.id))
    )


@router.message(CancelReason.typing, F.text.in_([labels.BACK, labels.CANCEL]))
async def on_keep_order(message: Message, state: FSMContext, member: Member) -> None:
    await state.clear()
    await message.answer(_("Okay, the request stays as it is."), reply_markup=menu_for(member))


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
        await state.clear()
        await message.answer(_(error.key), reply_markup=menu_for(member))
        return
    await state.clear()
    text = await _cancelled(session, member, result)
    await message.answer(
        _("✖️ The request is cancelled.") + "\n\n" + text, reply_markup=menu_for(member)
    )


@router.message(CancelReason.typing)
async def on_reason_not_text(message: Message) -> None:
    await message.answer(_("Please type the reason in a few words."))
