"""Members and their identities: joining, the profile, what we keep and how it is erased."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import catalog, consent, ledger, typed
from core.db import utcnow
from core.errors import N_, InvalidInput, NotFound
from core.languages import LANGUAGES
from core.models import Branch, Identity, Member, Neighbourhood

MAX_NAME_LENGTH = 64
# About a kilometre: coarse enough that a stored home point does not give the door away.
COARSE_DECIMALS = 2


class NameInvalid(InvalidInput):
    key = N_("Please send your name as a short text, up to 64 letters.")


class UnknownBranch(NotFound):
    key = N_("I could not find that branch. Please choose one of the buttons.")


class Roles:
    RESIDENT = "resident"
    VOLUNTEER = "volunteer"
    BOTH = "both"


async def find_member(session: AsyncSession, platform: str, external_id: str) -> Member | None:
    """The member behind a platform identity, or None for a stranger (or someone erased)."""
    return await session.scalar(
        select(Member)
        .join(Identity, Identity.member_id == Member.id)
        .where(Identity.platform == platform, Identity.external_id == external_id)
    )


async def join(
    session: AsyncSession,
    platform: str,
    external_id: str,
    *,
    language: str,
    is_coordinator: bool = False,
) -> Member:
    """Create the member for a new identity; a concurrent or repeated join returns the same one."""
    if language not in LANGUAGES:
        raise InvalidInput()
    existing = await find_member(session, platform, external_id)
    if existing is not None:
        existing.language = language
        return existing
    member = Member(language=language, is_coordinator=is_coordinator)
    try:
        async with session.begin_nested():
            session.add(member)
            await session.flush()
            session.add(Identity(platform=platform, external_id=external_id, member_id=member.id))
            await session.flush()
    except IntegrityError:
        winner = await find_member(session, platform, external_id)
        if winner is None:
            raise
        return winner
    return member


async def get_member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None or member.erased_at is not None:
        raise NotFound()
    return member


def clean_name(text: str) -> str:
    name = " ".join(text.split())
    if not name or len(name) > MAX_NAME_LENGTH or name.startswith("/"):
        raise NameInvalid()
    return name


async def set_name(session: AsyncSession, member_id: int, text: str) -> Member:
    member = await get_member(session, member_id)
    member.name = clean_name(text)
    return member


async def set_language(session: AsyncSession, member_id: int, language: str) -> Member:
    if language not in LANGUAGES:
        raise InvalidInput()
    member = await get_member(session, member_id)
    member.language = language
    return member


async def set_branch(session: AsyncSession, member_id: int, branch_id: int) -> Member:
    member = await get_member(session, member_id)
    if await session.get(Branch, branch_id) is None:
        raise UnknownBranch()
    if member.branch_id != branch_id:
        member.neighbourhood_id = None
    member.branch_id = branch_id
    return member


async def set_roles(session: AsyncSession, member_id: int, role: str) -> Member:
    if role not in (Roles.RESIDENT, Roles.VOLUNTEER, Roles.BOTH):
        raise InvalidInput()
    member = await get_member(session, member_id)
    member.is_resident = role in (Roles.RESIDENT, Roles.BOTH)
    member.is_volunteer = role in (Roles.VOLUNTEER, Roles.BOTH)
    await session.flush()
    await ledger.follow_role(session, member.id)
    return member


def normalise_phone(phone: str) -> str:
    digits = typed.digits(phone)
    if not 6 <= len(digits) <= 15:
        raise InvalidInput()
    return "+" + digits


async def set_phone(session: AsyncSession, member_id: int, phone: str) -> Member:
    """The member shared their own number, asked what it is for: their consent, dated."""
    member = await get_member(session, member_id)
    member.phone = normalise_phone(phone)
    await consent.record(session, member_id, consent.Detail.PHONE)
    return member


async def set_home_location(
    session: AsyncSession, member_id: int, latitude: float, longitude: float
) -> Member:
    if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
        raise InvalidInput()
    member = await get_member(session, member_id)
    member.home_latitude = round(latitude, COARSE_DECIMALS)
    member.home_longitude = round(longitude, COARSE_DECIMALS)
    member.neighbourhood_id = None
    return member


async def set_neighbourhood(session: AsyncSession, member_id: int, neighbourhood_id: int) -> Member:
    member = await get_member(session, member_id)
    area = await session.get(Neighbourhood, neighbourhood_id)
    if area is None or area.branch_id != member.branch_id:
        raise NotFound()
    member.neighbourhood_id = area.id
    member.home_latitude = round(area.latitude, COARSE_DECIMALS)
    member.home_longitude = round(area.longitude, COARSE_DECIMALS)
    return member


@dataclass(frozen=True)
class Joined:
    member: Member
    # The welcome hours the branch gave on joining; 0 when it gives none, or gave them already.
    welcome_minutes: int


def welcome_key(platform: str, external_id: str) -> str:
    """The idempotency key of a person's welcome hours: one grant per person, ever.

    It is derived from the platform identity, not the member id, because erasing an account
    and signing up again makes a new member. The ledger keeps a digest, not the id: it
    outlives an erasure only so that the same id, signing up again, can be recognised.
    """
    digest = hashlib.sha256(f"{platform}:{external_id}".encode()).hexdigest()[:32]
    return f"welcome:{digest}"


async def grant_welcome_hours(session: AsyncSession, member: Member) -> int:
    """Credit the branch's welcome hours to a member who just joined, once per person;
    the minutes given now (0 when the branch gives none, or this person had them)."""
    if member.branch_id is None:
        return 0
    minutes = (await ledger.branch_policy(session, member.branch_id)).welcome_minutes
    identity = await session.scalar(
        select(Identity).where(Identity.member_id == member.id).order_by(Identity.id).limit(1)
    )
    if not minutes or identity is None:
        return 0
    key = welcome_key(identity.platform, identity.external_id)
    account = await ledger.open_member_account(session, member.id, member.branch_id)
    try:
        posting = await ledger.grant(session, account.id, minutes, key=key)
    except ledger.IdempotencyConflict:
        # This person had their welcome hours on an account since erased.
        return 0
    if posting.replayed:
        return 0
    return next(entry.amount for entry in posting.entries if entry.account_id == account.id)


async def finish_onboarding(session: AsyncSession, member_id: int) -> Joined:
    """Mark the member as joined; the first time, the branch's welcome hours come with it."""
    member = await get_member(session, member_id)
    if member.onboarded_at is not None:
        return Joined(member, 0)
    member.onboarded_at = utcnow()
    await session.flush()
    return Joined(member, await grant_welcome_hours(session, member))


