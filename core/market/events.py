"""Market days: a coordinator creates the event and its service units, moves or cancels it;
members see the units with free places.

Times are typed in the branch's time zone and stored in UTC. Every booked (or waiting)
member is told of a change or a cancellation in their own language, through the outbox,
once per change (the notices are keyed by the event's version).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import members, outbox
from core.coordinators import coordinator_of
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.languages import LANGUAGES
from core.market.notices import EventCancelled, EventChanged
from core.market.tables import (
    BookingStatus,
    EventStatus,
    MarketBooking,
    MarketEvent,
    MarketShift,
    MarketSlot,
    MarketUnit,
)
from core.models import Branch, Identity

MAX_NAME = 80
MAX_ADDRESS = 300
MAX_ORGANISER = 100
SLOT_MINUTES = (15, 20, 30, 45, 60)
MAX_CAPACITY = 100
DAYS_AHEAD = 180


class NameMissing(InvalidInput):
    key = N_("Please type the name in at least one language, up to 80 letters.")


class HoursInvalid(InvalidInput):
    key = N_("Please give opening and closing times, the closing one later, on a coming day.")


class DayInvalid(InvalidInput):
    key = N_("Please type a coming date, like {example}, or tap one of the days.")


class OpeningHoursInvalid(InvalidInput):
    key = N_("Please type the opening and closing times, like 9:00-12:00; the closing one later.")


class VenueInvalid(InvalidInput):
    key = N_("Please type the venue's address, up to 300 letters.")


class CapacityInvalid(InvalidInput):
    key = N_("Please give how many people fit in one time slot: a number from 1 to 100.")


class EventClosed(DomainError):
    key = N_("This market day is cancelled or over; nothing was changed.")


class EventMoved(DomainError):
    key = N_("This market day was changed in the meantime; please look at it again.")


@dataclass(frozen=True)
class Hours:
    """A day and its opening hours, on the branch's clock."""

    day: date
    opens: time
    closes: time

    def utc(self, time_zone: str, now: datetime) -> tuple[datetime, datetime]:
        zone = ZoneInfo(time_zone)
        starts = datetime.combine(self.day, self.opens, zone).astimezone(now.tzinfo)
        ends = datetime.combine(self.day, self.closes, zone).astimezone(now.tzinfo)
        if ends <= starts or starts <= now or starts > now + timedelta(days=DAYS_AHEAD):
            raise HoursInvalid()
        return starts, ends


@dataclass(frozen=True)
class Venue:
    address: str
    latitude: float | None = None
    longitude: float | None = None

    def cleaned(self) -> Venue:
        address = " ".join(self.address.split())
        if not 2 <= len(address) <= MAX_ADDRESS:
            raise VenueInvalid()
        if (self.latitude is None) != (self.longitude is None) or (
            self.latitude is not None
            and not (-90 <= self.latitude <= 90 and -180 <= (self.longitude or 0) <= 180)
        ):
            raise VenueInvalid()
        return Venue(address, self.latitude, self.longitude)


@dataclass(frozen=True)
class UnitDraft:
    """A service unit: `capacity` people per slot of `slot_minutes`, or walk-in (None)."""

    names: dict[str, str]
    organiser: str = ""
    capacity: int | None = None
    slot_minutes: int = 30


def clean_names(names: dict[str, str]) -> dict[str, str]:
    cleaned = {k: " ".join(v.split()) for k, v in names.items() if k in LANGUAGES and v.strip()}
    if not cleaned or any(len(v) > MAX_NAME for v in cleaned.values()):
        raise NameMissing()
    return cleaned


async def _branch(session: AsyncSession, branch_id: int) -> Branch:
    branch = await session.get(Branch, branch_id)
    if branch is None:
        raise NotFound()
    return branch


async def create_event(
    session: AsyncSession,
    coordinator_id: int,
    *,
    branch_id: int,
    names: dict[str, str],
    hours: Hours,
    venue: Venue,
    key: str,
    now: datetime | None = None,
) -> int:
    """A new market day; the same key again returns the same one."""
    now = now or utcnow()
    found = await session.scalar(select(MarketEvent).where(MarketEvent.key == key))
    if found is not None:
        if found.created_by_id != coordinator_id:
            raise NotFound()
        return found.id
    await coordinator_of(session, coordinator_id, branch_id)
    branch = await _branch(session, branch_id)
    starts, ends = hours.utc(branch.time_zone, now)
    place = venue.cleaned()
    event = MarketEvent(
        branch_id=branch_id,
        names=clean_names(names),
        starts_at=starts,
        ends_at=ends,
        venue_address=place.address,
        latitude=place.latitude,
        longitude=place.longitude,
        created_by_id=coordinator_id,
        key=key,
    )
    session.add(event)
    await session.flush()
    return event.id


