"""The time bank's tables (SQLModel). Behaviour lives in the services, not here."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, utcnow

SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _timestamp(*, nullable: bool = False, index: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Branch(SQLModel, table=True):
    """A neighbourhood hub: its own time zone, default language and coordinators."""

    __tablename__ = "branches"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    names: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    time_zone: str = Field(max_length=64)
    default_language: str = Field(max_length=16)
    latitude: float | None = None
    longitude: float | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    # Matching may ask volunteers of the neighbouring branches (`branch_neighbours`) too.
    match_neighbours: bool = Field(default=False, sa_column_kwargs={"server_default": "0"})
    # Bumped by the database on every update of the row (migration 0014), never by Python.
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class BranchNeighbour(SQLModel, table=True):
    """Two branches next to each other; stored both ways round."""

    __tablename__ = "branch_neighbours"

    branch_id: int = Field(foreign_key="branches.id", primary_key=True)
    neighbour_id: int = Field(foreign_key="branches.id", primary_key=True)


class Neighbourhood(SQLModel, table=True):
    """A named area of a branch; its centre stands in for a member's home on a map."""

    __tablename__ = "neighbourhoods"

    __table_args__ = (UniqueConstraint("branch_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    code: str = Field(max_length=32)
    names: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    latitude: float
    longitude: float
    sort_order: int = 0


class Member(SQLModel, table=True):
    """One person, whatever platform they come from ("one account per person")."""

    __tablename__ = "members"

    # New members of a branch in a period (core.stats).
    __table_args__ = (Index("ix_members_branch_created_at", "branch_id", "created_at"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(default="", max_length=64)
    language: str | None = Field(default=None, max_length=16)
    branch_id: int | None = Field(default=None, foreign_key="branches.id", index=True)
    is_resident: bool = False
    is_volunteer: bool = False
    is_coordinator: bool = False
    phone: str | None = Field(default=None, max_length=32)
    # Rounded to about a kilometre: enough for matching, not enough to find a door.
    home_latitude: float | None = None
    home_longitude: float | None = None
    neighbourhood_id: int | None = Field(default=None, foreign_key="neighbourhoods.id")
    address: str | None = Field(default=None, max_length=300)
    verified: bool = False
    sponsored: bool = False
    # Coordinators' announcements (broadcasts); one tap in the profile turns them off.
    announcements: bool = Field(default=True, sa_column_kwargs={"server_default": "1"})
    onboarded_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    erased_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    # The member agreed that their first name may be thanked on the branch's public screen.
    thanked_in_public: bool = False
    # A coordinator of several branches: the one they chose with /branch (None: their home).
    # A plain id, no foreign key: SQLite would have to rebuild `members` to add one.
    working_branch_id: int | None = None
    # Bumped by the database on every update of the row (migration 0014), never by Python.
    version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})


class MembershipRole(StrEnum):
    MEMBER = "member"
    COORDINATOR = "coordinator"


class Membership(SQLModel, table=True):
    """A member's place in a branch besides their home branch (`Member.branch_id`): a
    second branch where they also help or coordinate. Their one account stays at home."""

    __tablename__ = "memberships"

    __table_args__ = (UniqueConstraint("member_id", "branch_id"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    role: str = Field(default=MembershipRole.MEMBER, max_length=16)
    since: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    added_by_id: int | None = Field(default=None, foreign_key="members.id")


class Identity(SQLModel, table=True):
    """How a member is known on one platform; Telegram is one platform among others."""

    __tablename__ = "identities"

    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    platform: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    member_id: int = Field(foreign_key="members.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Category(SQLModel, table=True):
    __tablename__ = "categories"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True)
    names: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    emoji: str = Field(default="", max_length=16)
    sort_order: int = 0


class OrderStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DONE = "done"
    CONFIRMED = "confirmed"
    # A coordinator settled a dispute: the help did not happen as agreed, nothing is paid.
    NOT_CREDITED = "not_credited"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class OrderFunding(StrEnum):
    OWN = "own"
    OVERDRAFT = "overdraft"
    POOL = "pool"
    NEEDS_SPONSOR = "needs_sponsor"


# What a branch's figures read of each request asked (core.stats), besides where and when.
FIGURES_COLUMNS = ("category_id", "beneficiary_id", "status", "volunteer_id", "id")


class Order(SQLModel, table=True):
    """A request for help, placed by the requester for themselves or for a beneficiary."""

    __tablename__ = "orders"

    __table_args__ = (
        Index("ix_orders_branch_status", "branch_id", "status"),
        # A branch's figures for a period (core.stats) read the requests asked in it: every
        # column they read is in the index, so no order row is visited.
        Index("ix_orders_branch_created_at", "branch_id", "created_at", *FIGURES_COLUMNS),
    )

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id")
    requester_id: int = Field(foreign_key="members.id", index=True)
    beneficiary_id: int = Field(foreign_key="members.id", index=True)
    category_id: int = Field(foreign_key="categories.id")
    description: str = Field(default="", max_length=1000)
    voice_file_id: str | None = Field(default=None, max_length=256)
    window_start: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    window_end: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    address: str | None = Field(default=None, max_length=300)
    latitude: float | None = None
    longitude: float | None = None
    estimated_minutes: int = Field(gt=0)
    actual_minutes: int | None = None
    volunteer_id: int | None = Field(default=None, foreign_key="members.id", index=True)
    status: str = Field(default=OrderStatus.OPEN, max_length=16)
    # The time as the member chose it (a `core.schedule.When`), to show it back and repeat it.
    when_asked: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # home | location | address: where the help is, as the member gave it.
    place_kind: str = Field(default="address", max_length=16)
    # Who pays: the beneficiary's own credit, their overdraft, the branch pool, or nobody yet.
    funding: str = Field(default=OrderFunding.OWN, max_length=16)
    idempotency_key: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class OrderEvent(SQLModel, table=True):
    """One status transition of an order: who moved it, when, and why."""

    __tablename__ = "order_events"

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    from_status: str | None = Field(default=None, max_length=16)
    to_status: str = Field(max_length=16)
    actor_id: int | None = Field(default=None, foreign_key="members.id")
    note: str = Field(default="", max_length=500)
    at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    # The idempotency key of the action that made this transition, so a retry repeats nothing.
    key: str | None = Field(default=None, max_length=128, unique=True)


class ConversationState(SQLModel, table=True):
    """Where a chat stands in a conversation, kept so it survives a restart."""

    __tablename__ = "conversation_states"

    key: str = Field(primary_key=True, max_length=200)
    state: str | None = Field(default=None, max_length=200)
    data: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class ProcessedUpdate(SQLModel, table=True):
    """An incoming update whose effects were committed; a redelivery of it is ignored."""

    __tablename__ = "processed_updates"

    update_id: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    processed_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class FamilyInvite(SQLModel, table=True):
    """A short code a member gives a relative, so the relative may ask for help for them."""

    __tablename__ = "family_invites"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=16, unique=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    expires_at: datetime = Field(sa_column=_timestamp())
    used_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    used_by_id: int | None = Field(default=None, foreign_key="members.id")


class FamilyLinkStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    ENDED = "ended"


class FamilyLink(SQLModel, table=True):
    """A relative (proxy) who may ask for help on a member's (beneficiary's) behalf."""

    __tablename__ = "family_links"

    __table_args__ = (UniqueConstraint("member_id", "relative_id"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    relative_id: int = Field(foreign_key="members.id", index=True)
    status: str = Field(default=FamilyLinkStatus.PENDING, max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    confirmed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    ended_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    ended_by_id: int | None = Field(default=None, foreign_key="members.id")


class VolunteerProfile(SQLModel, table=True):
    """What a volunteer offers: skills, when, how far, languages; where they are, coarsely.

    `skills` has bit `category_id` set per skill; `availability` bit `day * 3 + part`
    (Monday = 0; morning, afternoon, evening). `cell` is the grid cell of the home point
    (core.matching), the coordinators' wider search; matching reads the spatial index of
    migration 0006 instead.
    """

    __tablename__ = "volunteer_profiles"

    __table_args__ = (Index("ix_volunteer_profiles_branch_cell", "branch_id", "cell"),)

    member_id: int = Field(foreign_key="members.id", primary_key=True)
    branch_id: int | None = Field(default=None, foreign_key="branches.id")
    skills: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    availability: int = 0
    # Minutes after local midnight; no nudges from start to end (may wrap past midnight).
    quiet_start: int | None = None
    quiet_end: int | None = None
    max_distance_m: int = 3000
    languages: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    paused: bool = False
    max_open: int = 2
    latitude: float | None = None
    longitude: float | None = None
    cell: int | None = None
    rating_sum: int = 0
    rating_count: int = 0
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class OrderProgress(SQLModel, table=True):
    """Where an order stands in matching and after: waves, escalation, done, confirmation."""

    __tablename__ = "order_progress"
    # The disputed requests, few of them: a branch's figures (core.stats) count them.
    __table_args__ = (
        Index(
            "ix_order_progress_disputed",
            "order_id",
            sqlite_where=text("disputed_at IS NOT NULL"),
            postgresql_where=text("disputed_at IS NOT NULL"),
        ),
    )

    order_id: int = Field(foreign_key="orders.id", primary_key=True)
    # A hand-back starts a new round of waves.
    round: int = 1
    waves: int = 0
    next_wave_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    escalated_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    accepts: int = 0
    accepted_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    reminded_day: bool = False
    reminded_hour: bool = False
    done_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    coordinator_asked_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    disputed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    disputed_by_id: int | None = Field(default=None, foreign_key="members.id")
    confirmed_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    rating: int | None = None
    thanks: str = Field(default="", max_length=500)


class OrderWave(SQLModel, table=True):
    """One wave of nudges for an order; the unique key makes creating it idempotent."""

    __tablename__ = "order_waves"

    __table_args__ = (UniqueConstraint("order_id", "round", "number"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id")
    round: int
    number: int
    size: int = 0
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class NudgeStatus(StrEnum):
    SENT = "sent"
    DECLINED = "declined"
    ACCEPTED = "accepted"
    TAKEN = "taken"
    CLOSED = "closed"


class Nudge(SQLModel, table=True):
    """An order offered to one volunteer (once per order), with the answer they gave."""

    __tablename__ = "nudges"

    __table_args__ = (UniqueConstraint("order_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    round: int
    wave: int
    distance_m: int
    status: str = Field(default=NudgeStatus.SENT, max_length=16)
    outbox_id: int | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    answered_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    BLOCKED = "blocked"
    # A paused broadcast's message: not claimed until the broadcast resumes.
    HELD = "held"


class OutboxMessage(SQLModel, table=True):
    """A message to deliver, written in the transaction that decided it; sent by the sender.

    `kind` and `payload` say what to say (the sender renders it in the member's language at
    send time); `key` makes enqueueing idempotent; `lease_until` lets another worker take over
    a row whose sender died; `message_id` is what the platform answered.
    """

    __tablename__ = "outbox"

    __table_args__ = (
        Index("ix_outbox_status_due", "status", "not_before"),
        # The claim's order among the pending rows: a broadcast's backlog is never sorted.
        Index("ix_outbox_lane", "status", "priority", "not_before", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=128, unique=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    kind: str = Field(max_length=32)
    payload: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    # The lane: lower goes first (core.outbox.Priority), so replies never wait behind a broadcast.
    priority: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    status: str = Field(default=OutboxStatus.PENDING, max_length=16)
    attempts: int = 0
    not_before: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    lease_until: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    chat_id: str | None = Field(default=None, max_length=64)
    message_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    error: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    sent_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class BlockedMember(SQLModel, table=True):
    """A member who blocked the bot on a platform: nothing more is sent there until they return."""

    __tablename__ = "blocked_members"

    member_id: int = Field(foreign_key="members.id", primary_key=True)
    platform: str = Field(max_length=16)
    blocked_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class LiveScreen(SQLModel, table=True):
    """A branch's public screen of aggregate figures, reached by an unguessable token."""

    __tablename__ = "live_screens"

    branch_id: int = Field(foreign_key="branches.id", primary_key=True)
    token: str = Field(max_length=64, unique=True)
    rotated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class NeedCategory(SQLModel, table=True):
    """One of a branch's kinds of residents' needs (Qingdao's survey used nine)."""

    __tablename__ = "need_categories"

    __table_args__ = (UniqueConstraint("branch_id", "code"),)

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id")
    code: str = Field(max_length=32)
    names: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    sort_order: int = 0


class NeedStatus(StrEnum):
    OPEN = "open"
    PLANNED = "planned"
    DONE = "done"
    # Folded into another need: its raisers hear about that one from then on.
    MERGED = "merged"


class Need(SQLModel, table=True):
    """A need a member raised (or a coordinator recorded for a resident at a stall)."""

    __tablename__ = "needs"

    __table_args__ = (Index("ix_needs_branch_status", "branch_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id")
    category_id: int = Field(foreign_key="need_categories.id")
    raised_by_id: int = Field(foreign_key="members.id", index=True)
    recorded_by_id: int | None = Field(default=None, foreign_key="members.id")
    text: str = Field(default="", max_length=1000)
    voice_file_id: str | None = Field(default=None, max_length=256)
    anonymous: bool = False
    status: str = Field(default=NeedStatus.OPEN, max_length=16)
    merged_into_id: int | None = Field(default=None, foreign_key="needs.id", index=True)
    note: str = Field(default="", max_length=500)
    idempotency_key: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class Team(SQLModel, table=True):
    """A volunteer team of a branch, named in each language, with a leader."""

    __tablename__ = "teams"

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    names: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    leader_id: int = Field(foreign_key="members.id")
    idempotency_key: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class TeamMember(SQLModel, table=True):
    __tablename__ = "team_members"

    team_id: int = Field(foreign_key="teams.id", primary_key=True)
    member_id: int = Field(foreign_key="members.id", primary_key=True, index=True)
    joined_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())


class DigestSubscription(SQLModel, table=True):
    """A member who asked for the weekly digest, and the local hour they want it at."""

    __tablename__ = "digest_subscriptions"

    member_id: int = Field(foreign_key="members.id", primary_key=True)
    local_hour: int = Field(ge=0, le=23)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
