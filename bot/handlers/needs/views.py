"""What a coordinator sees of the needs survey: the categories counted, a category's needs,
one need with what can be done with it."""

from __future__ import annotations

from html import escape

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.handlers.needs.callbacks import NeedAct, NeedAction
from bot.kit.formatters import language
from core.catalog import localized
from core.models import NeedStatus
from core.needs import CategoryCount, NeedRow

SHOWN = 10
SHORT = 40
PLANNED = __("📅 Planned")
DONE = __("✅ Done")
LISTEN = __("🎧 Listen")
SAME_AS = __("🔗 Same as another need")
ALL_CATEGORIES = __("⬅️ All kinds of needs")
BACK_TO_LIST = __("⬅️ Back to the list")
BACK_TO_NEED = __("⬅️ Back to this need")
STATUS_MARK = {NeedStatus.OPEN: "🆕", NeedStatus.PLANNED: "📅", NeedStatus.DONE: "✅"}


def _trend(count: CategoryCount) -> str:
    if count.last_days > count.days_before:
        return "↗"
    if count.last_days < count.days_before:
        return "↘"
    return "→"


def overview_text(counts: list[CategoryCount]) -> str:
    lines = [_("📝 <b>Needs our residents told us of</b>")]
    if not any(count.total for count in counts):
        lines.append(_("Nobody has told us of a need yet."))
        return "\n".join(lines)
    lines.append(_("🆕 new · 📅 planned · ✅ done · the last 30 days against the 30 before"))
    lines.append("")
    for count in counts:
        if not count.total:
            continue
        name = escape(localized(count.category.names, language()))
        lines.append(
            f"<b>{name}</b>: 🆕 {count.open} · 📅 {count.planned} · ✅ {count.done} · "
            f"{_trend(count)} {count.last_days}/{count.days_before}"
        )
    return "\n".join(lines)


def overview_buttons(counts: list[CategoryCount]) -> InlineKeyboardMarkup | None:
    buttons = InlineKeyboardBuilder()
    shown = [count for count in counts if count.total]
    for count in shown:
        buttons.button(
            text=f"{localized(count.category.names, language())} ({count.total})",
            callback_data=NeedAction(action=NeedAct.CATEGORY, value=count.category.id or 0),
        )
    buttons.adjust(1)
    return buttons.as_markup() if shown else None


def _short(row: NeedRow) -> str:
    text = row.text or _("(voice message)")
    return text if len(text) <= SHORT else text[: SHORT - 1] + "…"


def _who(row: NeedRow) -> str:
    return (
        escape(row.raised_by)
        if row.raised_by is not None
        else _("someone who asked not to be named")
    )


def category_text(category: str, rows: list[NeedRow]) -> str:
    lines = [f"📝 <b>{escape(category)}</b>"]
    if not rows:
        lines.append(_("No needs here any more."))
    for number, row in enumerate(rows[:SHOWN], start=1):
        voice = " 🎤" if row.has_voice else ""
        same = _(" (+{count} the same)").format(count=row.merged) if row.merged else ""
        lines.append(
            f"{number}. {STATUS_MARK.get(row.status, '')} {escape(_short(row))}{voice}{same}"
            f" · {_who(row)}"
        )
    if len(rows) > SHOWN:
        lines.append(_("…and {count} more on the dashboard.").format(count=len(rows) - SHOWN))
    return "\n".join(lines)


def category_buttons(rows: list[NeedRow]) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for number, row in enumerate(rows[:SHOWN], start=1):
        buttons.button(
            text=f"{number}. {_short(row)}",
            callback_data=NeedAction(action=NeedAct.VIEW, value=row.need_id),
        )
    buttons.button(text=str(ALL_CATEGORIES), callback_data=NeedAction(action=NeedAct.OVERVIEW))
    buttons.adjust(1)
    return buttons.as_markup()


def need_text(category: str, row: NeedRow) -> str:
    status = {
        NeedStatus.OPEN: _("🆕 Not planned yet"),
        NeedStatus.PLANNED: _("📅 Planned"),
        NeedStatus.DONE: _("✅ Done"),
    }.get(row.status, "")
    lines = [
        f"📝 <b>{escape(category)}</b>",
        escape(row.text) if row.text else _("🎤 Told by voice message."),
        _("From: {who}").format(who=_who(row)),
        status,
    ]
    if row.merged:
        lines.append(_("{count} more people told us the same.").format(count=row.merged))
    if row.note:
        lines.append(_("Note: {note}").format(note=escape(row.note)))
    return "\n".join(lines)


def need_buttons(row: NeedRow) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    need_id = row.need_id
    if row.status != NeedStatus.PLANNED:
        buttons.button(
            text=str(PLANNED), callback_data=NeedAction(action=NeedAct.PLANNED, value=need_id)
        )
    if row.status != NeedStatus.DONE:
        buttons.button(text=str(DONE), callback_data=NeedAction(action=NeedAct.DONE, value=need_id))
    if row.has_voice:
        buttons.button(
            text=str(LISTEN), callback_data=NeedAction(action=NeedAct.VOICE, value=need_id)
        )
    buttons.button(
        text=str(SAME_AS), callback_data=NeedAction(action=NeedAct.SAME_AS, value=need_id)
    )
    buttons.button(
        text=str(BACK_TO_LIST),
        callback_data=NeedAction(action=NeedAct.CATEGORY, value=row.category_id),
    )
    buttons.adjust(1)
    return buttons.as_markup()


def same_as_text(category: str, row: NeedRow, others: list[NeedRow]) -> str:
    if not others:
        return _("There is no other need of this kind to put it with.")
    return "\n".join(
        [
            f"🔗 <b>{escape(category)}</b>: “{escape(_short(row))}”",
            _("Which need is it the same as? Those who told us of it will hear about that one."),
        ]
    )


def same_as_buttons(row: NeedRow, others: list[NeedRow]) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    for other in others[:SHOWN]:
        buttons.button(
            text=_short(other),
            callback_data=NeedAction(action=NeedAct.MERGE, value=row.need_id, into=other.need_id),
        )
    buttons.button(
        text=str(BACK_TO_NEED), callback_data=NeedAction(action=NeedAct.VIEW, value=row.need_id)
    )
    buttons.adjust(1)
    return buttons.as_markup()


def note_question(status: str) -> str:
    if status == NeedStatus.DONE:
        return _("✅ What would you like to tell those who asked? Type a short note, or tap Skip.")
    return _("📅 What is planned, and when? Type a short note, or tap Skip.")
