"""A volunteer starts a class, one question at a time: title, description, the first day
and time, how many weeks, seats, who it is for, the place, free or priced; then a review
and Create. Back goes one step back, Cancel leaves; nothing is saved before Create."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from html import escape
from zoneinfo import ZoneInfo

from aiogram import F
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from babel.dates import format_skeleton

from bot.kit import keyboards, labels
from bot.kit.formatters import duration_text, language
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn, typed_line
from bot.kit.times import moment_text
from core.models import Branch, Member
from core.rewards import classes

SESSION_MINUTES = 60
TIMES = ("9:00", "10:00", "14:00", "15:00", "19:00")
SEATS = ("5", "8", "10", "20")
WEEKS = {1: __("Just once"), 4: __("Every week, 4 times"), 8: __("Every week, 8 times")}
AGES = (__("All ages"), __("Children"), __("60 and over"))
PRICES = {0: __("🆓 Free"), 30: labels.HALF_HOUR, 60: labels.ONE_HOUR}
CREATE = __("✅ Create the class")


class NewClass(StatesGroup):
    title = State()
    description = State()
    day = State()
    hour = State()
    weeks = State()
    seats = State()
    age = State()
    place = State()
    price = State()
    review = State()


STEPS = [
    NewClass.title,
    NewClass.description,
    NewClass.day,
    NewClass.hour,
    NewClass.weeks,
    NewClass.seats,
    NewClass.age,
    NewClass.place,
    NewClass.price,
    NewClass.review,
]


def _days(time_zone: str) -> dict[str, str]:
    today = datetime.now(ZoneInfo(time_zone)).date()
    days = [today + timedelta(days=n) for n in range(1, 15)]
    return {format_skeleton("MMMEd", day, locale=language()): day.isoformat() for day in days}


def _start(data: dict) -> datetime:
    hours, minutes = (int(part) for part in data["hour"].split(":"))
    local = datetime.combine(date.fromisoformat(data["day"]), time(hours, minutes))
    return local.replace(tzinfo=ZoneInfo(data["zone"]))


def _review(data: dict) -> str:
    lines = [
        _("Please check your class:"),
        f"🎓 <b>{escape(data['title'])}</b>",
    ]
    if data.get("description"):
        lines.append(escape(data["description"]))
    first = moment_text(_start(data), data["zone"])
    lines.append("🕒 " + _("First: {when}").format(when=first))
    lines.append("🔁 " + str(WEEKS[data["weeks"]]))
    lines.append("🪑 " + _("{seats} seats").format(seats=data["seats"]))
    if data.get("age"):
        lines.append("👪 " + _("For: {who}").format(who=escape(data["age"])))
    lines.append("📍 " + escape(data["place"]))
    price = data["price"]
    lines.append(
        _("💳 {duration} of credit each time").format(duration=duration_text(price))
        if price
        else _("🆓 Free")
    )
    return "\n".join(lines)


async def prompt(step: State, turn: Turn) -> Screen:
    """The question of `step` and the buttons that answer it."""
    data = await turn.data()
    reply = keyboards.reply
    if step == NewClass.title:
        return Screen(_("🎓 What is the class called? Please type a short title."), reply([]))
    if step == NewClass.description:
        return Screen(
            _("What will people learn? Type a few words, or skip."), reply([[str(labels.SKIP)]])
        )
    if step == NewClass.day:
        return Screen(
            _("📅 On which day is the first session?"),
            reply(keyboards.in_pairs(list(data["days"]))),
        )
    if step == NewClass.hour:
        return Screen(
            _("🕒 At what time? Tap one, or type it like 9:30."),
            reply(keyboards.in_pairs(list(TIMES))),
        )
    if step == NewClass.weeks:
        return Screen(_("🔁 How often?"), reply([[str(label)] for label in WEEKS.values()]))
    if step == NewClass.seats:
        return Screen(
            _("🪑 How many seats? Tap one, or type a number."),
            reply(keyboards.in_pairs(list(SEATS))),
        )
    if step == NewClass.age:
        return Screen(
            _("👪 Who is it for? Tap one, type it, or skip."),
            reply([[str(label)] for label in AGES] + [[str(labels.SKIP)]]),
        )
    if step == NewClass.place:
        return Screen(_("📍 Where is it? Please type the place."), reply([]))
    if step == NewClass.price:
        return Screen(
            _("💳 Is it free, or do attendees pay credit each time?"),
            reply([[str(label)] for label in PRICES.values()]),
        )
    return Screen(_review(data), reply([[str(CREATE)]]))


async def start(turn: Turn) -> None:
    await turn.state.set_data({})
    await turn.ask(NewClass.title)


async def stop(turn: Turn) -> None:
    await turn.leave(_("All right, nothing was changed."))


KEEP_IT_SHORT = __("Please keep it under 100 letters.")
steps = Steps(
    NewClass,
    name="new_class",
    prompt=prompt,
    cancel=stop,
    way_on=lambda member: keyboards.main_menu(),
    path=STEPS,
    hints={step: __("Please answer with the buttons below, or type the answer.") for step in STEPS},
)
router = steps.router


@router.message(NewClass.title, F.text)
async def on_title(message: Message, turn: Turn, member: Member) -> None:
    title = typed_line(message, 100)
    if title is None:
        await turn.reask(hint=str(KEEP_IT_SHORT))
        return
    branch = await turn.session.get(Branch, member.branch_id)
    zone = branch.time_zone if branch else "UTC"
    await turn.update(title=title, zone=zone, language=member.language or "en", days=_days(zone))
    await turn.ask(NewClass.description)


@router.message(NewClass.description, F.text == labels.SKIP)
async def on_no_description(message: Message, turn: Turn) -> None:
    await turn.update(description="")
    await turn.ask(NewClass.day)


@router.message(NewClass.description, F.text)
async def on_description(message: Message, turn: Turn) -> None:
    text = typed_line(message, 1000)
    if text is None:
        await turn.reask(hint=_("Please keep it under 1,000 letters."))
        return
    await turn.update(description=text)
    await turn.ask(NewClass.day)


@router.message(NewClass.day, F.text)
async def on_day(message: Message, turn: Turn) -> None:
    day = (await turn.data())["days"].get(message.text or "")
    if day is None:
        await turn.reask(hint=_("Please tap one of the days below."))
        return
    await turn.update(day=day)
    await turn.ask(NewClass.hour)


@router.message(NewClass.hour, F.text)
async def on_hour(message: Message, turn: Turn) -> None:
    parts = (message.text or "").strip().replace("：", ":").split(":")
    valid = len(parts) == 2 and all(p.isdigit() for p in parts)
    if not valid or not (0 <= int(parts[0]) < 24 and 0 <= int(parts[1]) < 60):
        await turn.reask(hint=_("Please tap a time, or type it like 9:30."))
        return
    await turn.update(hour=f"{int(parts[0])}:{int(parts[1]):02d}")
    await turn.ask(NewClass.weeks)


@router.message(NewClass.weeks, F.text)
async def on_weeks(message: Message, turn: Turn) -> None:
    weeks = next((n for n, label in WEEKS.items() if message.text == label), None)
    if weeks is None:
        await turn.reask(hint=_("Please tap one of the buttons below."))
        return
    await turn.update(weeks=weeks)
    await turn.ask(NewClass.seats)


@router.message(NewClass.seats, F.text)
async def on_seats(message: Message, turn: Turn) -> None:
    text = (message.text or "").strip()
    if not text.isdigit() or not 1 <= int(text) <= classes.MAX_SEATS:
        hint = _("Please type a number from 1 to {maximum}.").format(maximum=classes.MAX_SEATS)
        await turn.reask(hint=hint)
        return
    await turn.update(seats=int(text))
    await turn.ask(NewClass.age)


@router.message(NewClass.age, F.text == labels.SKIP)
async def on_no_age(message: Message, turn: Turn) -> None:
    await turn.update(age="")
    await turn.ask(NewClass.place)


@router.message(NewClass.age, F.text)
async def on_age(message: Message, turn: Turn) -> None:
    text = typed_line(message, 100)
    if text is None:
        await turn.reask(hint=str(KEEP_IT_SHORT))
        return
    await turn.update(age=text)
    await turn.ask(NewClass.place)


@router.message(NewClass.place, F.text)
async def on_place(message: Message, turn: Turn) -> None:
    text = typed_line(message, 300)
    if text is None:
        await turn.reask(hint=_("Please keep it under 300 letters."))
        return
    await turn.update(place=text)
    await turn.ask(NewClass.price)


@router.message(NewClass.price, F.text)
async def on_price(message: Message, turn: Turn) -> None:
    price = next((n for n, label in PRICES.items() if message.text == label), None)
    if price is None:
        await turn.reask(hint=_("Please tap one of the buttons below."))
        return
    await turn.update(price=price)
    await turn.ask(NewClass.review)


@router.message(NewClass.review, F.text == CREATE)
async def on_create(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    first = _start(data)
    price = data["price"]
    course = await classes.create_class(
        turn.session,
        member.id,
        titles={data["language"]: data["title"]},
        descriptions={data["language"]: data["description"]} if data.get("description") else {},
        seats=data["seats"],
        sessions=[(first + timedelta(weeks=n), SESSION_MINUTES) for n in range(data["weeks"])],
        age_note=data.get("age", ""),
        place=data["place"],
        latitude=member.home_latitude,
        longitude=member.home_longitude,
        teacher_minutes=0 if price else SESSION_MINUTES,
        price_minutes=price,
        paid_by="attendees" if price else "pool",
    )
    await turn.leave(
        _("🎉 Your class “{title}” is open. Neighbours find it under “📍 Near me”.").format(
            title=escape(course.titles[data["language"]])
        )
    )
