"""Standing offers: a volunteer offers a skill with when they are free; residents find
offers near them by category, and "ask for this" places an ordinary request addressed to
that volunteer first.

Asking places the request as `core.orders.place_order` does and nudges the offering
volunteer at once, outside the waves (wave 0, as a coordinator's personal ask is); the
first wave is held back `FIRST_ASK` so they have time to answer, after which the usual
waves follow if they have not said yes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import members, nudges, orders, outbox
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.matching import distance_m
from core.models import Category, Member, Nudge, OrderStatus
from core.notices import Kind
from core.rewards.redemption import first_name, home_of
from core.rewards.tables import StandingOffer

FIRST_ASK = timedelta(minutes=nudges.Rules().wave_minutes)
ALL_SLOTS = (1 << 21) - 1
MAX_DESCRIPTION = 500
# In a nudge's outbox payload: the standing offer the request answers.
FROM_OFFER = "offer_id"


class VolunteersOnly(DomainError):
    key = N_("Only volunteers can offer their help here.")


class OfferGone(DomainError):
    key = N_("Sorry, this offer is no longer open.")


class OwnOffer(InvalidInput):
    key = N_("This is your own offer.")


class OfferTextTooLong(InvalidInput):
    key = N_("That is a little long. Please keep it under {count} characters.")


@dataclass(frozen=True, slots=True)
class OfferCard:
    offer_id: int
    volunteer_first_name: str
    category_id: int
    category_names: dict[str, str]
    description: str
    availability: int
    distance_m: int | None


async def offer_skill(
    session: AsyncSession,
    volunteer_id: int,
    category_id: int,
    *,
    description: str = "",
    availability: int = ALL_SLOTS,
) -> StandingOffer:
    """The volunteer's offer in a category; offering it again updates it (and reopens it)."""
    volunteer = await members.get_member(session, volunteer_id)
    if not volunteer.is_volunteer or volunteer.branch_id is None:
        raise VolunteersOnly()
    if await session.get(Category, category_id) is None:
        raise NotFound()
    text = " ".join(description.split())
    if len(text) > MAX_DESCRIPTION:
        raise OfferTextTooLong(count=MAX_DESCRIPTION)
    if text.startswith("/"):
        raise InvalidInput()
    if type(availability) is not int or not 0 < availability <= ALL_SLOTS:
        raise InvalidInput()
    offer = await session.scalar(
        select(StandingOffer).where(
            StandingOffer.volunteer_id == volunteer_id, StandingOffer.category_id == category_id
        )
    )
    if offer is None:
        offer = StandingOffer(
            branch_id=volunteer.branch_id, volunteer_id=volunteer_id, category_id=category_id
        )
        session.add(offer)
    home = await home_of(session, volunteer)
    offer.description = text
    offer.availability = availability
    offer.latitude, offer.longitude = home if home else (None, None)
    offer.withdrawn_at = None
    await session.flush()
    return offer


async def withdraw_offer(session: AsyncSession, volunteer_id: int, offer_id: int) -> None:
    offer = await session.get(StandingOffer, offer_id)
    if offer is None or offer.volunteer_id != volunteer_id:
        raise NotFound()
    offer.withdrawn_at = offer.withdrawn_at or utcnow()
    await session.flush()


async def offers_near(
    session: AsyncSession,
    member_id: int,
    *,
    category_id: int | None = None,
    offset: int = 0,
    limit: int = 5,
) -> list[OfferCard]:
    """Open offers of the member's branch, nearest first, one category or all."""
    member = await members.get_member(session, member_id)
    home = await home_of(session, member)
    query = (
        select(StandingOffer, Category)
        .join(Category, Category.id == StandingOffer.category_id)
        .where(
            StandingOffer.branch_id == member.branch_id,
            StandingOffer.withdrawn_at.is_(None),
            StandingOffer.volunteer_id != member.id,
        )
    )
    if category_id is not None:
        query = query.where(StandingOffer.category_id == category_id)
    cards = []
    for offer, category in (await session.execute(query)).all():
        volunteer = await session.get(Member, offer.volunteer_id)
        if volunteer is None or volunteer.erased_at is not None:
            continue
        distance = None
        if home is not None and offer.latitude is not None and offer.longitude is not None:
            distance = round(distance_m(*home, offer.latitude, offer.longitude))
        cards.append(
            OfferCard(
                offer_id=offer.id,
                volunteer_first_name=first_name(volunteer.name),
                category_id=category.id,
                category_names=dict(category.names),
                description=offer.description,
                availability=offer.availability,
                distance_m=distance,
            )
        )
    cards.sort(key=lambda c: (c.distance_m is None, c.distance_m or 0, c.offer_id))
    return cards[max(0, offset) : max(0, offset) + limit]


@dataclass(frozen=True, slots=True)
class Asked:
    placed: orders.Placed
    nudge_id: int | None  # None when the request waits for a sponsor, or was a replay


async def ask_for_offer(
    session: AsyncSession,
    requester_id: int,
    offer_id: int,
    *,
    beneficiary_id: int | None = None,
    request: orders.HelpRequest,
    key: str,
    max_open: int,
    now: datetime | None = None,
) -> Asked:
    """Place a request in the offer's category, and nudge the offering volunteer first.

    The same `key` again returns the first request and sends nothing more.
    """
    now = now or utcnow()
    offer = await session.get(StandingOffer, offer_id)
    if offer is None or offer.withdrawn_at is not None:
        raise OfferGone()
    if offer.volunteer_id in (requester_id, beneficiary_id):
        raise OwnOffer()
    if (await members.get_member(session, requester_id)).branch_id != offer.branch_id:
        raise OfferGone()  # another branch's offer, as `offers_near` never shows it
    if request.category_id != offer.category_id:
        raise InvalidInput()
    placed = await orders.place_order(
        session,
        requester_id=requester_id,
        beneficiary_id=beneficiary_id or requester_id,
        request=request,
        key=key,
        max_open=max_open,
        now=now,
    )
    order = placed.order
    if placed.replayed or order.status != OrderStatus.OPEN or order.branch_id != offer.branch_id:
        return Asked(placed, None)
    if placed.coverage.needs_sponsor:
        return Asked(placed, None)
    progress = await nudges.progress_of(session, order.id)
    distance = 0
    if None not in (order.latitude, order.longitude, offer.latitude, offer.longitude):
        distance = round(
            distance_m(order.latitude, order.longitude, offer.latitude, offer.longitude)
        )
    nudge = Nudge(
        order_id=order.id,
        member_id=offer.volunteer_id,
        round=progress.round,
        wave=0,  # asked through their offer, not in a wave
        distance_m=distance,
        created_at=now,
    )
    session.add(nudge)
    await session.flush()
    nudge.outbox_id = await outbox.enqueue(
        session,
        key=f"offer-ask:{order.id}",
        member_id=offer.volunteer_id,
        kind=Kind.NUDGE,
        payload={"nudge_id": nudge.id, FROM_OFFER: offer.id},
    )
    progress.next_wave_at = now + FIRST_ASK
    await session.flush()
    assert nudge.id is not None
    return Asked(placed, nudge.id)


async def offers_of(
    session: AsyncSession, volunteer_id: int
) -> list[tuple[StandingOffer, Category]]:
    """The volunteer's own open offers, with their categories."""
    rows = await session.execute(
        select(StandingOffer, Category)
        .join(Category, Category.id == StandingOffer.category_id)
        .where(StandingOffer.volunteer_id == volunteer_id, StandingOffer.withdrawn_at.is_(None))
        .order_by(StandingOffer.id)
    )
    return [(offer, category) for offer, category in rows.all()]
