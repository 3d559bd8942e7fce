"""The coordinator's order board: a branch's requests that need an eye, list by list.

Read-only; acting on a row goes through the chat's own services (`core.coordination`,
`core.helping`). No addresses: the board shows the area, as the chat's alerts do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from core.errors import InvalidInput
from core.models import (
    Category,
    Member,
    Neighbourhood,
    Order,
    OrderFunding,
    OrderProgress,
    OrderStatus,
)

LIMIT = 200


class BoardList(StrEnum):
    OPEN = "open"  # nobody has taken it yet
    WAITING = "waiting"  # the waves found nobody: a coordinator should ask someone
    SPONSORSHIP = "sponsorship"  # nobody can pay for it until someone covers it
    DISPUTED = "disputed"  # the resident said it did not happen as agreed
    UNCONFIRMED = "unconfirmed"  # done, not yet confirmed by the resident


class UnknownList(InvalidInput):
    pass


@dataclass(frozen=True, slots=True)
class BoardRow:
    order_id: int
    status: str
    funding: str
    category: dict[str, str]
    area: dict[str, str] | None
    beneficiary: str
    volunteer: str | None
    description: str
    estimated_minutes: int
    actual_minutes: int | None
    created_at: datetime
    window_start: datetime | None


def _condition(which: BoardList):
    open_ = Order.status == OrderStatus.OPEN
    if which is BoardList.OPEN:
        return open_
    if which is BoardList.WAITING:
        return and_(open_, OrderProgress.escalated_at.is_not(None))
    if which is BoardList.SPONSORSHIP:
        return and_(open_, Order.funding == OrderFunding.NEEDS_SPONSOR)
    done = Order.status == OrderStatus.DONE
    if which is BoardList.DISPUTED:
        return and_(done, OrderProgress.disputed_at.is_not(None))
    return and_(done, OrderProgress.disputed_at.is_(None))


async def board(session: AsyncSession, branch_id: int, which: str) -> list[BoardRow]:
    try:
        chosen = BoardList(which)
    except ValueError:
        raise UnknownList() from None
    beneficiary, volunteer = aliased(Member), aliased(Member)
    rows = await session.execute(
        select(Order, Category.names, Neighbourhood.names, beneficiary.name, volunteer.name)
        .join(Category, Category.id == Order.category_id)
        .join(beneficiary, beneficiary.id == Order.beneficiary_id)
        .outerjoin(volunteer, volunteer.id == Order.volunteer_id)
        .outerjoin(Neighbourhood, Neighbourhood.id == beneficiary.neighbourhood_id)
        .outerjoin(OrderProgress, OrderProgress.order_id == Order.id)
        .where(Order.branch_id == branch_id, _condition(chosen))
        .order_by(Order.created_at, Order.id)
        .limit(LIMIT)
    )
    return [
        BoardRow(
            order_id=order.id,
            status=order.status,
            funding=order.funding,
            category=category,
            area=area,
            beneficiary=who,
            volunteer=helper,
            description=order.description,
            estimated_minutes=order.estimated_minutes,
            actual_minutes=order.actual_minutes,
            created_at=order.created_at,
            window_start=order.window_start,
        )
        for order, category, area, who, helper in rows
    ]
