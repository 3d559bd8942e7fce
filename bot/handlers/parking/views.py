"""What parking-space sharing looks like in the chat: spaces by their area (the address only
for the owner and a neighbour with a booking), free times, bookings and the handover."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.handlers.nearby.callbacks import Near, NearAction
from bot.handlers.nearby.views import SECTIONS, area_text, far_text
from bot.handlers.parking.callbacks import ParkAction, ParkCb
from bot.kit.formatters import duration_text
from bot.kit.times import span_text
from core.rewards.parking import BookingView, SpaceCard
from core.rewards.tables import ParkingBookingStatus

HANDED_OVER = __("✅ Handed over")
CALL_OFF = __("✖️ Call it off")
LIST_SPACE = __("➕ Share my parking space")
MY_BOOKINGS = __("🅿️ My parking bookings")
TO_SPACES = __("⬅️ Parking spaces")
WHOLE_TIME = __("All of it")
HOURS = (1, 2, 4)
Span = tuple[datetime, datetime]


def free_times(card: SpaceCard, now: datetime) -> list[Span]:
    """The offered times not yet booked and not yet over, from now on."""
    free = []
    for start, end in card.windows:
        start = max(start, now)
        for taken_start, taken_end in sorted(card.booked):
            if taken_end <= start or taken_start >= end:
                continue
            if taken_start > start:
                free.append((start, taken_start))
            start = max(start, taken_end)
        if start < end:
            free.append((start, end))
    return [(a, b) for a, b in free if b - a >= timedelta(minutes=30)]


def minute_of(at: datetime) -> int:
    return int(at.timestamp() // 60)


def at_minute(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, tz=UTC)


def price_text(minutes_per_hour: int) -> str:
    if not minutes_per_hour:
        return _("🆓 Free to use")
    return _("💳 {duration} of credit per hour").format(duration=duration_text(minutes_per_hour))


def space_line(number: int, card: SpaceCard) -> str:
    lines = [
        f"<b>{number}.</b> 📍 {area_text(card.area)}{far_text(card.distance_m)}",
        "    " + _("Shared by {name}").format(name=escape(card.owner_first_name)),
        "    " + price_text(card.minutes_per_hour),
    ]
    if card.notes:
        lines.append(f"    💬 {escape(card.notes)}")
    return "\n".join(lines)


def list_text(cards: list[SpaceCard], page: int, first: int) -> str:
    lines = [_("🅿️ <b>Parking spaces near you</b>")]
    if not cards:
        lines.append(_("There are no more.") if page else _("No parking spaces are free near you."))
    else:
        lines.append(_("The exact place is shown once you have booked."))
    for number, card in enumerate(cards, start=first):
        lines += ["", space_line(number, card)]
    return "\n".join(lines)


def list_buttons(
    cards: list[SpaceCard], first: int, navigation: list[tuple[str, Near]]
) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for number, card in enumerate(cards, start=first):
        buttons.button(
            text=_("{number}. See the free times").format(number=number),
            callback_data=ParkCb(action=ParkAction.VIEW, item=card.space_id),
        )
    for label, data in navigation:
        buttons.button(text=label, callback_data=data)
    buttons.button(text=str(MY_BOOKINGS), callback_data=ParkCb(action=ParkAction.MINE))
    buttons.button(text=str(LIST_SPACE), callback_data=ParkCb(action=ParkAction.NEW))
    buttons.button(text=str(SECTIONS), callback_data=Near(action=NearAction.SECTIONS))
    buttons.adjust(*([1] * len(cards)), *([len(navigation)] if navigation else []), 1, 1, 1)
    return buttons.as_markup()


def card_text(card: SpaceCard, free: list[Span], time_zone: str) -> str:
    lines = [
        f"🅿️ <b>{area_text(card.area)}</b>{far_text(card.distance_m)}",
        _("Shared by {name}").format(name=escape(card.owner_first_name)),
        price_text(card.minutes_per_hour),
    ]
    if card.notes:
        lines.append(f"💬 {escape(card.notes)}")
    lines.append("")
    if free:
        lines.append(_("Free times: tap one to book it."))
    else:
        lines.append(_("It is fully booked for now."))
    return "\n".join(lines)


def card_buttons(card: SpaceCard, free: list[Span], time_zone: str) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for start, end in free[:8]:
        buttons.button(
            text="📅 " + span_text(start, end, time_zone),
            callback_data=ParkCb(
                action=ParkAction.HOURS, item=card.space_id, value=minute_of(start)
            ),
        )
    buttons.button(text=str(TO_SPACES), callback_data=Near(action=NearAction.SPACES))
    buttons.adjust(1)
    return buttons.as_markup()


def hours_text(start: datetime, end: datetime, time_zone: str) -> str:
    return "\n".join(
        [
            _("🅿️ Free: {when}").format(when=span_text(start, end, time_zone)),
            _("For how long would you like it, from the start?"),
        ]
    )


def hours_buttons(space_id: int, start: datetime, end: datetime) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    length = end - start
    for hours in HOURS:
        if timedelta(hours=hours) < length:
            buttons.button(
                text=duration_text(hours * 60),
                callback_data=ParkCb(
                    action=ParkAction.BOOK, item=space_id, value=minute_of(start), hours=hours
                ),
            )
    buttons.button(
        text=str(WHOLE_TIME),
        callback_data=ParkCb(action=ParkAction.BOOK, item=space_id, value=minute_of(start)),
    )
    buttons.button(text=str(TO_SPACES), callback_data=ParkCb(action=ParkAction.VIEW, item=space_id))
    buttons.adjust(1)
    return buttons.as_markup()


def booking_text(view: BookingView, time_zone: str, *, owner: bool) -> str:
    when = span_text(view.starts_at, view.ends_at, time_zone)
    lines = [_("🅿️ <b>Parking booking</b>"), "🕒 " + when, "📍 " + escape(view.address)]
    if view.minutes_owed:
        lines.append(_("💳 {duration} of credit, paid at the handover").format(
            duration=duration_text(view.minutes_owed)))  # fmt: skip
    if view.status == ParkingBookingStatus.DONE:
        lines.append(_("✅ Handed over. Thank you both!"))
    elif view.status == ParkingBookingStatus.CANCELLED:
        lines.append(_("✖️ Called off."))
    else:
        mine = view.owner_confirmed if owner else view.booker_confirmed
        theirs = view.booker_confirmed if owner else view.owner_confirmed
        if mine:
            lines.append(_("You confirmed the handover; waiting for the other side."))
        elif theirs:
            lines.append(_("The other side confirmed the handover. Please confirm it too."))
        else:
            lines.append(_("At the handover, both of you tap “✅ Handed over”."))
    return "\n".join(lines)


def booking_buttons(view: BookingView) -> InlineKeyboardMarkup | None:
    if view.status != ParkingBookingStatus.BOOKED:
        return None
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=str(HANDED_OVER),
        callback_data=ParkCb(action=ParkAction.HANDOVER, item=view.booking_id),
    )
    buttons.button(
        text=str(CALL_OFF), callback_data=ParkCb(action=ParkAction.CALL_OFF, item=view.booking_id)
    )
    buttons.adjust(1)
    return buttons.as_markup()


def bookings_text(views: list[BookingView]) -> str:
    lines = [_("🅿️ <b>Your parking bookings</b>")]
    if not views:
        lines.append(_("You have no parking bookings ahead."))
    return "\n".join(lines)


def bookings_buttons(views: list[BookingView], time_zone: str) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for view in views[:10]:
        buttons.button(
            text="🅿️ " + span_text(view.starts_at, view.ends_at, time_zone),
            callback_data=ParkCb(action=ParkAction.BOOKING, item=view.booking_id),
        )
    buttons.button(text=str(TO_SPACES), callback_data=Near(action=NearAction.SPACES))
    buttons.adjust(1)
    return buttons.as_markup()
