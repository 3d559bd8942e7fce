"""The market days' multi-step flows, each on the step machine (`bot.kit.steps`), with Back
and Cancel at every step:

- booking for someone else: whom (a linked relative, or for a coordinator a resident
  without a phone, as "Ask for someone else" offers them), then the event view for them;
- the check-in desk: type booking numbers one after another, tap a stand's walk-in button;
- correcting a shift's time before the coordinator confirms the list;
- moving the day or its hours, or the venue;
- a new market day: name, day, hours, venue and its pin, then the stands one by one.

A new market day is created in one go at the end, keyed by the draft's id: a second tap
on Create, or a redelivered update, makes nothing twice.
"""

from __future__ import annotations

import re
import secrets
from datetime import date, time, timedelta
from html import escape
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.i18n import ngettext
from babel.dates import format_skeleton
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.market import views
from bot.handlers.market.callbacks import Act, Market
from bot.handlers.market.handlers import event_screen
from bot.kit import keyboards, labels
from bot.kit.edit import show_in_place
from bot.kit.formatters import duration_text, error_text, language
from bot.kit.guards import SignedUp
from bot.kit.keyboards import menu_for
from bot.kit.screens import Asks, Button, Screen
from bot.kit.steps import Hook, Steps, Turn
from core import family, gifts, market, members, typed
from core.coordinators import coordinator_branches, coordinator_of
from core.db import utcnow
from core.errors import InvalidInput
from core.languages import LANGUAGES, NATIVE_NAMES
from core.market.checkin import NotStaff
from core.market.events import (
    DayInvalid,
    HoursInvalid,
    NameMissing,
    OpeningHoursInvalid,
    VenueInvalid,
    clean_names,
)
from core.market.shifts import CorrectionInvalid
from core.models import Branch, Member
from core.schedule import local_today, names_half_of_day, parse_time
from core.volunteers import CoordinatorOnly

DID_NOT_COME = __("🚫 Did not come")
WALK_IN_ONLY = __("🚶 Walk-in, no booking")
ADD_UNIT = __("➕ Add another stand")
CREATE = __("✅ Create the market day")
SHARE_VENUE = __("📍 Send the venue's pin")
HOURS_CHOICES = ((time(9), time(11, 30)), (time(9), time(12)), (time(14), time(17)))
PLACES_CHOICES = (1, 2, 4, 6, 8, 10)
NUMBER = re.compile(r"\s*(?:no\.?|#|№)?\s*(\d{1,6})\s*")
OR_TYPE_IT = __("Please choose one of the buttons below, or type it.")
NOTHING_CHANGED = __("Okay, nothing was changed.")


def _signed_up(member: Member | None) -> bool:
    return member is not None and member.onboarded_at is not None


def _leaving(text: object) -> Hook:
    """A Cancel that ends the flow with `text`."""

    async def leave(turn: Turn) -> None:
        await turn.leave(str(text))

    return leave


async def show_event(turn: Turn, member: Member, event_id: int, who: int = 0) -> None:
    text, markup = await event_screen(turn.session, member, event_id, who=who)
    await turn.message.answer(text, reply_markup=markup)


# ---------------------------------------------------------------- booking for someone else


class BookFor(StatesGroup):
    who = State()
    new_name = State()
    new_address = State()


def options_of(people: list[Member]) -> dict[str, int]:
    """Button labels for people, made unique when two share a name."""
    options: dict[str, int] = {}
    for person in people:
        label = f"👤 {person.name}"
        count = 2
        while label in options:
            label = f"👤 {person.name} ({count})"
            count += 1
        options[label] = person.id
    return options


async def book_for_prompt(step: State, turn: Turn) -> Screen:
    if step == BookFor.who:
        data = await turn.data()
        rows = [[label] for label in data.get("options", {})]
        if data.get("coordinator"):
            rows.append([str(labels.NEW_RESIDENT)])
        return Screen(_("Who are you booking for?"), keyboards.reply(rows))
    if step == BookFor.new_name:
        return Screen(
            _("What is the name of the person you are booking for?"),
            keyboards.reply([], placeholder=_("Their name")),
        )
    return Screen(
        _("What is their home address? Only coordinators will see it."),
        keyboards.reply([], placeholder=_("Street, building, flat")),
    )


book_for_steps = Steps(
    BookFor,
    name="market_book_for",
    prompt=book_for_prompt,
    cancel=_leaving(__("Okay, nothing was booked.")),
    way_on=menu_for,
    path=[BookFor.who],
    parents={BookFor.new_name: BookFor.who, BookFor.new_address: BookFor.new_name},
    hints={BookFor.new_name: OR_TYPE_IT, BookFor.new_address: OR_TYPE_IT},
    reask_on=(InvalidInput,),
)


