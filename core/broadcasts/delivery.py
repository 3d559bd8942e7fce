"""Sending a broadcast: expansion into one delivery per recipient, progress, report, history.

Expansion walks the audience in chunks by member id. Each chunk, in one transaction,
inserts the deliveries (unique per broadcast and member), their outbox messages (keyed
`broadcast:<id>:<member>`, in the low lane) and moves the broadcast's cursor: killed
halfway, the chunk rolls back whole and is done again, so nobody gets it twice and
nobody is skipped. The outbox's sender does the rest at Telegram's pace; a 403 there
marks the member blocked, which leaves them out of the next broadcasts.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql.expression import Exists

from core import outbox
from core.broadcasts.audience import Audience, candidates, reading_language
from core.broadcasts.compose import CANCELLED, show_progress
from core.broadcasts.notices import BroadcastNotice, BroadcastReportNotice
from core.broadcasts.tables import (
    Broadcast,
    BroadcastDelivery,
    BroadcastResponse,
    BroadcastStatus,
)
from core.config import Settings
from core.coordinators import coordinator_of
from core.db import utcnow
from core.errors import NotFound
from core.ledger import atomically
from core.logs import log_event
from core.models import Member, OutboxMessage, OutboxStatus

log = logging.getLogger("timebank.broadcasts")

CHUNK = 500
WAITING = (OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.HELD)


def sending_rate(settings: Settings) -> float:
    """Messages a second a broadcast may go at: Telegram's free 30 (less a margin), or the
    paid broadcasts' own rate when `allow_paid_broadcast` is on."""
    if settings.allow_paid_broadcast:
        return settings.paid_broadcast_rate
    return settings.send_rate


