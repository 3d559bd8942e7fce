from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.db import transaction, utcnow
from core.models import ProcessedUpdate
from core.updates import KEEP, forget_old_updates


async def test_only_records_older_than_telegram_could_redeliver_are_forgotten(sessions) -> None:
    now = utcnow()
    async with transaction(sessions, write=True) as session:
        session.add(ProcessedUpdate(update_id=1, processed_at=now - KEEP - timedelta(minutes=1)))
        session.add(ProcessedUpdate(update_id=2, processed_at=now - timedelta(hours=25)))
    async with transaction(sessions, write=True) as session:
        assert await forget_old_updates(session, now) == 1
    async with sessions() as session:
        assert list(await session.scalars(select(ProcessedUpdate.update_id))) == [2]
