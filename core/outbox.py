"""The outbox: messages decided inside a transaction, delivered later by a rate-limited sender.

Enqueueing is idempotent by key. A sender reads due rows in their lanes' order and claims
each one (under a lease) only as its request leaves, then records Telegram's answer; a
claim whose lease ran out (its sender was killed in between) is settled as sent,
unconfirmed, not sent again. Sent rows keep the platform's message id, so a later edit
("already taken") finds the message.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import utcnow
from core.models import BlockedMember, OutboxMessage, OutboxStatus
from core.notices import Kind

# The outbox's statements on its table (SQLAlchemy Core): the hot ones (a claim per
# message sent) skip the ORM's bulk UPDATE and INSERT machinery, which they never needed.
_table = OutboxMessage.__table__

# A claimed message's request and its record take well under this (the sender's calls
# time out after `bot.sender.TIMEOUT`); a claim older than it belongs to a dead sender.
LEASE = timedelta(seconds=30)
# A sent message whose answer was never recorded (see `settle_unconfirmed`).
UNCONFIRMED = "unconfirmed"
MAX_ATTEMPTS = 8
SENT_AS = "sent_as"
# What a member who blocked the bot must not miss: kept, and summarised once on their return.
KEPT_FOR_RETURN = (Kind.RECEIPT, Kind.SETTLED)


class Priority(IntEnum):
    """The outbox's lanes: a due message of a lower lane goes first."""

    NOTICE = 0  # replies, nudges, notices: someone is waiting for them
    BROADCAST = 10  # announcements to many: they fill the room the others leave


async def enqueue(
    session: AsyncSession,
    *,
    key: str,
    member_id: int,
    kind: str,
    payload: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    priority: Priority = Priority.NOTICE,
) -> int | None:
    """Add a message unless one with this key exists; returns the new row's id, else None."""
    message = Message(key, member_id, kind, payload or {})
    added = await enqueue_many(session, [message], priority=priority, not_before=not_before)
    return added.get(key)


@dataclass(frozen=True)
class Message:
    """One message for `enqueue_many`."""

    key: str
    member_id: int
    kind: str
    payload: dict[str, Any]


async def enqueue_many(
    session: AsyncSession,
    messages: Sequence[Message],
    *,
    priority: Priority = Priority.NOTICE,
    not_before: datetime | None = None,
) -> dict[str, int]:
    """`enqueue` for several messages in one statement: each added unless one with its key
    exists. Returns the new rows' ids by key (a key that existed is not in it)."""
    if not messages:
        return {}
    now = utcnow()
    rows = [
        {
            "key": message.key,
            "member_id": message.member_id,
            "kind": message.kind,
            "payload": message.payload,
            "priority": int(priority),
            "status": OutboxStatus.PENDING,
            "attempts": 0,
            "not_before": not_before or now,
            "error": "",
            "created_at": now,
        }
        for message in messages
    ]
    await session.flush()  # a Core statement does not autoflush: what it refers to goes first
    statement = (
        _insert(session)(_table)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(_table.c.key, _table.c.id)
    )
    return {key: outbox_id for key, outbox_id in await session.execute(statement)}


async def by_key(session: AsyncSession, key: str) -> OutboxMessage | None:
    return await session.scalar(select(OutboxMessage).where(OutboxMessage.key == key))


@dataclass(frozen=True)
class Due:
    """A message due now, read but not claimed: it is claimed as it leaves (`claim`)."""

    id: int
    member_id: int
    kind: str
    payload: dict[str, Any]
    attempts: int  # before this one


async def due(
    session: AsyncSession,
    *,
    limit: int,
    priority: Priority | None = None,
    skip: Collection[int] = (),
    now: datetime | None = None,
) -> list[Due]:
    """Up to `limit` messages due now in the order they go (of one lane, or of all: the
    lowest lane first), then the oldest, leaving out `skip` (those on their way already)."""
    now = now or utcnow()
    query = (
        select(
            _table.c.id,
            _table.c.member_id,
            _table.c.kind,
            _table.c.payload,
            _table.c.attempts,
        )
        .where(_table.c.status == OutboxStatus.PENDING, _table.c.not_before <= now)
        .order_by(_table.c.priority, _table.c.not_before, _table.c.id)
        .limit(limit)
    )
    if priority is not None:
        query = query.where(_table.c.priority == int(priority))
    if skip:
        query = query.where(_table.c.id.not_in(list(skip)))
    return [Due(*row) for row in await session.execute(query)]


