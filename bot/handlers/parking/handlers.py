"""Sharing parking spaces: a space's free times, booking part of one, both sides confirming
the handover, calling a booking off, one's bookings. Listing a space is a conversation
(`bot.conversations.share_parking`)."""

from __future__ import annotations

from datetime import timedelta

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations import share_parking
from bot.handlers.classes.views import time_zone_of
from bot.handlers.parking import views as ui
from bot.handlers.parking.callbacks import ParkAction, ParkCb
from bot.kit.edit import show_in_place
from bot.kit.guards import SignedUp
from core.db import utcnow
from core.models import Member
from core.rewards import parking
from core.rewards.tables import ParkingSpace

router = Router(name="parking")
router.callback_query.filter(SignedUp())


async def _free(session: AsyncSession, member: Member, space_id: int):
    card = await parking.space_card(session, member.id, space_id)
    return card, ui.free_times(card, utcnow())


@router.callback_query(ParkCb.filter(F.action == ParkAction.VIEW))
async def on_view(
    query: CallbackQuery, callback_data: ParkCb, session: AsyncSession, member: Member
) -> None:
    card, free = await _free(session, member, callback_data.item)
    zone = await time_zone_of(session, member)
    await query.answer()
    await show_in_place(query, ui.card_text(card, free, zone), ui.card_buttons(card, free, zone))


def _span_from(free: list[ui.Span], minute: int) -> ui.Span | None:
    return next(((a, b) for a, b in free if ui.minute_of(a) == minute), None)


@router.callback_query(ParkCb.filter(F.action == ParkAction.HOURS))
async def on_hours(
    query: CallbackQuery, callback_data: ParkCb, session: AsyncSession, member: Member
) -> None:
    _card, free = await _free(session, member, callback_data.item)
    span = _span_from(free, callback_data.value)
    if span is None:
        raise parking.AlreadyBooked()
    zone = await time_zone_of(session, member)
    await query.answer()
    await show_in_place(
        query, ui.hours_text(*span, zone), ui.hours_buttons(callback_data.item, *span)
    )


async def _show_booking(
    query: CallbackQuery, session: AsyncSession, member: Member, view: parking.BookingView
) -> None:
    space = await session.get(ParkingSpace, view.space_id)
    owner = space is not None and space.owner_id == member.id
    zone = await time_zone_of(session, member)
    await show_in_place(query, ui.booking_text(view, zone, owner=owner), ui.booking_buttons(view))


@router.callback_query(ParkCb.filter(F.action == ParkAction.BOOK))
async def on_book(
    query: CallbackQuery, callback_data: ParkCb, session: AsyncSession, member: Member
) -> None:
    start = ui.at_minute(callback_data.value)
    _card, free = await _free(session, member, callback_data.item)
    span = _span_from(free, callback_data.value)
    end = span[1] if span else start + timedelta(hours=1)
    if callback_data.hours:
        end = start + timedelta(hours=callback_data.hours)
    message_id = query.message.message_id if query.message else 0
    view = await parking.book_space(
        session, member.id, callback_data.item, start, end,
        key=f"park:{member.id}:{message_id}:{callback_data.value}:{callback_data.hours}",
    )  # fmt: skip
    await query.answer(_("Booked. Thank you!"))
    await _show_booking(query, session, member, view)


@router.callback_query(ParkCb.filter(F.action == ParkAction.BOOKING))
async def on_booking(
    query: CallbackQuery, callback_data: ParkCb, session: AsyncSession, member: Member
) -> None:
    view = await parking.booking_view(session, member.id, callback_data.item)
    await query.answer()
    await _show_booking(query, session, member, view)


@router.callback_query(ParkCb.filter(F.action == ParkAction.HANDOVER))
async def on_handover(
    query: CallbackQuery, callback_data: ParkCb, session: AsyncSession, member: Member
) -> None:
    view = await parking.confirm_handover(session, member.id, callback_data.item)
    await query.answer(_("Thank you!"))
    await _show_booking(query, session, member, view)


@router.callback_query(ParkCb.filter(F.action == ParkAction.CALL_OFF))
async def on_call_off(
    query: CallbackQuery, callback_data: ParkCb, session: AsyncSession, member: Member
) -> None:
    view = await parking.cancel_booking(session, member.id, callback_data.item)
    await query.answer(_("Called off."))
    await _show_booking(query, session, member, view)


@router.callback_query(ParkCb.filter(F.action == ParkAction.MINE))
async def on_mine(query: CallbackQuery, session: AsyncSession, member: Member) -> None:
    views = await parking.bookings_of(session, member.id)
    zone = await time_zone_of(session, member)
    await query.answer()
    await show_in_place(query, ui.bookings_text(views), ui.bookings_buttons(views, zone))


@router.callback_query(ParkCb.filter(F.action == ParkAction.NEW))
async def on_new(
    query: CallbackQuery, session: AsyncSession, member: Member, state: FSMContext
) -> None:
    await query.answer()
    if isinstance(query.message, Message):
        await share_parking.start(share_parking.steps.turn(query.message, state, session, member))
