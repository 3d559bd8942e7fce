"""The notices of classes: a seat opened for the first waiting, the reminder before a
session, and the coordinators' word that the pool could not pay a teacher."""

from __future__ import annotations

from datetime import datetime
from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.classes import views as ui
from bot.handlers.classes.callbacks import ClassAction, ClassCb
from bot.kit.screens import Notice, Renderer, Send
from bot.kit.times import moment_text
from core.models import Branch, Member
from core.notices import Kind
from core.rewards.tables import ClassSession, CommunityClass


async def _class(
    session: AsyncSession, payload: dict
) -> tuple[CommunityClass, str] | tuple[None, None]:
    course = await session.get(CommunityClass, payload["class_id"])
    if course is None:
        return None, None
    branch = await session.get(Branch, course.branch_id)
    return course, branch.time_zone if branch else "UTC"


def _open_button(class_id: int):
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=_("🎓 See the class"), callback_data=ClassCb(action=ClassAction.VIEW, item=class_id)
    )
    return buttons.as_markup()


async def seat_free(session: AsyncSession, payload: dict, member: Member) -> Notice:
    course, _zone = await _class(session, payload)
    if course is None:
        return None
    title = ui.title_of(course.titles)
    child = payload.get("child") or ""
    if child:
        text = _("🎉 Good news: a seat opened in “{title}”, and {name} has it now.").format(
            title=title, name=escape(child)
        )
    else:
        text = _("🎉 Good news: a seat opened in “{title}”, and it is yours now.").format(
            title=title
        )
    return Send(text, _open_button(course.id))


async def reminder(session: AsyncSession, payload: dict, member: Member) -> Notice:
    course, zone = await _class(session, payload)
    if course is None or zone is None or course.cancelled_at is not None:
        return None
    when = moment_text(datetime.fromisoformat(payload["starts_at"]), zone)
    title = ui.title_of(course.titles)
    if payload.get("teacher"):
        lines = [_("⏰ You teach “{title}” {when}.").format(title=title, when=when)]
        lines.append(_("After it begins, tap “🧑‍🏫 Classes I teach” to take attendance."))
    elif payload.get("child"):
        lines = [
            _("⏰ “{title}” for {name}: {when}.").format(
                title=title, name=escape(payload["child"]), when=when
            )
        ]
    else:
        lines = [_("⏰ Your class “{title}”: {when}.").format(title=title, when=when)]
    if course.place:
        lines.append("📍 " + escape(course.place))
    buttons = InlineKeyboardBuilder()
    if payload.get("teacher"):
        buttons.button(text=str(ui.TEACHING), callback_data=ClassCb(action=ClassAction.TEACHING))
    else:
        buttons.button(
            text=_("🎓 See the class"),
            callback_data=ClassCb(action=ClassAction.VIEW, item=course.id),
        )
    return Send("\n".join(lines), buttons.as_markup())


async def pool_short(session: AsyncSession, payload: dict, member: Member) -> Notice:
    course, zone = await _class(session, payload)
    if course is None or zone is None:
        return None
    meeting = await session.get(ClassSession, payload["session_id"])
    when = moment_text(meeting.starts_at, zone) if meeting else ""
    return Send(
        _(
            "⚠️ The community pool could not pay the teacher of “{title}” ({when}). "
            "Please top up the community pool; the teacher is paid when attendance is saved again."
        ).format(title=ui.title_of(course.titles), when=when)
    )


RENDERERS: dict[Kind, Renderer] = {
    Kind.CLASS_SEAT_FREE: seat_free,
    Kind.CLASS_REMINDER: reminder,
    Kind.CLASS_POOL_SHORT: pool_short,
}
