"""The tables of what credits buy: partner merchants, their items and redemptions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    Integer,
    UniqueConstraint,
    true,
)
from sqlmodel import Field, SQLModel

import core.models  # noqa: F401  (the naming convention, branches and members)
from core.db import UTCDateTime, utcnow


def _timestamp(*, nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class RewardSettings(SQLModel, table=True):
    """A branch's rules for spending credit outside help: overdraft, code life, parking, classes.

    No row means the defaults: rewards only from credit one has, codes valid 30 minutes.
    """

    __tablename__ = "reward_settings"

    branch_id: int = Field(
        sa_column=Column(Integer, ForeignKey("branches.id"), primary_key=True, autoincrement=False)
    )
    # May a reward take a member below zero, as far as the branch's member overdraft goes?
    rewards_may_overdraw: bool = False
    code_minutes: int = 30
    # Who pays a new class's teacher unless the class says otherwise: "pool" or "attendees".
    classes_paid_by: str = Field(default="pool", max_length=16)
    # What a parking space's owner earns per hour booked; 0 is free sharing.
    parking_minutes_per_hour: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Merchant(SQLModel, table=True):
    """A partner shop of a branch; its hours go to a ledger account of the merchant kind."""

    __tablename__ = "merchants"

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    name: str = Field(max_length=100)
    address: str = Field(default="", max_length=300)
    latitude: float | None = None
    longitude: float | None = None
    contact: str = Field(default="", max_length=100)
    created_by_id: int | None = Field(default=None, foreign_key="members.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class MerchantStaff(SQLModel, table=True):
    """A member who serves at a merchant: the merchant role. One shop per member."""

    __tablename__ = "merchant_staff"

    member_id: int = Field(foreign_key="members.id", primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    joined_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class MerchantInvite(SQLModel, table=True):
    """A one-day code a coordinator gives one member of a shop's staff."""

    __tablename__ = "merchant_invites"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    created_by_id: int = Field(foreign_key="members.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    expires_at: datetime = Field(sa_column=_timestamp())
    used_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    used_by_id: int | None = Field(default=None, foreign_key="members.id")


class RewardItem(SQLModel, table=True):
    """An item or discount a merchant offers for credit.

    `stock` is what is on the shelf (NULL: unlimited); `reserved` what issued, unused codes
    have promised. A new code needs `stock - reserved >= 1`, checked in the UPDATE that
    takes it, so racing members cannot be promised more than there is. Codes for an
    unlimited item promise nothing and leave the row alone (`Redemption.reserved`).
    """

    __tablename__ = "reward_items"
    __table_args__ = (
        CheckConstraint("price_minutes > 0", name="price_positive"),
        CheckConstraint("reserved >= 0", name="reserved_not_negative"),
        CheckConstraint("stock IS NULL OR stock >= reserved", name="within_stock"),
    )

    id: int | None = Field(default=None, primary_key=True)
    merchant_id: int = Field(foreign_key="merchants.id", index=True)
    category: str = Field(max_length=32)
    names: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    descriptions: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    photo_file_id: str | None = Field(default=None, max_length=256)
    price_minutes: int
    stock: int | None = None
    reserved: int = 0
    valid_from: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    valid_until: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    hidden_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    hidden_by_id: int | None = Field(default=None, foreign_key="members.id")
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class RedemptionStatus:
    PENDING = "pending"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Redemption(SQLModel, table=True):
    """A member's claim on an item: a ledger hold and a single-use code until staff confirm.

    The status leaves `pending` once, by an UPDATE conditioned on it, so of a confirmation,
    a cancellation and the expiry sweep racing for it exactly one wins.
    """

    __tablename__ = "redemptions"
    __table_args__ = (
        Index("ix_redemptions_status_expires_at", "status", "expires_at"),
        Index("ix_redemptions_merchant_confirmed", "merchant_id", "confirmed_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="reward_items.id", index=True)
    merchant_id: int = Field(foreign_key="merchants.id")
    member_id: int = Field(foreign_key="members.id", index=True)
    minutes: int
    hold_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    code: str = Field(max_length=16, unique=True)
    token: str = Field(max_length=32, unique=True)
    status: str = Field(default=RedemptionStatus.PENDING, max_length=16)
    key: str = Field(max_length=128, unique=True)
    expires_at: datetime = Field(sa_column=_timestamp())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    confirmed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    confirmed_by_id: int | None = Field(default=None, foreign_key="members.id")
    transaction_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    closed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    # Whether the code took a share of the item's stock (`RewardItem.reserved`); a code
    # issued while the item was unlimited did not, and gives none back nor takes the item
    # off a shelf counted since.
    reserved: bool = Field(
        default=True, sa_column=Column(Boolean, nullable=False, server_default=true())
    )


class CommunityClass(SQLModel, table=True):
    """A class a volunteer teaches: sessions, seats, a waiting list, a place.

    `paid_by` says who pays the teacher for a session: the branch pool (`teacher_minutes`,
    once per session) or the attendees marked present (`price_minutes` each).
    """

    __tablename__ = "community_classes"
    __table_args__ = (
        CheckConstraint("seats > 0", name="seats_positive"),
        CheckConstraint("teacher_minutes >= 0 AND price_minutes >= 0", name="minutes_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    teacher_id: int = Field(foreign_key="members.id", index=True)
    titles: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    descriptions: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    seats: int
    age_note: str = Field(default="", max_length=100)
    place: str = Field(default="", max_length=300)
    latitude: float | None = None
    longitude: float | None = None
    paid_by: str = Field(default="pool", max_length=16)
    teacher_minutes: int = 0
    price_minutes: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    cancelled_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class ClassSession(SQLModel, table=True):
    __tablename__ = "class_sessions"

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="community_classes.id", index=True)
    starts_at: datetime = Field(sa_column=_timestamp())
    minutes: int
    reminded_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    attendance_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class EnrolmentStatus:
    ENROLLED = "enrolled"
    WAITING = "waiting"
    CANCELLED = "cancelled"


class Enrolment(SQLModel, table=True):
    """A seat (or a place on the waiting list) for the member or a child of theirs.

    A child is a named dependent of the member, not an account: `child_name`, "" for the
    member themself. The waiting list is in `turn` order: numbers given out under the
    class's row lock, so they follow the order enrolments really happened in.
    """

    __tablename__ = "enrolments"
    __table_args__ = (UniqueConstraint("class_id", "member_id", "child_name"),)

    id: int | None = Field(default=None, primary_key=True)
    class_id: int = Field(foreign_key="community_classes.id", index=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    child_name: str = Field(default="", max_length=64)
    status: str = Field(max_length=16)
    turn: int = 0
    queued_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    changed_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Attendance(SQLModel, table=True):
    __tablename__ = "class_attendance"

    session_id: int = Field(foreign_key="class_sessions.id", primary_key=True)
    enrolment_id: int = Field(foreign_key="enrolments.id", primary_key=True)
    present: bool
    marked_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class ParkingSpace(SQLModel, table=True):
    """A member's parking space others may book. The area is shown to all; the exact
    address only to whoever has booked it."""

    __tablename__ = "parking_spaces"

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    owner_id: int = Field(foreign_key="members.id", index=True)
    neighbourhood_id: int | None = Field(default=None, foreign_key="neighbourhoods.id")
    address: str = Field(max_length=300)
    notes: str = Field(default="", max_length=300)
    latitude: float | None = None
    longitude: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    withdrawn_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class ParkingWindow(SQLModel, table=True):
    """A time the owner offers the space in; bookings fall inside one."""

    __tablename__ = "parking_windows"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id: int | None = Field(default=None, primary_key=True)
    space_id: int = Field(foreign_key="parking_spaces.id", index=True)
    starts_at: datetime = Field(sa_column=_timestamp())
    ends_at: datetime = Field(sa_column=_timestamp())


class ParkingBookingStatus:
    BOOKED = "booked"
    DONE = "done"
    CANCELLED = "cancelled"


class ParkingBooking(SQLModel, table=True):
    """A neighbour's booking of part of a window; both sides confirm the handover, then
    the hold on the booker's credit (if the branch charges) is posted to the owner."""

    __tablename__ = "parking_bookings"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_parking_bookings_space_status", "space_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    space_id: int = Field(foreign_key="parking_spaces.id")
    booker_id: int = Field(foreign_key="members.id", index=True)
    starts_at: datetime = Field(sa_column=_timestamp())
    ends_at: datetime = Field(sa_column=_timestamp())
    minutes_owed: int = 0
    hold_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    status: str = Field(default=ParkingBookingStatus.BOOKED, max_length=16)
    key: str = Field(max_length=128, unique=True)
    owner_confirmed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    booker_confirmed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    transaction_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class RecognitionOptOut(SQLModel, table=True):
    """A member who does not want to appear on their branch's leaderboard."""

    __tablename__ = "recognition_opt_outs"

    member_id: int = Field(foreign_key="members.id", primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class StandingOffer(SQLModel, table=True):
    """A volunteer's standing offer of a skill ("I teach smartphone use"), with when they
    are free (`availability`: bit `day * 3 + part`, as in volunteer profiles) and where,
    coarsely (their home point, about a kilometre)."""

    __tablename__ = "standing_offers"
    __table_args__ = (UniqueConstraint("volunteer_id", "category_id"),)

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    volunteer_id: int = Field(foreign_key="members.id")
    category_id: int = Field(foreign_key="categories.id")
    description: str = Field(default="", max_length=500)
    availability: int = 0
    latitude: float | None = None
    longitude: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    withdrawn_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
