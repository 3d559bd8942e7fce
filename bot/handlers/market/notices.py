"""The market days' notices: a place freed, reminders, a day moved or called off, a shift
credited. Each is rendered from its ids, in the reader's language, when it is sent."""

from __future__ import annotations

from html import escape
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.market.callbacks import Act, Market
from bot.handlers.market.views import name_of, slot_time, when_text
from bot.kit.formatters import duration_text
from bot.kit.screens import Notice, Renderer, Send
from bot.kit.times import day_text, when_line
from core.db import utcnow
from core.market.tables import MarketBooking, MarketEvent, MarketShift, MarketSlot, MarketUnit
from core.models import Branch, Member
from core.notices import Kind
from core.schedule import local_today


async def _parts(
    session: AsyncSession, booking_id: int
) -> tuple[MarketBooking, MarketEvent, MarketUnit, str, MarketSlot | None] | None:
    booking = await session.get(MarketBooking, booking_id)
    if booking is None:
        return None
    event = await session.get(MarketEvent, booking.event_id)
    unit = await session.get(MarketUnit, booking.unit_id)
    branch = await session.get(Branch, event.branch_id) if event else None
    if event is None or unit is None or branch is None:
        return None
    slot = await session.get(MarketSlot, booking.slot_id) if booking.slot_id else None
    return booking, event, unit, branch.time_zone, slot


async def _for_whom(session: AsyncSession, booking: MarketBooking, reader: Member) -> str:
    if booking.member_id is None or booking.member_id == reader.id:
        return ""
    resident = await session.get(Member, booking.member_id)
    if resident is None:
        return ""
    return "\n" + _("For {name}").format(name=escape(resident.name))


def _slot_text(slot: MarketSlot | None, time_zone: str) -> str:
    if slot is None:
        return ""
    local = slot.starts_at.astimezone(ZoneInfo(time_zone))
    return _("{day} at {time}").format(
        day=day_text(local.date(), local_today(time_zone, utcnow())),
        time=slot_time(slot.starts_at, time_zone),
    )


def _when_line(slot: MarketSlot | None, time_zone: str) -> str:
    """The booked time on its own line (none for a walk-in), so no sentence holds it."""
    return "\n" + when_line(_slot_text(slot, time_zone)) if slot is not None else ""


def _see_booking(booking: MarketBooking) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=_("🎫 See my booking"),
        callback_data=Market(action=Act.BOOKING, event=booking.event_id, item=booking.id),
    )
    return buttons.as_markup()


async def place_freed(session: AsyncSession, payload: dict[str, Any], reader: Member) -> Notice:
    parts = await _parts(session, payload["booking_id"])
    if parts is None:
        return None
    booking, event, unit, time_zone, slot = parts
    text = _(
        "🎉 A place has freed up! Booking number {number} at {unit}, {event}, is now confirmed."
    ).format(number=booking.number, unit=name_of(unit.names), event=name_of(event.names))
    text += _when_line(slot, time_zone)
    return Send(text + await _for_whom(session, booking, reader), _see_booking(booking))


async def reminder(session: AsyncSession, payload: dict[str, Any], reader: Member) -> Notice:
    parts = await _parts(session, payload["booking_id"])
    if parts is None:
        return None
    booking, event, unit, time_zone, slot = parts
    if payload.get("ahead") == "hour":
        text = _("⏰ In about an hour: {unit} at {event}. Your number is {number}.")
    else:
        text = _("⏰ A reminder: {unit} at {event}. Your number is {number}.")
    text = text.format(unit=name_of(unit.names), event=name_of(event.names), number=booking.number)
    text += _when_line(slot, time_zone)
    text += "\n📍 " + escape(event.venue_address)
    return Send(text + await _for_whom(session, booking, reader), _see_booking(booking))


async def changed(session: AsyncSession, payload: dict[str, Any], reader: Member) -> Notice:
    parts = await _parts(session, payload["booking_id"])
    if parts is None:
        return None
    booking, event, unit, time_zone, slot = parts
    lines = [
        _("📢 {event} has changed. Please note the new details:").format(
            event=name_of(event.names)
        ),
        "🗓 " + when_text(event.starts_at, event.ends_at, time_zone, utcnow()),
        "📍 " + escape(event.venue_address),
    ]
    if slot is not None:
        lines.append(
            _("Your booking number {number} at {unit}: {when}").format(
                number=booking.number, unit=name_of(unit.names), when=_slot_text(slot, time_zone)
            )
        )
    return Send("\n".join(lines) + await _for_whom(session, booking, reader), _see_booking(booking))


async def cancelled(session: AsyncSession, payload: dict[str, Any], reader: Member) -> Notice:
    parts = await _parts(session, payload["booking_id"])
    if parts is None:
        return None
    booking, event, unit, _zone, _slot = parts
    text = _(
        "✖️ We are sorry: {event} has been called off. Your booking number {number} at "
        "{unit} is cancelled."
    ).format(event=name_of(event.names), number=booking.number, unit=name_of(unit.names))
    return Send(text + await _for_whom(session, booking, reader))


async def shift_credited(session: AsyncSession, payload: dict[str, Any], reader: Member) -> Notice:
    shift = await session.get(MarketShift, payload["shift_id"])
    unit = await session.get(MarketUnit, shift.unit_id) if shift else None
    event = await session.get(MarketEvent, unit.event_id) if unit else None
    if unit is None or event is None:
        return None
    return Send(
        _("🙏 Thank you for helping at {unit}, {event}! {time} went into your passbook.").format(
            unit=name_of(unit.names),
            event=name_of(event.names),
            time=duration_text(int(payload["minutes"])),
        )
    )


RENDERERS: dict[Kind, Renderer] = {
    Kind.MARKET_PLACE_FREED: place_freed,
    Kind.MARKET_REMINDER: reminder,
    Kind.MARKET_CHANGED: changed,
    Kind.MARKET_CANCELLED: cancelled,
    Kind.MARKET_SHIFT_CREDITED: shift_credited,
}
