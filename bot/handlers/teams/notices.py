"""The teams' notice: a message the leader (or a coordinator) wrote to the team."""

from __future__ import annotations

from html import escape

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kit.formatters import language
from bot.kit.screens import Notice, Renderer, Send
from core.catalog import localized
from core.models import Member
from core.notices import Kind


async def team_message(session: AsyncSession, payload: dict, member: Member) -> Notice:
    head = _("👥 {name} writes to your team {team}:").format(
        name=escape(payload.get("sender") or ""),
        team=escape(localized(payload.get("team") or {}, language())),
    )
    return Send(f"{head}\n\n{escape(payload.get('text') or '')}")


RENDERERS: dict[Kind, Renderer] = {Kind.TEAM_MESSAGE: team_message}
