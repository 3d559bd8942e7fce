"""What a coordinator sees when finding someone: the requests still waiting for a volunteer,
and for one of them, who could help and why some of them were not asked."""

from __future__ import annotations

from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from babel.dates import format_skeleton

from bot.handlers.coordination.callbacks import CoordStep, Find
from bot.handlers.helping.views import POOL_PAYS, when_of
from bot.kit.formatters import category_text, distance_text, duration_text, language
from bot.kit.screens import Keyboard, inline
from bot.kit.times import order_when_text
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


def _step(text: str, action: Find, order_id: int = 0, value: int = 0) -> tuple[str, str]:
    return text, CoordStep(action=action, order_id=order_id, value=value).pack()


def _pager(action: Find, order_id: int, page: int, count: int) -> list[list[tuple[str, str]]]:
    """A row of ◀ ▶ where there is a page to go to; none on a single page."""
    arrows = []
    if page > 0:
        arrows.append(_step(PREVIOUS, action, order_id, page - 1))
    if page + 1 < pages(count):
        arrows.append(_step(NEXT, action, order_id, page + 1))
    return [arrows] if arrows else []


def order_label(brief: OrderBrief) -> str:
    mark = "💝 " if brief.needs_sponsor else "📣 " if brief.escalated else ""
    parts = (
        category_text(brief.category),
        order_when_text(brief.order, brief.branch.time_zone, short=True),
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


def waiting_buttons(briefs: list[OrderBrief], page: int) -> Keyboard | None:
    if not briefs:
        return None
    page = min(page, pages(len(briefs)) - 1)
    shown = briefs[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    orders = [[_step(order_label(brief), Find.VIEW, brief.order.id)] for brief in shown]
    return inline([*orders, *_pager(Find.LIST, 0, page, len(briefs))])


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
                "💝 {name} does not have enough credit for this. The community pool can still "
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


def finding_buttons(finding: Finding, page: int) -> Keyboard:
    brief = finding.brief
    order_id = brief.order.id
    all_waiting = [_step(str(ALL_WAITING), Find.LIST)]
    if brief.needs_sponsor:
        return inline([[_step(str(POOL_PAYS), Find.SPONSOR, order_id)], all_waiting])
    shown = finding.candidates[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    ask = [
        [_step(_("🙋 Ask {name}").format(name=row.name), Find.ASK, order_id, row.member_id)]
        for row in shown
    ]
    pager = _pager(Find.VIEW, order_id, page, len(finding.candidates))
    rounds = []
    if brief.escalated:
        rounds.append([_step(str(ANOTHER_ROUND), Find.ROUND, order_id, brief.progress.round)])
    return inline([*ask, *pager, *rounds, all_waiting])


def page_of(finding: Finding, page: int) -> int:
    return max(0, min(page, pages(len(finding.candidates)) - 1))


def page_with(finding: Finding, member_id: int) -> int:
    """The page on which this volunteer is listed now (the first if they are not)."""
    ids = [row.member_id for row in finding.candidates]
    return ids.index(member_id) // PAGE_SIZE if member_id in ids else 0