async def open_event(session: AsyncSession, event_id: int, *, lock: bool = False) -> MarketEvent:
    event = await session.get(
        MarketEvent, event_id, with_for_update=lock or None, populate_existing=True
    )
    if event is None:
        raise NotFound()
    if event.status != EventStatus.OPEN:
        raise EventClosed()
    return event


async def coordinated_event(
    session: AsyncSession, event_id: int, coordinator_id: int, *, lock: bool = False
) -> MarketEvent:
    """The event, if the member coordinates its branch (another branch's gets a refusal)."""
    event = await session.get(MarketEvent, event_id, populate_existing=True)
    if event is None:
        raise NotFound()
    await coordinator_of(session, coordinator_id, event.branch_id)
    return await open_event(session, event_id, lock=lock) if lock else event


async def add_unit(
    session: AsyncSession,
    coordinator_id: int,
    event_id: int,
    draft: UnitDraft,
    *,
    now: datetime | None = None,
) -> int:
    """A service unit and, unless walk-in, its slots from opening to closing time."""
    now = now or utcnow()
    event = await coordinated_event(session, event_id, coordinator_id)
    if event.status != EventStatus.OPEN or event.ends_at <= now:
        raise EventClosed()
    organiser = " ".join(draft.organiser.split())
    if len(organiser) > MAX_ORGANISER:
        raise NameMissing()
    if draft.capacity is not None and not (
        type(draft.capacity) is int and 1 <= draft.capacity <= MAX_CAPACITY
    ):
        raise CapacityInvalid()
    if draft.capacity is not None and draft.slot_minutes not in SLOT_MINUTES:
        raise CapacityInvalid()
    units = await session.scalars(select(MarketUnit.id).where(MarketUnit.event_id == event_id))
    unit = MarketUnit(
        event_id=event_id,
        names=clean_names(draft.names),
        organiser=organiser,
        capacity=draft.capacity,
        slot_minutes=draft.slot_minutes if draft.capacity is not None else None,
        sort_order=len(list(units)),
    )
    session.add(unit)
    await session.flush()
    if draft.capacity is not None:
        step = timedelta(minutes=draft.slot_minutes)
        starts = event.starts_at
        while starts + step <= event.ends_at:
            session.add(
                MarketSlot(
                    unit_id=unit.id,
                    starts_at=starts,
                    ends_at=starts + step,
                    capacity=draft.capacity,
                )
            )
            starts += step
        await session.flush()
    return unit.id


async def _booked(session: AsyncSession, event_id: int) -> list[MarketBooking]:
    return list(
        await session.scalars(
            select(MarketBooking)
            .where(
                MarketBooking.event_id == event_id,
                MarketBooking.status.in_((BookingStatus.BOOKED, BookingStatus.WAITING)),
            )
            .order_by(MarketBooking.id)
        )
    )


async def reachable(session: AsyncSession, booking: MarketBooking) -> list[int]:
    """Who hears about a booking: the resident if they have a chat, and whoever booked it."""
    people: list[int] = []
    if booking.member_id is not None:
        has_chat = await session.scalar(
            select(Identity.id).where(Identity.member_id == booking.member_id).limit(1)
        )
        if has_chat is not None:
            people.append(booking.member_id)
    if booking.booked_by_id is not None and booking.booked_by_id not in people:
        people.append(booking.booked_by_id)
    return people


async def move_event(
    session: AsyncSession,
    event_id: int,
    coordinator_id: int,
    *,
    seen_version: int,
    hours: Hours | None = None,
    venue: Venue | None = None,
    now: datetime | None = None,
) -> int:
    """Move the day (every slot moves with it) or the venue; returns the new version.

    `seen_version` is the version the coordinator looked at: a double tap or a stale
    button finds it moved on and changes nothing. Booked members are told.
    """
    now = now or utcnow()
    event = await coordinated_event(session, event_id, coordinator_id, lock=True)
    if event.version != seen_version:
        raise EventMoved()
    if hours is not None:
        branch = await _branch(session, event.branch_id)
        starts, ends = hours.utc(branch.time_zone, now)
        if ends - starts < event.ends_at - event.starts_at:
            raise HoursInvalid()
        delta = starts - event.starts_at
        unit_ids = select(MarketUnit.id).where(MarketUnit.event_id == event.id)
        for table in (MarketSlot, MarketShift):
            for row in await session.scalars(select(table).where(table.unit_id.in_(unit_ids))):
                row.starts_at += delta
                row.ends_at += delta
        await session.execute(
            update(MarketBooking)
            .where(MarketBooking.event_id == event.id)
            .values(reminded_day=False, reminded_hour=False)
            .execution_options(synchronize_session=False)
        )
        event.starts_at, event.ends_at = starts, ends
    if venue is not None:
        place = venue.cleaned()
        event.venue_address = place.address
        event.latitude, event.longitude = place.latitude, place.longitude
    event.version += 1
    await session.flush()
    for booking in await _booked(session, event.id):
        notice = EventChanged(event.id, event.version, booking.id)
        for member_id in await reachable(session, booking):
            await outbox.enqueue(
                session,
                key=f"market_changed:{booking.id}:{event.version}:{member_id}",
                member_id=member_id,
                kind=notice.KIND,
                payload=notice.payload(),
            )
    return event.version


