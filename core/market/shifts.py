"""Volunteers' shifts at the units, and their credit after the market day.

A volunteer signs up (or a coordinator puts them down) for a shift within the day's
hours. After the day the coordinator confirms the list in one go, correcting what differs
(0 minutes: did not come); each shift then gets one posting from the branch's community
pool, keyed by the shift, so replaying the confirmation posts nothing more.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members, outbox
from core.coordinators import coordinator_of
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.logs import log_event
from core.market.events import EventClosed, open_event
from core.market.notices import ShiftCredited
from core.market.tables import EventStatus, MarketEvent, MarketShift, MarketUnit, ShiftStatus
from core.models import Member

log = logging.getLogger("timebank.market")

MAX_SHIFT_MINUTES = 12 * 60


class VolunteersOnly(DomainError):
    key = N_("Shifts are for volunteers. You can become one in your profile.")


class ShiftInvalid(InvalidInput):
    key = N_("Please choose a shift within the market day's hours.")


class NotOverYet(DomainError):
    key = N_("The market day is not over yet; the shifts can be confirmed afterwards.")


class CorrectionInvalid(InvalidInput):
    key = N_("Please send the minutes as a number from 0 to 720 for a shift on the list.")


@dataclass(frozen=True)
class ShiftLine:
    shift_id: int
    unit_id: int
    unit_names: dict[str, str]
    member_id: int
    volunteer_name: str
    starts_at: datetime
    ends_at: datetime
    status: str
    planned_minutes: int
    credited_minutes: int | None


def planned(shift: MarketShift) -> int:
    return int((shift.ends_at - shift.starts_at).total_seconds() // 60)


async def sign_up(
    session: AsyncSession,
    actor_id: int,
    unit_id: int,
    *,
    volunteer_id: int | None = None,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> int:
    """Sign up for a shift (the whole day unless times are given); a coordinator of the
    branch may put another volunteer down. Signing up twice returns the same shift."""
    actor = await members.get_member(session, actor_id)
    unit = await session.get(MarketUnit, unit_id)
    if unit is None:
        raise NotFound()
    event = await open_event(session, unit.event_id)
    if volunteer_id is not None and volunteer_id != actor_id:
        await coordinator_of(session, actor_id, event.branch_id)
        volunteer = await members.get_member(session, volunteer_id)
    else:
        volunteer = actor
    if not volunteer.is_volunteer or volunteer.branch_id != event.branch_id:
        raise VolunteersOnly()
    starts = starts_at or event.starts_at
    ends = ends_at or event.ends_at
    if not event.starts_at <= starts < ends <= event.ends_at:
        raise ShiftInvalid()
    found = await session.scalar(
        select(MarketShift).where(
            MarketShift.unit_id == unit.id,
            MarketShift.member_id == volunteer.id,
            MarketShift.starts_at == starts,
        )
    )
    if found is not None:
        if found.status == ShiftStatus.WITHDRAWN:
            found.status = ShiftStatus.SIGNED_UP
            found.ends_at = ends
            await session.flush()
        return found.id
    try:
        async with session.begin_nested():
            shift = MarketShift(
                unit_id=unit.id, member_id=volunteer.id, starts_at=starts, ends_at=ends
            )
            session.add(shift)
            await session.flush()
    except IntegrityError:
        return await sign_up(
            session, actor_id, unit_id, volunteer_id=volunteer_id, starts_at=starts, ends_at=ends
        )
    return shift.id


async def withdraw(session: AsyncSession, shift_id: int, actor_id: int) -> None:
    """The volunteer (or a coordinator) takes a shift off the list before it is credited."""
    shift = await session.get(MarketShift, shift_id, populate_existing=True)
    if shift is None:
        raise NotFound()
    unit = await session.get(MarketUnit, shift.unit_id)
    assert unit is not None
    if actor_id != shift.member_id:
        event = await session.get(MarketEvent, unit.event_id)
        assert event is not None
        await coordinator_of(session, actor_id, event.branch_id)
    moved = await session.execute(
        update(MarketShift)
        .where(MarketShift.id == shift_id, MarketShift.status == ShiftStatus.SIGNED_UP)
        .values(status=ShiftStatus.WITHDRAWN)
        .execution_options(synchronize_session=False)
    )
    if moved.rowcount != 1:
        raise EventClosed()


async def shift_list(session: AsyncSession, event_id: int, coordinator_id: int) -> list[ShiftLine]:
    """The event's shifts (not withdrawn), by unit and time: what the coordinator confirms."""
    event = await session.get(MarketEvent, event_id)
    if event is None:
        raise NotFound()
    await coordinator_of(session, coordinator_id, event.branch_id)
    rows = await session.execute(
        select(MarketShift, MarketUnit.names, Member.name)
        .join(MarketUnit, MarketUnit.id == MarketShift.unit_id)
        .join(Member, Member.id == MarketShift.member_id)
        .where(MarketUnit.event_id == event_id, MarketShift.status != ShiftStatus.WITHDRAWN)
        .order_by(MarketUnit.sort_order, MarketUnit.id, MarketShift.starts_at, MarketShift.id)
        .execution_options(populate_existing=True)
    )
    return [
        ShiftLine(
            shift_id=shift.id,
            unit_id=shift.unit_id,
            unit_names=names,
            member_id=shift.member_id,
            volunteer_name=name,
            starts_at=shift.starts_at,
            ends_at=shift.ends_at,
            status=shift.status,
            planned_minutes=planned(shift),
            credited_minutes=shift.minutes,
        )
        for shift, names, name in rows
    ]