@dataclass(frozen=True)
class PersonalData:
    """Everything the time bank keeps about one person, for /mydata."""

    member: Member
    branch: Branch | None
    neighbourhood: Neighbourhood | None
    identities: list[Identity]
    # For a home shared as a location: the branch's neighbourhood it is near, if any.
    home_near: Neighbourhood | None = None

    def as_dict(self) -> dict[str, Any]:
        m = self.member
        return {
            "name": m.name,
            "language": m.language,
            "branch": self.branch.code if self.branch else None,
            "roles": [
                r
                for r, on in (
                    ("resident", m.is_resident),
                    ("volunteer", m.is_volunteer),
                    ("coordinator", m.is_coordinator),
                )
                if on
            ],
            "phone": m.phone,
            "home": (m.home_latitude, m.home_longitude) if m.home_latitude is not None else None,
            "neighbourhood": self.neighbourhood.code if self.neighbourhood else None,
            "address": m.address,
            "verified": m.verified,
            "sponsored": m.sponsored,
            "joined": m.created_at.isoformat(),
            "identities": [f"{i.platform}:{i.external_id}" for i in self.identities],
        }


async def personal_data(session: AsyncSession, member_id: int) -> PersonalData:
    member = await get_member(session, member_id)
    identities = list(
        await session.scalars(select(Identity).where(Identity.member_id == member_id))
    )
    branch = await session.get(Branch, member.branch_id) if member.branch_id else None
    area = (
        await session.get(Neighbourhood, member.neighbourhood_id)
        if member.neighbourhood_id
        else None
    )
    near = None
    if area is None and branch is not None and member.home_latitude is not None:
        near = await catalog.nearest_neighbourhood(
            session, branch.id, member.home_latitude, member.home_longitude or 0.0
        )
    return PersonalData(member, branch, area, identities, near)


async def erase_member(session: AsyncSession, member_id: int) -> None:
    """Forget the person but keep the member row, so ledger entries stay linked and balanced."""
    member = await get_member(session, member_id)
    member.name = ""
    member.phone = None
    member.address = None
    member.home_latitude = None
    member.home_longitude = None
    member.neighbourhood_id = None
    member.language = None
    member.erased_at = utcnow()
    await consent.forget(session, member_id)
    await session.execute(delete(Identity).where(Identity.member_id == member_id))
