"""A branch's public live screen (a community centre's TV): aggregates and thanks, no login.

It is reached by an unguessable token that a coordinator of the branch can rotate, which
retires the old address at once. It shows only this month's totals and the first names of
volunteers who helped this month and agreed to be thanked in public.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.coordinators import coordinator_of
from core.db import utcnow
from core.errors import NotFound
from core.ledger.tables import LedgerAccount, LedgerEntry, LedgerTransaction
from core.ledger.values import AccountKind, PostingKind
from core.models import Branch, LiveScreen, Member, Order
from core.stats import UnknownBranch, branch_figures, period_of, today_in

MAX_THANKED = 30


class UnknownMember(NotFound):
    pass


@dataclass(frozen=True, slots=True)
class ScreenFigures:
    branch_names: dict[str, str]
    minutes_this_month: int
    requests_done: int
    volunteers_active: int
    thanks: list[str]


def _new_token() -> str:
    return secrets.token_urlsafe(24)


async def screen_token(session: AsyncSession, branch_id: int) -> str:
    """The branch's current token, made on first use (the caller's transaction writes)."""
    screen = await session.get(LiveScreen, branch_id)
    if screen is None:
        if await session.get(Branch, branch_id) is None:
            raise UnknownBranch()
        screen = LiveScreen(branch_id=branch_id, token=_new_token())
        session.add(screen)
        await session.flush()
    return screen.token


async def rotate_screen_token(session: AsyncSession, branch_id: int, coordinator_id: int) -> str:
    """A new address for the branch's screen; the old one stops working."""
    await coordinator_of(session, coordinator_id, branch_id)
    await screen_token(session, branch_id)
    screen = await session.get(LiveScreen, branch_id)
    screen.token = _new_token()
    screen.rotated_at = utcnow()
    await session.flush()
    return screen.token


async def branch_of_token(session: AsyncSession, token: str) -> int | None:
    if not token or len(token) > 64:
        return None
    return await session.scalar(select(LiveScreen.branch_id).where(LiveScreen.token == token))


async def set_public_thanks(session: AsyncSession, member_id: int, agreed: bool) -> Member:
    """The member's own choice: may the branch's screen thank them by first name."""
    member = await session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        raise UnknownMember()
    member.thanked_in_public = agreed
    return member


def first_name(name: str) -> str:
    return name.split()[0] if name.split() else ""


async def _thanked(
    session: AsyncSession, branch_id: int, start: datetime, end: datetime
) -> list[str]:
    """First names of the opted-in volunteers paid for help in the branch in the period."""
    names = await session.scalars(
        select(Member.name)
        .distinct()
        .select_from(LedgerTransaction)
        .join(Order, Order.id == LedgerTransaction.order_id)
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerEntry.account_id)
        .join(Member, Member.id == LedgerAccount.owner_id)
        .where(
            LedgerTransaction.kind == PostingKind.SERVICE,
            LedgerTransaction.created_at >= start,
            LedgerTransaction.created_at < end,
            Order.branch_id == branch_id,
            LedgerAccount.kind == AccountKind.MEMBER,
            LedgerEntry.amount > 0,
            Member.thanked_in_public.is_(True),
            Member.erased_at.is_(None),
        )
        .order_by(Member.name)
        .limit(MAX_THANKED)
    )
    return [name for name in (first_name(n) for n in names) if name]


async def screen_figures(
    session: AsyncSession, branch_id: int, now: datetime | None = None
) -> ScreenFigures:
    branch = await session.get(Branch, branch_id)
    if branch is None:
        raise UnknownBranch()
    zone = ZoneInfo(branch.time_zone)
    month = period_of("month", today_in(zone, now))
    figures = await branch_figures(session, branch_id, month)
    start, end = month.bounds(zone)
    return ScreenFigures(
        branch_names=branch.names,
        minutes_this_month=figures.totals.minutes,
        requests_done=figures.totals.done,
        volunteers_active=figures.active_volunteers,
        thanks=await _thanked(session, branch_id, start, end),
    )