async def cancel_event(
    session: AsyncSession, event_id: int, coordinator_id: int, *, now: datetime | None = None
) -> int:
    """Call the market day off: every booking is cancelled and its people told. Returns how
    many bookings were cancelled; a second tap gets EventClosed."""
    now = now or utcnow()
    event = await coordinated_event(session, event_id, coordinator_id, lock=True)
    booked = await _booked(session, event.id)
    event.status = EventStatus.CANCELLED
    event.version += 1
    for booking in booked:
        booking.status = BookingStatus.CANCELLED
        booking.cancelled_at = now
        notice = EventCancelled(event.id, booking.id)
        for member_id in await reachable(session, booking):
            await outbox.enqueue(
                session,
                key=f"market_cancelled:{booking.id}:{member_id}",
                member_id=member_id,
                kind=notice.KIND,
                payload=notice.payload(),
            )
    await session.flush()
    return len(booked)


@dataclass(frozen=True)
class SlotView:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    free: int
    capacity: int


@dataclass(frozen=True)
class UnitView:
    unit_id: int
    names: dict[str, str]
    organiser: str
    walk_in: bool
    slots: tuple[SlotView, ...]

    @property
    def free(self) -> int:
        return sum(slot.free for slot in self.slots)


@dataclass(frozen=True)
class EventView:
    event_id: int
    branch_id: int
    time_zone: str
    names: dict[str, str]
    starts_at: datetime
    ends_at: datetime
    venue_address: str
    latitude: float | None
    longitude: float | None
    status: str
    version: int
    units: tuple[UnitView, ...]


async def event_view(
    session: AsyncSession, event_id: int, *, now: datetime | None = None
) -> EventView:
    """The event as a member sees it: its units, each with the slots still ahead and their
    free places (a full slot shows 0: booking it joins the waiting list)."""
    now = now or utcnow()
    event = await session.get(MarketEvent, event_id, populate_existing=True)
    if event is None:
        raise NotFound()
    branch = await _branch(session, event.branch_id)
    units = list(
        await session.scalars(
            select(MarketUnit)
            .where(MarketUnit.event_id == event_id)
            .order_by(MarketUnit.sort_order, MarketUnit.id)
        )
    )
    slots = list(
        await session.scalars(
            select(MarketSlot)
            .where(MarketSlot.unit_id.in_([unit.id for unit in units]), MarketSlot.starts_at > now)
            .order_by(MarketSlot.starts_at, MarketSlot.id)
            .execution_options(populate_existing=True)
        )
    )
    views = tuple(
        UnitView(
            unit_id=unit.id,
            names=unit.names,
            organiser=unit.organiser,
            walk_in=unit.capacity is None,
            slots=tuple(
                SlotView(s.id, s.starts_at, s.ends_at, max(0, s.capacity - s.booked), s.capacity)
                for s in slots
                if s.unit_id == unit.id
            ),
        )
        for unit in units
    )
    return EventView(
        event_id=event.id,
        branch_id=event.branch_id,
        time_zone=branch.time_zone,
        names=event.names,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        venue_address=event.venue_address,
        latitude=event.latitude,
        longitude=event.longitude,
        status=event.status,
        version=event.version,
        units=views,
    )


async def upcoming_events(
    session: AsyncSession, member_id: int, *, now: datetime | None = None
) -> list[MarketEvent]:
    """The open market days of the member's branch that are not over, soonest first."""
    now = now or utcnow()
    member = await members.get_member(session, member_id)
    return list(
        await session.scalars(
            select(MarketEvent)
            .where(
                MarketEvent.branch_id == member.branch_id,
                MarketEvent.status == EventStatus.OPEN,
                MarketEvent.ends_at > now,
            )
            .order_by(MarketEvent.starts_at, MarketEvent.id)
        )
    )
