"""Sharing parking spaces: an owner lists a space and the times it is free; a neighbour
books part of one; both confirm the handover; the owner earns credit per hour if the
branch says so (0: free sharing).

Bookings of a space are decided one at a time under a lock on the space's row (PostgreSQL
`FOR UPDATE`; on SQLite a write transaction holds the database), so two neighbours booking
overlapping times at once cannot both succeed. The exact address is shown only to the
owner and to a neighbour with a booking; everyone else sees the area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger, members, outbox
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.ledger import Actor, PostingKind, inputs
from core.matching import distance_m
from core.models import Neighbourhood
from core.notices import Kind
from core.rewards.merchants import clean_text, settings_of
from core.rewards.redemption import first_name, home_of
from core.rewards.tables import (
    ParkingBooking,
    ParkingBookingStatus,
    ParkingSpace,
    ParkingWindow,
    RewardSettings,
)

MAX_WINDOW = timedelta(days=14)
HOLD_GRACE = timedelta(days=7)


class TimeInPast(InvalidInput):
    key = N_("That time has already passed. Please choose a later one.")


class TimesInvalid(InvalidInput):
    key = N_("The end must come after the start, within two weeks.")


class WindowsOverlap(DomainError):
    key = N_("This overlaps a time you already offer.")


class NotOffered(DomainError):
    key = N_("The space is not offered at that time.")


class AlreadyBooked(DomainError):
    key = N_("Sorry, someone has just booked that time. Please choose another.")


class OwnSpace(InvalidInput):
    key = N_("This is your own space.")


class BookingClosed(DomainError):
    key = N_("This booking is already finished or cancelled.")


def _check_times(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    if starts_at < now:
        raise TimeInPast()
    if ends_at <= starts_at or ends_at - starts_at > MAX_WINDOW:
        raise TimesInvalid()


async def list_space(
    session: AsyncSession,
    owner_id: int,
    *,
    address: str,
    notes: str = "",
    neighbourhood_id: int | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> ParkingSpace:
    """A space of the owner's, in their neighbourhood unless another is given."""
    owner = await members.get_member(session, owner_id)
    if owner.branch_id is None:
        raise InvalidInput()
    area_id = neighbourhood_id or owner.neighbourhood_id
    if area_id is not None:
        area = await session.get(Neighbourhood, area_id)
        if area is None or area.branch_id != owner.branch_id:
            raise NotFound()
        if latitude is None or longitude is None:
            latitude, longitude = area.latitude, area.longitude
    space = ParkingSpace(
        branch_id=owner.branch_id,
        owner_id=owner.id,
        neighbourhood_id=area_id,
        address=clean_text(address, 300),
        notes=clean_text(notes, 300, required=False),
        latitude=latitude,
        longitude=longitude,
    )
    session.add(space)
    await session.flush()
    return space


async def _locked_space(session: AsyncSession, space_id: int) -> ParkingSpace:
    space = await session.get(ParkingSpace, space_id, with_for_update=True, populate_existing=True)
    if space is None or space.withdrawn_at is not None:
        raise NotFound()
    return space


async def offer_window(
    session: AsyncSession,
    owner_id: int,
    space_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    now: datetime | None = None,
) -> ParkingWindow:
    """A time the owner's space is free to book."""
    now = now or utcnow()
    space = await _locked_space(session, space_id)
    if space.owner_id != owner_id:
        raise NotFound()
    _check_times(starts_at, ends_at, now)
    clash = await session.scalar(
        select(ParkingWindow.id).where(
            ParkingWindow.space_id == space_id,
            ParkingWindow.starts_at < ends_at,
            ParkingWindow.ends_at > starts_at,
        )
    )
    if clash is not None:
        raise WindowsOverlap()
    window = ParkingWindow(space_id=space_id, starts_at=starts_at, ends_at=ends_at)
    session.add(window)
    await session.flush()
    return window


