"""Whether a member can be reached: Telegram says when they block or unblock the bot.

A member the sender found blocked (403) or who blocked the bot gets nothing more, not even
nudges, until they come back: by unblocking the bot (here), or by simply writing to it or
tapping a button (`MemberMiddleware`).
"""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.enums import ChatMemberStatus
from aiogram.types import ChatMemberUpdated
from sqlalchemy.ext.asyncio import AsyncSession

from bot.middlewares import PLATFORM
from core import outbox
from core.logs import log_event
from core.models import Member

log = logging.getLogger("timebank.presence")
router = Router(name="presence")
GONE = (ChatMemberStatus.KICKED, ChatMemberStatus.LEFT)


@router.my_chat_member()
async def on_chat_status(
    event: ChatMemberUpdated, session: AsyncSession, member: Member | None
) -> None:
    if member is None:
        return
    if event.new_chat_member.status in GONE:
        await outbox.block(session, member.id, PLATFORM)
        log_event(log, "member blocked the bot")
    else:
        await outbox.unblock(session, member.id)
        log_event(log, "member unblocked the bot")
