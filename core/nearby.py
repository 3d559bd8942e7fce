"""Near me, for a volunteer: the open requests around them that they could take, nearest
first, and taking one from that list.

The list keeps to the volunteer's own profile: the skills they ticked, the times they said
they are free (at the time the request is for), and the widest distance anyone may choose.
It names the area and the distance, never the address: that goes only to the volunteer
who takes the request, as with a nudge.

Taking goes through `core.helping.accept`, the service the nudge's Accept button calls: the
volunteer is given a nudge of their own for the order (wave 0, outside the waves, as a
coordinator's personal ask is) and accepts it, so the first tap wins here as everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import catalog, helping, members, nudges, volunteers
from core.db import utcnow
from core.errors import N_, DomainError, NotFound
from core.logs import log_event
from core.matching import (
    DISTANCES_M,
    Need,
    distance_m,
    need_for,
    part_of,
    skill_bit,
    slot_bit,
)
from core.models import (
    Category,
    Member,
    Neighbourhood,
    Nudge,
    NudgeStatus,
    Order,
    OrderFunding,
    OrderStatus,
)

log = logging.getLogger("timebank.nearby")
PAGE = 5
WITHIN_M = max(DISTANCES_M)


class NotVerifiedYet(DomainError):
    key = N_("A coordinator will verify your volunteering soon; then you can take requests.")


@dataclass(frozen=True, slots=True)
class NearbyRequest:
    """An open request as Near me shows it: what, when, the area and how far; no address."""

    order: Order
    category: Category
    time_zone: str
    area: dict[str, str] | None
    distance_m: int | None  # None: the volunteer has no home on file to measure from


@dataclass(frozen=True, slots=True)
class NearbyPage:
    requests: list[NearbyRequest]
    page: int
    has_more: bool


def _free_then(availability: int, at: datetime, time_zone: str) -> bool:
    local = at.astimezone(ZoneInfo(time_zone))
    return bool(availability & slot_bit(local.weekday(), part_of(local.hour)))


async def _area(session: AsyncSession, order: Order, need: Need) -> dict[str, str] | None:
    """The neighbourhood the help is in: near the request's own point, else the one the
    beneficiary lives in, else near their home; never guessed from the branch's centre."""
    if order.latitude is None or order.longitude is None:
        beneficiary = await session.get(Member, order.beneficiary_id)
        if beneficiary is not None and beneficiary.neighbourhood_id is not None:
            area = await session.get(Neighbourhood, beneficiary.neighbourhood_id)
            return dict(area.names) if area else None
        if beneficiary is None or beneficiary.home_latitude is None:
            return None
    area = await catalog.nearest_neighbourhood(
        session, order.branch_id, need.latitude, need.longitude
    )
    return dict(area.names) if area else None


async def requests_near(
    session: AsyncSession, volunteer_id: int, *, page: int = 0, now: datetime | None = None
) -> NearbyPage:
    """Open requests of the volunteer's branch in their skills, at times they are free,
    within reach, nearest first, a page of `PAGE` at a time. A volunteer with no home on
    file sees the branch's requests without distances."""
    now = now or utcnow()
    profile = await volunteers.profile(session, volunteer_id)
    member = await members.get_member(session, volunteer_id)
    skills = [bit for bit in range(1, 63) if profile.skills & skill_bit(bit)]
    if member.branch_id is None or not skills:
        return NearbyPage([], 0, False)
    orders = await session.scalars(
        select(Order)
        .where(
            Order.branch_id == member.branch_id,
            Order.status == OrderStatus.OPEN,
            Order.funding != OrderFunding.NEEDS_SPONSOR,
            Order.category_id.in_(skills),
            Order.requester_id != volunteer_id,
            Order.beneficiary_id != volunteer_id,
            ~exists().where(
                Nudge.order_id == Order.id,
                Nudge.member_id == volunteer_id,
                Nudge.status == NudgeStatus.DECLINED,
            ),
        )
        .order_by(Order.id)
    )
    home = (profile.latitude, profile.longitude)
    found = []
    for order in orders:
        need = await need_for(session, order, now)
        if not _free_then(profile.availability, need.at, need.time_zone):
            continue
        distance = None
        if home[0] is not None and home[1] is not None:
            distance = round(distance_m(home[0], home[1], need.latitude, need.longitude))
            if distance > WITHIN_M:
                continue
        category = await session.get(Category, order.category_id)
        assert category is not None
        found.append(
            NearbyRequest(
                order, category, need.time_zone, await _area(session, order, need), distance
            )
        )
    found.sort(
        key=lambda r: (
            r.distance_m is None,
            r.distance_m or 0,
            r.order.window_start or r.order.created_at,
            r.order.id,
        )
    )
    page = max(0, page)
    return NearbyPage(found[page * PAGE : (page + 1) * PAGE], page, len(found) > (page + 1) * PAGE)


async def _own_nudge(session: AsyncSession, order: Order, volunteer_id: int, now: datetime) -> int:
    """The volunteer's nudge for the order: the one they had, else a new one, wave 0."""
    query = select(Nudge.id).where(Nudge.order_id == order.id, Nudge.member_id == volunteer_id)
    nudge_id = await session.scalar(query)
    if nudge_id is not None:
        return nudge_id
    need = await need_for(session, order, now)
    profile = await volunteers.profile(session, volunteer_id)
    home = (profile.latitude, profile.longitude)
    distance = 0 if None in home else round(distance_m(*home, need.latitude, need.longitude))
    progress = await nudges.progress_of(session, order.id)
    try:
        async with session.begin_nested():
            nudge = Nudge(
                order_id=order.id,
                member_id=volunteer_id,
                round=progress.round,
                wave=0,  # found on Near me, not sent in a wave
                distance_m=distance,
                created_at=now,
            )
            session.add(nudge)
            await session.flush()
    except IntegrityError:
        nudge_id = await session.scalar(query)  # a double tap made it first
        assert nudge_id is not None
        return nudge_id
    assert nudge.id is not None
    return nudge.id


async def take(
    session: AsyncSession, volunteer_id: int, order_id: int, *, now: datetime | None = None
) -> helping.Accepted:
    """Take a request found on Near me; the first tap wins, a repeat by the winner replays."""
    now = now or utcnow()
    volunteer = await members.get_member(session, volunteer_id)
    if not volunteer.is_volunteer:
        raise volunteers.NotAVolunteer()
    if not volunteer.verified:
        raise NotVerifiedYet()
    order = await session.get(Order, order_id)
    if order is None or order.branch_id != volunteer.branch_id:
        raise NotFound()
    if volunteer_id in (order.requester_id, order.beneficiary_id):
        raise NotFound()
    if order.status == OrderStatus.OPEN and order.funding == OrderFunding.NEEDS_SPONSOR:
        raise helping.NoLongerNeeded()
    nudge_id = await _own_nudge(session, order, volunteer_id, now)
    accepted = await helping.accept(session, nudge_id=nudge_id, member_id=volunteer_id, now=now)
    if not accepted.replayed:
        log_event(log, "taken from near me", order_id=order_id, member_id=volunteer_id)
    return accepted
