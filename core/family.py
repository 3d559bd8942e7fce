"""Asking on someone's behalf: family links by invite code, and residents without a phone.

A member gives a relative a short invite code; the relative enters it; the member confirms
with a button. From then on the relative may ask for help for the member, and either side
may end the link. A coordinator may also register a resident who has no phone (a member
with no identity) and ask for help for any such resident.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import consent, coordinators, members, notices, outbox, typed
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.models import Branch, FamilyInvite, FamilyLink, FamilyLinkStatus, Identity, Member

INVITE_TTL = timedelta(hours=24)
CODE_DIGITS = 6
MAX_ADDRESS_LENGTH = 300


class InviteNotValid(NotFound):
    key = N_("That code does not work. Codes last one day; please ask for a new one.")


class OwnInvite(InvalidInput):
    key = N_("That is your own code. Please give it to your relative to enter.")


class AlreadyLinked(DomainError):
    key = N_("You two are already linked.")


class NotAllowedForMember(DomainError):
    key = N_("Sorry, you cannot ask for help for this person.")


class CoordinatorsOnly(DomainError):
    key = N_("Only a coordinator can do this.")


class AddressInvalid(InvalidInput):
    key = N_("Please type the address as a short text, up to 300 letters.")


def _new_code() -> str:
    return "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS))


def clean_code(text: str) -> str:
    """What a person typed, read back as a code: spaces and dashes do not matter."""
    return typed.digits(text)


def clean_address(text: str) -> str:
    address = " ".join(text.split())
    if len(address) < 2 or len(address) > MAX_ADDRESS_LENGTH or address.startswith("/"):
        raise AddressInvalid()
    return address


async def create_invite(
    session: AsyncSession, member_id: int, *, now: datetime | None = None
) -> FamilyInvite:
    """A code for the member's relative; an unused code that is still valid is given again."""
    now = now or utcnow()
    await members.get_member(session, member_id)
    current = await session.scalar(
        select(FamilyInvite)
        .where(
            FamilyInvite.member_id == member_id,
            FamilyInvite.used_at.is_(None),
            FamilyInvite.expires_at > now + INVITE_TTL / 2,
        )
        .order_by(FamilyInvite.id.desc())
    )
    if current is not None:
        return current
    for _attempt in range(10):
        invite = FamilyInvite(code=_new_code(), member_id=member_id, expires_at=now + INVITE_TTL)
        try:
            async with session.begin_nested():
                session.add(invite)
                await session.flush()
        except IntegrityError:
            continue
        return invite
    raise DomainError()


@dataclass(frozen=True)
class LinkRequest:
    link: FamilyLink
    member: Member
    relative: Member
    replayed: bool = False


async def use_invite(
    session: AsyncSession, relative_id: int, code: str, *, now: datetime | None = None
) -> LinkRequest:
    """The relative enters the code: a pending link the member is then asked to confirm."""
    now = now or utcnow()
    relative = await members.get_member(session, relative_id)
    invite = await session.scalar(
        select(FamilyInvite).where(FamilyInvite.code == clean_code(code)).with_for_update()
    )
    if invite is None or invite.expires_at <= now:
        raise InviteNotValid()
    if invite.member_id == relative_id:
        raise OwnInvite()
    if invite.used_at is not None:
        link = await _link(session, invite.member_id, relative_id)
        if invite.used_by_id == relative_id and link is not None:
            member = await members.get_member(session, invite.member_id)
            return LinkRequest(link, member, relative, replayed=True)
        raise InviteNotValid()
    member = await members.get_member(session, invite.member_id)
    link = await _link(session, member.id, relative_id)
    if link is not None and link.status == FamilyLinkStatus.ACTIVE:
        raise AlreadyLinked()
    if link is None:
        link = FamilyLink(member_id=member.id, relative_id=relative_id)
        session.add(link)
    link.status = FamilyLinkStatus.PENDING
    link.created_at = now
    link.confirmed_at = None
    link.ended_at = None
    link.ended_by_id = None
    invite.used_at = now
    invite.used_by_id = relative_id
    await session.flush()
    await outbox.enqueue(
        session,
        key=f"family-ask:{invite.id}",
        member_id=member.id,
        kind=notices.FamilyAsk.KIND,
        payload=notices.FamilyAsk(link_id=link.id).payload(),
    )
    return LinkRequest(link, member, relative)


async def _link(session: AsyncSession, member_id: int, relative_id: int) -> FamilyLink | None:
    return await session.scalar(
        select(FamilyLink).where(
            FamilyLink.member_id == member_id, FamilyLink.relative_id == relative_id
        )
    )


async def answer_link(
    session: AsyncSession,
    member_id: int,
    link_id: int,
    *,
    accept: bool,
    now: datetime | None = None,
) -> LinkRequest:
    """The member says yes (the link becomes active) or no (it ends). Asked twice: no change."""
    now = now or utcnow()
    link = await _locked(session, link_id)
    if link is None or link.member_id != member_id:
        raise NotFound()
    member = await members.get_member(session, link.member_id)
    relative = await members.get_member(session, link.relative_id)
    if link.status != FamilyLinkStatus.PENDING:
        return LinkRequest(link, member, relative, replayed=True)
    if accept:
        link.status, link.confirmed_at = FamilyLinkStatus.ACTIVE, now
    else:
        link.status, link.ended_at, link.ended_by_id = FamilyLinkStatus.ENDED, now, member_id
    await session.flush()
    await outbox.enqueue(
        session,
        key=f"family-answer:{link.id}:{_stamp(link.created_at)}",
        member_id=relative.id,
        kind=notices.FamilyAnswer.KIND,
        payload=notices.FamilyAnswer(link_id=link.id, accepted=accept).payload(),
    )
    return LinkRequest(link, member, relative)