async def book_for(turn: Turn, member: Member, resident: Member) -> None:
    """The event view for the chosen resident, the main menu back under it."""
    event_id = int((await turn.data())["event_id"])
    await turn.leave(
        _("Now choose a stand and a time for {name}.").format(name=escape(resident.name))
    )
    assert resident.id is not None
    await show_event(turn, member, event_id, who=resident.id)


@book_for_steps.router.callback_query(Market.filter(F.action == Act.FOR_OTHER), SignedUp())
async def on_book_for_other(
    query: CallbackQuery, callback_data: Market, turn: Turn, member: Member
) -> None:
    view = await market.event_view(turn.session, callback_data.event)
    people = await family.beneficiaries(turn.session, member.id)
    coordinator = view.branch_id in coordinator_branches(member)
    await query.answer()
    if not people and not coordinator:
        await turn.message.answer(
            _(
                "To book for someone else, link with them first under “👨‍👩‍👧 Family”. "
                "A coordinator can book for residents without a phone."
            )
        )
        return
    await turn.state.set_data(
        {
            "options": options_of(people[:30]),
            "event_id": view.event_id,
            "branch_id": view.branch_id,
            "coordinator": coordinator,
        }
    )
    await turn.ask(BookFor.who)


@book_for_steps.router.message(BookFor.who, F.text == labels.NEW_RESIDENT)
async def on_book_for_new_resident(message: Message, turn: Turn) -> None:
    if not (await turn.data()).get("coordinator"):
        await turn.reask(hint=error_text(family.CoordinatorsOnly()))
        return
    await turn.ask(BookFor.new_name)


@book_for_steps.router.message(BookFor.who, F.text)
async def on_book_for_whom(message: Message, turn: Turn, member: Member) -> None:
    chosen = (await turn.data()).get("options", {}).get(message.text or "")
    resident = await turn.session.get(Member, chosen) if chosen else None
    if resident is None:
        await turn.reask()
        return
    await book_for(turn, member, resident)


@book_for_steps.router.message(BookFor.new_name, F.text, ~F.text.startswith("/"))
async def on_book_for_new_name(message: Message, turn: Turn) -> None:
    await turn.update(new_name=members.clean_name(message.text or ""))
    await turn.ask(BookFor.new_address)


