"""Giving hours to family: a member moves some of their time credit to a linked relative.

Only between two members with an active family link (either side may give), only from
credit the giver has (never from an overdraft), and once per idempotency key: a second tap
on the same confirmation replays the first gift and moves nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members, notices, outbox, typed
from core.errors import N_, DomainError, InvalidInput
from core.ledger import Actor, InsufficientCredit, PostingKind
from core.models import FamilyLink, FamilyLinkStatus, Member

MAX_GIFT_MINUTES = 100 * 60


class NotFamily(DomainError):
    key = N_("You can give hours only to family you are linked with.")


class AmountInvalid(InvalidInput):
    key = N_("Please type the time in minutes (like 45) or hours and minutes (like 1:30).")


@dataclass(frozen=True, slots=True)
class Gift:
    giver: Member
    recipient: Member
    minutes: int
    giver_balance: int
    recipient_balance: int
    replayed: bool


async def relatives(session: AsyncSession, member_id: int) -> list[Member]:
    """Everyone the member has an active family link with, either way round, by name."""
    rows = await session.scalars(
        select(Member)
        .join(
            FamilyLink,
            or_(
                and_(FamilyLink.member_id == member_id, FamilyLink.relative_id == Member.id),
                and_(FamilyLink.relative_id == member_id, FamilyLink.member_id == Member.id),
            ),
        )
        .where(FamilyLink.status == FamilyLinkStatus.ACTIVE, Member.erased_at.is_(None))
        .order_by(Member.name, Member.id)
    )
    return list({member.id: member for member in rows}.values())


async def _linked(session: AsyncSession, one: int, other: int) -> bool:
    found = await session.scalar(
        select(FamilyLink.id).where(
            FamilyLink.status == FamilyLinkStatus.ACTIVE,
            or_(
                and_(FamilyLink.member_id == one, FamilyLink.relative_id == other),
                and_(FamilyLink.member_id == other, FamilyLink.relative_id == one),
            ),
        )
    )
    return found is not None


def parse_minutes(text: str) -> int:
    """What a member typed as an amount: "45" (minutes), "1:30" or "1.5h"/"2 h" (hours)."""
    cleaned = typed.plain(text).strip().lower()
    if match := re.fullmatch(r"(\d{1,3}):([0-5]\d)", cleaned):
        minutes = int(match[1]) * 60 + int(match[2])
    elif match := re.fullmatch(r"(\d{1,3}(?:[.,]\d{1,2})?)\s*(h|hours?|小时|시간)", cleaned):
        minutes = round(float(match[1].replace(",", ".")) * 60)
    elif match := re.fullmatch(r"(\d{1,4})\s*(m|min|minutes?|分钟|分|분)?", cleaned):
        minutes = int(match[1])
    else:
        raise AmountInvalid()
    if not 1 <= minutes <= MAX_GIFT_MINUTES:
        raise AmountInvalid()
    return minutes


async def give_hours(
    session: AsyncSession, giver_id: int, recipient_id: int, minutes: int, *, key: str
) -> Gift:
    """Move `minutes` from the giver to a linked relative, once for `key`.

    Runs in a savepoint: when it refuses (no link, not enough credit) nothing of it stays
    in the caller's transaction.
    """
    if not 1 <= minutes <= MAX_GIFT_MINUTES:
        raise AmountInvalid()
    giver = await members.get_member(session, giver_id)
    recipient = await members.get_member(session, recipient_id)
    if giver.id == recipient.id or not await _linked(session, giver.id, recipient.id):
        raise NotFamily()
    source = await ledger.find_member_account(session, giver.id)
    if source is None:
        raise InsufficientCredit(available=0, needed=minutes)
    async with session.begin_nested():
        destination = await ledger.open_member_account(
            session, recipient.id, recipient.branch_id or source.branch_id
        )
        posting = await ledger.transfer(
            session,
            source.id,
            destination.id,
            minutes,
            kind=PostingKind.GIFT,
            key=key,
            actor=Actor(member_id=giver.id),
        )
        given = await ledger.balance_of(session, source.id)
        if not posting.replayed and given.available < 0:
            # A gift comes from credit one has, not from the overdraft a branch allows.
            raise InsufficientCredit(available=max(0, given.available + minutes), needed=minutes)
    if not posting.replayed:
        await outbox.enqueue(
            session,
            key=f"gift:{key}",
            member_id=recipient.id,
            kind=notices.GiftReceived.KIND,
            payload=notices.GiftReceived(from_id=giver.id, minutes=minutes).payload(),
        )
    received = await ledger.balance_of(session, destination.id)
    return Gift(
        giver, recipient, minutes, given.balance, received.balance, replayed=posting.replayed
    )
