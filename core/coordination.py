"""The coordinator's "find someone": the orders still waiting for a volunteer, a wider list of
who could help with one, asking a volunteer personally, and another round of waves.

The automatic waves only reach volunteers who fit every rule (`core.matching`). A
coordinator sees more: everyone of the branch with the skill, ranked with the same
distances and fairness, each marked with what keeps them out of the waves (too far, paused,
said not this time, ...), so they can judge and ask one themselves. Asking is a nudge like
any other (a `Nudge` row and an outbox message), so Accept / Not this time and first tap
wins work unchanged. Its message carries who asked (`nudges.ASKED_BY` in the payload), so
the volunteer reads that their coordinator asked them, and that coordinator hears the answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import catalog, coordinators, ledger, matching, members, notices, nudges, outbox
from core.db import utcnow
from core.errors import N_, DomainError, NotFound
from core.logs import log_event
from core.models import (
    BlockedMember,
    Branch,
    Category,
    Member,
    Neighbourhood,
    Nudge,
    NudgeStatus,
    Order,
    OrderEvent,
    OrderFunding,
    OrderProgress,
    OrderStatus,
    VolunteerProfile,
)
from core.volunteers import CoordinatorOnly

log = logging.getLogger("timebank.coordination")

# How far the coordinator's list looks: twice the widest distance a volunteer may choose.
WIDEST_FACTOR = 2
MAX_CANDIDATES = 60
MAX_WAITING = 50


class NobodyNew(DomainError):
    key = N_("Everyone who fits has been asked already. Please ask someone from the list yourself.")


class StillLooking(DomainError):
    key = N_("The nudges for this request are still going out. Please wait a little.")


class PoolTooLow(DomainError):
    key = N_("The community pool does not have enough credit for this yet. Please top it up first.")


class NeedsSponsor(DomainError):
    key = N_("Please cover the cost first; then I will ask volunteers.")


class VolunteerFound(DomainError):
    """A coordinator's button on a request a volunteer has taken meanwhile."""

    key = N_("A volunteer has already said yes to this request, so nothing more is needed.")


class NotWaiting(DomainError):
    """A coordinator's button on a request cancelled, expired or past its time."""

    key = N_("This request is no longer waiting for a volunteer, so nothing was changed.")


class Why(StrEnum):
    """What keeps a volunteer out of the automatic waves for this order."""

    ASKED = "asked"  # offered it already, no answer yet
    DECLINED = "declined"  # said "not this time"
    GAVE_BACK = "gave_back"  # accepted it earlier, then handed it back
    PAUSED = "paused"
    NOT_FREE = "not_free"  # not available at that part of that day
    QUIET = "quiet"  # in their quiet hours now
    FAR = "far"  # farther than they said they would go
    BUSY = "busy"  # at their limit of open orders


# The weightier reason decides how far down the list someone goes.
_WEIGHT = {
    Why.ASKED: 1,
    Why.QUIET: 1,
    Why.FAR: 1,
    Why.NOT_FREE: 2,
    Why.BUSY: 2,
    Why.PAUSED: 3,
    Why.GAVE_BACK: 3,
    Why.DECLINED: 4,
}


@dataclass(frozen=True)
class CandidateRow:
    member_id: int
    name: str
    distance_m: int
    reasons: tuple[Why, ...]
    candidate: matching.Candidate

    @property
    def fits(self) -> bool:
        """Would the automatic waves ask them (if they had not been asked yet)."""
        return not self.reasons

    def rank_key(self) -> tuple:
        weight = max((_WEIGHT[why] for why in self.reasons), default=0)
        return (weight, *self.candidate.rank_key())


@dataclass(frozen=True)
class OrderBrief:
    """An open order as a coordinator sees it when looking for someone: no exact address."""

    order: Order
    category: Category
    branch: Branch
    beneficiary: Member
    area: Neighbourhood | None
    progress: OrderProgress | None
    asked: int  # volunteers offered it so far, in every round
    pool_free: int | None = None  # what the branch pool can still promise, if it must pay

    @property
    def escalated(self) -> bool:
        return self.progress is not None and self.progress.escalated_at is not None

    @property
    def needs_sponsor(self) -> bool:
        return self.order.funding == OrderFunding.NEEDS_SPONSOR


