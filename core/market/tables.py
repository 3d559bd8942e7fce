"""The market days' tables: events, service units, time slots, bookings, volunteer shifts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, utcnow


def _timestamp(*, nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class EventStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


class MarketEvent(SQLModel, table=True):
    """A market day of a branch: when (UTC; shown in the branch's zone), where, what version.

    `version` goes up with every change the coordinator makes, so the notice of each change
    is keyed once; `last_number` hands out the short booking numbers.
    """

    __tablename__ = "market_events"

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    names: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    starts_at: datetime = Field(sa_column=_timestamp())
    ends_at: datetime = Field(sa_column=_timestamp())
    venue_address: str = Field(max_length=300)
    latitude: float | None = None
    longitude: float | None = None
    status: str = Field(default=EventStatus.OPEN, max_length=16)
    version: int = 1
    last_number: int = 0
    created_by_id: int = Field(foreign_key="members.id")
    key: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    shifts_confirmed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class MarketUnit(SQLModel, table=True):
    """A service unit (haircuts, TCM consultation…): run by an organiser, booked by slot, or
    walk-in only when `capacity` is None."""

    __tablename__ = "market_units"

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="market_events.id", index=True)
    names: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    organiser: str = Field(default="", max_length=100)
    capacity: int | None = None
    slot_minutes: int | None = None
    sort_order: int = 0


class MarketSlot(SQLModel, table=True):
    """One time slot of a unit; `booked` only grows past a conditional `booked < capacity`."""

    __tablename__ = "market_slots"

    __table_args__ = (UniqueConstraint("unit_id", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="market_units.id")
    starts_at: datetime = Field(sa_column=_timestamp())
    ends_at: datetime = Field(sa_column=_timestamp())
    capacity: int
    booked: int = 0


class BookingStatus(StrEnum):
    BOOKED = "booked"
    WAITING = "waiting"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"


class MarketBooking(SQLModel, table=True):
    """A resident's place at a unit's slot (or on its waiting list), or a walk-in.

    `number` is short and unique within the event (typed at the venue); `token` is long and
    secret (in the QR's deep link). A walk-in has neither slot nor member nor token.
    """

    __tablename__ = "market_bookings"

    __table_args__ = (
        UniqueConstraint("event_id", "number"),
        Index("ix_market_bookings_slot_status", "slot_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="market_events.id", index=True)
    unit_id: int = Field(foreign_key="market_units.id", index=True)
    slot_id: int | None = Field(default=None, foreign_key="market_slots.id")
    member_id: int | None = Field(default=None, foreign_key="members.id", index=True)
    booked_by_id: int | None = Field(default=None, foreign_key="members.id")
    number: int
    token: str | None = Field(default=None, max_length=32, unique=True)
    status: str = Field(default=BookingStatus.BOOKED, max_length=16)
    walk_in: bool = False
    key: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    checked_in_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    checked_in_by_id: int | None = Field(default=None, foreign_key="members.id")
    cancelled_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    reminded_day: bool = False
    reminded_hour: bool = False


class ShiftStatus(StrEnum):
    SIGNED_UP = "signed_up"
    CREDITED = "credited"
    ABSENT = "absent"
    WITHDRAWN = "withdrawn"


class MarketShift(SQLModel, table=True):
    """A volunteer's shift at a unit; credited once (`transaction_id`) after confirmation."""

    __tablename__ = "market_shifts"

    __table_args__ = (UniqueConstraint("unit_id", "member_id", "starts_at"),)

    id: int | None = Field(default=None, primary_key=True)
    unit_id: int = Field(foreign_key="market_units.id", index=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    starts_at: datetime = Field(sa_column=_timestamp())
    ends_at: datetime = Field(sa_column=_timestamp())
    status: str = Field(default=ShiftStatus.SIGNED_UP, max_length=16)
    minutes: int | None = None
    transaction_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
