"""The record of handled updates that makes a redelivered update harmless."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.models import ProcessedUpdate

# Telegram keeps an unconfirmed update for 24 hours; a record older than that guards nothing.
KEEP = timedelta(days=2)


async def forget_old_updates(
    session: AsyncSession, now: datetime | None = None, *, keep: timedelta = KEEP
) -> int:
    result = await session.execute(
        delete(ProcessedUpdate).where(ProcessedUpdate.processed_at < (now or utcnow()) - keep)
    )
    return result.rowcount or 0
