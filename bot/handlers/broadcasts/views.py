"""How broadcasts read: the announcement as members get it, the coordinator's progress
message and final report, the branch's history, the announcements setting. Plain text and
buttons, in the current locale."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import lazy_gettext as __
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.handlers.broadcasts.callbacks import (
    Announcements,
    ComeToEvent,
    CoordinatorTool,
    Steer,
    SteerBroadcast,
    Tool,
)
from bot.kit.formatters import language
from bot.kit.screens import Send
from bot.kit.times import clock, day_text
from core.broadcasts import Button, HistoryLine, Message, Progress
from core.broadcasts.audience import AudienceCount
from core.broadcasts.tables import BroadcastStatus
from core.db import utcnow
from core.languages import LANGUAGES, NATIVE_NAMES

COMING = __("🙋 I'll come")
PAUSE = __("⏸ Pause")
RESUME = __("▶️ Resume")
STOP = __("✖️ Stop sending")
CANCEL_SCHEDULED = __("✖️ Do not send it")
COMPOSE = __("📣 Send an announcement")
HISTORY = __("🗂 Announcements sent")
NOT_DELIVERED_WHY = {
    "blocked": __("blocked the bot"),
    "failed": __("could not be reached"),
    "skipped": __("no chat"),
    "cancelled": __("stopped"),
}


def moment_text(moment: datetime, time_zone: str) -> str:
    """A moment as people say it, in the branch's time zone: "Tomorrow, 5 December at 9:00"."""
    zone = ZoneInfo(time_zone)
    local = moment.astimezone(zone)
    today = utcnow().astimezone(zone).date()
    return _("{day} at {time}").format(
        day=day_text(local.date(), today, short=True), time=clock(local.time())
    )


# ---------------------------------------------------------------- what members get


def button_label(button: Button, reader_language: str) -> str:
    """A link's label in the reader's language (else the first it has)."""
    return button.labels.get(reader_language) or next(iter(button.labels.values()), "🔗")


def broadcast_buttons(
    message: Message, broadcast_id: int, reader_language: str
) -> InlineKeyboardMarkup | None:
    buttons = InlineKeyboardBuilder()
    for button in message.buttons:
        if button.kind == Button.COME:
            buttons.button(text=str(COMING), callback_data=ComeToEvent(broadcast_id=broadcast_id))
        elif button.url:
            buttons.button(text=button_label(button, reader_language), url=button.url)
    buttons.adjust(1)
    return buttons.as_markup() if message.buttons else None


def broadcast_screen(message: Message, broadcast_id: int, reader_language: str) -> Send:
    """The announcement exactly as a reader gets it: the coordinator's words (escaped: they
    are shown as written), a photo with the first part, the buttons under the last part."""
    parts = [escape(part) for part in message.parts]
    return Send(
        parts[0] if parts else "",
        broadcast_buttons(message, broadcast_id, reader_language),
        photo=message.photo_file_id,
        more=tuple(parts[1:]),
    )


# ---------------------------------------------------------------- the coordinator's side


def opening(texts: dict[str, str], reader_language: str) -> str:
    """The first words of the announcement, in the reader's language if it has them."""
    text = texts.get(reader_language) or next(iter(texts.values()), "")
    words = " ".join(text.split())
    return words if len(words) <= 60 else words[:59] + "…"


def language_name(code: str) -> str:
    return NATIVE_NAMES.get(code, code)


def audience_text(counted: AudienceCount) -> str:
    """How many the audience reaches, per language, and who is left out and why."""
    if counted.total == 0 and not counted.without_text:
        lines = [_("Nobody in this group can get announcements right now.")]
    else:
        reached = counted.total + sum(counted.without_text.values())
        lines = [_("👥 This reaches <b>{count}</b> members:").format(count=reached)]
        for code in LANGUAGES:
            number = counted.by_language.get(code, 0) + counted.without_text.get(code, 0)
            if number:
                lines.append(
                    _("• {language}: {count}").format(language=language_name(code), count=number)
                )
    if counted.opted_out or counted.blocked:
        lines.append(
            _(
                "Not counted: {opted_out} who turned announcements off, "
                "{blocked} who blocked the bot."
            ).format(opted_out=counted.opted_out, blocked=counted.blocked)
        )
    return "\n".join(lines)


def send_summary(counted: AudienceCount) -> str:
    """Before sending: how many get it in which language, and who gets nothing."""
    lines = [_("📣 Ready to send to <b>{count}</b> members.").format(count=counted.total)]
    for code in LANGUAGES:
        if counted.by_language.get(code):
            lines.append(
                _("• In {language}: {count}").format(
                    language=language_name(code), count=counted.by_language[code]
                )
            )
    for code, number in counted.without_text.items():
        lines.append(
            _("• {count} who read {language} get nothing: there is no text in it.").format(
                count=number, language=language_name(code)
            )
        )
    return "\n".join(lines)


def _not_delivered_text(progress: Progress) -> str | None:
    missed = sum(progress.not_delivered.values())
    if not missed:
        return None
    reasons = ", ".join(
        f"{NOT_DELIVERED_WHY[why]} {number}" if why in NOT_DELIVERED_WHY else f"{why} {number}"
        for why, number in sorted(progress.not_delivered.items())
    )
    return _("Not delivered: {count} ({reasons})").format(count=missed, reasons=reasons)