@dataclass(frozen=True)
class Finding:
    brief: OrderBrief
    candidates: list[CandidateRow]


@dataclass(frozen=True)
class Asked:
    nudge: Nudge
    volunteer: Member
    replayed: bool
    # When the nudge goes out, if it waits for the end of the volunteer's quiet hours.
    waits_until: datetime | None = None


def quiet_ends_at(now: datetime, time_zone: str, start: int | None, end: int | None) -> datetime:
    """The next end of a volunteer's quiet hours after `now` (they are in them now)."""
    assert start is not None and end is not None
    local = now.astimezone(ZoneInfo(time_zone))
    ends = local.replace(hour=end // 60, minute=end % 60, second=0, microsecond=0)
    if ends <= local:
        ends += timedelta(days=1)
    return ends.astimezone(UTC)


async def _coordinator(session: AsyncSession, member_id: int) -> Member:
    member = await members.get_member(session, member_id)
    if not member.is_coordinator or member.branch_id is None:
        raise CoordinatorOnly()
    return member


async def _open_order(
    session: AsyncSession, order_id: int, coordinator: Member, now: datetime
) -> Order:
    """The order, if it is this coordinator's branch's; refused kindly if no longer open,
    or if its time has passed and the sweep has not yet marked it expired."""
    order = await session.get(Order, order_id, populate_existing=True)
    if order is None or not await coordinators.coordinates(session, coordinator, order.branch_id):
        raise NotFound()
    if order.status != OrderStatus.OPEN:
        if order.status in (OrderStatus.ACCEPTED, OrderStatus.DONE, OrderStatus.CONFIRMED):
            raise VolunteerFound()
        raise NotWaiting()
    if order.window_end is not None and order.window_end <= now:
        raise NotWaiting()
    return order


async def _area(session: AsyncSession, order: Order, need: matching.Need) -> Neighbourhood | None:
    """The neighbourhood the help is in: the beneficiary's own for help at home, else the one
    whose centre is nearest the place."""
    beneficiary = await session.get(Member, order.beneficiary_id)
    if order.place_kind == "home" and beneficiary and beneficiary.neighbourhood_id:
        return await session.get(Neighbourhood, beneficiary.neighbourhood_id)
    areas = list(
        await session.scalars(
            select(Neighbourhood).where(Neighbourhood.branch_id == order.branch_id)
        )
    )
    return min(
        areas,
        key=lambda a: matching.distance_m(need.latitude, need.longitude, a.latitude, a.longitude),
        default=None,
    )


async def _asked_count(session: AsyncSession, order_id: int) -> int:
    return await session.scalar(
        select(func.count()).select_from(Nudge).where(Nudge.order_id == order_id)
    )


async def _brief(
    session: AsyncSession, order: Order, need: matching.Need | None, now: datetime
) -> OrderBrief:
    need = need or await matching.need_for(session, order, now)
    category = await session.get(Category, order.category_id)
    branch = await session.get(Branch, order.branch_id)
    beneficiary = await session.get(Member, order.beneficiary_id)
    assert category is not None and branch is not None and beneficiary is not None
    return OrderBrief(
        order,
        category,
        branch,
        beneficiary,
        await _area(session, order, need),
        await session.get(OrderProgress, order.id),
        await _asked_count(session, order.id),
        await pool_free(session, order.branch_id)
        if order.funding == OrderFunding.NEEDS_SPONSOR
        else None,
    )


async def waiting_orders(
    session: AsyncSession, coordinator_id: int, *, now: datetime | None = None
) -> list[OrderBrief]:
    """Open orders nobody has taken, of the branch the coordinator works in: those waiting
    for someone to cover the cost first, then those the waves gave up on, then the soonest."""
    now = now or utcnow()
    _member, branch_id = await coordinators.working_branch(session, coordinator_id)
    rows = await session.execute(
        select(Order)
        .outerjoin(OrderProgress, OrderProgress.order_id == Order.id)
        .where(
            Order.branch_id == branch_id,
            Order.status == OrderStatus.OPEN,
            or_(Order.window_end.is_(None), Order.window_end > now),
        )
        .order_by(
            Order.funding != OrderFunding.NEEDS_SPONSOR,
            OrderProgress.escalated_at.is_(None),
            Order.window_start.is_(None),
            Order.window_start,
            Order.id,
        )
        .limit(MAX_WAITING)
    )
    return [await _brief(session, order, None, now) for order in rows.scalars()]


def _query(need: matching.Need):
    """Volunteers of the branch with the skill and a home on the map: verified, still
    members, not blocked the bot, not the order's own people."""
    return (
        select(VolunteerProfile, Member.name, Member.language)
        .join(Member, Member.id == VolunteerProfile.member_id)
        .where(
            matching.of_branches(need.branch_ids),
            VolunteerProfile.skills.op("&")(matching.skill_bit(need.category_id)) != 0,
            VolunteerProfile.latitude.is_not(None),
            Member.is_volunteer.is_(True),
            Member.verified.is_(True),
            Member.erased_at.is_(None),
            VolunteerProfile.member_id.not_in(need.excluded),
            ~exists().where(BlockedMember.member_id == VolunteerProfile.member_id),
        )
    )


def _near(need: matching.Need, radius_m: int):
    """`_query` narrowed to the grid cells within `radius_m` of the place."""
    ranges = matching.cell_ranges(need.latitude, need.longitude, radius_m)
    return _query(need).where(
        or_(*(VolunteerProfile.cell.between(low, high) for low, high in ranges))
    )


async def _judge(
    session: AsyncSession, need: matching.Need, rows: list, now: datetime, within_m: float
) -> list[CandidateRow]:
    local_now = now.astimezone(ZoneInfo(need.time_zone))
    minute = local_now.hour * 60 + local_now.minute
    local_at = need.at.astimezone(ZoneInfo(need.time_zone))
    slot = matching.slot_bit(local_at.weekday(), matching.part_of(local_at.hour))
    ids = [profile.member_id for profile, _name, _language in rows]
    answers = dict(
        (
            await session.execute(
                select(Nudge.member_id, Nudge.status).where(
                    Nudge.order_id == need.order_id, Nudge.member_id.in_(ids)
                )
            )
        ).all()
    )
    loads = await matching.workload(session, ids, now)
    found = []
    for profile, name, language in rows:
        exact = matching.distance_m(
            need.latitude, need.longitude, profile.latitude, profile.longitude
        )
        if exact >= within_m:
            continue
        busy, recent = loads.get(profile.member_id, (0, 0))
        reasons = {
            Why.ASKED: answers.get(profile.member_id) in (NudgeStatus.SENT, NudgeStatus.TAKEN),
            Why.DECLINED: answers.get(profile.member_id) == NudgeStatus.DECLINED,
            Why.GAVE_BACK: answers.get(profile.member_id) == NudgeStatus.ACCEPTED,
            Why.PAUSED: profile.paused,
            Why.NOT_FREE: not profile.availability & slot,
            Why.QUIET: matching.in_quiet_hours(minute, profile.quiet_start, profile.quiet_end),
            Why.FAR: exact > profile.max_distance_m,
            Why.BUSY: busy >= profile.max_open,
        }
        speaks = need.language is not None and (
            need.language in (profile.languages or ()) or need.language == language
        )
        rating = profile.rating_sum / profile.rating_count if profile.rating_count else 0.0
        candidate = matching.Candidate(
            profile.member_id, round(exact), recent, speaks, rating, exact
        )
        found.append(
            CandidateRow(
                profile.member_id,
                name,
                round(exact),
                tuple(why for why, applies in reasons.items() if applies),
                candidate,
            )
        )
    found.sort(key=CandidateRow.rank_key)
    return found


async def candidates_for_coordinator(
    session: AsyncSession,
    *,
    order_id: int,
    coordinator_id: int,
    now: datetime | None = None,
    limit: int = MAX_CANDIDATES,
) -> Finding:
    """Who could help with an open order, wider than the waves: everyone of the branch with
    the skill within twice the farthest a volunteer may choose to go, those who fit first,
    each marked with what keeps them out of the waves. The box of grid cells grows as in
    matching until it holds `limit` of them; the best `limit` of those are returned."""
    now = now or utcnow()
    coordinator = await _coordinator(session, coordinator_id)
    order = await _open_order(session, order_id, coordinator, now)
    need = await matching.need_for(session, order, now)
    radii = (*matching.search_radii(), matching.search_radii()[-1] * WIDEST_FACTOR)
    for radius in radii:
        rows = (await session.execute(_near(need, radius))).all()
        candidates = await _judge(session, need, rows, now, radius)
        if len(candidates) >= limit or radius == radii[-1]:
            break
    return Finding(await _brief(session, order, need, now), candidates[:limit])


async def _nudge_for(
    session: AsyncSession, order: Order, volunteer_id: int, progress: OrderProgress, distance: int
) -> Nudge:
    """The volunteer's nudge for this order, offered afresh (a volunteer has one per order)."""
    nudge = await session.scalar(
        select(Nudge).where(Nudge.order_id == order.id, Nudge.member_id == volunteer_id)
    )
    if nudge is None:
        try:
            async with session.begin_nested():
                nudge = Nudge(
                    order_id=order.id,
                    member_id=volunteer_id,
                    round=progress.round,
                    wave=0,  # asked by a coordinator, not in a wave
                    distance_m=distance,
                )
                session.add(nudge)
                await session.flush()
        except IntegrityError:
            nudge = await session.scalar(
                select(Nudge).where(Nudge.order_id == order.id, Nudge.member_id == volunteer_id)
            )
            assert nudge is not None
    nudge.status = NudgeStatus.SENT
    nudge.round = progress.round
    nudge.answered_at = None
    return nudge


async def ask_volunteer(
    session: AsyncSession,
    *,
    order_id: int,
    coordinator_id: int,
    volunteer_id: int,
    now: datetime | None = None,
) -> Asked:
    """A coordinator asks one volunteer personally: a nudge, as a wave would send it; in
    their quiet hours it waits until those end.

    Once per volunteer per round of the order (the outbox key), so a double tap, or two
    coordinators tapping together, sends one message; after "another round" they may be
    asked again. Whoever asked or declined before is offered it afresh.
    """
    now = now or utcnow()
    coordinator = await _coordinator(session, coordinator_id)
    order = await _open_order(session, order_id, coordinator, now)
    if order.funding == OrderFunding.NEEDS_SPONSOR:
        raise NeedsSponsor()
    progress = await nudges.progress_of(session, order.id)  # locks the order's matching
    need = await matching.need_for(session, order, now)
    only = _query(need).where(VolunteerProfile.member_id == volunteer_id)
    rows = (await session.execute(only)).all()
    if not rows:
        raise NotFound()
    [row] = await _judge(session, need, rows, now, float("inf"))
    profile = rows[0][0]
    waits_until = None
    if Why.QUIET in row.reasons:
        waits_until = quiet_ends_at(now, need.time_zone, profile.quiet_start, profile.quiet_end)
    volunteer = await members.get_member(session, volunteer_id)
    key = f"ask:{order.id}:{volunteer_id}:{progress.round}"
    earlier = await outbox.by_key(session, key)
    if earlier is not None:
        nudge = await session.scalar(
            select(Nudge).where(Nudge.order_id == order.id, Nudge.member_id == volunteer_id)
        )
        assert nudge is not None
        waits = earlier.not_before if earlier.not_before > now else None
        return Asked(nudge, volunteer, replayed=True, waits_until=waits)
    nudge = await _nudge_for(session, order, volunteer_id, progress, row.distance_m)
    nudge.created_at = now
    await session.flush()
    sent = await outbox.enqueue(
        session,
        key=key,
        member_id=volunteer_id,
        kind=notices.Nudged.KIND,
        payload=notices.Nudged(nudge_id=nudge.id, asked_by=coordinator.id).payload(),
        not_before=waits_until,
    )
    if sent is None:
        return Asked(nudge, volunteer, replayed=True, waits_until=waits_until)
    nudge.outbox_id = sent
    await session.flush()
    log_event(log, "volunteer asked by coordinator", order_id=order.id, volunteer_id=volunteer_id)
    return Asked(nudge, volunteer, replayed=False, waits_until=waits_until)


async def another_round(
    session: AsyncSession,
    *,
    order_id: int,
    coordinator_id: int,
    after_round: int,
    now: datetime | None = None,
) -> OrderProgress:
    """Start matching again with fresh waves, to the volunteers not yet asked.

    `after_round` is the round the coordinator saw: a repeated tap finds the round moved on
    and changes nothing. Refused when nobody new fits, rather than promising waves of none.
    """
    now = now or utcnow()
    coordinator = await _coordinator(session, coordinator_id)
    order = await _open_order(session, order_id, coordinator, now)
    progress = await nudges.progress_of(session, order.id)
    if progress.round != after_round:
        return progress
    if progress.escalated_at is None:
        raise StillLooking()
    need = await matching.need_for(session, order, now)
    if not await matching.eligible(session, need, now=now, limit=1):
        raise NobodyNew()
    progress.round += 1
    progress.waves = 0
    progress.next_wave_at = now
    progress.escalated_at = None
    await session.flush()
    log_event(log, "matching restarted by coordinator", order_id=order.id, round=progress.round)
    return progress


async def pool_free(session: AsyncSession, branch_id: int) -> int:
    """What the branch pool can still promise: its available credit less the estimates of
    the open orders it already pays for, which are held only once someone accepts."""
    pool = await ledger.pool_account(session, branch_id)
    available = (await ledger.balance_of(session, pool.id)).available
    promised = await session.scalar(
        select(func.coalesce(func.sum(Order.estimated_minutes), 0)).where(
            Order.branch_id == branch_id,
            Order.status == OrderStatus.OPEN,
            Order.funding == OrderFunding.POOL,
        )
    )
    return available - int(promised or 0)


@dataclass(frozen=True)
class Sponsored:
    order: Order
    replayed: bool


async def sponsor_order(
    session: AsyncSession, *, order_id: int, coordinator_id: int, now: datetime | None = None
) -> Sponsored:
    """The branch pool pays for an order its beneficiary cannot cover, so the next sweep
    starts nudging volunteers. A repeat (a double tap, a second coordinator) changes nothing."""
    now = now or utcnow()
    coordinator = await _coordinator(session, coordinator_id)
    # One sponsorship at a time per branch, so two cannot promise the same credit of the pool.
    branch_id = await session.scalar(select(Order.branch_id).where(Order.id == order_id))
    await session.execute(select(Branch.id).where(Branch.id == branch_id).with_for_update())
    order = await _open_order(session, order_id, coordinator, now)
    if order.funding != OrderFunding.NEEDS_SPONSOR:
        return Sponsored(order, replayed=True)
    if await pool_free(session, order.branch_id) < order.estimated_minutes:
        raise PoolTooLow()
    order.funding = OrderFunding.POOL
    order.updated_at = now
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=OrderStatus.OPEN,
            to_status=OrderStatus.OPEN,
            actor_id=coordinator.id,
            note="paid by the branch pool",
            at=now,
            key=f"order:{order.id}:sponsored",
        )
    )
    await session.flush()
    await nudges.tell_parties(
        session, order, notices.Sponsored(order_id=order.id), f"sponsored:{order.id}"
    )
    log_event(log, "order sponsored by the pool", order_id=order.id, coordinator=coordinator.id)
    return Sponsored(order, replayed=False)


async def fund_pool(
    session: AsyncSession, *, branch_code: str, minutes: int, reason: str, key: str
) -> tuple[ledger.Posting, int]:
    """New credit for a branch's pool (a donation, a grant from the street office), which
    pays for sponsored members and the requests coordinators cover. Returns the posting and
    what the pool can promise now. The same key again records nothing more."""
    branch = await catalog.branch_by_code(session, branch_code)
    if branch is None:
        raise NotFound()
    pool = await ledger.pool_account(session, branch.id)
    posting = await ledger.grant(session, pool.id, minutes, key=key, memo=reason)
    return posting, await pool_free(session, branch.id)
