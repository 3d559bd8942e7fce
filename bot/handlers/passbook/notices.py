"""The passbook's notice: hours a relative gave you."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kit.screens import Notice, Renderer, Send
from core import helping, notices, statements
from core.models import Member
from core.notices import Kind


def _hours(minutes: int) -> str:
    return statements.duration(minutes, _)


async def gift_received(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.GiftReceived.read(payload)
    giver = await session.get(Member, notice.from_id)
    balance = await helping.balance(session, member.id) or 0
    return Send(
        _("🎁 {name} gave you {hours}.\nYour balance is now {balance}.").format(
            name=escape(giver.name if giver else ""),
            hours=_hours(notice.minutes),
            balance=_hours(balance),
        )
    )


RENDERERS: dict[Kind, Renderer] = {Kind.GIFT_RECEIVED: gift_received}