def _stamp(at: datetime) -> str:
    """A link's moment as part of an idempotency key: a link is asked, answered and ended
    again each time it is made anew."""
    return at.strftime("%Y%m%d%H%M%S%f")


async def _locked(session: AsyncSession, link_id: int) -> FamilyLink | None:
    """The link, read afresh and locked (PostgreSQL) so that only one answer changes it."""
    return await session.get(FamilyLink, link_id, with_for_update=True, populate_existing=True)


async def unlink(
    session: AsyncSession, member_id: int, link_id: int, *, now: datetime | None = None
) -> LinkRequest:
    """Either side ends the link; ending it again changes nothing."""
    now = now or utcnow()
    link = await _locked(session, link_id)
    if link is None or member_id not in (link.member_id, link.relative_id):
        raise NotFound()
    member = await session.get(Member, link.member_id)
    relative = await session.get(Member, link.relative_id)
    assert member is not None and relative is not None
    if link.status == FamilyLinkStatus.ENDED:
        return LinkRequest(link, member, relative, replayed=True)
    link.status, link.ended_at, link.ended_by_id = FamilyLinkStatus.ENDED, now, member_id
    await session.flush()
    other = relative.id if member_id == member.id else member.id
    await outbox.enqueue(
        session,
        key=f"family-unlinked:{link.id}:{_stamp(now)}",
        member_id=other,
        kind=notices.FamilyUnlinked.KIND,
        payload=notices.FamilyUnlinked(by=member_id).payload(),
    )
    return LinkRequest(link, member, relative)


@dataclass(frozen=True)
class Link:
    """One link seen from one side: `other` is the person at the other end."""

    id: int
    other: Member
    i_am_relative: bool
    status: str


async def links_of(session: AsyncSession, member_id: int) -> list[Link]:
    """A member's pending and active links, both as the helped member and as the relative."""
    rows = await session.scalars(
        select(FamilyLink)
        .where(
            or_(FamilyLink.member_id == member_id, FamilyLink.relative_id == member_id),
            FamilyLink.status != FamilyLinkStatus.ENDED,
        )
        .order_by(FamilyLink.id)
    )
    result = []
    for link in rows:
        i_am_relative = link.relative_id == member_id
        other = await session.get(Member, link.member_id if i_am_relative else link.relative_id)
        if other is None or other.erased_at is not None:
            continue
        result.append(Link(link.id, other, i_am_relative, link.status))
    return result


def _without_identity():
    return ~exists().where(Identity.member_id == Member.id)


async def beneficiaries(session: AsyncSession, proxy_id: int) -> list[Member]:
    """Everyone the proxy may ask for help for, apart from themselves.

    A relative with an active link may; a coordinator (of every branch, as configured) may
    for residents who are on no platform (registered by a coordinator, no phone of their own).
    """
    proxy = await members.get_member(session, proxy_id)
    conditions = [
        exists().where(
            FamilyLink.member_id == Member.id,
            FamilyLink.relative_id == proxy_id,
            FamilyLink.status == FamilyLinkStatus.ACTIVE,
        )
    ]
    if proxy.is_coordinator:
        conditions.append(and_(Member.is_resident, _without_identity()))
    rows = await session.scalars(
        select(Member)
        .where(or_(*conditions), Member.erased_at.is_(None), Member.id != proxy_id)
        .order_by(Member.name, Member.id)
    )
    # A coordinator's own branch first: those are the residents they are likeliest to call.
    return sorted(rows, key=lambda m: m.branch_id != proxy.branch_id)


async def may_ask_for(session: AsyncSession, proxy: Member, beneficiary: Member) -> bool:
    """Whether `proxy` may ask for help on `beneficiary`'s behalf (oneself always may)."""
    if beneficiary.erased_at is not None:
        return False
    if proxy.id == beneficiary.id:
        return True
    linked = await session.scalar(
        select(FamilyLink.id).where(
            FamilyLink.member_id == beneficiary.id,
            FamilyLink.relative_id == proxy.id,
            FamilyLink.status == FamilyLinkStatus.ACTIVE,
        )
    )
    if linked is not None:
        return True
    if proxy.is_coordinator and beneficiary.is_resident:
        has_identity = await session.scalar(
            select(Identity.id).where(Identity.member_id == beneficiary.id).limit(1)
        )
        return has_identity is None
    return False


async def register_offline_resident(
    session: AsyncSession,
    coordinator_id: int,
    *,
    name: str,
    branch_id: int,
    address: str,
) -> Member:
    """A coordinator registers a resident who has no phone: a member with no identity."""
    coordinator = await members.get_member(session, coordinator_id)
    if not coordinator.is_coordinator:
        raise CoordinatorsOnly()
    branch = await session.get(Branch, branch_id)
    if branch is None or not await coordinators.coordinates(session, coordinator, branch.id):
        raise members.UnknownBranch()
    resident = Member(
        name=members.clean_name(name),
        language=branch.default_language,
        branch_id=branch.id,
        is_resident=True,
        address=clean_address(address),
        onboarded_at=utcnow(),
    )
    session.add(resident)
    await session.flush()
    await consent.record(session, resident.id, consent.Detail.ADDRESS, by=coordinator.id)
    return resident
