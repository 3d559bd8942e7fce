"""The notices of family links: asked for, answered, ended."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.family import views
from bot.kit.screens import Notice, Renderer, Send
from core import notices
from core.models import FamilyLink, FamilyLinkStatus, Member
from core.notices import Kind


async def _name(session: AsyncSession, member_id: int) -> str:
    member = await session.get(Member, member_id)
    return escape(member.name if member else "")


async def family_ask(session: AsyncSession, payload: dict, member: Member) -> Notice:
    link = await session.get(FamilyLink, notices.FamilyAsk.read(payload).link_id)
    if link is None or link.status != FamilyLinkStatus.PENDING:
        return None  # answered, or withdrawn, before it went out
    text = _(
        "{name} entered your family code. May {name} ask for help for you and hear "
        "how your requests go?"
    ).format(name=await _name(session, link.relative_id))
    return Send(text, views.answer_buttons(link.id))


async def family_answer(session: AsyncSession, payload: dict, member: Member) -> Notice:
    notice = notices.FamilyAnswer.read(payload)
    link = await session.get(FamilyLink, notice.link_id)
    if link is None:
        return None
    name = await _name(session, link.member_id)
    if notice.accepted:
        return Send(
            _(
                "{name} said yes. You can now ask for help for them with “🤲 Ask for someone else”."
            ).format(name=name)
        )
    return Send(_("{name} did not confirm the family link.").format(name=name))


async def family_unlinked(session: AsyncSession, payload: dict, member: Member) -> Notice:
    return Send(
        _(
            "{name} ended your family link. You can link again with a new code "
            "any time, under “👨‍👩‍👧 Family”."
        ).format(name=await _name(session, notices.FamilyUnlinked.read(payload).by))
    )


RENDERERS: dict[Kind, Renderer] = {
    Kind.FAMILY_ASK: family_ask,
    Kind.FAMILY_ANSWER: family_answer,
    Kind.FAMILY_UNLINKED: family_unlinked,
}
