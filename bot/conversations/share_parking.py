"""An owner shares a parking space, one question at a time: the exact place (asked once;
neighbours see only the area until they book), a note, then a free time: the day, from
when, until when. Back goes one step back, Cancel leaves; nothing is saved before Share."""

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
from bot.kit.formatters import language
from bot.kit.screens import Screen
from bot.kit.steps import Steps, Turn, typed_line
from bot.kit.times import span_text
from core.models import Branch, Member
from core.rewards import parking

HOURS = tuple(f"{hour}:00" for hour in (7, 8, 9, 12, 13, 17, 18, 20, 22))
SHARE = __("✅ Share it")


class ShareParking(StatesGroup):
    address = State()
    notes = State()
    day = State()
    start = State()
    end = State()
    review = State()


STEPS = [
    ShareParking.address,
    ShareParking.notes,
    ShareParking.day,
    ShareParking.start,
    ShareParking.end,
    ShareParking.review,
]


def _days(time_zone: str) -> dict[str, str]:
    today = datetime.now(ZoneInfo(time_zone)).date()
    days = [today + timedelta(days=n) for n in range(0, 14)]
    return {format_skeleton("MMMEd", day, locale=language()): day.isoformat() for day in days}


def _at(data: dict, key: str) -> datetime:
    hours, minutes = (int(part) for part in data[key].split(":"))
    local = datetime.combine(date.fromisoformat(data["day"]), time(hours, minutes))
    return local.replace(tzinfo=ZoneInfo(data["zone"]))


async def prompt(step: State, turn: Turn) -> Screen:
    """The question of `step` and the buttons that answer it."""
    data = await turn.data()
    reply = keyboards.reply
    if step == ShareParking.address:
        return Screen(
            _("🅿️ Where is the space exactly? Only a neighbour who books it will see this."),
            reply([]),
        )
    if step == ShareParking.notes:
        return Screen(
            _("Anything neighbours should know (small cars only, say)? Type it, or skip."),
            reply([[str(labels.SKIP)]]),
        )
    if step == ShareParking.day:
        return Screen(
            _("📅 On which day is it free?"), reply(keyboards.in_pairs(list(data["days"])))
        )
    if step == ShareParking.start:
        return Screen(_("🕒 Free from what time?"), reply(keyboards.in_pairs(list(HOURS))))
    if step == ShareParking.end:
        hours = [hour for hour in HOURS if hour != data.get("start")] + ["24:00"]
        return Screen(_("🕒 Free until what time?"), reply(keyboards.in_pairs(hours)))
    lines = [_("Please check:")]
    if data.get("address"):
        lines.append("📍 " + escape(data["address"]))
    if data.get("notes"):
        lines.append("💬 " + escape(data["notes"]))
    lines.append("🕒 " + span_text(_at(data, "start"), _end(data), data["zone"]))
    return Screen("\n".join(lines), reply([[str(SHARE)]]))


def _end(data: dict) -> datetime:
    if data["end"] == "24:00":
        return _at({**data, "end": "0:00"}, "end") + timedelta(days=1)
    return _at(data, "end")


async def start(turn: Turn) -> None:
    """Ask for the place the first time; an owner who has a space goes straight to a time."""
    member = turn.member
    assert member is not None
    branch = await turn.session.get(Branch, member.branch_id) if member.branch_id else None
    zone = branch.time_zone if branch else "UTC"
    spaces = await parking.spaces_of(turn.session, member.id)
    await turn.state.set_data(
        {"zone": zone, "days": _days(zone), "space_id": spaces[0].id if spaces else 0}
    )
    await turn.ask(ShareParking.day if spaces else ShareParking.address)


async def stop(turn: Turn) -> None:
    await turn.leave(_("All right, nothing was changed."))


ANSWER = __("Please answer with the buttons below, or type the answer.")
KEEP_IT_SHORT = __("Please keep it under 300 letters.")
steps = Steps(
    ShareParking,
    name="share_parking",
    prompt=prompt,
    cancel=stop,
    way_on=lambda member: keyboards.main_menu(),
    path=STEPS,
    # An owner who has a space already is not asked for its place again.
    skip=lambda step, data: (
        step in (ShareParking.address, ShareParking.notes) and bool(data.get("space_id"))
    ),
    hints={step: ANSWER for step in STEPS},
)
router = steps.router


@router.message(ShareParking.address, F.text)
async def on_address(message: Message, turn: Turn) -> None:
    text = typed_line(message, 300, shortest=2)
    if text is None:
        await turn.reask(hint=str(KEEP_IT_SHORT))
        return
    await turn.update(address=text)
    await turn.ask(ShareParking.notes)


@router.message(ShareParking.notes, F.text == labels.SKIP)
async def on_no_notes(message: Message, turn: Turn) -> None:
    await turn.update(notes="")
    await turn.ask(ShareParking.day)


@router.message(ShareParking.notes, F.text)
async def on_notes(message: Message, turn: Turn) -> None:
    text = typed_line(message, 300, shortest=2)
    if text is None:
        await turn.reask(hint=str(KEEP_IT_SHORT))
        return
    await turn.update(notes=text)
    await turn.ask(ShareParking.day)


@router.message(ShareParking.day, F.text)
async def on_day(message: Message, turn: Turn) -> None:
    day = (await turn.data())["days"].get(message.text or "")
    if day is None:
        await turn.reask(hint=_("Please tap one of the days below."))
        return
    await turn.update(day=day)
    await turn.ask(ShareParking.start)


@router.message(ShareParking.start, F.text.in_(HOURS))
async def on_start(message: Message, turn: Turn) -> None:
    await turn.update(start=message.text)
    await turn.ask(ShareParking.end)


@router.message(ShareParking.end, F.text.in_((*HOURS, "24:00")))
async def on_end(message: Message, turn: Turn) -> None:
    await turn.update(end=message.text)
    data = await turn.data()
    if _end(data) <= _at(data, "start"):
        await turn.reask(hint=_("The end must come after the start, within two weeks."))
        return
    await turn.ask(ShareParking.review)


@router.message(ShareParking.review, F.text == SHARE)
async def on_share(message: Message, turn: Turn, member: Member) -> None:
    data = await turn.data()
    space_id = data.get("space_id")
    if not space_id:
        space = await parking.list_space(
            turn.session, member.id, address=data["address"], notes=data.get("notes", "")
        )
        space_id = space.id
    await parking.offer_window(turn.session, member.id, space_id, _at(data, "start"), _end(data))
    await turn.leave(_("🎉 Thank you! Neighbours can book your space under “📍 Near me”."))
