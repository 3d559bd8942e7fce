"""The notices of several branches: to a branch's coordinators, someone asks to join; to
the member, they are in."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.branches.callbacks import JoinAnswer
from bot.handlers.branches.views import branch_name
from bot.kit.screens import Notice, Renderer, Send
from core import memberships
from core.models import Branch, Member
from core.notices import Kind


async def join_asked(session: AsyncSession, payload: dict, member: Member) -> Notice:
    asker = await session.get(Member, payload["member_id"])
    branch = await session.get(Branch, payload["branch_id"])
    if asker is None or asker.erased_at is not None or branch is None:
        return None
    if branch.id in {mine.id for mine in await memberships.branches_of(session, asker)}:
        return None  # added before it went out
    home = await session.get(Branch, asker.branch_id) if asker.branch_id else None
    text = _("🏘 {name} of {home} would like to join {branch} as well. Add them?").format(
        name=escape(asker.name),
        home=escape(branch_name(home)) if home else "",
        branch=escape(branch_name(branch)),
    )
    buttons = InlineKeyboardBuilder()
    buttons.button(
        text=_("✅ Add {name}").format(name=asker.name),
        callback_data=JoinAnswer(member_id=asker.id, branch_id=branch.id),
    )
    return Send(text, buttons.as_markup())


async def joined(session: AsyncSession, payload: dict, member: Member) -> Notice:
    branch = await session.get(Branch, payload["branch_id"])
    if branch is None:
        return None
    return Send(
        _("🏘 Welcome to {branch}! You can help there now; your passbook stays as it is.").format(
            branch=escape(branch_name(branch))
        )
    )


RENDERERS: dict[Kind, Renderer] = {Kind.JOIN_ASKED: join_asked, Kind.JOINED: joined}
