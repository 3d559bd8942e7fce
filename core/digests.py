"""The weekly digest: a member opts in with one tap and chooses a local hour; once a week
(from Monday at that hour, in their branch's time zone) a short message goes out through
the outbox's broadcast lane. Its key names the member and the ISO week, so a sweep that runs
again, in another process or after a restart, queues nothing twice.

What it says is gathered when it is sent (`digest_of`): for a volunteer, the open requests
of the branch that fit their skills; for everyone, the branch's coming market days and the
needs of the survey planned or done in the last week.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import matching, outbox
from core.db import utcnow
from core.errors import InvalidInput
from core.market.tables import EventStatus, MarketEvent
from core.models import (
    Branch,
    Category,
    DigestSubscription,
    Member,
    Need,
    NeedStatus,
    Order,
    OrderStatus,
    OutboxMessage,
    VolunteerProfile,
)
from core.notices import Kind

HOURS = (8, 9, 10, 15, 18, 20)  # the hours offered; any 0–23 is accepted
SHOWN = 5
AHEAD = timedelta(days=14)


class HourInvalid(InvalidInput):
    pass


async def subscribe(session: AsyncSession, member_id: int, local_hour: int) -> None:
    if type(local_hour) is not int or not 0 <= local_hour <= 23:
        raise HourInvalid()
    row = await session.get(DigestSubscription, member_id)
    if row is None:
        session.add(DigestSubscription(member_id=member_id, local_hour=local_hour))
    else:
        row.local_hour = local_hour
    await session.flush()


async def unsubscribe(session: AsyncSession, member_id: int) -> None:
    await session.execute(
        delete(DigestSubscription).where(DigestSubscription.member_id == member_id)
    )


async def subscription_of(session: AsyncSession, member_id: int) -> DigestSubscription | None:
    return await session.get(DigestSubscription, member_id)


def week_key(member_id: int, local: datetime) -> str:
    year, week, _day = local.isocalendar()
    return f"digest:{member_id}:{year}-W{week:02d}"


def is_due(local: datetime, hour: int) -> bool:
    """From Monday at the chosen hour to the week's end (a missed Monday is caught up)."""
    return local.weekday() > 0 or local.hour >= hour


async def queue_due_digests(session: AsyncSession, now: datetime | None = None) -> int:
    """Queue this week's digest of every subscriber it is due for; returns how many."""
    now = now or utcnow()
    rows = await session.execute(
        select(DigestSubscription.member_id, DigestSubscription.local_hour, Branch.time_zone)
        .join(Member, Member.id == DigestSubscription.member_id)
        .join(Branch, Branch.id == Member.branch_id)
        .where(Member.erased_at.is_(None))
    )
    due: dict[str, int] = {}
    for member_id, hour, zone in rows:
        local = now.astimezone(ZoneInfo(zone))
        if is_due(local, hour):
            due[week_key(member_id, local)] = member_id
    if not due:
        return 0
    sent = set(await session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(due))))
    queued = 0
    for key, member_id in due.items():
        if key in sent:
            continue
        added = await outbox.enqueue(
            session,
            key=key,
            member_id=member_id,
            kind=Kind.DIGEST,
            payload={"week": key.rsplit(":", 1)[1]},
            priority=outbox.Priority.BROADCAST,
        )
        queued += added is not None
    return queued


@dataclass(frozen=True, slots=True)
class Digest:
    requests: list[tuple[dict[str, str], datetime | None]]  # category names, when
    market_days: list[tuple[dict[str, str], datetime]]  # names, starts at
    needs_moved: int  # planned or done in the last week
    time_zone: str


async def digest_of(session: AsyncSession, member: Member, now: datetime | None = None) -> Digest:
    now = now or utcnow()
    branch = await session.get(Branch, member.branch_id) if member.branch_id else None
    zone = branch.time_zone if branch else "UTC"
    requests: list[tuple[dict[str, str], datetime | None]] = []
    profile = await session.get(VolunteerProfile, member.id) if member.is_volunteer else None
    if profile is not None and branch is not None:
        rows = await session.execute(
            select(Order.category_id, Category.names, Order.window_start)
            .join(Category, Category.id == Order.category_id)
            .where(
                Order.branch_id == branch.id,
                Order.status == OrderStatus.OPEN,
                Order.beneficiary_id != member.id,
            )
            .order_by(Order.window_start, Order.id)
            .limit(100)
        )
        requests = [
            (names, when)
            for category_id, names, when in rows
            if profile.skills & matching.skill_bit(category_id)
        ][:SHOWN]
    market_days: list[tuple[dict[str, str], datetime]] = []
    moved = 0
    if branch is not None:
        market_days = [
            (names, starts)
            for names, starts in await session.execute(
                select(MarketEvent.names, MarketEvent.starts_at)
                .where(
                    MarketEvent.branch_id == branch.id,
                    MarketEvent.status == EventStatus.OPEN,
                    MarketEvent.starts_at >= now,
                    MarketEvent.starts_at < now + AHEAD,
                )
                .order_by(MarketEvent.starts_at)
                .limit(SHOWN)
            )
        ]
        moved = await session.scalar(
            select(func.count()).where(
                Need.branch_id == branch.id,
                Need.status.in_((NeedStatus.PLANNED, NeedStatus.DONE)),
                Need.updated_at >= now - timedelta(days=7),
            )
        )
    return Digest(requests, market_days, int(moved or 0), zone)
