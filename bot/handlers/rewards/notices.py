"""The notices of partner shops and recognition: a code expired unused, the receipts of a
hand-over (the member's and the shop's), and a certificate of thanks (PDF, with a picture
of it in the chat)."""

from __future__ import annotations

from datetime import date
from functools import cache
from html import escape
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import get_i18n
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.rewards.views import hours, item_name
from bot.kit.screens import Attachment, Notice, Renderer, Send
from core import helping, pdf_preview
from core.db import utcnow
from core.models import Branch, Member
from core.notices import Kind
from core.rewards.recognition import Certificate, render_certificate_pdf
from core.rewards.tables import Redemption, RewardItem


async def _balance_line(session: AsyncSession, member: Member) -> str:
    balance = await helping.balance(session, member.id) or 0
    return _("Your balance is now {balance}.").format(balance=hours(balance))


async def redemption_expired(session: AsyncSession, payload: dict, member: Member) -> Notice:
    redemption = await session.get(Redemption, payload.get("redemption_id", 0))
    item = await session.get(RewardItem, redemption.item_id) if redemption else None
    if item is None:
        text = _("⌛ Your code was not used in time, so {hours} set aside are yours again.")
    else:
        text = _(
            "⌛ Your code for {item} was not used in time, so {hours} set aside are yours again."
        )
    return Send(
        text.format(item=item_name(item.names) if item else "", hours=hours(payload["minutes"]))
    )


async def redemption_receipt(session: AsyncSession, payload: dict, member: Member) -> Notice:
    lines = [
        _("🧾 {shop}: {item}, paid with {hours}.").format(
            shop=escape(payload.get("merchant", "")),
            item=item_name(payload.get("item") or {}),
            hours=hours(payload["minutes"]),
        ),
        await _balance_line(session, member),
        _("Thank you for spending your hours with a neighbourhood shop!"),
    ]
    return Send("\n".join(lines))


async def redemption_shop_receipt(session: AsyncSession, payload: dict, member: Member) -> Notice:
    return Send(
        _("🧾 Received {hours} for {item} from {name}.").format(
            hours=hours(payload["minutes"]),
            item=item_name(payload.get("item") or {}),
            name=escape(payload.get("member", "")),
        )
    )


def _bound_gettext():
    """This reader's gettext, still theirs when the PDF is made later, off the event loop."""
    i18n = get_i18n()
    locale = i18n.current_locale
    return locale, lambda message: i18n.gettext(message, locale=locale)


async def certificate(session: AsyncSession, payload: dict, member: Member) -> Notice:
    branch = await session.get(Branch, member.branch_id) if member.branch_id else None
    time_zone = branch.time_zone if branch is not None else "UTC"
    language, gettext = _bound_gettext()
    today = utcnow().astimezone(ZoneInfo(time_zone)).date()
    start = date.fromisoformat(payload.get("start") or date(today.year, 1, 1).isoformat())
    end = date.fromisoformat(payload.get("end") or date(today.year + 1, 1, 1).isoformat())
    shown = Certificate(
        member_name=member.name,
        language=language,
        minutes=int(payload.get("minutes", 0)),
        start=start,
        end=end,
        branch_names=dict(branch.names) if branch is not None else {},
        signed_by=payload.get("signed_by", ""),
        issued_on=today,
    )
    pdf = cache(lambda: render_certificate_pdf(shown, gettext))
    attachments = [Attachment(f"certificate-{start.year}.pdf", pdf)]
    if pdf_preview.available():
        preview = Attachment("certificate.png", lambda: pdf_preview.first_page_png(pdf()), True)
        attachments.append(preview)
    text = _(
        "🏅 Thank you, {name}! Your branch honours the {hours} you gave to neighbours. "
        "Here is your certificate to print."
    ).format(name=escape(member.name), hours=hours(shown.minutes))
    return Send(text, attachments=tuple(attachments))


RENDERERS: dict[Kind, Renderer] = {
    Kind.REDEMPTION_EXPIRED: redemption_expired,
    Kind.REDEMPTION_RECEIPT: redemption_receipt,
    Kind.REDEMPTION_SHOP_RECEIPT: redemption_shop_receipt,
    Kind.CERTIFICATE: certificate,
}
