"""The notices of the volunteer's side of a request: the nudge and its end, the reminder,
the request to confirm, the receipt, thanks and relayed messages."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.helping import views as ui
from bot.handlers.helping.callbacks import NudgeAnswer
from bot.kit.formatters import (
    balance_text,
    description_text,
    distance_text,
    duration_text,
    error_text,
)
from bot.kit.screens import Edit, Notice, Renderer, Send, inline
from bot.kit.times import when_line
from core import helping, notices, outbox
from core.models import Member, Nudge, OutboxMessage
from core.notices import Kind
from core.rewards import offers


async def nudge(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.Nudged.read(payload)
    found = await session.get(Nudge, notice.nudge_id)
    if found is None:
        return None
    f = await ui.facts(session, found.order_id)
    if f.order.status != "open":
        return None  # taken or gone before it went out: say nothing
    lines = [_("🔔 Someone near you would like help")]
    asker = await session.get(Member, notice.asked_by) if notice.asked_by else None
    if asker is not None:
        lines.append(
            _("🙋 {name} from the time bank asked you personally.").format(name=escape(asker.name))
        )
    if payload.get(offers.FROM_OFFER):
        lines.append(_("🤝 They asked for the help you offer, so you are asked first."))
    details = ui.summary(f)
    details.insert(2, "📍 " + _("About {distance} from you").format(
        distance=distance_text(found.distance_m)))  # fmt: skip
    lines += details
    description = description_text(f.order.description, f.order.voice_file_id)
    if description:
        lines.append(description)
    answers = [
        (str(ui.ACCEPT), NudgeAnswer(nudge_id=found.id, accept=True).pack()),
        (str(ui.NOT_THIS_TIME), NudgeAnswer(nudge_id=found.id, accept=False).pack()),
    ]
    return Send("\n".join(lines), inline([answers]), voice=f.order.voice_file_id)


async def _nudge_ended(session: AsyncSession, nudge_id: int, error: Exception) -> Notice:
    found = await session.get(Nudge, nudge_id)
    sent = await session.get(OutboxMessage, found.outbox_id) if found else None
    if sent is None or sent.message_id is None or sent.chat_id is None:
        return None
    return Edit(
        sent.chat_id,
        sent.message_id,
        "🙏 " + error_text(error),
        caption=sent.payload.get(outbox.SENT_AS) == "voice",
    )


async def nudge_taken(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.NudgeTaken.read(payload)
    return await _nudge_ended(session, notice.nudge_id, helping.AlreadyTaken())


async def nudge_closed(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.NudgeClosed.read(payload)
    return await _nudge_ended(session, notice.nudge_id, helping.NoLongerNeeded())


async def reminder(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.Reminder.read(payload)
    t = await ui.told(session, notice)
    first = _("⏰ In about an hour:") if notice.soon else _("⏰ Coming up:")
    lines = [first, f"<b>{t.what}</b>", when_line(t.when)]
    if member.id == t.f.order.volunteer_id:
        lines.append(ui.place_words(t.f))
        lines.append("👤 " + escape(t.f.beneficiary.name))
        # The card's buttons, so that Done, a message or handing back are one tap away.
        return Send("\n".join(lines), ui.volunteer_buttons(t.f))
    if t.f.volunteer:
        lines.append(_("🤝 {name} is coming to help").format(name=t.volunteer))
    return Send("\n".join(lines))


async def confirm_ask(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.ConfirmAsk.read(payload))
    screen = ui.rate_screen(t.f)
    return Send(screen.text, screen.keyboard)


async def receipt(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.Receipt.read(payload))
    minutes = t.f.order.actual_minutes or t.f.order.estimated_minutes
    if member.id == t.f.order.volunteer_id:
        first = _("🎉 Thank you! {duration} for {category} are now in your passbook.")
    else:
        first = _("✅ {category} is confirmed: {duration} paid.")
    text = first.format(duration=duration_text(minutes), category=t.what)
    return Send(text + "\n" + balance_text(await helping.balance(session, member.id)))


async def thanks(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.Thanks.read(payload)
    t = await ui.told(session, notice)
    progress = await helping.progress(session, t.f.order.id)
    sender = await session.get(Member, notice.from_id)
    return Send(
        _("💌 {name} says thank you: {text}").format(
            name=escape(sender.name if sender else ""),
            text=escape(progress.thanks if progress else ""),
        )
    )


async def relay(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.Relay.read(payload)
    t = await ui.told(session, notice)
    sender = await session.get(Member, notice.from_id)
    name = sender.name if sender else ""
    return Send(
        f"💬 <b>{escape(name)}</b>: {escape(notice.text)}", ui.relay_button(t.f.order.id, name)
    )


RENDERERS: dict[Kind, Renderer] = {
    Kind.NUDGE: nudge,
    Kind.NUDGE_TAKEN: nudge_taken,
    Kind.NUDGE_CLOSED: nudge_closed,
    Kind.REMINDER: reminder,
    Kind.CONFIRM_ASK: confirm_ask,
    Kind.RECEIPT: receipt,
    Kind.THANKS: thanks,
    Kind.RELAY: relay,
}
