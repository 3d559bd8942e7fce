"""How a market day reads in the chat: plain text-and-button functions, no database.

Member-supplied words (the day's and units' names, the venue, organisers, residents' and
volunteers' names) are escaped here, where they meet the HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.numbers import format_decimal

from bot.handlers.market.callbacks import Act, Market
from bot.kit import labels
from bot.kit.formatters import duration_text, language
from bot.kit.times import clock, day_text
from core.catalog import localized
from core.market import Booking, BranchMarkets, CheckIn, EventView, ShiftLine, UnitReport
from core.market.events import UnitView
from core.market.tables import BookingStatus, EventStatus, ShiftStatus
from core.schedule import local_today

EVENT_PREFIX = "ev-"
SLOTS_SHOWN = 24


def event_start_parameter(event_id: int) -> str:
    return f"{EVENT_PREFIX}{event_id}"


def event_link(bot_username: str, event_id: int) -> str:
    """`https://t.me/<bot>?start=ev-<id>`: the announcement's button opens the event view."""
    return f"https://t.me/{bot_username.lstrip('@')}?start={event_start_parameter(event_id)}"


def event_button(bot_username: str, event_id: int) -> InlineKeyboardMarkup:
    """The announcement's "see the stands and book" button."""
    buttons = InlineKeyboardBuilder()
    buttons.button(text=_("🎪 See the stands and book"), url=event_link(bot_username, event_id))
    return buttons.as_markup()


def name_of(names: Mapping[str, str]) -> str:
    """A market day's or unit's name in the reader's language, escaped."""
    return escape(localized(dict(names), language()))


def _local(at: datetime, time_zone: str) -> datetime:
    return at.astimezone(ZoneInfo(time_zone))


def when_text(starts_at: datetime, ends_at: datetime, time_zone: str, now: datetime) -> str:
    """ "Saturday, 12 December, 9:00–11:30" on the branch's clock."""
    start, end = _local(starts_at, time_zone), _local(ends_at, time_zone)
    day = day_text(start.date(), local_today(time_zone, now))
    return _("{day}, {start}–{end}").format(
        day=day, start=clock(start.time()), end=clock(end.time())
    )


def slot_time(at: datetime, time_zone: str) -> str:
    return clock(_local(at, time_zone).time())


def unit_line(unit: UnitView) -> str:
    name = name_of(unit.names)
    if unit.walk_in:
        return _("• {unit}: just come along, no booking needed").format(unit=name)
    if not unit.slots:
        return _("• {unit}: no more times today").format(unit=name)
    if unit.free == 0:
        return _("• {unit}: full; you can join the waiting list").format(unit=name)
    return _("• {unit}: {count} places free").format(unit=name, count=unit.free)


def event_text(view: EventView, now: datetime, *, for_name: str | None = None) -> str:
    lines = [
        f"🎪 <b>{name_of(view.names)}</b>",
        "🗓 " + when_text(view.starts_at, view.ends_at, view.time_zone, now),
        "📍 " + escape(view.venue_address),
    ]
    if view.status == EventStatus.CANCELLED:
        return "\n".join([*lines, "", _("✖️ This market day has been called off.")])
    if view.ends_at <= now:
        return "\n".join([*lines, "", _("This market day is over.")])
    if for_name is not None:
        lines += ["", _("Booking for {name}.").format(name=escape(for_name))]
    lines += ["", _("Stands:")]
    lines += [unit_line(unit) for unit in view.units]
    if any(not unit.walk_in for unit in view.units):
        lines += ["", _("Tap a stand to choose a time.")]
    return "\n".join(lines)


@dataclass(frozen=True)
class Roles:
    """What the reader may do at this market day besides booking."""

    staff: bool = False  # checks people in (a shift here, or a coordinator)
    volunteer: bool = False  # may sign up for a shift
    coordinator: bool = False  # coordinates the event's branch
    books_for_others: bool = False  # has a relative or a resident to book for


def _data(view: EventView, action: Act, item: int = 0, who: int = 0, n: int = 0) -> Market:
    return Market(action=action, event=view.event_id, item=item, who=who, n=n)