@dataclass(frozen=True, slots=True)
class SpaceCard:
    """A space as neighbours see it before booking: the area, never the address."""

    space_id: int
    area: dict[str, str]
    notes: str
    owner_first_name: str
    windows: tuple[tuple[datetime, datetime], ...]
    booked: tuple[tuple[datetime, datetime], ...]
    minutes_per_hour: int
    distance_m: int | None


async def _card(
    session: AsyncSession,
    space: ParkingSpace,
    home: tuple[float, float] | None,
    settings: RewardSettings | None,
    now: datetime,
) -> SpaceCard:
    assert space.id is not None
    windows = (
        await session.execute(
            select(ParkingWindow.starts_at, ParkingWindow.ends_at)
            .where(ParkingWindow.space_id == space.id, ParkingWindow.ends_at > now)
            .order_by(ParkingWindow.starts_at)
        )
    ).all()
    booked = (
        await session.execute(
            select(ParkingBooking.starts_at, ParkingBooking.ends_at)
            .where(
                ParkingBooking.space_id == space.id,
                ParkingBooking.status != ParkingBookingStatus.CANCELLED,
                ParkingBooking.ends_at > now,
            )
            .order_by(ParkingBooking.starts_at)
        )
    ).all()
    area = (
        await session.get(Neighbourhood, space.neighbourhood_id) if space.neighbourhood_id else None
    )
    owner = await members.get_member(session, space.owner_id)
    distance = None
    if home is not None and space.latitude is not None and space.longitude is not None:
        distance = round(distance_m(*home, space.latitude, space.longitude))
    return SpaceCard(
        space_id=space.id,
        area=dict(area.names) if area else {},
        notes=space.notes,
        owner_first_name=first_name(owner.name),
        windows=tuple((a, b) for a, b in windows),
        booked=tuple((a, b) for a, b in booked),
        minutes_per_hour=settings.parking_minutes_per_hour if settings else 0,
        distance_m=distance,
    )


async def spaces_near(
    session: AsyncSession, member_id: int, *, limit: int = 5, now: datetime | None = None
) -> list[SpaceCard]:
    """Spaces of the member's branch with a window ahead, nearest first."""
    now = now or utcnow()
    member = await members.get_member(session, member_id)
    home = await home_of(session, member)
    settings = await settings_of(session, member.branch_id) if member.branch_id else None
    spaces = await session.scalars(
        select(ParkingSpace).where(
            ParkingSpace.branch_id == member.branch_id,
            ParkingSpace.withdrawn_at.is_(None),
            ParkingSpace.owner_id != member.id,
        )
    )
    cards = []
    for space in spaces:
        card = await _card(session, space, home, settings, now)
        if card.windows:
            cards.append(card)
    cards.sort(key=lambda c: (c.distance_m is None, c.distance_m or 0, c.space_id))
    return cards[:limit]


@dataclass(frozen=True, slots=True)
class BookingView:
    booking_id: int
    space_id: int
    starts_at: datetime
    ends_at: datetime
    address: str  # shown to the booker and the owner only
    minutes_owed: int
    status: str
    owner_confirmed: bool
    booker_confirmed: bool
    replayed: bool = False


def _view(booking: ParkingBooking, space: ParkingSpace, replayed: bool = False) -> BookingView:
    assert booking.id is not None and space.id is not None
    return BookingView(
        booking_id=booking.id,
        space_id=space.id,
        starts_at=booking.starts_at,
        ends_at=booking.ends_at,
        address=space.address,
        minutes_owed=booking.minutes_owed,
        status=booking.status,
        owner_confirmed=booking.owner_confirmed_at is not None,
        booker_confirmed=booking.booker_confirmed_at is not None,
        replayed=replayed,
    )


async def _replay(session: AsyncSession, key: str, booker_id: int) -> BookingView | None:
    found = await session.scalar(select(ParkingBooking).where(ParkingBooking.key == key))
    if found is None:
        return None
    if found.booker_id != booker_id:
        raise ledger.IdempotencyConflict()
    space = await session.get(ParkingSpace, found.space_id)
    assert space is not None
    return _view(found, space, replayed=True)


