"""Every notice the outbox can hold, rendered by the feature that owns it.

Services put notices in the outbox, by `core.notices.Kind`, in the same transaction as what
they tell of; the sender renders them here, in the reader's language, when it sends them.
A new feature adds its `notices.RENDERERS` below.
"""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handlers.asking import notices as asking
from bot.handlers.branches import notices as branches
from bot.handlers.broadcasts import notices as broadcasts
from bot.handlers.classes import notices as classes
from bot.handlers.coordination import notices as coordination
from bot.handlers.digest import notices as digest
from bot.handlers.family import notices as family
from bot.handlers.helping import notices as helping
from bot.handlers.market import notices as market
from bot.handlers.needs import notices as needs
from bot.handlers.parking import notices as parking
from bot.handlers.passbook import notices as passbook
from bot.handlers.rewards import notices as rewards
from bot.handlers.teams import notices as teams
from bot.handlers.volunteer_profile import notices as volunteer_profile
from bot.kit.screens import Attachment, Edit, Notice, Renderer, Send
from core.models import Member, OutboxMessage
from core.notices import Kind

__all__ = ["RENDERERS", "Attachment", "Edit", "Send", "render"]

RENDERERS: dict[Kind, Renderer] = {
    **asking.RENDERERS,
    **helping.RENDERERS,
    **coordination.RENDERERS,
    **family.RENDERERS,
    **passbook.RENDERERS,
    **rewards.RENDERERS,
    **volunteer_profile.RENDERERS,
    **market.RENDERERS,
    **classes.RENDERERS,
    **parking.RENDERERS,
    **broadcasts.RENDERERS,
    **needs.RENDERERS,
    **teams.RENDERERS,
    **digest.RENDERERS,
    **branches.RENDERERS,
}


async def while_away(session: AsyncSession, payload: dict, member: Member) -> Notice:
    """What a member missed while they had blocked the bot (receipts, how a dispute was
    settled), as those messages read now, in one. It renders other kinds, so it lives
    beside the registry rather than in a feature."""
    said = []
    for outbox_id in payload.get("outbox_ids", []):
        row = await session.get(OutboxMessage, outbox_id)
        shown = await render(session, row, member) if row is not None else None
        if isinstance(shown, Send) and shown.text:
            said.append(shown.text)
    return Send("\n\n".join([_("📬 While you were away:"), *said]))


RENDERERS[Kind.WHILE_AWAY] = while_away


async def render(session: AsyncSession, row: OutboxMessage, member: Member) -> Notice:
    """The message an outbox row stands for, in the current locale; None: nothing to send."""
    try:
        renderer = RENDERERS[Kind(row.kind)]
    except ValueError:
        return None  # a kind this version does not know: nothing to say
    return await renderer(session, row.payload, member)