def event_buttons(
    view: EventView, now: datetime, roles: Roles, *, who: int = 0
) -> InlineKeyboardMarkup | None:
    buttons = InlineKeyboardBuilder()
    sizes: list[int] = []
    open_ = view.status == EventStatus.OPEN and view.ends_at > now
    if open_:
        for unit in view.units:
            if unit.walk_in or not unit.slots:
                continue
            label = _("{unit} · {count} free").format(
                unit=localized(unit.names, language()), count=unit.free
            )
            buttons.button(text=label, callback_data=_data(view, Act.UNIT, unit.unit_id, who))
            sizes.append(1)
        if who == 0:
            buttons.button(text=_("🎫 My bookings"), callback_data=_data(view, Act.MINE))
            row = 1
            if view.latitude is not None:
                buttons.button(text=_("📍 Map"), callback_data=_data(view, Act.MAP))
                row += 1
            if roles.books_for_others:
                buttons.button(
                    text=_("🤲 Book for someone else"), callback_data=_data(view, Act.FOR_OTHER)
                )
                row += 1
            sizes.append(row)
        else:
            buttons.button(text=_("⬅️ Book for myself"), callback_data=_data(view, Act.EVENT))
            sizes.append(1)
    if who == 0 and view.status == EventStatus.OPEN:
        row = 0
        if roles.staff:
            buttons.button(text=_("✅ Check people in"), callback_data=_data(view, Act.DESK))
            row += 1
        if roles.volunteer and open_:
            buttons.button(text=_("🙋 Help at a stand"), callback_data=_data(view, Act.HELP))
            row += 1
        if row:
            sizes.append(row)
        if roles.coordinator:
            buttons.button(text=_("📊 Report"), callback_data=_data(view, Act.REPORT))
            buttons.button(text=_("👥 Shifts"), callback_data=_data(view, Act.SHIFTS))
            sizes.append(2)
            if open_:
                buttons.button(
                    text=_("✏️ Change day or hours"),
                    callback_data=_data(view, Act.MOVE, n=view.version),
                )
                buttons.button(
                    text=_("📍 Change the place"),
                    callback_data=_data(view, Act.VENUE, n=view.version),
                )
                buttons.button(
                    text=_("✖️ Call the day off"),
                    callback_data=_data(view, Act.CALL_OFF, n=view.version),
                )
                sizes += [2, 1]
    if not sizes:
        return None
    buttons.adjust(*sizes)
    return buttons.as_markup()


def slots_text(view: EventView, unit: UnitView, now: datetime) -> str:
    lines = [
        f"<b>{name_of(unit.names)}</b> · {name_of(view.names)}",
        "🗓 " + when_text(view.starts_at, view.ends_at, view.time_zone, now),
    ]
    if unit.organiser:
        lines.append(_("Run by {organiser}").format(organiser=escape(unit.organiser)))
    lines.append("")
    if not unit.slots:
        lines.append(_("There are no more times at this stand."))
    elif unit.free == 0:
        lines.append(
            _(
                "Every time is full. Tap one to join its waiting list: I will tell you if "
                "a place frees up."
            )
        )
    else:
        lines.append(_("Which time suits you? Tap it to book."))
    return "\n".join(lines)


