"""The notices of parking-space sharing: a neighbour booked your space, the other side
confirmed the handover, a booking was called off."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.parking import views as ui
from bot.handlers.parking.callbacks import ParkAction, ParkCb
from bot.kit.screens import Notice, Renderer, Send
from bot.kit.times import span_text
from core.models import Branch, Member
from core.notices import Kind
from core.rewards.tables import ParkingBooking, ParkingSpace


async def _booking(session: AsyncSession, payload: dict) -> tuple[ParkingBooking, str] | None:
    booking = await session.get(ParkingBooking, payload["booking_id"])
    space = await session.get(ParkingSpace, booking.space_id) if booking else None
    if booking is None or space is None:
        return None
    branch = await session.get(Branch, space.branch_id)
    zone = branch.time_zone if branch else "UTC"
    return booking, span_text(booking.starts_at, booking.ends_at, zone)


def _buttons(booking_id: int) -> InlineKeyboardBuilder:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=str(ui.HANDED_OVER), callback_data=ParkCb(action=ParkAction.HANDOVER, item=booking_id)
    )
    buttons.button(
        text=str(ui.CALL_OFF), callback_data=ParkCb(action=ParkAction.CALL_OFF, item=booking_id)
    )
    buttons.adjust(1)
    return buttons


async def booked(session: AsyncSession, payload: dict, member: Member) -> Notice:
    found = await _booking(session, payload)
    if found is None:
        return None
    booking, when = found
    text = _("🅿️ {name} booked your parking space: {when}.").format(
        name=escape(payload.get("booker") or ""), when=when
    )
    hint = _("When you hand it over, tap “✅ Handed over”.")
    return Send(f"{text}\n{hint}", _buttons(booking.id).as_markup())


async def handover(session: AsyncSession, payload: dict, member: Member) -> Notice:
    found = await _booking(session, payload)
    if found is None:
        return None
    booking, when = found
    if payload.get("done"):
        return Send(_("🅿️ You both confirmed the handover ({when}). Thank you!").format(when=when))
    return Send(
        _("🅿️ The other side confirmed the handover ({when}). Please confirm it too.").format(
            when=when
        ),
        _buttons(booking.id).as_markup(),
    )


async def cancelled(session: AsyncSession, payload: dict, member: Member) -> Notice:
    found = await _booking(session, payload)
    if found is None:
        return None
    _booking_row, when = found
    return Send(_("🅿️ The parking booking ({when}) was called off.").format(when=when))


RENDERERS: dict[Kind, Renderer] = {
    Kind.PARKING_BOOKED: booked,
    Kind.PARKING_HANDOVER: handover,
    Kind.PARKING_CANCELLED: cancelled,
}