@dataclass(frozen=True)
class Confirmation:
    credited: int
    absent: int
    minutes: int


async def confirm_shifts(
    session: AsyncSession,
    event_id: int,
    coordinator_id: int,
    *,
    corrections: Mapping[int, int] | None = None,
    now: datetime | None = None,
) -> Confirmation:
    """Credit every shift still waiting: its planned minutes, or the corrected ones (0 for
    a volunteer who did not come). Shifts already credited stay as they are, so replaying
    the confirmation changes nothing. Returns what this call credited."""
    now = now or utcnow()
    corrections = dict(corrections or {})
    event = await session.get(MarketEvent, event_id, with_for_update=True, populate_existing=True)
    if event is None:
        raise NotFound()
    coordinator = await coordinator_of(session, coordinator_id, event.branch_id)
    if event.status != EventStatus.OPEN:
        raise EventClosed()
    if event.ends_at > now:
        raise NotOverYet()
    lines = {line.shift_id: line for line in await shift_list(session, event_id, coordinator_id)}
    for shift_id, minutes in corrections.items():
        if (
            shift_id not in lines
            or type(minutes) is not int
            or not 0 <= minutes <= MAX_SHIFT_MINUTES
        ):
            raise CorrectionInvalid()
    pool = await ledger.pool_account(session, event.branch_id)
    actor = ledger.Actor(member_id=coordinator.id, is_coordinator=True)
    credited = absent = total = 0
    for line in lines.values():
        if line.status != ShiftStatus.SIGNED_UP:
            continue
        minutes = corrections.get(line.shift_id, line.planned_minutes)
        if minutes == 0:
            await _settle(session, line.shift_id, ShiftStatus.ABSENT, 0, None)
            absent += 1
            continue
        account = await ledger.open_member_account(session, line.member_id, event.branch_id)
        posting = await ledger.transfer(
            session,
            pool.id,
            account.id,
            minutes,
            kind=ledger.PostingKind.SERVICE,
            key=f"market-shift:{line.shift_id}",
            memo=f"market day {event.id}: shift {line.shift_id}",
            actor=actor,
        )
        await _settle(session, line.shift_id, ShiftStatus.CREDITED, minutes, posting.id)
        notice = ShiftCredited(line.shift_id, minutes)
        await outbox.enqueue(
            session,
            key=f"market_shift_credited:{line.shift_id}",
            member_id=line.member_id,
            kind=notice.KIND,
            payload=notice.payload(),
        )
        credited += 1
        total += minutes
    if event.shifts_confirmed_at is None:
        event.shifts_confirmed_at = now
    await session.flush()
    log_event(log, "market shifts confirmed", event_id=event.id, credited=credited, minutes=total)
    return Confirmation(credited, absent, total)


async def _settle(
    session: AsyncSession, shift_id: int, status: str, minutes: int, transaction_id: int | None
) -> None:
    await session.execute(
        update(MarketShift)
        .where(MarketShift.id == shift_id, MarketShift.status == ShiftStatus.SIGNED_UP)
        .values(status=status, minutes=minutes, transaction_id=transaction_id)
        .execution_options(synchronize_session=False)
    )


async def my_shifts(session: AsyncSession, member_id: int, event_id: int) -> list[MarketShift]:
    """The member's shifts at the market day's units, withdrawn ones left out."""
    return list(
        await session.scalars(
            select(MarketShift)
            .join(MarketUnit, MarketUnit.id == MarketShift.unit_id)
            .where(
                MarketUnit.event_id == event_id,
                MarketShift.member_id == member_id,
                MarketShift.status != ShiftStatus.WITHDRAWN,
            )
            .order_by(MarketShift.starts_at, MarketShift.id)
            .execution_options(populate_existing=True)
        )
    )