async def book_space(
    session: AsyncSession,
    booker_id: int,
    space_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    key: str,
    now: datetime | None = None,
) -> BookingView:
    """Book part of an offered window, once for `key`; the owner is told. Where the branch
    charges for parking, the price is held on the booker's credit until the handover."""
    now = now or utcnow()
    key = inputs.key(key)
    booker = await members.get_member(session, booker_id)
    replayed = await _replay(session, key, booker_id)
    if replayed is not None:
        return replayed
    space = await _locked_space(session, space_id)
    if space.branch_id != booker.branch_id:
        raise NotFound()
    if space.owner_id == booker_id:
        raise OwnSpace()
    _check_times(starts_at, ends_at, now)
    window = await session.scalar(
        select(ParkingWindow.id).where(
            ParkingWindow.space_id == space_id,
            ParkingWindow.starts_at <= starts_at,
            ParkingWindow.ends_at >= ends_at,
        )
    )
    if window is None:
        raise NotOffered()
    clash = await session.scalar(
        select(ParkingBooking.id).where(
            ParkingBooking.space_id == space_id,
            ParkingBooking.status != ParkingBookingStatus.CANCELLED,
            ParkingBooking.starts_at < ends_at,
            ParkingBooking.ends_at > starts_at,
        )
    )
    if clash is not None:
        raise AlreadyBooked()
    settings = await settings_of(session, space.branch_id)
    minutes = math.ceil(
        settings.parking_minutes_per_hour * (ends_at - starts_at).total_seconds() / 3600
    )
    booking = ParkingBooking(
        space_id=space_id,
        booker_id=booker_id,
        starts_at=starts_at,
        ends_at=ends_at,
        minutes_owed=minutes,
        key=key,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(booking)
            await session.flush()
            if minutes:
                payer = await ledger.open_member_account(session, booker_id, space.branch_id)
                owner = await ledger.open_member_account(session, space.owner_id, space.branch_id)
                hold = await ledger.place_hold(
                    session, payer.id, owner.id, minutes, key=f"parking:{booking.id}",
                    kind=PostingKind.SERVICE, actor=Actor(member_id=booker_id),
                    expires_at=max(ends_at, utcnow()) + HOLD_GRACE,
                )  # fmt: skip
                booking.hold_id = hold.id
                await session.flush()
    except IntegrityError:
        replayed = await _replay(session, key, booker_id)
        if replayed is None:
            raise
        return replayed
    await outbox.enqueue(
        session,
        key=f"parking:{booking.id}:booked",
        member_id=space.owner_id,
        kind=Kind.PARKING_BOOKED,
        payload={"booking_id": booking.id, "booker": first_name(booker.name)},
    )
    return _view(booking, space)


async def _party_booking(
    session: AsyncSession, member_id: int, booking_id: int
) -> tuple[ParkingBooking, ParkingSpace]:
    booking = await session.get(
        ParkingBooking, booking_id, with_for_update=True, populate_existing=True
    )
    space = None if booking is None else await session.get(ParkingSpace, booking.space_id)
    if booking is None or space is None or member_id not in (booking.booker_id, space.owner_id):
        raise NotFound()
    return booking, space


async def booking_view(session: AsyncSession, member_id: int, booking_id: int) -> BookingView:
    """A booking as its booker or the space's owner sees it, the address included."""
    booking, space = await _party_booking(session, member_id, booking_id)
    return _view(booking, space)


async def confirm_handover(
    session: AsyncSession, member_id: int, booking_id: int, *, now: datetime | None = None
) -> BookingView:
    """Owner or booker confirms the handover; once both have, the owner is credited.
    Confirming again changes nothing."""
    now = now or utcnow()
    booking, space = await _party_booking(session, member_id, booking_id)
    if booking.status == ParkingBookingStatus.CANCELLED:
        raise BookingClosed()
    if booking.status == ParkingBookingStatus.DONE:
        return _view(booking, space, replayed=True)
    is_owner = member_id == space.owner_id
    field = "owner_confirmed_at" if is_owner else "booker_confirmed_at"
    if getattr(booking, field) is not None:
        return _view(booking, space, replayed=True)
    setattr(booking, field, now)
    other = booking.booker_id if is_owner else space.owner_id
    if booking.owner_confirmed_at is not None and booking.booker_confirmed_at is not None:
        booking.status = ParkingBookingStatus.DONE
        if booking.hold_id is not None:
            posting = await ledger.post_hold(
                session, booking.hold_id, key=f"parking:{booking.id}:post",
                actor=Actor(member_id=member_id),
            )  # fmt: skip
            booking.transaction_id = posting.id
    await session.flush()
    await outbox.enqueue(
        session,
        key=f"parking:{booking.id}:confirmed:{member_id}",
        member_id=other,
        kind=Kind.PARKING_HANDOVER,
        payload={"booking_id": booking.id, "done": booking.status == ParkingBookingStatus.DONE},
    )
    return _view(booking, space)


async def cancel_booking(
    session: AsyncSession, member_id: int, booking_id: int, *, now: datetime | None = None
) -> BookingView:
    """Either side calls a booking off before the handover; a hold on credit is released."""
    booking, space = await _party_booking(session, member_id, booking_id)
    if booking.status == ParkingBookingStatus.CANCELLED:
        return _view(booking, space, replayed=True)
    if booking.status == ParkingBookingStatus.DONE:
        raise BookingClosed()
    booking.status = ParkingBookingStatus.CANCELLED
    if booking.hold_id is not None:
        try:
            await ledger.void_hold(session, booking.hold_id, key=f"parking:{booking.id}:void")
        except ledger.HoldNotPending:
            pass  # the ledger's own expiry released it already
    await session.flush()
    other = booking.booker_id if member_id == space.owner_id else space.owner_id
    await outbox.enqueue(
        session,
        key=f"parking:{booking.id}:cancelled",
        member_id=other,
        kind=Kind.PARKING_CANCELLED,
        payload={"booking_id": booking.id},
    )
    return _view(booking, space)


async def space_card(
    session: AsyncSession, member_id: int, space_id: int, *, now: datetime | None = None
) -> SpaceCard:
    """One space of the member's branch as `spaces_near` shows it: the area, not the address."""
    now = now or utcnow()
    member = await members.get_member(session, member_id)
    space = await session.get(ParkingSpace, space_id)
    if space is None or space.withdrawn_at is not None or space.branch_id != member.branch_id:
        raise NotFound()
    settings = await settings_of(session, space.branch_id)
    return await _card(session, space, await home_of(session, member), settings, now)


async def spaces_of(session: AsyncSession, owner_id: int) -> list[ParkingSpace]:
    """The owner's own spaces still listed, oldest first."""
    return list(
        await session.scalars(
            select(ParkingSpace)
            .where(ParkingSpace.owner_id == owner_id, ParkingSpace.withdrawn_at.is_(None))
            .order_by(ParkingSpace.id)
        )
    )


async def bookings_of(
    session: AsyncSession, member_id: int, *, now: datetime | None = None
) -> list[BookingView]:
    """Bookings not yet over that the member made or that are of their spaces, soonest first."""
    now = now or utcnow()
    rows = await session.execute(
        select(ParkingBooking, ParkingSpace)
        .join(ParkingSpace, ParkingSpace.id == ParkingBooking.space_id)
        .where(
            (ParkingBooking.booker_id == member_id) | (ParkingSpace.owner_id == member_id),
            ParkingBooking.status == ParkingBookingStatus.BOOKED,
            ParkingBooking.ends_at > now,
        )
        .order_by(ParkingBooking.starts_at)
    )
    return [_view(booking, space) for booking, space in rows.all()]
