"""What classes look like in the chat: cards, a member's places, the teacher's sessions and
the one attendance screen. Every title, description, place and name is a member's own text,
escaped."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.classes.callbacks import ClassAction, ClassCb
from bot.handlers.nearby.callbacks import Near, NearAction
from bot.handlers.nearby.views import SECTIONS
from bot.kit.formatters import distance_text, duration_text, language
from bot.kit.times import moment_text
from core import catalog
from core.models import Branch, Member
from core.rewards.classes import ClassCard, Place, RollLine, Taught
from core.rewards.tables import EnrolmentStatus

ENROL_ME = __("✅ A seat for me")
ENROL_CHILD = __("👧 A seat for a child")
TEACHING = __("🧑‍🏫 Classes I teach")
NEW_CLASS = __("➕ Start a class")
SAVE = __("💾 Save")
TO_CLASSES = __("⬅️ Classes")


async def time_zone_of(session: AsyncSession, member: Member) -> str:
    branch = await session.get(Branch, member.branch_id) if member.branch_id else None
    return branch.time_zone if branch else "UTC"


def title_of(titles: dict[str, str]) -> str:
    return escape(catalog.localized(titles, language()))


def price_text(minutes: int) -> str:
    if not minutes:
        return _("🆓 Free")
    return _("💳 {duration} of credit each time").format(duration=duration_text(minutes))


def seats_text(card: ClassCard) -> str:
    if card.seats_left:
        return _("🪑 {left} of {seats} seats free").format(left=card.seats_left, seats=card.seats)
    return _("🪑 Full; {count} waiting").format(count=card.waiting)


def card_line(number: int, card: ClassCard, time_zone: str) -> str:
    lines = [f"<b>{number}.</b> <b>{title_of(card.titles)}</b>"]
    if card.next_session is not None:
        lines.append("    🕒 " + moment_text(card.next_session, time_zone))
    where = escape(card.place) if card.place else ""
    if card.distance_m is not None:
        where = (
            f"{where} · {distance_text(card.distance_m)}"
            if where
            else distance_text(card.distance_m)
        )
    if where:
        lines.append("    📍 " + where)
    lines.append("    " + seats_text(card) + " · " + price_text(card.price_minutes))
    return "\n".join(lines)


def list_text(cards: list[ClassCard], page: int, first: int, time_zone: str) -> str:
    lines = [_("🎓 <b>Classes near you</b>")]
    if not cards:
        lines.append(_("There are no more.") if page else _("No classes near you just now."))
    for number, card in enumerate(cards, start=first):
        lines += ["", card_line(number, card, time_zone)]
    return "\n".join(lines)


def list_buttons(
    cards: list[ClassCard], first: int, navigation: list[tuple[str, Near]], *, volunteer: bool
) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for number, card in enumerate(cards, start=first):
        label = catalog.localized(card.titles, language())
        buttons.button(
            text=f"{number}. {label}"[:60],
            callback_data=ClassCb(action=ClassAction.VIEW, item=card.class_id),
        )
    for label, data in navigation:
        buttons.button(text=label, callback_data=data)
    extra = 0
    if volunteer:
        buttons.button(text=str(TEACHING), callback_data=ClassCb(action=ClassAction.TEACHING))
        buttons.button(text=str(NEW_CLASS), callback_data=ClassCb(action=ClassAction.NEW))
        extra = 2
    buttons.button(text=str(SECTIONS), callback_data=Near(action=NearAction.SECTIONS))
    buttons.adjust(
        *([1] * len(cards)), *([len(navigation)] if navigation else []), *([1] * extra), 1
    )
    return buttons.as_markup()


def place_text(place: Place) -> str:
    if place.status == EnrolmentStatus.ENROLLED:
        if place.child_name:
            return _("✅ {name} has a seat.").format(name=escape(place.child_name))
        return _("✅ You have a seat.")
    if place.child_name:
        return _("⏳ {name} is number {position} on the waiting list.").format(
            name=escape(place.child_name), position=place.position
        )
    return _("⏳ You are number {position} on the waiting list.").format(position=place.position)


def card_text(card: ClassCard, places: list[Place], time_zone: str) -> str:
    lines = [f"🎓 <b>{title_of(card.titles)}</b>"]
    description = catalog.localized(card.descriptions, language())
    if description:
        lines.append(escape(description))
    lines.append("🧑‍🏫 " + _("Taught by {name}").format(name=escape(card.teacher_first_name)))
    if card.next_session is not None:
        lines.append(
            "🕒 " + _("Next: {when}").format(when=moment_text(card.next_session, time_zone))
        )
    if card.place:
        lines.append("📍 " + escape(card.place))
    if card.age_note:
        lines.append("👪 " + _("For: {who}").format(who=escape(card.age_note)))
    lines.append(seats_text(card))
    lines.append(price_text(card.price_minutes))
    if places:
        lines.append("")
        lines += [place_text(place) for place in places]
    elif not card.seats_left:
        lines += ["", _("You can join the waiting list: I will tell you when a seat opens.")]
    return "\n".join(lines)


def card_buttons(card: ClassCard, places: list[Place]) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    if not any(not place.child_name for place in places):
        buttons.button(
            text=str(ENROL_ME), callback_data=ClassCb(action=ClassAction.ENROL, item=card.class_id)
        )
    buttons.button(
        text=str(ENROL_CHILD), callback_data=ClassCb(action=ClassAction.CHILD, item=card.class_id)
    )
    for place in places:
        buttons.button(
            text=_("✖️ Give up the place of {name}").format(name=place.child_name)
            if place.child_name
            else _("✖️ Give up my place"),
            callback_data=ClassCb(
                action=ClassAction.LEAVE, item=card.class_id, value=place.enrolment_id
            ),
        )
    buttons.button(text=str(TO_CLASSES), callback_data=Near(action=NearAction.CLASSES))
    buttons.adjust(1)
    return buttons.as_markup()


def enrolled_answer(status: str, position: int) -> str:
    if status == EnrolmentStatus.ENROLLED:
        return _("✅ The seat is yours.")
    return _("⏳ The class is full: number {position} on the waiting list.").format(
        position=position
    )


def teaching_text(sessions: list[Taught], time_zone: str) -> str:
    lines = [_("🧑‍🏫 <b>Classes you teach</b>")]
    if not sessions:
        lines.append(_("You have no sessions this week or ahead."))
        return "\n".join(lines)
    lines.append(_("Tap a session to take attendance."))
    return "\n".join(lines)


def teaching_buttons(sessions: list[Taught], time_zone: str, now: datetime) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for taught in sessions:
        mark = "✅" if taught.attendance_at else ("📝" if taught.starts_at <= now else "🕒")
        when = moment_text(taught.starts_at, time_zone)
        label = f"{mark} {when} · {catalog.localized(taught.titles, language())}"
        buttons.button(
            text=label[:60], callback_data=ClassCb(action=ClassAction.ROLL, item=taught.session_id)
        )
    buttons.button(text=str(TO_CLASSES), callback_data=Near(action=NearAction.CLASSES))
    buttons.adjust(1)
    return buttons.as_markup()


def roll_text(taught: Taught, lines: list[RollLine], time_zone: str) -> str:
    text = [
        _("📝 <b>Attendance</b>"),
        f"{title_of(taught.titles)} · {moment_text(taught.starts_at, time_zone)}",
    ]
    if not lines:
        text.append(_("Nobody has a seat in this class."))
    else:
        text.append(_("Tap the names of those who came, then Save."))
    return "\n".join(text)


def roll_buttons(
    taught: Taught, lines: list[RollLine], present: Collection[int]
) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for line in lines:
        mark = "✅" if line.enrolment_id in present else "⬜"
        buttons.button(
            text=f"{mark} {line.name}"[:60],
            callback_data=ClassCb(
                action=ClassAction.TOGGLE, item=taught.session_id, value=line.enrolment_id
            ),
        )
    if lines:
        buttons.button(
            text=str(SAVE), callback_data=ClassCb(action=ClassAction.SAVE, item=taught.session_id)
        )
    buttons.button(text=str(TEACHING), callback_data=ClassCb(action=ClassAction.TEACHING))
    buttons.adjust(1)
    return buttons.as_markup()


def saved_text(
    taught: Taught, present: int, paid: int, time_zone: str, *, pool_short: bool = False
) -> str:
    lines = [
        _("✅ Attendance saved: {count} came.").format(count=present),
        f"{title_of(taught.titles)} · {moment_text(taught.starts_at, time_zone)}",
    ]
    if paid:
        lines.append(
            _("🎉 {duration} went into your passbook. Thank you for teaching!").format(
                duration=duration_text(paid)
            )
        )
    if pool_short:
        lines.append(_("The community pool is short just now, so a coordinator has been told."))
    return "\n".join(lines)
