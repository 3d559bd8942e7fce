"""What a coordinator sees when finding someone: the requests still waiting for a volunteer,
and for one of them, who could help and why some of them were not asked."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder
from babel.dates import format_skeleton

from bot.callbacks import CoordStep
from bot.conversations.request_help import category_text, duration_text, language
from bot.volunteer_ui import POOL_PAYS, distance_text, when_of
from core import catalog
from core.coordination import Asked, CandidateRow, Finding, OrderBrief, Why

PAGE_SIZE = 5
ANOTHER_ROUND = __("🔁 Another round")
ALL_WAITING = __("📋 All waiting requests")
PREVIOUS = "◀"
NEXT = "▶"
WHY = {
    Why.ASKED: __("already asked"),
    Why.DECLINED: __("said not this time"),
    Why.GAVE_BACK: __("gave it back earlier"),
    Why.PAUSED: __("paused"),
    Why.NOT_FREE: __("usually not free then"),
    Why.QUIET: __("quiet hours now"),
    Why.FAR: __("farther than they go"),
    Why.BUSY: __("busy with other help"),
}


def asked_note(asked: Asked, finding: Finding) -> str:
    """The answer to "Ask {name}" (a short pop-up)."""
    name = asked.volunteer.name
    if asked.waits_until is None:
        return _("📨 I have asked {name}.").format(name=name)
    local = asked.waits_until.astimezone(ZoneInfo(finding.brief.branch.time_zone))
    return _("🌙 It is quiet time for {name}. I will ask them at {time}.").format(
        name=name, time=format_skeleton("Hm", local, locale=language())
    )


def pages(count: int) -> int:
    return max(1, -(-count // PAGE_SIZE))


def _pager(
    buttons: InlineKeyboardBuilder, action: str, order_id: int, page: int, count: int
) -> int:
    """◀ ▶ where there is a page to go to; returns how many buttons it added."""
    added = 0
    if page > 0:
        buttons.button(
            text=PREVIOUS, callback_data=CoordStep(action=action, order_id=order_id, value=page - 1)
        )
        added += 1
    if page + 1 < pages(count):
        buttons.button(
            text=NEXT, callback_data=CoordStep(action=action, order_id=order_id, value=page + 1)
        )
        added += 1
    return added


def order_label(brief: OrderBrief) -> str:
    mark = "💝 " if brief.needs_sponsor else "📣 " if brief.escalated else ""
    parts = (
        category_text(brief.category),
        when_of(brief.order, brief.branch),
        brief.beneficiary.name,
    )
    return mark + " · ".join(parts)


def waiting_text(briefs: list[OrderBrief]) -> str:
    if not briefs:
        return _("🎉 Every request has a volunteer. Nothing is waiting.")
    return "\n".join(
        [
            _("📋 <b>Requests still waiting for a volunteer</b>"),
            _("💝 marks those waiting for someone to cover the cost."),
            _("📣 marks those nobody has said yes to. Tap one to find someone."),
        ]
    )


def waiting_buttons(briefs: list[OrderBrief], page: int) -> InlineKeyboardMarkup | None:
    if not briefs:
        return None
    page = min(page, pages(len(briefs)) - 1)
    buttons = InlineKeyboardBuilder()
    shown = briefs[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    for brief in shown:
        buttons.button(
            text=order_label(brief), callback_data=CoordStep(action="view", order_id=brief.order.id)
        )
    arrows = _pager(buttons, "list", 0, page, len(briefs))
    buttons.adjust(*([1] * len(shown)), arrows or 1)
    return buttons.as_markup()


def _candidate_line(row: CandidateRow) -> str:
    parts = [escape(row.name), distance_text(row.distance_m)]
    parts += [str(WHY[why]) for why in row.reasons]
    return ("✅ " if row.fits else "▫️ ") + " · ".join(parts)


def finding_text(finding: Finding, page: int) -> str:
    brief = finding.brief
    lines = [
        _("🔎 <b>Find someone</b>"),
        f"<b>{escape(category_text(brief.category))}</b>",
        "🕒 " + when_of(brief.order, brief.branch),
        "⏳ " + _("About {duration}").format(duration=duration_text(brief.order.estimated_minutes)),
        "👤 " + escape(brief.beneficiary.name),
    ]
    if brief.area is not None:
        lines.append("📍 " + escape(catalog.localized(brief.area.names, language())))
    if brief.needs_sponsor:
        lines.append(
            _(
                "💝 {name} does not have enough credit for this. The branch pool can still "
                "give {pool}. Once the cost is covered, the nudges go out by themselves."
            ).format(
                name=escape(brief.beneficiary.name),
                pool=duration_text(max(brief.pool_free or 0, 0)),
            )
        )
    elif brief.escalated:
        lines.append(
            _("📣 Asked so far: {count}. Nobody has said yes yet.").format(count=brief.asked)
        )
    else:
        lines.append(
            _("🔔 Nudges are still going out. Asked so far: {count}.").format(count=brief.asked)
        )
    lines.append("")
    if not finding.candidates:
        lines.append(_("Nobody in the branch has this skill yet."))
        return "\n".join(lines)
    lines.append(_("Who could help, best first (✅ fits everything they told me):"))
    shown = finding.candidates[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    lines += [_candidate_line(row) for row in shown]
    if pages(len(finding.candidates)) > 1:
        lines.append(f"({page + 1}/{pages(len(finding.candidates))})")
    return "\n".join(lines)


def finding_buttons(finding: Finding, page: int) -> InlineKeyboardMarkup:
    brief = finding.brief
    order_id = brief.order.id
    buttons = InlineKeyboardBuilder()
    if brief.needs_sponsor:
        buttons.button(
            text=str(POOL_PAYS), callback_data=CoordStep(action="sponsor", order_id=order_id)
        )
        buttons.button(text=str(ALL_WAITING), callback_data=CoordStep(action="list"))
        buttons.adjust(1)
        return buttons.as_markup()
    shown = finding.candidates[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    for row in shown:
        buttons.button(
            text=_("🙋 Ask {name}").format(name=row.name),
            callback_data=CoordStep(action="ask", order_id=order_id, value=row.member_id),
        )
    arrows = _pager(buttons, "view", order_id, page, len(finding.candidates))
    if brief.escalated:
        buttons.button(
            text=str(ANOTHER_ROUND),
            callback_data=CoordStep(action="round", order_id=order_id, value=brief.progress.round),
        )
    buttons.button(text=str(ALL_WAITING), callback_data=CoordStep(action="list"))
    buttons.adjust(*([1] * len(shown)), *([arrows] if arrows else []), 1)
    return buttons.as_markup()


def page_of(finding: Finding, page: int) -> int:
    return max(0, min(page, pages(len(finding.candidates)) - 1))


def page_with(finding: Finding, member_id: int) -> int:
    """The page on which this volunteer is listed now (the first if they are not)."""
    ids = [row.member_id for row in finding.candidates]
    return ids.index(member_id) // PAGE_SIZE if member_id in ids else 0
