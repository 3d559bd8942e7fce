"""A branch's members as its coordinators look them up: by name or the end of a phone number.

What a coordinator needs to help someone, not where they live: no address, and the phone
shown by its last four digits only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import typed
from core.ledger.tables import LedgerAccount
from core.ledger.values import AccountKind
from core.models import Member, Order, OrderStatus

MAX_FOUND = 30
MIN_PHONE_DIGITS = 4
MAX_QUERY = 64


@dataclass(frozen=True, slots=True)
class Found:
    member_id: int
    name: str
    is_resident: bool
    is_volunteer: bool
    is_coordinator: bool
    verified: bool
    sponsored: bool
    phone_end: str | None  # the last four digits
    balance: int | None  # minutes; None when no account was ever opened
    open_requests: int


# A query read as a phone number: digits with the spaces, dashes and brackets people type.
_PHONE_TYPED = re.compile(r"[0-9\s+()-]+")


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search_members(session: AsyncSession, branch_id: int, query: str) -> list[Found]:
    """Members of the branch whose name holds `query`, or whose phone ends with its digits
    (four or more); erased members are left out."""
    query = query.strip()[:MAX_QUERY]
    if not query:
        return []
    digits = typed.digits(query)
    matches = [func.lower(Member.name).contains(_like_escaped(query.lower()), escape="\\")]
    if len(digits) >= MIN_PHONE_DIGITS and _PHONE_TYPED.fullmatch(typed.plain(query)):
        matches.append(Member.phone.endswith(digits))
    open_requests = (
        select(func.count())
        .where(
            Order.beneficiary_id == Member.id,
            Order.status.in_((OrderStatus.OPEN, OrderStatus.ACCEPTED)),
        )
        .scalar_subquery()
    )
    rows = await session.execute(
        select(Member, LedgerAccount.balance, open_requests)
        .outerjoin(
            LedgerAccount,
            (LedgerAccount.kind == AccountKind.MEMBER) & (LedgerAccount.owner_id == Member.id),
        )
        .where(Member.branch_id == branch_id, Member.erased_at.is_(None), or_(*matches))
        .order_by(Member.name, Member.id)
        .limit(MAX_FOUND)
    )
    return [
        Found(
            member_id=member.id,
            name=member.name,
            is_resident=member.is_resident,
            is_volunteer=member.is_volunteer,
            is_coordinator=member.is_coordinator,
            verified=member.verified,
            sponsored=member.sponsored,
            phone_end=member.phone[-4:] if member.phone else None,
            balance=balance,
            open_requests=int(count),
        )
        for member, balance, count in rows
    ]