def eta_text(seconds: int) -> str:
    if seconds < 60:
        return _("About {seconds} seconds left").format(seconds=max(seconds, 1))
    return _("About {minutes} min left").format(minutes=-(-seconds // 60))


def progress_text(progress: Progress, opening: str) -> str:
    """The coordinator's progress message: sent of total, not delivered, time left."""
    lines = [_("📣 <b>Announcement</b> “{opening}”").format(opening=escape(opening))]
    if progress.status == BroadcastStatus.DONE:
        lines.append(
            _("✅ Done: sent to {sent} of {total}.").format(
                sent=progress.sent, total=progress.total
            )
        )
    elif progress.status == BroadcastStatus.CANCELLED:
        lines.append(
            _("✖️ Stopped: sent to {sent} of {total}.").format(
                sent=progress.sent, total=progress.total
            )
        )
    else:
        total = (
            progress.total
            if progress.expanded
            else _("{count} so far").format(count=progress.total)
        )
        lines.append(_("Sending: {sent} of {total} sent").format(sent=progress.sent, total=total))
    missed = _not_delivered_text(progress)
    if missed:
        lines.append(missed)
    if progress.status == BroadcastStatus.PAUSED:
        lines.append(_("⏸ Paused. Tap Resume to go on."))
    elif progress.eta_seconds and not progress.done:
        lines.append(eta_text(progress.eta_seconds))
    if progress.coming:
        lines.append(_("🙋 {count} said they will come").format(count=progress.coming))
    return "\n".join(lines)


def progress_buttons(progress: Progress) -> InlineKeyboardMarkup | None:
    buttons = InlineKeyboardBuilder()
    shown = []
    if progress.status == BroadcastStatus.SENDING:
        shown = [(PAUSE, Steer.PAUSE), (STOP, Steer.CANCEL)]
    elif progress.status == BroadcastStatus.PAUSED:
        shown = [(RESUME, Steer.RESUME), (STOP, Steer.CANCEL)]
    for label, action in shown:
        buttons.button(
            text=str(label),
            callback_data=SteerBroadcast(action=action, broadcast_id=progress.broadcast_id),
        )
    buttons.adjust(2)
    return buttons.as_markup() if shown else None


def scheduled_buttons(broadcast_id: int) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=str(CANCEL_SCHEDULED),
        callback_data=SteerBroadcast(action=Steer.CANCEL, broadcast_id=broadcast_id),
    )
    return buttons.as_markup()


def report_text(progress: Progress, opening: str) -> str:
    """The final report: counts per language."""
    lines = [
        _("📊 <b>Report</b> on the announcement “{opening}”").format(opening=escape(opening)),
        _("Sent to {sent} of {total} members.").format(sent=progress.sent, total=progress.total),
    ]
    for code in LANGUAGES:
        figures = progress.by_language.get(code)
        if figures is None:
            continue
        lines.append(
            _("• {language}: {sent} of {total} sent, {missed} not delivered").format(
                language=language_name(code),
                sent=figures.sent,
                total=figures.total,
                missed=figures.not_delivered,
            )
        )
    missed = _not_delivered_text(progress)
    if missed:
        lines.append(missed)
    if progress.coming:
        lines.append(_("🙋 {count} said they will come").format(count=progress.coming))
    return "\n".join(lines)


STATUS = {
    BroadcastStatus.DRAFT: "📝",
    BroadcastStatus.SCHEDULED: "🕒",
    BroadcastStatus.SENDING: "📤",
    BroadcastStatus.PAUSED: "⏸",
    BroadcastStatus.DONE: "✅",
    BroadcastStatus.CANCELLED: "✖️",
}


def history_text(lines: list[HistoryLine], time_zone: str) -> str:
    """The branch's broadcasts, newest first: when, who, what, to how many, taps."""
    if not lines:
        return _("📣 No announcements yet. Send one with /broadcast.")
    shown = [_("📣 <b>Announcements of your branch</b>")]
    reader = language()
    for line in lines:
        when = moment_text(line.started_at or line.created_at, time_zone)
        shown += [
            "",
            f"{STATUS.get(line.status, '')} <b>{escape(when)}</b> · {escape(line.author_name)}",
            "“" + escape(opening(line.texts, reader) if line.texts else line.opening) + "”",
            _("Sent to {sent} of {total}").format(sent=line.sent, total=line.total)
            + (
                " · " + _("🙋 {count} said they will come").format(count=line.coming)
                if line.coming
                else ""
            ),
        ]
    return "\n".join(shown)


# ---------------------------------------------------------------- the member's setting


def announcements_text(on: bool) -> str:
    if on:
        return _("📣 Announcements from coordinators (market days, events): on.")
    return _("🔕 Announcements from coordinators (market days, events): off.")


def announcements_buttons(on: bool) -> InlineKeyboardMarkup:
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=_("🔕 Turn them off") if on else _("📣 Turn them on"),
        callback_data=Announcements(wanted=not on),
    )
    return buttons.as_markup()


def add_coordinator_tools(buttons: InlineKeyboardBuilder) -> None:
    """The broadcast tools among a coordinator's tools (under "🤝 Volunteering")."""
    buttons.button(text=str(COMPOSE), callback_data=CoordinatorTool(action=Tool.COMPOSE))
    buttons.button(text=str(HISTORY), callback_data=CoordinatorTool(action=Tool.HISTORY))