@book_for_steps.router.message(BookFor.new_address, F.text, ~F.text.startswith("/"))
async def on_book_for_new_address(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    resident = await family.register_offline_resident(
        turn.session,
        member.id,
        name=data.get("new_name", ""),
        branch_id=int(data["branch_id"]),
        address=message.text or "",
    )
    await book_for(turn, member, resident)


# ---------------------------------------------------------------- the check-in desk


class Desk(StatesGroup):
    number = State()


async def desk_prompt(step: State, turn: Turn) -> Screen:
    data = await turn.data()
    view = await market.event_view(turn.session, int(data["event_id"]))
    walk_ins: dict[str, int] = data.get("walk_ins", {})
    units = [u for u in view.units if u.unit_id in walk_ins.values()]
    return Screen(
        views.desk_text(view, units),
        keyboards.reply([[label] for label in walk_ins], placeholder=_("Booking number")),
    )


desk_steps = Steps(
    Desk,
    name="market_desk",
    prompt=desk_prompt,
    cancel=_leaving(__("The check-in desk is closed.")),
    way_on=menu_for,
    path=[Desk.number],
    # The desk's screen stays above; a number that does not fit gets a word, not the screen.
    hints={Desk.number: __("Please type the booking number, like 12.")},
    hint_only={Desk.number},
)


@desk_steps.router.callback_query(Market.filter(F.action == Act.DESK), SignedUp())
async def on_desk(query: CallbackQuery, callback_data: Market, turn: Turn, member: Member) -> None:
    view = await market.event_view(turn.session, callback_data.event)
    shifts = await market.my_shifts(turn.session, member.id, view.event_id)
    staffed = {shift.unit_id for shift in shifts}
    coordinator = view.branch_id in coordinator_branches(member)
    units = [u for u in view.units if coordinator or u.unit_id in staffed]
    if not units:
        raise NotStaff()
    walk_ins = {views.walk_in_label(unit): unit.unit_id for unit in units}
    await turn.state.set_data({"event_id": view.event_id, "walk_ins": walk_ins})
    await query.answer()
    await turn.ask(Desk.number)


@desk_steps.router.message(Desk.number, F.text.regexp(NUMBER.pattern))
async def on_desk_number(message: Message, turn: Turn, member: Member) -> None:
    match = NUMBER.fullmatch(message.text or "")
    if match is None:
        await turn.reask()
        return
    event_id = int((await turn.data())["event_id"])
    result = await market.check_in(turn.session, member.id, number=int(match[1]), event_id=event_id)
    view = await market.event_view(turn.session, event_id)
    unit = next((u for u in view.units if u.unit_id == result.unit_id), None)
    await message.answer(views.checked_in_text(result, unit.names if unit else {}))


@desk_steps.router.message(Desk.number, F.text, ~F.text.startswith("/"))
async def on_desk_walk_in(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    unit_id = data.get("walk_ins", {}).get(message.text or "")
    if unit_id is None:
        await turn.reask()
        return
    number = await market.record_walk_in(
        turn.session,
        member.id,
        int(unit_id),
        key=f"tg-walk-in:{message.chat.id}:{message.message_id}",
    )
    view = await market.event_view(turn.session, int(data["event_id"]))
    unit = next(u for u in view.units if u.unit_id == unit_id)
    await message.answer(views.walk_in_text(number, unit))


# ---------------------------------------------------------------- confirming the shifts


class CorrectShift(StatesGroup):
    minutes = State()


async def correct_prompt(step: State, turn: Turn) -> Screen:
    correcting = (await turn.data()).get("correcting") or {}
    return Screen(
        _(
            "How long did {name} help? Planned: {time}. Type it like 90 or 1:30, "
            "or tap “Did not come”."
        ).format(
            name=escape(correcting.get("name", "")),
            time=duration_text(int(correcting.get("planned", 0))),
        ),
        keyboards.reply([[str(DID_NOT_COME)]], placeholder="1:30"),
    )


async def keep_the_time(turn: Turn) -> None:
    """Cancel (and Back) keep the corrections noted so far: they wait for Confirm."""
    await turn.state.set_state(None)
    await turn.message.answer(
        _("Okay, the time stays as it was."), reply_markup=menu_for(turn.member)
    )


correct_steps = Steps(
    CorrectShift,
    name="market_correct_shift",
    prompt=correct_prompt,
    cancel=keep_the_time,
    way_on=menu_for,
    path=[CorrectShift.minutes],
    hints={CorrectShift.minutes: __(CorrectionInvalid.key)},
    hint_only={CorrectShift.minutes},
)


def corrections_of(data: dict[str, Any], event_id: int) -> dict[int, int]:
    saved = data.get("corrections") or {}
    if saved.get("event_id") != event_id:
        return {}
    return {int(shift): int(minutes) for shift, minutes in saved.get("minutes", {}).items()}


async def shifts_screen(
    session: AsyncSession, member: Member, event_id: int, corrections: dict[int, int]
) -> tuple[str, InlineKeyboardMarkup]:
    now = utcnow()
    lines = await market.shift_list(session, event_id, member.id)
    view = await market.event_view(session, event_id, now=now)
    return (
        views.shifts_text(view, lines, corrections, now),
        views.shifts_buttons(view, lines, corrections, now),
    )


@correct_steps.router.callback_query(Market.filter(F.action == Act.SHIFTS), SignedUp())
async def on_shifts(
    query: CallbackQuery,
    callback_data: Market,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    corrections = corrections_of(await state.get_data(), callback_data.event)
    text, markup = await shifts_screen(session, member, callback_data.event, corrections)
    await query.answer()
    await show_in_place(query, text, markup)


@correct_steps.router.callback_query(Market.filter(F.action == Act.CORRECT), SignedUp())
async def on_correct(
    query: CallbackQuery, callback_data: Market, turn: Turn, member: Member
) -> None:
    lines = await market.shift_list(turn.session, callback_data.event, member.id)
    line = next((x for x in lines if x.shift_id == callback_data.item), None)
    if line is None:
        raise CorrectionInvalid()
    data = await turn.data()
    await turn.update(
        correcting={
            "event_id": callback_data.event,
            "shift_id": line.shift_id,
            "name": line.volunteer_name,
            "planned": line.planned_minutes,
        },
        corrections={
            "event_id": callback_data.event,
            "minutes": {str(k): v for k, v in corrections_of(data, callback_data.event).items()},
        },
    )
    await query.answer()
    await turn.ask(CorrectShift.minutes)


def worked_minutes(text: str) -> int | None:
    """A shift's time as typed ("90", "1:30") or "Did not come"; None when it does not fit."""
    if text == DID_NOT_COME:
        return 0
    try:
        minutes = gifts.parse_minutes(text)
    except gifts.AmountInvalid:
        return None
    return minutes if minutes <= market.shifts.MAX_SHIFT_MINUTES else None


@correct_steps.router.message(CorrectShift.minutes, F.text, ~F.text.startswith("/"))
async def on_correct_minutes(message: Message, turn: Turn, member: Member) -> None:
    minutes = worked_minutes(message.text or "")
    if minutes is None:
        await turn.reask()
        return
    data = await turn.data()
    correcting = data.get("correcting") or {}
    event_id = int(correcting.get("event_id", 0))
    corrections = corrections_of(data, event_id)
    corrections[int(correcting.get("shift_id", 0))] = minutes
    await turn.state.set_state(None)  # the corrections stay, for Confirm
    await turn.update(
        correcting=None,
        corrections={"event_id": event_id, "minutes": {str(k): v for k, v in corrections.items()}},
    )
    await message.answer(_("Noted."), reply_markup=menu_for(member))
    text, markup = await shifts_screen(turn.session, member, event_id, corrections)
    await message.answer(text, reply_markup=markup)


@correct_steps.router.callback_query(Market.filter(F.action == Act.CONFIRM), SignedUp())
async def on_confirm_shifts(
    query: CallbackQuery,
    callback_data: Market,
    state: FSMContext,
    session: AsyncSession,
    member: Member,
) -> None:
    corrections = corrections_of(await state.get_data(), callback_data.event)
    if len(corrections) != callback_data.n:
        await query.answer(_("The list changed; here it is again."))
    else:
        done = await market.confirm_shifts(
            session, callback_data.event, member.id, corrections=corrections
        )
        if done.credited or done.absent:
            await query.answer(
                _("Credited {count} shifts, {time} in all.").format(
                    count=done.credited, time=duration_text(done.minutes)
                ),
                show_alert=True,
            )
            await state.update_data(corrections=None)
            corrections = {}
        else:
            await query.answer(_("These shifts were already confirmed."))
    text, markup = await shifts_screen(session, member, callback_data.event, corrections)
    await show_in_place(query, text, markup)


# ---------------------------------------------------------------- moving the day


class MoveDay(StatesGroup):
    when = State()


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_CJK_YEAR_MONTH_DAY = re.compile(
    r"(?:(\d{4})\s*[年년]\s*)?(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日号號일]?"
)
_NAMED_MONTH_FIRST = re.compile(r"([a-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?:,?\s*(\d{4}))?")
_DAY_FIRST = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]{3,9})\.?(?:,?\s*(\d{4}))?")


# How far ahead a day typed without its year may be: "12월 1일" typed on 4 December is a
# mistake, not next December.
_AHEAD_WITHOUT_YEAR = timedelta(days=183)


def _coming(month: int, day: int, today: date, year: str | None = None) -> date:
    """The day and month given, in the year given, else the next time it comes within
    `_AHEAD_WITHOUT_YEAR` (ValueError beyond: a day already past, most likely)."""
    if year:
        return date(int(year), month, day)
    for candidate in (today.year, today.year + 1):
        try:
            found = date(candidate, month, day)
        except ValueError:  # 29 February of a year without one
            continue
        if today <= found <= today + _AHEAD_WITHOUT_YEAR:
            return found
    raise ValueError(f"{month}-{day} is not in the coming months")


def _month_named(word: str) -> int:
    if word[:3] not in _MONTHS:
        raise ValueError(word)
    return _MONTHS.index(word[:3]) + 1


def parse_day(text: str, today: date) -> date | None:
    """A date as people type it: "2026-12-12", "12-12", "12.12", "12/12" (day and month, in
    the coming year), "12月20日", "12월 20일", "Dec 20", "20 December"; full-width digits too."""
    cleaned = typed.plain(text).strip().lower()
    try:
        if match := _CJK_YEAR_MONTH_DAY.fullmatch(cleaned):
            return _coming(int(match[2]), int(match[3]), today, match[1])
        if match := _NAMED_MONTH_FIRST.fullmatch(cleaned):
            return _coming(_month_named(match[1]), int(match[2]), today, match[3])
        if match := _DAY_FIRST.fullmatch(cleaned):
            return _coming(_month_named(match[2]), int(match[1]), today, match[3])
        cleaned = cleaned.replace("/", "-").replace(".", "-")
        if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", cleaned):
            year, month, day = (int(x) for x in cleaned.split("-"))
            return date(year, month, day)
        if re.fullmatch(r"\d{1,2}-\d{1,2}", cleaned):
            first, second = (int(x) for x in cleaned.split("-"))
            month, day = (first, second) if language() in ("zh_Hans", "ko") else (second, first)
            return _coming(month, day, today)
    except ValueError:
        return None
    return None


def day_example(today: date) -> str:
    """A date a week ahead as the reader writes it, to show what the day step reads."""
    return format_skeleton("MMMd", today + timedelta(days=7), locale=language())


# Between the opening and the closing time: 9-12, 9:00–11:30, 9点到12点, 오전 9시부터 12시.
_HOURS_BETWEEN = re.compile(r"\s*(?:-|–|—|~|至|到|부터|\bto\b|\buntil\b|\btill\b)\s*")


def parse_hours(text: str) -> tuple[time, time] | None:
    """ "9:00-11:30", "9-12", "14:00–17:00", "下午2点到5点", "오전 9시부터 12시까지",
    "from 9 to 12"; each time read as `schedule.parse_time` reads one."""
    cleaned = typed.plain(text).strip().lower().removesuffix("까지").removeprefix("from ")
    parts = _HOURS_BETWEEN.split(cleaned)
    if len(parts) != 2 or not all(part.strip() for part in parts):
        return None
    try:
        opens, closes = (parse_time(part) for part in parts)
    except InvalidInput:
        return None
    if closes <= opens and closes.hour < 12 and _bare_hour(parts[1]):
        # "下午2点到5点", "9-5": a closing hour alone, saying neither morning nor afternoon,
        # is the afternoon's when the morning's would come before the opening.
        closes = closes.replace(hour=closes.hour + 12)
    return (opens, closes) if opens < closes else None


def _bare_hour(text: str) -> bool:
    """An hour typed alone ("5", "5点", "5시", "1点半"): no minutes, no morning or afternoon."""
    return len(typed.digits(text)) <= 2 and not names_half_of_day(text)


def parse_day_and_hours(text: str, today: date) -> tuple[date, tuple[time, time]] | None:
    """A day and its hours typed together, "12월 20일 9-12" or "Dec 20 9:00-11:30": the
    first split at a space where both halves read."""
    words = typed.plain(text).split()
    for cut in range(1, len(words)):
        day = parse_day(" ".join(words[:cut]), today)
        hours = parse_hours(" ".join(words[cut:])) if day else None
        if day and hours:
            return day, hours
    return None


def hours_label(opens: time, closes: time) -> str:
    return f"{opens:%-H:%M}–{closes:%-H:%M}"


async def move_day_prompt(step: State, turn: Turn) -> Screen:
    example = f"{day_example(utcnow().date())} 9:00-11:30"
    return Screen(
        _(
            "Type the new day and hours, like {example}. Everyone who booked will be "
            "told in their language."
        ).format(example=example),
        keyboards.reply([], placeholder=example),
    )


move_day_steps = Steps(
    MoveDay,
    name="market_move_day",
    prompt=move_day_prompt,
    cancel=_leaving(NOTHING_CHANGED),
    way_on=menu_for,
    path=[MoveDay.when],
    hints={MoveDay.when: __(HoursInvalid.key)},
    hint_only={MoveDay.when},
)


@move_day_steps.router.callback_query(Market.filter(F.action == Act.MOVE), SignedUp())
async def on_move(query: CallbackQuery, callback_data: Market, turn: Turn, member: Member) -> None:
    view = await market.event_view(turn.session, callback_data.event)
    await coordinator_of(turn.session, member.id, view.branch_id)
    await turn.state.set_data({"event_id": view.event_id, "version": callback_data.n})
    await query.answer()
    await turn.ask(MoveDay.when)


@move_day_steps.router.message(MoveDay.when, F.text, ~F.text.startswith("/"))
async def on_move_when(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    view = await market.event_view(turn.session, int(data["event_id"]))
    today = local_today(view.time_zone, utcnow())
    found = parse_day_and_hours(message.text or "", today)
    if found is None:
        await turn.reask()
        return
    day, hours = found
    await market.move_event(
        turn.session,
        view.event_id,
        member.id,
        seen_version=int(data["version"]),
        hours=market.Hours(day, *hours),
    )
    await turn.leave(_("✅ Changed. Everyone who booked is being told."))
    await show_event(turn, member, view.event_id)


class MoveVenue(StatesGroup):
    address = State()
    pin = State()


def pin_question() -> Screen:
    return Screen(
        _("Send the venue's pin, so people can find it on the map. Or tap Skip."),
        keyboards.reply([[Button(str(SHARE_VENUE), asks=Asks.LOCATION)], [str(labels.SKIP)]]),
    )


async def move_venue_prompt(step: State, turn: Turn) -> Screen:
    if step == MoveVenue.pin:
        return pin_question()
    return Screen(
        _("Type the new address of the venue. Everyone who booked will be told."),
        keyboards.reply([], placeholder=_("Street, number, place")),
    )


move_venue_steps = Steps(
    MoveVenue,
    name="market_move_venue",
    prompt=move_venue_prompt,
    cancel=_leaving(NOTHING_CHANGED),
    way_on=menu_for,
    path=[MoveVenue.address, MoveVenue.pin],
    hints={MoveVenue.address: OR_TYPE_IT, MoveVenue.pin: OR_TYPE_IT},
    reask_on=(VenueInvalid,),
)


@move_venue_steps.router.callback_query(Market.filter(F.action == Act.VENUE), SignedUp())
async def on_venue(query: CallbackQuery, callback_data: Market, turn: Turn, member: Member) -> None:
    view = await market.event_view(turn.session, callback_data.event)
    await coordinator_of(turn.session, member.id, view.branch_id)
    await turn.state.set_data({"event_id": view.event_id, "version": callback_data.n})
    await query.answer()
    await turn.ask(MoveVenue.address)


@move_venue_steps.router.message(MoveVenue.address, F.text, ~F.text.startswith("/"))
async def on_venue_address(message: Message, turn: Turn) -> None:
    venue = market.Venue(message.text or "").cleaned()
    await turn.update(address=venue.address)
    await turn.ask(MoveVenue.pin)


@move_venue_steps.router.message(MoveVenue.pin, F.location)
@move_venue_steps.router.message(MoveVenue.pin, F.text == labels.SKIP)
async def on_venue_pin(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    place = message.location
    venue = market.Venue(
        data["address"],
        place.latitude if place else None,
        place.longitude if place else None,
    )
    await market.move_event(
        turn.session,
        int(data["event_id"]),
        member.id,
        seen_version=int(data["version"]),
        venue=venue,
    )
    await turn.leave(_("✅ Changed. Everyone who booked is being told."))
    await show_event(turn, member, int(data["event_id"]))


# ---------------------------------------------------------------- a new market day


class NewMarket(StatesGroup):
    name = State()
    day = State()
    hours = State()
    address = State()
    pin = State()
    unit_name = State()
    unit_places = State()
    unit_organiser = State()
    more = State()


STEPS: list[State] = [
    NewMarket.name,
    NewMarket.day,
    NewMarket.hours,
    NewMarket.address,
    NewMarket.pin,
    NewMarket.unit_name,
    NewMarket.unit_places,
    NewMarket.unit_organiser,
    NewMarket.more,
]


def parse_names(text: str, reader_language: str) -> dict[str, str]:
    """One line: the name in the reader's language. Three lines: Chinese, Korean, English
    (a line may be "-" to leave that language out)."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if len(lines) == len(LANGUAGES):
        pairs = zip(LANGUAGES, lines, strict=True)
        return clean_names({code: line for code, line in pairs if line != "-"})
    if len(lines) == 1:
        return clean_names({reader_language: lines[0]})
    raise NameMissing()


def coming_weekend_days(today: date, count: int = 6) -> list[date]:
    days, day = [], today + timedelta(days=1)
    while len(days) < count:
        if day.weekday() >= 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def names_hint() -> str:
    return _(
        "Type the name in your language, or on three lines in {languages} (a “-” leaves one out)."
    ).format(languages=" / ".join(NATIVE_NAMES[code] for code in LANGUAGES))


async def new_market_prompt(step: State, turn: Turn) -> Screen:
    """The question of `step` and the buttons that answer it."""
    data, reply = await turn.data(), keyboards.reply
    if step == NewMarket.name:
        return Screen(_("🎪 A new market day. What is it called?") + "\n" + names_hint(), reply([]))
    if step == NewMarket.day:
        today = date.fromisoformat(data["today"])
        days = [format_skeleton("yMMMEd", d, locale=language()) for d in coming_weekend_days(today)]
        return Screen(
            _("Which day? Tap one, or type the date like {example}.").format(
                example=day_example(today)
            ),
            reply(keyboards.in_pairs(days)),
        )
    if step == NewMarket.hours:
        choices = [hours_label(*pair) for pair in HOURS_CHOICES]
        return Screen(
            _("From when to when? Tap one, or type it like 9:00-11:30."), reply([choices])
        )
    if step == NewMarket.address:
        return Screen(
            _("Where is it? Type the venue's address."),
            reply([], placeholder=_("Street, number, place")),
        )
    if step == NewMarket.pin:
        return pin_question()
    return stand_question(step, data)


def stand_question(step: State, data: dict[str, Any]) -> Screen:
    """The questions about a stand, and the list of stands at the end."""
    reply = keyboards.reply
    if step == NewMarket.unit_name:
        question = (
            _("What is the first stand? For example: free haircuts.")
            if not data.get("units")
            else _("What is the next stand?")
        )
        return Screen(question + "\n" + names_hint(), reply([]))
    if step == NewMarket.unit_places:
        rows = [*keyboards.in_pairs([str(n) for n in PLACES_CHOICES]), [str(WALK_IN_ONLY)]]
        return Screen(
            _("How many people can it serve every half hour? Tap a number, or walk-in."),
            reply(rows),
        )
    if step == NewMarket.unit_organiser:
        return Screen(
            _("Who runs this stand (a team or a person)? Or tap Skip."),
            reply([[str(labels.SKIP)]]),
        )
    return Screen(new_market_review(data), reply([[str(ADD_UNIT)], [str(CREATE)]]))


def new_market_review(data: dict[str, Any]) -> str:
    day = date.fromisoformat(data["day"])
    lines = [
        f"🎪 <b>{views.name_of(data['names'])}</b>",
        "🗓 "
        + format_skeleton("yMMMMEd", day, locale=language())
        + ", "
        + hours_label(time.fromisoformat(data["opens"]), time.fromisoformat(data["closes"])),
        "📍 " + escape(data["address"]) + (" 📌" if data.get("latitude") is not None else ""),
        "",
        _("Stands:"),
    ]
    for unit in data.get("units", []):
        places = unit.get("capacity")
        how = (
            _("walk-in")
            if places is None
            else ngettext(
                "{count} person every half hour", "{count} people every half hour", places
            ).format(count=places)
        )
        line = f"• {views.name_of(unit['names'])} · {how}"
        if unit.get("organiser"):
            line += " · " + escape(unit["organiser"])
        lines.append(line)
    lines += ["", _("Add another stand, or create the market day?")]
    return "\n".join(lines)


async def back_to_the_stands(turn: Turn) -> bool:
    """Back from a further stand's name goes to the list of stands, not into the last one."""
    if await turn.step() != NewMarket.unit_name or not (await turn.data()).get("units"):
        return False
    await turn.ask(NewMarket.more)
    return True


new_market_steps = Steps(
    NewMarket,
    name="market_new",
    prompt=new_market_prompt,
    cancel=_leaving(__("Okay, no market day was created.")),
    way_on=menu_for,
    path=STEPS,
    back=back_to_the_stands,
    hints={step: OR_TYPE_IT for step in STEPS},
    reask_on=(InvalidInput,),
)


@new_market_steps.router.callback_query(Market.filter(F.action == Act.NEW), SignedUp())
async def on_new_market_button(query: CallbackQuery, turn: Turn, member: Member) -> None:
    if not coordinator_branches(member):
        raise CoordinatorOnly()
    await query.answer()
    await begin_new_market(turn, member)


@new_market_steps.router.message(Command("newmarket"))
async def on_new_market(message: Message, turn: Turn, member: Member | None) -> None:
    if not _signed_up(member) or not coordinator_branches(member):
        await message.answer(error_text(CoordinatorOnly()), reply_markup=menu_for(member))
        return
    assert member is not None
    await begin_new_market(turn, member)


async def begin_new_market(turn: Turn, member: Member) -> None:
    branch = await turn.session.get(Branch, coordinator_branches(member)[0])
    assert branch is not None
    await turn.state.set_data(
        {
            "draft": secrets.token_hex(8),
            "branch_id": branch.id,
            "today": local_today(branch.time_zone, utcnow()).isoformat(),
            "units": [],
        }
    )
    await turn.ask(NewMarket.name)


@new_market_steps.router.message(NewMarket.name, F.text, ~F.text.startswith("/"))
async def on_new_name(message: Message, turn: Turn) -> None:
    await turn.update(names=parse_names(message.text or "", language()))
    await turn.ask(NewMarket.day)


@new_market_steps.router.message(NewMarket.day, F.text, ~F.text.startswith("/"))
async def on_new_day(message: Message, turn: Turn) -> None:
    today = date.fromisoformat((await turn.data())["today"])
    shown = {format_skeleton("yMMMEd", d, locale=language()): d for d in coming_weekend_days(today)}
    day = shown.get(message.text or "") or parse_day(message.text or "", today)
    if day is None or day <= today:
        raise DayInvalid(example=day_example(today))
    await turn.update(day=day.isoformat())
    await turn.ask(NewMarket.hours)


@new_market_steps.router.message(NewMarket.hours, F.text, ~F.text.startswith("/"))
async def on_new_hours(message: Message, turn: Turn) -> None:
    hours = parse_hours(message.text or "")
    if hours is None:
        raise OpeningHoursInvalid()
    await turn.update(opens=hours[0].isoformat(), closes=hours[1].isoformat())
    await turn.ask(NewMarket.address)


@new_market_steps.router.message(NewMarket.address, F.text, ~F.text.startswith("/"))
async def on_new_address(message: Message, turn: Turn) -> None:
    venue = market.Venue(message.text or "").cleaned()
    await turn.update(address=venue.address)
    await turn.ask(NewMarket.pin)


@new_market_steps.router.message(NewMarket.pin, F.location)
async def on_new_pin(message: Message, turn: Turn) -> None:
    assert message.location is not None
    await turn.update(latitude=message.location.latitude, longitude=message.location.longitude)
    await turn.ask(NewMarket.unit_name)


@new_market_steps.router.message(NewMarket.pin, F.text == labels.SKIP)
async def on_new_no_pin(message: Message, turn: Turn) -> None:
    await turn.update(latitude=None, longitude=None)
    await turn.ask(NewMarket.unit_name)


@new_market_steps.router.message(NewMarket.unit_name, F.text, ~F.text.startswith("/"))
async def on_new_unit_name(message: Message, turn: Turn) -> None:
    await turn.update(unit_names=parse_names(message.text or "", language()))
    await turn.ask(NewMarket.unit_places)


@new_market_steps.router.message(NewMarket.unit_places, F.text, ~F.text.startswith("/"))
async def on_new_unit_places(message: Message, turn: Turn) -> None:
    text = (message.text or "").strip()
    if text == WALK_IN_ONLY:
        places = None
    elif text.isdigit() and 1 <= int(text) <= market.events.MAX_CAPACITY:
        places = int(text)
    else:
        raise market.events.CapacityInvalid()
    await turn.update(unit_capacity=places)
    await turn.ask(NewMarket.unit_organiser)


@new_market_steps.router.message(NewMarket.unit_organiser, F.text, ~F.text.startswith("/"))
async def on_new_unit_organiser(message: Message, turn: Turn) -> None:
    organiser = "" if message.text == labels.SKIP else " ".join((message.text or "").split())
    if len(organiser) > market.events.MAX_ORGANISER:
        raise NameMissing()
    data = await turn.data()
    unit = {
        "names": data["unit_names"],
        "capacity": data.get("unit_capacity"),
        "organiser": organiser,
    }
    await turn.update(units=[*data.get("units", []), unit])
    await turn.ask(NewMarket.more)


@new_market_steps.router.message(NewMarket.more, F.text == ADD_UNIT)
async def on_new_more(message: Message, turn: Turn) -> None:
    await turn.ask(NewMarket.unit_name)


@new_market_steps.router.message(NewMarket.more, F.text == CREATE)
async def on_new_create(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    event_id = await market.create_event(
        turn.session,
        member.id,
        branch_id=int(data["branch_id"]),
        names=data["names"],
        hours=market.Hours(
            date.fromisoformat(data["day"]),
            time.fromisoformat(data["opens"]),
            time.fromisoformat(data["closes"]),
        ),
        venue=market.Venue(data["address"], data.get("latitude"), data.get("longitude")),
        key=f"tg-market:{data['draft']}",
    )
    view = await market.event_view(turn.session, event_id)
    if not view.units:
        for unit in data.get("units", []):
            draft = market.UnitDraft(unit["names"], unit.get("organiser", ""), unit.get("capacity"))
            await market.add_unit(turn.session, member.id, event_id, draft)
    username = (await message.bot.me()).username if message.bot else ""
    await turn.leave(
        _("✅ The market day is created. Its link for the announcement:\n{link}").format(
            link=views.event_link(username or "", event_id)
        )
    )
    await show_event(turn, member, event_id)


router = Router(name="market_conversations")
router.include_routers(
    book_for_steps.router,
    desk_steps.router,
    correct_steps.router,
    move_day_steps.router,
    move_venue_steps.router,
    new_market_steps.router,
)
