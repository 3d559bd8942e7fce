"""The notices a coordinator gets (a volunteer's answer, nobody found, a cost to cover, an
order to settle, a volunteer to verify) and those telling how an order was settled."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.coordination.callbacks import VerifyStep
from bot.handlers.helping import views as ui
from bot.kit.formatters import duration_text
from bot.kit.screens import Edit, Notice, Renderer, Send, inline
from bot.kit.times import when_line
from core import helping, notices
from core.models import Member, Nudge, OrderFunding, OutboxMessage
from core.notices import Kind


async def _answered(
    session: AsyncSession, notice: notices.AskYes | notices.AskNo, *, yes: bool
) -> Notice:
    t = await ui.told(session, notice)
    found = await session.get(Nudge, notice.nudge_id)
    asked = await session.get(Member, found.member_id) if found else None
    who = escape(asked.name if asked else "")
    for_whom = escape(t.f.beneficiary.name)
    if yes:
        return Send(
            _("✅ {volunteer} said yes to {category} for {name}.").format(
                volunteer=who, category=t.what, name=for_whom
            )
            + "\n"
            + when_line(t.when)
        )
    text = _("🙏 {volunteer} cannot help with {category} for {name} this time.").format(
        volunteer=who, category=t.what, name=for_whom
    )
    if t.f.order.status != "open":
        return Send(text)
    return Send(text + "\n" + _("Shall we ask someone else?"), ui.find_someone_button(t.f.order.id))


async def ask_yes(session: AsyncSession, payload: dict, member: Member) -> Notice:
    return await _answered(session, notices.AskYes.read(payload), yes=True)


async def ask_no(session: AsyncSession, payload: dict, member: Member) -> Notice:
    return await _answered(session, notices.AskNo.read(payload), yes=False)


async def escalated(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.Escalated.read(payload))
    if t.f.order.status != "open":
        return None  # someone said yes before the alert went out
    return Send(
        _("📣 Nobody has said yes yet to {category} for {name}. Could you find someone?").format(
            category=t.what, name=escape(t.f.beneficiary.name)
        )
        + "\n"
        + when_line(t.when),
        ui.find_someone_button(t.f.order.id),
    )


async def needs_sponsor(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.NeedsSponsor.read(payload))
    order = t.f.order
    if order.status != "open" or order.funding != OrderFunding.NEEDS_SPONSOR:
        return None  # covered, cancelled or gone before the alert went out
    return Send(
        _(
            "💝 {name} asked for {category}, but does not have enough credit "
            "for about {duration}. Could the community pool pay for it?"
        ).format(
            name=escape(t.f.beneficiary.name),
            category=t.what,
            duration=duration_text(order.estimated_minutes),
        )
        + "\n"
        + when_line(t.when),
        ui.find_someone_button(order.id, pool_pays=True),
    )


async def lapsed_uncovered(session: AsyncSession, payload: dict, member: Member) -> Notice:
    t = await ui.told(session, notices.LapsedUncovered.read(payload))
    return Send(
        _(
            "⌛ The time for {category} for {name} has passed. Nobody covered "
            "its cost, so no volunteer was asked. Perhaps check in with {name}?"
        ).format(category=t.what, name=escape(t.f.beneficiary.name))
        + "\n"
        + when_line(t.when)
    )


async def _to_settle(
    session: AsyncSession, notice: notices.Dispute | notices.Unconfirmed
) -> Notice:
    t = await ui.told(session, notice)
    if t.f.order.status in helping.SETTLED:
        return None  # settled before the alert went out
    disputed = isinstance(notice, notices.Dispute)
    by = await session.get(Member, notice.by) if disputed else None
    screen = ui.settle_view(t.f, by)
    text = screen.text
    if disputed and notice.again:  # announced again: nobody has settled it yet
        text = _("🔁 This is still waiting for a coordinator.") + "\n\n" + text
    return Send(text, screen.keyboard)


async def dispute(session: AsyncSession, payload: dict, member: Member) -> Notice:
    return await _to_settle(session, notices.Dispute.read(payload))


async def unconfirmed(session: AsyncSession, payload: dict, member: Member) -> Notice:
    return await _to_settle(session, notices.Unconfirmed.read(payload))


async def settled(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.Settled.read(payload)
    t = await ui.told(session, notice)
    return Send(await ui.settled_text(session, t.f, notice, member))


async def alert_settled(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.AlertSettled.read(payload)
    t = await ui.told(session, notice)
    alert = await session.get(OutboxMessage, notice.alert_id)
    if alert is None or alert.message_id is None or alert.chat_id is None:
        return None
    by = await session.get(Member, notice.by)
    return Edit(
        alert.chat_id,
        alert.message_id,
        _("✔️ {category}: {name} has settled it already. Thank you!").format(
            category=t.what, name=escape(by.name if by else "")
        )
        + "\n"
        + when_line(t.when),
    )


async def alert_expired(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.AlertExpired.read(payload)
    t = await ui.told(session, notice)
    alert = await session.get(OutboxMessage, notice.alert_id)
    if alert is None or alert.message_id is None or alert.chat_id is None:
        return None
    return Edit(
        alert.chat_id,
        alert.message_id,
        _("⌛ {category}: this request has expired. There is nothing more to do.").format(
            category=t.what
        )
        + "\n"
        + when_line(t.when),
    )


async def verify_asked(session: AsyncSession, payload: dict, member: Member) -> Notice:
    volunteer = await session.get(Member, notices.VerifyAsked.read(payload).volunteer_id)
    if volunteer is None or volunteer.erased_at is not None or volunteer.verified:
        return None  # verified, or gone, before it went out
    text = _(
        "🙋 {name} would like to volunteer and waits for you to verify them. "
        "Once you have, I will send them requests for help."
    ).format(name=escape(volunteer.name))
    verify = _("☑️ Verify {name}").format(name=volunteer.name)
    return Send(text, inline([[(verify, VerifyStep(volunteer_id=volunteer.id).pack())]]))


RENDERERS: dict[Kind, Renderer] = {
    Kind.ASK_YES: ask_yes,
    Kind.ASK_NO: ask_no,
    Kind.ESCALATED: escalated,
    Kind.NEEDS_SPONSOR: needs_sponsor,
    Kind.LAPSED_UNCOVERED: lapsed_uncovered,
    Kind.DISPUTE: dispute,
    Kind.UNCONFIRMED: unconfirmed,
    Kind.SETTLED: settled,
    Kind.ALERT_SETTLED: alert_settled,
    Kind.ALERT_EXPIRED: alert_expired,
    Kind.VERIFY_ASKED: verify_asked,
}
