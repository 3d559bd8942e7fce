"""Booking a unit's slot: for oneself or for a resident without a phone; the waiting list;
cancelling, which hands the place to the first one waiting; reminders.

A place is taken by one conditional UPDATE (`booked = booked + 1 WHERE booked <
capacity`), so of any number of residents racing for the last places, exactly as many as
there are places get one, in any number of processes; the others wait in line. Booking is
idempotent by the caller's key (one tap, one booking).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import coordinators, family, members, outbox
from core.db import utcnow
from core.errors import N_, DomainError, NotFound
from core.logs import log_event
from core.market.events import open_event, reachable
from core.market.notices import PlaceFreed, Reminder
from core.market.tables import (
    BookingStatus,
    EventStatus,
    MarketBooking,
    MarketEvent,
    MarketSlot,
    MarketUnit,
)
from core.models import Member

log = logging.getLogger("timebank.market")

DAY_AHEAD = timedelta(hours=24)
HOUR_AHEAD = timedelta(hours=1)
ACTIVE = (BookingStatus.BOOKED, BookingStatus.WAITING)


class NotForYou(NotFound):
    key = N_("Sorry, this booking is not yours.")


class AlreadyBooked(DomainError):
    key = N_("You already have booking number {number} at this stand.")


class SlotOver(DomainError):
    key = N_("That time has already passed. Please choose a later one.")


class CannotBookFor(DomainError):
    key = N_("You can book only for yourself or for a relative who asked you to.")


class NotActive(DomainError):
    key = N_("This booking was already cancelled.")


@dataclass(frozen=True)
class Booking:
    """A booking as its holder sees it: `waiting_position` is 1 for the first in line."""

    booking_id: int
    event_id: int
    unit_id: int
    slot_id: int | None
    member_id: int | None
    number: int
    token: str | None
    status: str
    starts_at: datetime | None
    waiting_position: int | None = None


async def next_number(session: AsyncSession, event_id: int) -> int:
    """The event's next short booking number (1, 2, 3…), safe under concurrency."""
    number = await session.scalar(
        update(MarketEvent)
        .where(MarketEvent.id == event_id)
        .values(last_number=MarketEvent.last_number + 1)
        .returning(MarketEvent.last_number)
        .execution_options(synchronize_session=False)
    )
    assert number is not None
    return number


