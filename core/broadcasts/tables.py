"""The broadcasts' tables: the announcement, one delivery row per recipient, "I'll come" taps."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, utcnow


def _timestamp(*, nullable: bool = False) -> Column:
    return Column(UTCDateTime(), nullable=nullable)


class BroadcastStatus(StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"


class Broadcast(SQLModel, table=True):
    """A coordinator's announcement to a branch's members.

    `texts` holds one text per language (an empty language is not sent, unless
    `fallback_language` names the text its readers get instead); `audience` is an
    `Audience` as a dict. Expansion walks the audience by member id: `cursor` is the last
    member id looked at, so a restart goes on where the last committed chunk ended.
    """

    __tablename__ = "broadcasts"

    __table_args__ = (Index("ix_broadcasts_status_send_at", "status", "send_at"),)

    id: int | None = Field(default=None, primary_key=True)
    branch_id: int = Field(foreign_key="branches.id", index=True)
    author_id: int = Field(foreign_key="members.id")
    texts: dict[str, str] = Field(sa_column=Column(JSON, nullable=False))
    fallback_language: str | None = Field(default=None, max_length=16)
    photo_file_id: str | None = Field(default=None, max_length=256)
    buttons: list[dict] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    audience: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=BroadcastStatus.DRAFT, max_length=16)
    send_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    cursor: int = 0
    expanded_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    total: int = 0
    key: str = Field(max_length=128, unique=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
    started_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))
    finished_at: datetime | None = Field(default=None, sa_column=_timestamp(nullable=True))


class BroadcastDelivery(SQLModel, table=True):
    """The broadcast for one member: made once (the unique pair), sent through the outbox."""

    __tablename__ = "broadcast_deliveries"

    __table_args__ = (UniqueConstraint("broadcast_id", "member_id"),)

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcasts.id")
    member_id: int = Field(foreign_key="members.id")
    language: str = Field(max_length=16)
    outbox_id: int = Field(foreign_key="outbox.id", index=True)


class BroadcastResponse(SQLModel, table=True):
    """A member tapped "I'll come" under a broadcast (once counts once)."""

    __tablename__ = "broadcast_responses"

    broadcast_id: int = Field(foreign_key="broadcasts.id", primary_key=True)
    member_id: int = Field(foreign_key="members.id", primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_column=_timestamp())