async def claim(
    session: AsyncSession, outbox_id: int, *, now: datetime | None = None, lease: timedelta = LEASE
) -> bool:
    """Take a due message as its request is about to leave; False if it is not due any
    more (taken by another worker, sent, called off or paused meanwhile). Until it is
    recorded, the claim says that its request may have left (see `settle_unconfirmed`)."""
    now = now or utcnow()
    claimed = await session.execute(
        update(_table)
        .where(
            _table.c.id == outbox_id,
            _table.c.status == OutboxStatus.PENDING,
            _table.c.not_before <= now,
        )
        .values(
            status=OutboxStatus.SENDING,
            lease_until=now + lease,
            attempts=_table.c.attempts + 1,
        )
    )
    return claimed.rowcount == 1


async def settle_unconfirmed(session: AsyncSession, now: datetime | None = None) -> list[int]:
    """Messages claimed by a sender that died before it recorded Telegram's answer (their
    lease ran out) count as sent, unconfirmed: their request had left, and Telegram
    carries out a request it received even when the caller is gone, so sending them again
    would most likely make a duplicate. Returns their ids."""
    now = now or utcnow()
    rows = await session.execute(
        update(_table)
        .where(_table.c.status == OutboxStatus.SENDING, _table.c.lease_until < now)
        .values(status=OutboxStatus.SENT, lease_until=None, sent_at=now, error=UNCONFIRMED)
        .returning(_table.c.id)
    )
    return list(rows.scalars())


async def _finish(session: AsyncSession, outbox_id: int, **values: Any) -> None:
    await session.execute(
        update(_table).where(_table.c.id == outbox_id).values(lease_until=None, **values)
    )


@dataclass(frozen=True)
class Sent:
    """A message Telegram took, to be recorded (`mark_sent_many`)."""

    id: int
    chat_id: str | None
    message_id: int | None
    sent_as: str | None = None


async def mark_sent_many(session: AsyncSession, sent: Sequence[Sent]) -> None:
    """Sent messages recorded together: an UPDATE by primary key for each, sent as one
    batch. `sent_as` records a form other than text (e.g. "voice"), which a later edit of
    the message must know (a voice note's words are its caption)."""
    if not sent:
        return
    forms = {one.id: one.sent_as for one in sent if one.sent_as is not None}
    payloads: dict[int, dict[str, Any] | None] = {}
    if forms:
        found = await session.execute(
            select(OutboxMessage.id, OutboxMessage.payload).where(OutboxMessage.id.in_(forms))
        )
        payloads = {outbox_id: payload for outbox_id, payload in found}
    now = utcnow()
    await session.execute(
        update(OutboxMessage),
        [
            {
                "id": one.id,
                "status": OutboxStatus.SENT,
                "chat_id": one.chat_id,
                "message_id": one.message_id,
                "sent_at": now,
                "lease_until": None,
                **(
                    {"payload": {**(payloads.get(one.id) or {}), SENT_AS: forms[one.id]}}
                    if one.id in forms
                    else {}
                ),
            }
            for one in sent
        ],
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
        attempts=_table.c.attempts - 1,
        error="429",
    )


async def release(session: AsyncSession, outbox_id: int) -> None:
    """Give a claimed message back unsent (its sender stopped before its request left):
    due again at once, and not a failed attempt."""
    await session.execute(
        update(_table)
        .where(_table.c.id == outbox_id, _table.c.status == OutboxStatus.SENDING)
        .values(status=OutboxStatus.PENDING, lease_until=None, attempts=_table.c.attempts - 1)
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


async def mark_away(session: AsyncSession, outbox_id: int) -> None:
    """Not sent, the member having blocked the bot; kept for the summary on their return."""
    await _finish(session, outbox_id, status=OutboxStatus.BLOCKED, error="away")


async def unblock(session: AsyncSession, member_id: int) -> None:
    """The member is reachable again (they unblocked the bot, or wrote to it); what they
    must not miss from the time away comes in one message."""
    if (
        await session.scalar(
            select(BlockedMember.member_id).where(BlockedMember.member_id == member_id)
        )
        is not None
    ):
        await session.execute(delete(BlockedMember).where(BlockedMember.member_id == member_id))
        await _summarise_missed(session, member_id)


async def _summarise_missed(session: AsyncSession, member_id: int) -> None:
    missed = list(
        await session.scalars(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.member_id == member_id,
                OutboxMessage.status == OutboxStatus.BLOCKED,
                OutboxMessage.kind.in_(KEPT_FOR_RETURN),
            )
            .order_by(OutboxMessage.id)
        )
    )
    if not missed:
        return
    await enqueue(
        session,
        key=f"{Kind.WHILE_AWAY}:{member_id}:{missed[-1]}",
        member_id=member_id,
        kind=Kind.WHILE_AWAY,
        payload={"outbox_ids": missed},
    )
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(missed))
        .values(status=OutboxStatus.SKIPPED, error="summarised")
    )
