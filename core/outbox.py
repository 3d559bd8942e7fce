"""The outbox: messages decided inside a transaction, delivered later by a rate-limited sender.

Enqueueing is idempotent by key. A sender claims due rows with a lease (on PostgreSQL
`FOR UPDATE SKIP LOCKED`, so several workers share the work); a row whose lease ran out
(its sender died) is claimed again. Sent rows keep the platform's message id, so a later
edit ("already taken") finds the message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.models import BlockedMember, OutboxMessage, OutboxStatus

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8
SENT_AS = "sent_as"


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    member_id: int,
    kind: str,
    payload: dict[str, Any] | None = None,
    not_before: datetime | None = None,
) -> int | None:
    """Add a message unless one with this key exists; returns the new row's id, else None."""
    values = {
        "key": key,
        "member_id": member_id,
        "kind": kind,
        "payload": payload or {},
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "not_before": not_before or utcnow(),
        "error": "",
        "created_at": utcnow(),
    }
    statement = (
        _insert(session)(OutboxMessage)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(OutboxMessage.id)
    )
    return (await session.execute(statement)).scalar()


async def by_key(session: AsyncSession, key: str) -> OutboxMessage | None:
    return await session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))


@dataclass(frozen=True)
class Claimed:
    id: int
    member_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int


def _due(now: datetime):
    return or_(
        and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.not_before <= now),
        and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
    )


async def has_due(session: AsyncSession, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return (await session.scalar(select(OutboxMessage.id).where(_due(now)).limit(1))) is not None


async def claim(
    session: AsyncSession, *, limit: int, now: datetime | None = None, lease: timedelta = LEASE
) -> list[Claimed]:
    """Take up to `limit` due messages for this worker, oldest first, under a lease."""
    now = now or utcnow()
    query = (
        select(OutboxMessage.id)
        .where(_due(now))
        .order_by(OutboxMessage.not_before, OutboxMessage.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(await session.scalars(query))
    if not ids:
        return []
    rows = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _due(now))
        .values(
            status=OutboxStatus.SENDING,
            lease_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(
            OutboxMessage.id,
            OutboxMessage.member_id,
            OutboxMessage.kind,
            OutboxMessage.payload,
            OutboxMessage.attempts,
        )
        .execution_options(synchronize_session=False)
    )
    claimed = [Claimed(*row) for row in rows]
    claimed.sort(key=lambda c: ids.index(c.id))
    return claimed


async def _finish(session: AsyncSession, outbox_id: int, **values: Any) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == outbox_id)
        .values(lease_until=None, **values)
        .execution_options(synchronize_session=False)
    )


async def mark_sent(
    session: AsyncSession,
    outbox_id: int,
    chat_id: str | None,
    message_id: int | None,
    *,
    sent_as: str | None = None,
) -> None:
    """Sent; `sent_as` records a form other than text (e.g. "voice"), which a later edit
    of the message must know (a voice note's words are its caption)."""
    values: dict[str, Any] = {}
    if sent_as is not None:
        payload = await session.scalar(
            select(OutboxMessage.payload).where(OutboxMessage.id == outbox_id)
        )
        values["payload"] = {**(payload or {}), SENT_AS: sent_as}
    await _finish(
        session,
        outbox_id,
        status=OutboxStatus.SENT,
        chat_id=chat_id,
        message_id=message_id,
        sent_at=utcnow(),
        **values,
    )


async def mark_skipped(session: AsyncSession, outbox_id: int, why: str = "") -> None:
    await _finish(session, outbox_id, status=OutboxStatus.SKIPPED, error=why[:300])


async def retry_later(
    session: AsyncSession, outbox_id: int, *, after: float, error: str, attempts: int
) -> None:
    """Back to pending after `after` seconds; given up (failed) after MAX_ATTEMPTS."""
    if attempts >= MAX_ATTEMPTS:
        await _finish(session, outbox_id, status=OutboxStatus.FAILED, error=error[:300])
        return
    await _finish(
        session,
        outbox_id,
        status=OutboxStatus.PENDING,
        not_before=utcnow() + timedelta(seconds=after),
        error=error[:300],
    )


async def throttled(session: AsyncSession, outbox_id: int, *, after: float) -> None:
    """Telegram's flood control: back to pending after `after` seconds. Not a failed
    attempt (the claim's count is taken back), so flood control never gives a message up."""
    await _finish(
        session,
        outbox_id,
        status=OutboxStatus.PENDING,
        not_before=utcnow() + timedelta(seconds=after),
        attempts=OutboxMessage.attempts - 1,
        error="429",
    )


async def mark_blocked(
    session: AsyncSession, outbox_id: int, member_id: int, platform: str
) -> None:
    """The member blocked the bot: this message is dropped, and they are not nudged again."""
    await _finish(session, outbox_id, status=OutboxStatus.BLOCKED, error="blocked")
    await block(session, member_id, platform)


def _insert(session: AsyncSession):
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def block(session: AsyncSession, member_id: int, platform: str) -> None:
    """Nothing more goes to the member (no nudges, no messages) until they come back."""
    await session.execute(
        _insert(session)(BlockedMember)
        .values(member_id=member_id, platform=platform, blocked_at=utcnow())
        .on_conflict_do_nothing(index_elements=["member_id"])
    )


async def unblock(session: AsyncSession, member_id: int) -> None:
    """The member is reachable again (they unblocked the bot, or wrote to it)."""
    if (
        await session.scalar(
            select(BlockedMember.member_id).where(BlockedMember.member_id == member_id)
        )
        is not None
    ):
        await session.execute(delete(BlockedMember).where(BlockedMember.member_id == member_id))
