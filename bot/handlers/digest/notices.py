"""The weekly digest's notice, gathered when it is sent."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.digest.views import digest_text
from bot.kit.screens import Notice, Renderer, Send
from core import digests
from core.models import Member
from core.notices import Kind


async def digest(session: AsyncSession, payload: dict, member: Member) -> Notice:
    if await digests.subscription_of(session, member.id or 0) is None:
        return None  # stopped since it was queued
    return Send(digest_text(await digests.digest_of(session, member)))


RENDERERS: dict[Kind, Renderer] = {Kind.DIGEST: digest}