def _insert(session: AsyncSession):
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def expand_chunk(
    session: AsyncSession, broadcast_id: int, *, chunk: int = CHUNK, now: datetime | None = None
) -> int | None:
    """Expand the next chunk of a sending broadcast; returns the deliveries it made, None
    when there is nothing (more) to expand. Run each chunk in a write transaction of its own."""
    now = now or utcnow()
    broadcast = await session.get(
        Broadcast, broadcast_id, with_for_update=True, populate_existing=True
    )
    if (
        broadcast is None
        or broadcast.status != BroadcastStatus.SENDING
        or broadcast.expanded_at is not None
    ):
        return None
    audience = Audience.from_dict(broadcast.audience)
    found, last = await candidates(
        session, audience, after_id=broadcast.cursor, limit=chunk, reachable_only=True
    )
    rows = []
    for candidate in found:
        language = reading_language(
            candidate.language, broadcast.texts, broadcast.fallback_language
        )
        if language is not None:
            notice = BroadcastNotice(broadcast.id, language)
            rows.append(
                {
                    "key": f"broadcast:{broadcast.id}:{candidate.member_id}",
                    "member_id": candidate.member_id,
                    "kind": BroadcastNotice.KIND,
                    "payload": notice.payload(),
                    "priority": int(outbox.Priority.BROADCAST),
                    "status": OutboxStatus.PENDING,
                    "attempts": 0,
                    "not_before": now,
                    "error": "",
                    "created_at": now,
                }
            )
    made = 0
    if rows:
        fed = await session.execute(
            _insert(session)(OutboxMessage)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(OutboxMessage.id, OutboxMessage.member_id, OutboxMessage.payload),
            rows,
        )
        deliveries = [
            {
                "broadcast_id": broadcast.id,
                "member_id": member_id,
                "language": payload["language"],
                "outbox_id": outbox_id,
            }
            for outbox_id, member_id, payload in fed
        ]
        if deliveries:
            await session.execute(
                _insert(session)(BroadcastDelivery).on_conflict_do_nothing(
                    index_elements=["broadcast_id", "member_id"]
                ),
                deliveries,
            )
        made = len(deliveries)
    values: dict = {"total": Broadcast.total + made}
    if last is None:
        values["expanded_at"] = now
        log_event(log, "broadcast expanded", broadcast_id=broadcast.id)
    else:
        values["cursor"] = last
    await session.execute(
        update(Broadcast)
        .where(Broadcast.id == broadcast.id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return None if last is None else made


async def start_due(session: AsyncSession, now: datetime | None = None) -> int:
    """Scheduled broadcasts whose time has come start sending; returns how many."""
    now = now or utcnow()
    due = await session.execute(
        select(Broadcast.id, Broadcast.author_id).where(
            Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.send_at <= now
        )
    )
    started = 0
    for broadcast_id, author_id in list(due):
        moved = await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.SCHEDULED)
            .values(status=BroadcastStatus.SENDING, started_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:
            await show_progress(session, broadcast_id, author_id)
            started += 1
    return started


async def finish_done(session: AsyncSession, now: datetime | None = None) -> list[int]:
    """Broadcasts fully expanded with nothing left to send become done, and their authors
    get the final report. Returns their ids."""
    now = now or utcnow()
    expanded = list(
        await session.scalars(
            select(Broadcast.id).where(
                Broadcast.status == BroadcastStatus.SENDING, Broadcast.expanded_at.is_not(None)
            )
        )
    )
    done = []
    for broadcast_id in expanded:
        waiting = await session.scalar(
            select(func.count())
            .select_from(BroadcastDelivery)
            .join(OutboxMessage, OutboxMessage.id == BroadcastDelivery.outbox_id)
            .where(
                BroadcastDelivery.broadcast_id == broadcast_id, OutboxMessage.status.in_(WAITING)
            )
        )
        if waiting:
            continue
        moved = await session.execute(
            update(Broadcast)
            .where(Broadcast.id == broadcast_id, Broadcast.status == BroadcastStatus.SENDING)
            .values(status=BroadcastStatus.DONE, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount != 1:
            continue
        author_id = await session.scalar(
            select(Broadcast.author_id).where(Broadcast.id == broadcast_id)
        )
        notice = BroadcastReportNotice(broadcast_id)
        await outbox.enqueue(
            session,
            key=f"broadcast_report:{broadcast_id}",
            member_id=author_id,
            kind=notice.KIND,
            payload=notice.payload(),
        )
        done.append(broadcast_id)
        log_event(log, "broadcast done", broadcast_id=broadcast_id)
    return done


def _busy(now: datetime) -> Exists:
    """A broadcast is due to start, or still sending."""
    return exists().where(
        or_(
            and_(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.send_at <= now),
            Broadcast.status == BroadcastStatus.SENDING,
        )
    )


async def sweep(sessions: async_sessionmaker[AsyncSession], now: datetime | None = None) -> int:
    """The scheduler's job: start what is due, expand every sending broadcast to the end
    (a transaction per chunk), mark finished ones done. Returns the deliveries made.
    Safe to run in several processes at once, and again after a crash."""
    now = now or utcnow()
    async with sessions() as session:
        # Most rounds find nothing to do: they take no write lock (SQLite has one).
        if not await session.scalar(select(_busy(now))):
            return 0
    await atomically(sessions, lambda s: start_due(s, now))
    async with sessions() as session:
        sending = list(
            await session.scalars(
                select(Broadcast.id).where(
                    Broadcast.status == BroadcastStatus.SENDING, Broadcast.expanded_at.is_(None)
                )
            )
        )
    made = 0
    for broadcast_id in sending:
        while (
            step := await atomically(
                sessions,
                lambda s, broadcast_id=broadcast_id: expand_chunk(s, broadcast_id, now=now),
            )
        ) is not None:
            made += step
    await atomically(sessions, lambda s: finish_done(s, now))
    return made


# A message's outcome: its outbox status, but "cancelled" for one skipped by a cancel.
_REASON = case((OutboxMessage.error == CANCELLED, CANCELLED), else_=OutboxMessage.status).label(
    "reason"
)


@dataclass(frozen=True)
class LanguageFigures:
    total: int = 0
    sent: int = 0
    not_delivered: int = 0


@dataclass(frozen=True)
class Progress:
    """Sent of total, what could not be delivered and why (blocked: the bot was blocked
    or the account deleted; failed: gave up after retries; cancelled; skipped: no chat, or
    Telegram refused the message),
    what is still to go and about how long that takes."""

    broadcast_id: int
    status: str
    total: int
    sent: int
    waiting: int
    not_delivered: dict[str, int] = field(default_factory=dict)
    by_language: dict[str, LanguageFigures] = field(default_factory=dict)
    eta_seconds: int | None = None
    coming: int = 0
    expanded: bool = False

    @property
    def done(self) -> bool:
        return self.status in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED)


async def progress(
    session: AsyncSession, broadcast_id: int, coordinator_id: int, *, rate: float = 29.0
) -> Progress:
    """The figures of the progress message and of the final report."""
    broadcast = await session.get(Broadcast, broadcast_id, populate_existing=True)
    if broadcast is None:
        raise NotFound()
    await coordinator_of(session, coordinator_id, broadcast.branch_id)
    rows = await session.execute(
        select(BroadcastDelivery.language, _REASON, func.count())
        .join(OutboxMessage, OutboxMessage.id == BroadcastDelivery.outbox_id)
        .where(BroadcastDelivery.broadcast_id == broadcast_id)
        .group_by(BroadcastDelivery.language, _REASON)
    )
    sent = waiting = total = 0
    not_delivered: dict[str, int] = {}
    languages: dict[str, list[int]] = {}
    for language, status, number in rows:
        figures = languages.setdefault(language, [0, 0, 0])
        figures[0] += number
        total += number
        if status == OutboxStatus.SENT:
            sent += number
            figures[1] += number
        elif status in WAITING:
            waiting += number
        else:
            not_delivered[status] = not_delivered.get(status, 0) + number
            figures[2] += number
    eta = math.ceil(waiting / rate) if waiting and broadcast.status == "sending" else None
    return Progress(
        broadcast_id=broadcast.id,
        status=broadcast.status,
        total=total,
        sent=sent,
        waiting=waiting,
        not_delivered=not_delivered,
        by_language={k: LanguageFigures(*v) for k, v in sorted(languages.items())},
        eta_seconds=eta,
        coming=await _coming(session, broadcast_id),
        expanded=broadcast.expanded_at is not None,
    )


async def _coming(session: AsyncSession, broadcast_id: int) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(BroadcastResponse)
            .where(BroadcastResponse.broadcast_id == broadcast_id)
        )
        or 0
    )


async def say_coming(session: AsyncSession, broadcast_id: int, member_id: int) -> bool:
    """The member tapped "I'll come"; True the first time, False for a repeated tap.
    Only a recipient of the broadcast may (a forged button changes nothing)."""
    received = await session.scalar(
        select(BroadcastDelivery.id).where(
            BroadcastDelivery.broadcast_id == broadcast_id,
            BroadcastDelivery.member_id == member_id,
        )
    )
    if received is None:
        raise NotFound()
    added = await session.execute(
        _insert(session)(BroadcastResponse)
        .values(broadcast_id=broadcast_id, member_id=member_id, at=utcnow())
        .on_conflict_do_nothing(index_elements=["broadcast_id", "member_id"])
    )
    return (added.rowcount or 0) == 1


@dataclass(frozen=True)
class HistoryLine:
    broadcast_id: int
    author_name: str
    created_at: datetime
    started_at: datetime | None
    status: str
    languages: tuple[str, ...]
    opening: str
    total: int
    sent: int
    coming: int
    texts: dict[str, str] = field(default_factory=dict)


async def history(
    session: AsyncSession, branch_id: int, coordinator_id: int, *, limit: int = 20
) -> list[HistoryLine]:
    """The branch's broadcasts, newest first: who, what (its opening words), when, how many."""
    await coordinator_of(session, coordinator_id, branch_id)
    sent_count = (
        select(func.count())
        .select_from(BroadcastDelivery)
        .join(OutboxMessage, OutboxMessage.id == BroadcastDelivery.outbox_id)
        .where(
            BroadcastDelivery.broadcast_id == Broadcast.id,
            OutboxMessage.status == OutboxStatus.SENT,
        )
        .scalar_subquery()
    )
    coming = (
        select(func.count())
        .select_from(BroadcastResponse)
        .where(BroadcastResponse.broadcast_id == Broadcast.id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Broadcast, Member.name, sent_count, coming)
        .join(Member, Member.id == Broadcast.author_id)
        .where(Broadcast.branch_id == branch_id)
        .order_by(Broadcast.created_at.desc(), Broadcast.id.desc())
        .limit(limit)
    )
    lines = []
    for broadcast, author, sent, taps in rows:
        first = next(iter(broadcast.texts.values()), "")
        lines.append(
            HistoryLine(
                broadcast_id=broadcast.id,
                author_name=author,
                created_at=broadcast.created_at,
                started_at=broadcast.started_at,
                status=broadcast.status,
                languages=tuple(broadcast.texts),
                opening=" ".join(first.split())[:60],
                total=broadcast.total,
                sent=sent or 0,
                coming=taps or 0,
                texts=dict(broadcast.texts),
            )
        )
    return lines
