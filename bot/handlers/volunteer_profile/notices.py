"""The volunteer profile's notice: a coordinator has verified you."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.kit.screens import Notice, Renderer, Send
from core.models import Member
from core.notices import Kind


async def verified(session: AsyncSession, payload: dict, member: Member) -> Notice:
    return Send(
        _(
            "✅ A coordinator has verified you. From now on I will send you requests for help "
            "that fit your skills and free times. You can change them any time under "
            "“🤝 Volunteering”."
        )
    )


RENDERERS: dict[Kind, Renderer] = {Kind.VERIFIED: verified}