async def take_place(session: AsyncSession, slot_id: int) -> bool:
    taken = await session.execute(
        update(MarketSlot)
        .where(MarketSlot.id == slot_id, MarketSlot.booked < MarketSlot.capacity)
        .values(booked=MarketSlot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1


async def _give_back(session: AsyncSession, slot_id: int) -> None:
    await session.execute(
        update(MarketSlot)
        .where(MarketSlot.id == slot_id, MarketSlot.booked > 0)
        .values(booked=MarketSlot.booked - 1)
        .execution_options(synchronize_session=False)
    )


async def _position(session: AsyncSession, booking: MarketBooking) -> int | None:
    if booking.status != BookingStatus.WAITING:
        return None
    ahead = await session.scalar(
        select(func.count())
        .select_from(MarketBooking)
        .where(
            MarketBooking.slot_id == booking.slot_id,
            MarketBooking.status == BookingStatus.WAITING,
            MarketBooking.id < booking.id,
        )
    )
    return (ahead or 0) + 1


async def _view(session: AsyncSession, booking: MarketBooking) -> Booking:
    slot = await session.get(MarketSlot, booking.slot_id) if booking.slot_id else None
    return Booking(
        booking_id=booking.id,
        event_id=booking.event_id,
        unit_id=booking.unit_id,
        slot_id=booking.slot_id,
        member_id=booking.member_id,
        number=booking.number,
        token=booking.token,
        status=booking.status,
        starts_at=slot.starts_at if slot else None,
        waiting_position=await _position(session, booking),
    )


async def _may_book_for(session: AsyncSession, booker: Member, resident: Member) -> None:
    if not await family.may_ask_for(session, booker, resident):
        raise CannotBookFor()


async def book(
    session: AsyncSession,
    *,
    booker_id: int,
    slot_id: int,
    key: str,
    resident_id: int | None = None,
    now: datetime | None = None,
) -> Booking:
    """Book the slot for the booker, or for `resident_id` (a relative or a coordinator for
    a resident without a phone). Full: the booking waits in line. The same key again
    returns the same booking."""
    now = now or utcnow()
    found = await session.scalar(select(MarketBooking).where(MarketBooking.key == key))
    if found is not None:
        if found.booked_by_id != booker_id:
            raise NotForYou()
        return await _view(session, found)
    booker = await members.get_member(session, booker_id)
    resident = booker if resident_id is None else await members.get_member(session, resident_id)
    await _may_book_for(session, booker, resident)
    slot = await session.get(MarketSlot, slot_id)
    if slot is None:
        raise NotFound()
    unit = await session.get(MarketUnit, slot.unit_id)
    assert unit is not None
    event = await open_event(session, unit.event_id)
    if resident.branch_id != event.branch_id:
        raise NotFound()
    if slot.starts_at <= now:
        raise SlotOver()
    mine = await session.scalar(
        select(MarketBooking).where(
            MarketBooking.unit_id == unit.id,
            MarketBooking.member_id == resident.id,
            MarketBooking.status.in_(ACTIVE),
        )
    )
    if mine is not None:
        raise AlreadyBooked(number=mine.number)
    status = BookingStatus.BOOKED if await take_place(session, slot.id) else BookingStatus.WAITING
    booking = MarketBooking(
        event_id=event.id,
        unit_id=unit.id,
        slot_id=slot.id,
        member_id=resident.id,
        booked_by_id=booker.id,
        number=await next_number(session, event.id),
        token=secrets.token_urlsafe(12),
        status=status,
        key=key,
        created_at=now,
    )
    session.add(booking)
    await session.flush()
    log_event(log, "market booking", booking_id=booking.id, slot_id=slot.id, status=status)
    return await _view(session, booking)


async def _promote(session: AsyncSession, slot_id: int) -> MarketBooking | None:
    """The first booking waiting for the slot gets the place that came free, if any."""
    while True:
        waiting_query = (
            select(MarketBooking)
            .where(MarketBooking.slot_id == slot_id, MarketBooking.status == BookingStatus.WAITING)
            .order_by(MarketBooking.id)
            .limit(1)
        )
        if session.bind is not None and session.bind.dialect.name == "postgresql":
            waiting_query = waiting_query.with_for_update(skip_locked=True)
        first = await session.scalar(waiting_query)
        if first is None or not await take_place(session, slot_id):
            return None
        moved = await session.execute(
            update(MarketBooking)
            .where(MarketBooking.id == first.id, MarketBooking.status == BookingStatus.WAITING)
            .values(status=BookingStatus.BOOKED)
            .execution_options(synchronize_session=False)
        )
        if moved.rowcount == 1:
            await session.refresh(first)
            return first
        await _give_back(session, slot_id)


async def cancel_booking(
    session: AsyncSession, booking_id: int, member_id: int, *, now: datetime | None = None
) -> Booking:
    """Cancel (the resident, whoever booked it, or a coordinator of the branch). A place
    given back goes to the first one waiting, who is told. A second tap: NotActive."""
    now = now or utcnow()
    booking = await session.get(MarketBooking, booking_id, populate_existing=True)
    if booking is None or booking.walk_in:
        raise NotForYou()
    actor = await members.get_member(session, member_id)
    event = await session.get(MarketEvent, booking.event_id)
    assert event is not None
    coordinator = await coordinators.coordinates(session, actor, event.branch_id)
    if member_id not in (booking.member_id, booking.booked_by_id) and not coordinator:
        raise NotForYou()
    moved = await session.execute(
        update(MarketBooking)
        .where(MarketBooking.id == booking_id, MarketBooking.status.in_(ACTIVE))
        .values(status=BookingStatus.CANCELLED, cancelled_at=now)
        .returning(MarketBooking.status)
        .execution_options(synchronize_session=False)
    )
    if moved.first() is None:
        raise NotActive()
    was_booked = booking.status == BookingStatus.BOOKED
    log_event(log, "market booking cancelled", booking_id=booking_id, by=member_id)
    await session.refresh(booking)
    if was_booked and booking.slot_id is not None:
        await _give_back(session, booking.slot_id)
        promoted = await _promote(session, booking.slot_id)
        if promoted is not None:
            notice = PlaceFreed(promoted.id)
            for recipient in await reachable(session, promoted):
                await outbox.enqueue(
                    session,
                    key=f"market_place_freed:{promoted.id}:{recipient}",
                    member_id=recipient,
                    kind=notice.KIND,
                    payload=notice.payload(),
                )
    return await _view(session, booking)


async def get_booking(session: AsyncSession, booking_id: int, member_id: int) -> Booking:
    """The booking, for the resident or whoever booked it (a forged id finds nothing)."""
    booking = await session.get(MarketBooking, booking_id, populate_existing=True)
    if booking is None or member_id not in (booking.member_id, booking.booked_by_id):
        raise NotForYou()
    return await _view(session, booking)


async def my_bookings(
    session: AsyncSession, member_id: int, *, now: datetime | None = None
) -> list[Booking]:
    """The member's bookings, and those they made for others, of market days not yet over."""
    now = now or utcnow()
    rows = await session.scalars(
        select(MarketBooking)
        .join(MarketEvent, MarketEvent.id == MarketBooking.event_id)
        .where(
            (MarketBooking.member_id == member_id) | (MarketBooking.booked_by_id == member_id),
            MarketBooking.status.in_((*ACTIVE, BookingStatus.CHECKED_IN)),
            MarketEvent.ends_at > now,
        )
        .order_by(MarketEvent.starts_at, MarketBooking.id)
    )
    return [await _view(session, booking) for booking in rows]


async def send_reminders(session: AsyncSession, now: datetime | None = None) -> int:
    """The sweep: remind booked members the day before and an hour before their slot.

    Each reminder is sent once: its flag is set by a conditional UPDATE, and its outbox key
    is the booking's. A booking made less than a day ahead gets no day-before reminder.
    Returns how many reminders were queued.
    """
    now = now or utcnow()
    sent = 0
    for ahead, flag, lead in (
        ("day", MarketBooking.reminded_day, DAY_AHEAD),
        ("hour", MarketBooking.reminded_hour, HOUR_AHEAD),
    ):
        due = await session.execute(
            select(MarketBooking.id, MarketBooking.created_at, MarketSlot.starts_at)
            .join(MarketSlot, MarketSlot.id == MarketBooking.slot_id)
            .join(MarketEvent, MarketEvent.id == MarketBooking.event_id)
            .where(
                MarketBooking.status == BookingStatus.BOOKED,
                flag.is_(False),
                MarketSlot.starts_at > now,
                MarketSlot.starts_at <= now + lead,
                MarketEvent.status == EventStatus.OPEN,
            )
        )
        ids = []
        for booking_id, created_at, starts_at in due:
            if created_at > starts_at - lead:
                continue
            marked = await session.execute(
                update(MarketBooking)
                .where(MarketBooking.id == booking_id, flag.is_(False))
                .values({flag.key: True})
                .execution_options(synchronize_session=False)
            )
            if marked.rowcount == 1:
                ids.append(booking_id)
        for booking_id in ids:
            booking = await session.get(MarketBooking, booking_id)
            assert booking is not None
            notice = Reminder(booking_id, ahead)
            for recipient in await reachable(session, booking):
                await outbox.enqueue(
                    session,
                    key=f"market_reminder:{booking_id}:{ahead}:{recipient}",
                    member_id=recipient,
                    kind=notice.KIND,
                    payload=notice.payload(),
                )
                sent += 1
    return sent
