"""The notices market days put in the outbox: kind strings and their payloads.

The sender renders each in the recipient's language at send time from the ids here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from core.notices import Kind


@dataclass(frozen=True)
class Notice:
    KIND: ClassVar[str]

    def payload(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PlaceFreed(Notice):
    """A place came free and the waiting booking got it: it is now booked."""

    KIND: ClassVar[str] = Kind.MARKET_PLACE_FREED
    booking_id: int


@dataclass(frozen=True)
class Reminder(Notice):
    """The day before (`ahead` "day") or an hour before ("hour") the booked slot."""

    KIND: ClassVar[str] = Kind.MARKET_REMINDER
    booking_id: int
    ahead: str


@dataclass(frozen=True)
class EventChanged(Notice):
    """The coordinator moved the market day or its venue: `version` is the new one."""

    KIND: ClassVar[str] = Kind.MARKET_CHANGED
    event_id: int
    version: int
    booking_id: int


@dataclass(frozen=True)
class EventCancelled(Notice):
    KIND: ClassVar[str] = Kind.MARKET_CANCELLED
    event_id: int
    booking_id: int


@dataclass(frozen=True)
class ShiftCredited(Notice):
    """The volunteer's shift was confirmed: `minutes` credited from the community pool."""

    KIND: ClassVar[str] = Kind.MARKET_SHIFT_CREDITED
    shift_id: int
    minutes: int


KINDS: tuple[str, ...] = (
    PlaceFreed.KIND,
    Reminder.KIND,
    EventChanged.KIND,
    EventCancelled.KIND,
    ShiftCredited.KIND,
)
