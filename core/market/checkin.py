"""At the venue: a unit's volunteer (or a coordinator of the branch) checks people in by
the QR's token or the short number, or records a walk-in with one tap.

Checking in is idempotent: a second scan says "already checked in" and changes nothing.
A stranger, a volunteer of another unit, another branch's coordinator, or a code of
another market day gets a kind refusal and changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import coordinators, members
from core.db import utcnow
from core.errors import N_, DomainError, NotFound
from core.logs import log_event
from core.market.bookings import next_number
from core.market.events import open_event
from core.market.tables import (
    BookingStatus,
    MarketBooking,
    MarketShift,
    MarketUnit,
    ShiftStatus,
)
from core.models import Member

log = logging.getLogger("timebank.market")

STAFFING = (ShiftStatus.SIGNED_UP, ShiftStatus.CREDITED)


class NotStaff(DomainError):
    key = N_("Only the volunteers of this stand or a coordinator can check people in.")


class UnknownCode(NotFound):
    key = N_("I could not find this booking at this market day. Please check the number.")


class NotCheckable(DomainError):
    key = N_("This booking is cancelled or still on the waiting list.")


@dataclass(frozen=True)
class CheckIn:
    booking_id: int
    number: int
    unit_id: int
    resident_name: str
    already: bool


async def may_check_in(session: AsyncSession, member: Member, unit: MarketUnit) -> bool:
    """A coordinator of the event's branch, or a volunteer with a shift at this unit."""
    event = await open_event(session, unit.event_id)
    if await coordinators.coordinates(session, member, event.branch_id):
        return True
    shift = await session.scalar(
        select(MarketShift.id).where(
            MarketShift.unit_id == unit.id,
            MarketShift.member_id == member.id,
            MarketShift.status.in_(STAFFING),
        )
    )
    return shift is not None


async def _checker(session: AsyncSession, checker_id: int, unit_id: int) -> MarketUnit:
    checker = await members.get_member(session, checker_id)
    unit = await session.get(MarketUnit, unit_id)
    if unit is None:
        raise UnknownCode()
    if not await may_check_in(session, checker, unit):
        raise NotStaff()
    return unit


async def check_in(
    session: AsyncSession,
    checker_id: int,
    *,
    token: str | None = None,
    number: int | None = None,
    event_id: int | None = None,
    now: datetime | None = None,
) -> CheckIn:
    """Check a booking in by its token (the QR) or by its number within `event_id`.

    With a token, `event_id` (when given) must be the booking's event: a QR of another
    market day is refused.
    """
    now = now or utcnow()
    if token is not None:
        condition = MarketBooking.token == token
    elif number is not None and event_id is not None:
        condition = (MarketBooking.event_id == event_id) & (MarketBooking.number == number)
    else:
        raise UnknownCode()
    booking = await session.scalar(
        select(MarketBooking)
        .where(condition, MarketBooking.walk_in.is_(False))
        .execution_options(populate_existing=True)
    )
    if booking is None or (event_id is not None and booking.event_id != event_id):
        raise UnknownCode()
    await _checker(session, checker_id, booking.unit_id)
    resident = await session.get(Member, booking.member_id) if booking.member_id else None
    name = resident.name if resident is not None else ""
    if booking.status == BookingStatus.CHECKED_IN:
        return CheckIn(booking.id, booking.number, booking.unit_id, name, already=True)
    moved = await session.execute(
        update(MarketBooking)
        .where(MarketBooking.id == booking.id, MarketBooking.status == BookingStatus.BOOKED)
        .values(status=BookingStatus.CHECKED_IN, checked_in_at=now, checked_in_by_id=checker_id)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        await session.refresh(booking)
        if booking.status == BookingStatus.CHECKED_IN:
            return CheckIn(booking.id, booking.number, booking.unit_id, name, already=True)
        raise NotCheckable()
    log_event(log, "market check-in", booking_id=booking.id, by=checker_id)
    return CheckIn(booking.id, booking.number, booking.unit_id, name, already=False)


async def record_walk_in(
    session: AsyncSession,
    checker_id: int,
    unit_id: int,
    *,
    key: str,
    now: datetime | None = None,
) -> int:
    """Someone served without a booking; one tap, one walk-in (the key). Returns its number."""
    now = now or utcnow()
    found = await session.scalar(select(MarketBooking).where(MarketBooking.key == key))
    if found is not None:
        if found.checked_in_by_id != checker_id:
            raise NotFound()
        return found.number
    unit = await _checker(session, checker_id, unit_id)
    walk_in = MarketBooking(
        event_id=unit.event_id,
        unit_id=unit.id,
        number=await next_number(session, unit.event_id),
        status=BookingStatus.CHECKED_IN,
        walk_in=True,
        key=key,
        created_at=now,
        checked_in_at=now,
        checked_in_by_id=checker_id,
    )
    session.add(walk_in)
    await session.flush()
    return walk_in.number
