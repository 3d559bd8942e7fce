"""Retention: what the bot keeps only for a while, forgotten by a scheduled sweep.

Each rule deletes (or clears) rows older than its period in settings, so running it again
finds nothing more to do. A rule never touches what a request still open may need: a
message about a request not yet ended stays, whatever its age, because editing it later
(a nudge marked taken, a coordinator's alert marked settled) looks it up.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, exists, update
from sqlalchemy.ext.asyncio import AsyncSession

from core.config import Settings
from core.db import utcnow
from core.models import (
    ConversationState,
    Order,
    OrderStatus,
    OutboxMessage,
    OutboxStatus,
)
from core.updates import forget_old_updates

ENDED = (
    OrderStatus.CONFIRMED,
    OrderStatus.NOT_CREDITED,
    OrderStatus.CANCELLED,
    OrderStatus.EXPIRED,
)
# A message to a member who blocked the bot waits for them to come back; it is not finished.
FINISHED_MESSAGES = (OutboxStatus.SENT, OutboxStatus.SKIPPED, OutboxStatus.FAILED)


@dataclass(frozen=True, slots=True)
class Periods:
    processed_updates: timedelta = timedelta(days=2)
    sent_messages: timedelta = timedelta(days=30)
    conversations: timedelta = timedelta(days=30)
    voice: timedelta = timedelta(days=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> Periods:
        return cls(
            processed_updates=timedelta(days=settings.keep_processed_updates_days),
            sent_messages=timedelta(days=settings.keep_sent_messages_days),
            conversations=timedelta(days=settings.keep_conversations_days),
            voice=timedelta(days=settings.keep_voice_days),
        )


@dataclass(frozen=True, slots=True)
class Forgotten:
    processed_updates: int = 0
    sent_messages: int = 0
    conversations: int = 0
    voice_notes: int = 0

    @property
    def anything(self) -> bool:
        return any(astuple(self))


async def _forget_sent_messages(session: AsyncSession, before: datetime) -> int:
    about_an_open_request = exists().where(
        Order.id == OutboxMessage.payload["order_id"].as_integer(),
        Order.status.not_in(ENDED),
    )
    result = await session.execute(
        delete(OutboxMessage).where(
            OutboxMessage.status.in_(FINISHED_MESSAGES),
            OutboxMessage.created_at < before,
            ~about_an_open_request,
        )
    )
    return result.rowcount or 0


async def _forget_conversations(session: AsyncSession, before: datetime) -> int:
    result = await session.execute(
        delete(ConversationState).where(ConversationState.updated_at < before)
    )
    return result.rowcount or 0


async def _forget_voice_notes(session: AsyncSession, before: datetime) -> int:
    """The voice note's file id, the only way to play it again; the request's text stays."""
    result = await session.execute(
        update(Order)
        .where(
            and_(
                Order.voice_file_id.is_not(None),
                Order.status.in_(ENDED),
                Order.updated_at < before,
            )
        )
        .values(voice_file_id=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


async def forget_expired(
    session: AsyncSession, periods: Periods, now: datetime | None = None
) -> Forgotten:
    """One retention pass, in the caller's write transaction. Safe to repeat at any time."""
    now = now or utcnow()
    return Forgotten(
        processed_updates=await forget_old_updates(session, now, keep=periods.processed_updates),
        sent_messages=await _forget_sent_messages(session, now - periods.sent_messages),
        conversations=await _forget_conversations(session, now - periods.conversations),
        voice_notes=await _forget_voice_notes(session, now - periods.voice),
    )