def slot_buttons(view: EventView, unit: UnitView, *, who: int = 0) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for slot in unit.slots[:SLOTS_SHOWN]:
        at = slot_time(slot.starts_at, view.time_zone)
        if slot.free:
            label = _("{time} · {count} free").format(time=at, count=slot.free)
        else:
            label = _("{time} · waiting list").format(time=at)
        buttons.button(text=label, callback_data=_data(view, Act.BOOK, slot.slot_id, who))
    buttons.button(text=_("⬅️ All stands"), callback_data=_data(view, Act.EVENT, who=who))
    slots = min(len(unit.slots), SLOTS_SHOWN)
    buttons.adjust(*([2] * (slots // 2)), *([1] if slots % 2 else []), 1)
    return buttons.as_markup()


def status_text(booking: Booking) -> str:
    if booking.status == BookingStatus.BOOKED:
        return _("✅ Booked")
    if booking.status == BookingStatus.WAITING:
        return _("🕓 On the waiting list, number {position} in line").format(
            position=booking.waiting_position or 1
        )
    if booking.status == BookingStatus.CHECKED_IN:
        return _("☑️ Checked in")
    return _("✖️ Cancelled")


def booking_text(
    booking: Booking,
    view: EventView,
    now: datetime,
    *,
    resident_name: str | None = None,
) -> str:
    unit = next((u for u in view.units if u.unit_id == booking.unit_id), None)
    lines = [
        _("Booking number <b>{number}</b>").format(number=booking.number),
        status_text(booking),
        "",
        f"🎪 {name_of(view.names)}",
    ]
    if unit is not None:
        lines.append(f"💈 {name_of(unit.names)}")
    if booking.starts_at is not None:
        day = day_text(
            _local(booking.starts_at, view.time_zone).date(), local_today(view.time_zone, now)
        )
        lines.append(
            "🕒 "
            + _("{day} at {time}").format(
                day=day, time=slot_time(booking.starts_at, view.time_zone)
            )
        )
    lines.append("📍 " + escape(view.venue_address))
    if resident_name is not None:
        lines.append(_("For {name}").format(name=escape(resident_name)))
    if booking.status == BookingStatus.BOOKED:
        lines += [
            "",
            _(
                "At the stand, show this QR code or say your number. I will remind you "
                "the day before and an hour before."
            ),
        ]
    elif booking.status == BookingStatus.WAITING:
        lines += ["", _("I will tell you as soon as a place frees up.")]
    return "\n".join(lines)


def booking_buttons(booking: Booking, *, who: int = 0) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    if booking.status in (BookingStatus.BOOKED, BookingStatus.WAITING):
        buttons.button(
            text=_("✖️ Cancel this booking"),
            callback_data=Market(
                action=Act.CANCEL, event=booking.event_id, item=booking.booking_id, who=who
            ),
        )
    buttons.button(
        text=_("⬅️ All stands"), callback_data=Market(action=Act.EVENT, event=booking.event_id)
    )
    buttons.adjust(1)
    return buttons.as_markup()


def cancel_question(booking: Booking) -> tuple[str, InlineKeyboardMarkup]:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=_("Yes, cancel it"),
        callback_data=Market(
            action=Act.CANCEL_YES, event=booking.event_id, item=booking.booking_id
        ),
    )
    buttons.button(
        text=_("↩️ Keep it"),
        callback_data=Market(action=Act.BOOKING, event=booking.event_id, item=booking.booking_id),
    )
    buttons.adjust(2)
    text = _("Cancel booking number {number}? Someone on the waiting list will get the place.")
    return text.format(number=booking.number), buttons.as_markup()


def bookings_text(view: EventView, bookings: list[Booking], names: Mapping[int, str]) -> str:
    mine = [b for b in bookings if b.event_id == view.event_id]
    if not mine:
        return _("You have no bookings at {event} yet.").format(event=name_of(view.names))
    lines = [_("<b>Your bookings</b> at {event}:").format(event=name_of(view.names)), ""]
    units = {unit.unit_id: unit for unit in view.units}
    for booking in mine:
        unit = units.get(booking.unit_id)
        at = slot_time(booking.starts_at, view.time_zone) if booking.starts_at else ""
        line = f"{booking.number}. {name_of(unit.names) if unit else ''} {at} · "
        line += status_text(booking)
        whom = names.get(booking.member_id or 0)
        if whom:
            line += " · " + escape(whom)
        lines.append(line)
    return "\n".join(lines)


def bookings_buttons(view: EventView, bookings: list[Booking]) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for booking in bookings:
        if booking.event_id == view.event_id:
            buttons.button(
                text=_("🎫 Number {number}").format(number=booking.number),
                callback_data=_data(view, Act.BOOKING, booking.booking_id),
            )
    buttons.button(text=_("⬅️ All stands"), callback_data=_data(view, Act.EVENT))
    buttons.adjust(1)
    return buttons.as_markup()


def checked_in_text(result: CheckIn, unit_names: Mapping[str, str]) -> str:
    who = escape(result.resident_name) if result.resident_name else ""
    if result.already:
        text = _("☑️ Number {number} was already checked in at {unit}. {name}")
    else:
        text = _("✅ Number {number} is checked in at {unit}. {name}")
    return text.format(number=result.number, unit=name_of(unit_names), name=who).strip()


def desk_text(view: EventView, units: list[UnitView]) -> str:
    lines = [
        _("✅ <b>Checking people in</b> at {event}").format(event=name_of(view.names)),
        "",
        _(
            "Scan a booking's QR code with the phone camera, or type its number here. "
            "For someone without a booking, tap the walk-in button of the stand."
        ),
    ]
    if units:
        lines += [
            "",
            _("Your stands: {units}").format(units=", ".join(name_of(u.names) for u in units)),
        ]
    return "\n".join(lines)


def desk_button(event_id: int) -> InlineKeyboardMarkup:
    """Under a scanned check-in: the desk, for typed numbers and walk-ins."""
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=_("✅ Check people in"), callback_data=Market(action=Act.DESK, event=event_id)
    )
    return buttons.as_markup()


def walk_in_label(unit: UnitView) -> str:
    return _("➕ Walk-in: {unit}").format(unit=localized(unit.names, language()))


def walk_in_text(number: int, unit: UnitView) -> str:
    return _("➕ Walk-in recorded at {unit}: number {number}.").format(
        unit=name_of(unit.names), number=number
    )


def shift_units_text(view: EventView, mine: Mapping[int, str]) -> str:
    lines = [
        _("🙋 <b>Helping at {event}</b>").format(event=name_of(view.names)),
        "",
        _(
            "Tap a stand to help there for the whole market day; tap it again to take your "
            "name off. Your hours are credited after the day."
        ),
    ]
    if mine:
        lines += ["", _("You are helping at: {units}").format(units=", ".join(mine.values()))]
    return "\n".join(lines)


def shift_units_buttons(view: EventView, mine: Mapping[int, str]) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for unit in view.units:
        mark = "✅ " if unit.unit_id in mine else ""
        buttons.button(
            text=mark + localized(unit.names, language()),
            callback_data=_data(view, Act.SHIFT, unit.unit_id),
        )
    buttons.button(text=_("⬅️ All stands"), callback_data=_data(view, Act.EVENT))
    buttons.adjust(1)
    return buttons.as_markup()


def shift_line(line: ShiftLine, corrections: Mapping[int, int]) -> str:
    name = escape(line.volunteer_name)
    unit = name_of(line.unit_names)
    if line.status == ShiftStatus.CREDITED:
        state = _("credited {time}").format(time=duration_text(line.credited_minutes or 0))
    elif line.status == ShiftStatus.ABSENT:
        state = _("did not come")
    elif line.shift_id in corrections:
        minutes = corrections[line.shift_id]
        state = _("did not come") if minutes == 0 else duration_text(minutes) + " ✏️"
    else:
        state = duration_text(line.planned_minutes)
    return f"• {name} · {unit} · {state}"


def shifts_text(
    view: EventView, lines: list[ShiftLine], corrections: Mapping[int, int], now: datetime
) -> str:
    header = [_("👥 <b>Shifts</b> at {event}").format(event=name_of(view.names)), ""]
    if not lines:
        return "\n".join([*header, _("Nobody has signed up for a shift yet.")])
    body = [shift_line(line, corrections) for line in lines]
    waiting = [line for line in lines if line.status == ShiftStatus.SIGNED_UP]
    if not waiting:
        footer = [_("Every shift is confirmed.")]
    elif view.ends_at > now:
        footer = [_("You can confirm the shifts after the market day.")]
    else:
        footer = [
            _(
                "Is this right? Tap a name to correct its time, then confirm: each "
                "volunteer's hours are credited from the community pool."
            )
        ]
    return "\n".join([*header, *body, "", *footer])


def shifts_buttons(
    view: EventView, lines: list[ShiftLine], corrections: Mapping[int, int], now: datetime
) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    waiting = [line for line in lines if line.status == ShiftStatus.SIGNED_UP]
    if waiting and view.ends_at <= now:
        for line in waiting:
            buttons.button(
                text="✏️ " + line.volunteer_name,
                callback_data=_data(view, Act.CORRECT, line.shift_id),
            )
        buttons.button(
            text=_("✅ Confirm and credit"),
            callback_data=_data(view, Act.CONFIRM, n=len(corrections)),
        )
    buttons.button(text=_("⬅️ All stands"), callback_data=_data(view, Act.EVENT))
    buttons.adjust(1)
    return buttons.as_markup()


def report_text(view: EventView, reports: list[UnitReport], now: datetime) -> str:
    lines = [
        _("📊 <b>Report</b>: {event}").format(event=name_of(view.names)),
        "🗓 " + when_text(view.starts_at, view.ends_at, view.time_zone, now),
        "",
    ]
    for report in reports:
        lines.append(f"<b>{name_of(report.names)}</b>")
        lines.append(
            _(
                "Booked {booked} · checked in {checked_in} · walk-ins {walk_ins} · "
                "no-shows {no_shows}"
            ).format(
                booked=report.booked,
                checked_in=report.checked_in,
                walk_ins=report.walk_ins,
                no_shows=report.no_shows,
            )
        )
        lines.append(
            _("Residents served {served} · volunteers {volunteers}, {time}").format(
                served=report.residents_served,
                volunteers=report.volunteers,
                time=duration_text(report.volunteer_minutes),
            )
        )
    served = sum(report.residents_served for report in reports)
    minutes = sum(report.volunteer_minutes for report in reports)
    lines += [
        "",
        _("In all: {served} residents served, {time} of volunteers' time credited.").format(
            served=served, time=duration_text(minutes)
        ),
    ]
    if view.ends_at > now:
        lines.append(_("No-shows are counted once the market day is over."))
    return "\n".join(lines)


def report_buttons(view: EventView) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(text=str(labels.EXPORT_CSV), callback_data=_data(view, Act.CSV))
    buttons.button(text=_("📈 All market days"), callback_data=_data(view, Act.TOTALS))
    buttons.button(text=_("⬅️ All stands"), callback_data=_data(view, Act.EVENT))
    buttons.adjust(2, 1)
    return buttons.as_markup()


def totals_text(figures: BranchMarkets) -> str:
    def n(value: int) -> str:
        return format_decimal(value, locale=language())

    return "\n".join(
        [
            _("📈 <b>All market days so far</b>"),
            "",
            _("{markets} market days, {units} stands").format(
                markets=n(figures.markets), units=n(figures.units)
            ),
            _("{served} residents served ({people} different people), {walk_ins} walk-ins").format(
                served=n(figures.residents_served + figures.walk_ins),
                people=n(figures.distinct_residents),
                walk_ins=n(figures.walk_ins),
            ),
            _("{bookings} bookings").format(bookings=n(figures.bookings)),
            _("{volunteers} volunteers, {time} credited").format(
                volunteers=n(figures.volunteers), time=duration_text(figures.volunteer_minutes)
            ),
        ]
    )


def call_off_question(view: EventView) -> tuple[str, InlineKeyboardMarkup]:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=_("Yes, call it off"), callback_data=_data(view, Act.CALL_OFF_YES, n=view.version)
    )
    buttons.button(text=_("↩️ Keep it"), callback_data=_data(view, Act.EVENT))
    buttons.adjust(2)
    text = _("Call off {event}? Everyone who booked will be told in their language.")
    return text.format(event=name_of(view.names)), buttons.as_markup()


def events_list(
    events: list[tuple[int, Mapping[str, str], str]], *, coordinator: bool = False
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The coming market days of the member's branch: (id, names, when) each; a
    coordinator may start a new one."""
    buttons = InlineKeyboardBuilder()
    if events:
        lines = [_("🎪 <b>Coming market days</b>"), ""]
    else:
        lines = [_("There is no market day coming up yet. I will let you know when there is one.")]
    for event_id, names, when in events:
        lines.append(f"• {name_of(names)} · {when}")
        buttons.button(
            text=f"{localized(dict(names), language())} · {when}",
            callback_data=Market(action=Act.EVENT, event=event_id),
        )
    if coordinator:
        buttons.button(text=_("➕ New market day"), callback_data=Market(action=Act.NEW))
    buttons.adjust(1)
    return "\n".join(lines), (buttons.as_markup() if events or coordinator else None)
