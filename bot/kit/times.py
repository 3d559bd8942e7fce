"""When a request is, told as it was asked, in the reader's language and the branch's time zone.

Every message that names a request's time goes through here: the review, the volunteers'
nudge and accepted card, the coordinator's views, the resident's notices and "My requests".
It says what was asked ("As soon as possible", "Tomorrow, in the morning (8:00–12:00)") and a
clock time only when one was asked: the stored window starts at the moment of asking for
"as soon as possible" and at the first hour of a part of the day, neither of which anyone asked.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from babel.dates import format_interval, format_skeleton, format_time

from core import schedule
from core.db import utcnow
from core.models import Order
from core.schedule import When


def _language() -> str:
    return get_i18n().current_locale


def clock(at: time, *, in_a_part: bool = False) -> str:
    """A time of day. Korean spells out 오전/오후, which Babel's short pattern abbreviates;
    inside a named part of the day ("오후 (12:00–17:00)") it says the hours alone."""
    if _language() == "ko":
        return format_time(at, "H:mm" if in_a_part else "aaaa h:mm", locale="ko")
    return format_time(at, "short", locale=_language())


def day_text(day: date, today: date, *, short: bool = False) -> str:
    """A day as people say it: "Today, …", "Tomorrow, …", else its weekday and date."""
    shown = format_skeleton("MMMEd" if short else "MMMMEd", day, locale=_language())
    if day == today:
        return _("Today, {date}").format(date=shown)
    if day == today + timedelta(days=1):
        return _("Tomorrow, {date}").format(date=shown)
    return shown


def _part_text(day: str, part: str | None, *, short: bool) -> str:
    if short:
        if part == "morning":
            return _("{day}, morning").format(day=day)
        if part == "afternoon":
            return _("{day}, afternoon").format(day=day)
        return _("{day}, evening").format(day=day)
    first, last = schedule.DAY_PARTS[part or ""]
    hours = {"start": clock(time(first), in_a_part=True), "end": clock(time(last), in_a_part=True)}
    if part == "morning":
        return _("{day}, in the morning ({start}–{end})").format(day=day, **hours)
    if part == "afternoon":
        return _("{day}, in the afternoon ({start}–{end})").format(day=day, **hours)
    return _("{day}, in the evening ({start}–{end})").format(day=day, **hours)


def when_text(
    when: When, time_zone: str, now: datetime | None = None, *, short: bool = False
) -> str:
    """The time as the member chose it; `short` for a button or a line of a list."""
    if when.kind == "asap":
        return _("As soon as possible")
    assert when.day is not None
    day = day_text(when.day, schedule.local_today(time_zone, now or utcnow()), short=short)
    if when.kind == "exact":
        assert when.at is not None
        return _("{day} at {time}").format(day=day, time=clock(when.at))
    return _part_text(day, when.part, short=short)


def when_line(when: str) -> str:
    """A request's time on its own line under a sentence, so the sentence never has to take
    "As soon as possible" or "Tomorrow, …" where a date belongs, in any language."""
    return f"🕒 {when}"


def order_when_text(
    order: Order, time_zone: str, now: datetime | None = None, *, short: bool = False
) -> str:
    """When an order is, as it was asked. "As soon as possible" from an earlier day says
    which day it was asked on; an order without the asked time says its day alone."""
    now = now or utcnow()
    zone = ZoneInfo(time_zone)
    if order.when_asked:
        when = When.from_dict(order.when_asked)
        asked_on = order.created_at.astimezone(zone).date()
        today = schedule.local_today(time_zone, now)
        if when.kind == "asap" and asked_on != today:
            return _("As soon as possible (asked {day})").format(
                day=day_text(asked_on, today, short=True)
            )
        return when_text(when, time_zone, now, short=short)
    start = order.window_start or order.created_at
    return format_skeleton(
        "MMMEd" if short else "MMMMEd", start.astimezone(zone), locale=_language()
    )


def moment_text(at: datetime, time_zone: str, now: datetime | None = None) -> str:
    """A moment in the branch's time zone: "Tomorrow, Dec 5 9:30", "Sat, Dec 12 9:30"."""
    local = at.astimezone(ZoneInfo(time_zone))
    day = day_text(local.date(), schedule.local_today(time_zone, now or utcnow()), short=True)
    return _("{day} at {time}").format(day=day, time=clock(local.time()))


def span_text(start: datetime, end: datetime, time_zone: str, now: datetime | None = None) -> str:
    """From one moment to another, the second day named only when it differs."""
    first, last = (at.astimezone(ZoneInfo(time_zone)) for at in (start, end))
    if first.date() == last.date():
        # A range has no "at": "Sat, Dec 12, 8:00 AM–6:00 PM".
        day = day_text(first.date(), schedule.local_today(time_zone, now or utcnow()), short=True)
        return _("{day}, {start}–{end}").format(
            day=day, start=clock(first.time()), end=clock(last.time())
        )
    return f"{moment_text(start, time_zone, now)} – {moment_text(end, time_zone, now)}"


def days_text(first: date, last: date) -> str:
    """A span of days, "3–9 March", in the reader's language."""
    return format_interval(first, last, "MMMd", locale=_language())
