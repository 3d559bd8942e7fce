"""Consent to keep a phone number or a home address (China's PIPL, Korea's PIPA): recorded,
with its date, when the member gives the detail after being told in plain words what it is
for (onboarding's phone question, "Is … your home? I can remember it"), or when a
coordinator writes down the address of a resident without a phone, who agreed to it in
person. Erasing the member (`members.erase_member`) removes the records with the details.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel

from core.db import UTCDateTime, utcnow


class Detail(StrEnum):
    PHONE = "phone"
    ADDRESS = "address"


class Consent(SQLModel, table=True):
    __tablename__ = "consents"

    __table_args__ = (UniqueConstraint("member_id", "detail"),)

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    detail: str = Field(max_length=16)
    given_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    # Who wrote it down for the member (a coordinator, for a resident without a phone).
    recorded_by_id: int | None = Field(default=None, foreign_key="members.id")


@dataclass(frozen=True, slots=True)
class Given:
    detail: Detail
    given_at: datetime
    in_person: bool


async def record(
    session: AsyncSession,
    member_id: int,
    detail: Detail,
    *,
    by: int | None = None,
    now: datetime | None = None,
) -> None:
    """The member agreed now (again: the date moves on) that `detail` is kept."""
    found = await session.scalar(
        select(Consent).where(Consent.member_id == member_id, Consent.detail == detail)
    )
    if found is None:
        found = Consent(member_id=member_id, detail=detail, given_at=now or utcnow())
        session.add(found)
    found.given_at = now or utcnow()
    found.recorded_by_id = by
    await session.flush()


async def given(session: AsyncSession, member_id: int) -> list[Given]:
    rows = await session.scalars(
        select(Consent).where(Consent.member_id == member_id).order_by(Consent.given_at)
    )
    return [Given(Detail(r.detail), r.given_at, r.recorded_by_id is not None) for r in rows]


async def forget(session: AsyncSession, member_id: int) -> None:
    await session.execute(delete(Consent).where(Consent.member_id == member_id))
