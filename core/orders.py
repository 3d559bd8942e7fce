"""Asking for help: placing an order (for oneself or as a proxy), my orders, cancelling.

Every service takes plain values and the caller's session; it flushes but never commits.
Placing is idempotent by the order's key (one conversation draft = one order); cancelling
by the key of the cancel action.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from core import (
    consent,
    coordinators,
    family,
    ledger,
    members,
    memberships,
    notices,
    nudges,
    outbox,
    schedule,
)
from core.db import utcnow
from core.errors import N_, DomainError, InvalidInput, NotFound
from core.ledger.tables import LedgerHold
from core.models import (
    Branch,
    Category,
    Identity,
    Member,
    Membership,
    Order,
    OrderEvent,
    OrderFunding,
    OrderStatus,
)
from core.schedule import When

# The estimates a member picks from: 30 minutes, 1 hour, 2 hours, half a day.
ESTIMATES: tuple[int, ...] = (30, 60, 120, 240)
# What a request says until the member (or, by phone, the volunteer) says otherwise.
DEFAULT_ESTIMATE = 60
MAX_DESCRIPTION = 1000
MAX_ADDRESS = 300
MAX_REASON = 300
RECENT = timedelta(days=30)
MAX_LISTED = 10
OPEN_STATUSES = (OrderStatus.OPEN, OrderStatus.ACCEPTED)
# Cancel reasons offered as buttons; a typed reason is kept as it was typed.
CANCEL_REASONS = ("not_needed", "found_help", "wrong_time")


class DescriptionTooLong(InvalidInput):
    key = N_("Please keep the description under {maximum} characters.")


class UnknownCategory(NotFound):
    key = N_("Please choose one of the buttons below.")


class EstimateInvalid(InvalidInput):
    key = N_("Please choose how long it may take with the buttons below.")


class PlaceInvalid(InvalidInput):
    key = N_("Please type the address, or share a location with the button below.")


class NoHomeAddress(InvalidInput):
    key = N_("There is no home address on file. Please type the address instead.")


class NoBranch(InvalidInput):
    key = N_("Please finish signing up first: send /start.")


class NotInBranch(InvalidInput):
    key = N_("Please choose one of your branches with the buttons below.")


class TooManyOpenOrders(DomainError):
    key = N_(
        "There are already {maximum} open requests. Please wait until one is done, "
        "or cancel one in “📋 My requests”."
    )


class KeyInUse(DomainError):
    """The idempotency key was already used for another member's order: refuse, change nothing."""


class CannotCancel(DomainError):
    key = N_("This request can no longer be cancelled.")


class ReasonInvalid(InvalidInput):
    key = N_("Please type the reason as a short text, up to 300 letters.")


@dataclass(frozen=True)
class Place:
    """Where the help is: the beneficiary's home on file, a shared location, or an address."""

    kind: str
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None

    HOME = "home"
    LOCATION = "location"
    ADDRESS = "address"

    @classmethod
    def home(cls) -> Place:
        return cls(cls.HOME)

    @classmethod
    def location(cls, latitude: float, longitude: float) -> Place:
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            raise PlaceInvalid()
        return cls(cls.LOCATION, latitude=latitude, longitude=longitude)

    @classmethod
    def typed(cls, text: str) -> Place:
        address = " ".join(text.split())
        if len(address) < 2 or len(address) > MAX_ADDRESS or address.startswith("/"):
            raise PlaceInvalid()
        return cls(cls.ADDRESS, address=address)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Place:
        kind = data.get("kind")
        if kind == cls.HOME:
            return cls.home()
        if kind == cls.LOCATION:
            return cls.location(float(data["latitude"]), float(data["longitude"]))
        if kind == cls.ADDRESS:
            return cls.typed(str(data.get("address") or ""))
        raise PlaceInvalid()


def has_home(member: Member) -> bool:
    """Can help come to the member's home? An address on file, or the area they shared at
    sign-up: then the volunteer who accepts asks them for the door."""
    return bool(member.address) or member.home_latitude is not None


def clean_description(text: str) -> str:
    description = text.strip()
    if len(description) > MAX_DESCRIPTION:
        raise DescriptionTooLong(maximum=MAX_DESCRIPTION)
    return description


def shorten_description(text: str) -> tuple[str, bool]:
    """The first MAX_DESCRIPTION characters, and whether anything was cut off."""
    description = text.strip()
    return description[:MAX_DESCRIPTION].rstrip(), len(description) > MAX_DESCRIPTION


def check_estimate(minutes: object) -> int:
    if type(minutes) is not int or minutes not in ESTIMATES:
        raise EstimateInvalid()
    return minutes


@dataclass(frozen=True)
class HelpRequest:
    """What the member asked for, as plain values (a conversation's finished draft)."""

    category_id: int
    when: When
    place: Place
    estimated_minutes: int
    description: str = ""
    voice_file_id: str | None = None
    # Where the help happens, when the beneficiary belongs to several branches; None: home.
    branch_id: int | None = None


@dataclass(frozen=True)
class Coverage:
    """What an order would cost the one who pays, and whether they can cover it.

    `available` is the payer's balance less held credit, `committed` the estimates of their
    other open orders not yet held, and `overdraft_limit` how far below zero they may go.
    """

    cost: int
    funding: str
    available: int = 0
    committed: int = 0
    overdraft_limit: int = 0

    @property
    def sponsored(self) -> bool:
        return self.funding == OrderFunding.POOL

    @property
    def needs_sponsor(self) -> bool:
        return self.funding == OrderFunding.NEEDS_SPONSOR


def decide_funding(
    cost: int, *, sponsored: bool, available: int, committed: int, overdraft_limit: int
) -> str:
    if sponsored:
        return OrderFunding.POOL
    free = available - committed
    if free >= cost:
        return OrderFunding.OWN
    if free + overdraft_limit >= cost:
        return OrderFunding.OVERDRAFT
    return OrderFunding.NEEDS_SPONSOR


async def _committed(session: AsyncSession, beneficiary_id: int, exclude: int | None) -> int:
    """Estimates of the beneficiary's open self-paid orders: not held yet, but promised."""
    query = select(func.coalesce(func.sum(Order.estimated_minutes), 0)).where(
        Order.beneficiary_id == beneficiary_id,
        Order.status == OrderStatus.OPEN,
        Order.funding.in_([OrderFunding.OWN, OrderFunding.OVERDRAFT]),
    )
    if exclude is not None:
        query = query.where(Order.id != exclude)
    return int(await session.scalar(query) or 0)


async def _balance(session: AsyncSession, member: Member) -> tuple[int, int]:
    """(available, overdraft limit) of the member's own account; nothing yet without one."""
    account = await ledger.find_member_account(session, member.id)
    if account is None:
        if member.branch_id is None:
            return 0, 0
        return 0, await ledger.overdraft_limit_of(session, member.id, member.branch_id)
    balance = await ledger.balance_of(session, account.id)
    return balance.available, balance.overdraft_limit or 0


async def quote(
    session: AsyncSession,
    beneficiary_id: int,
    minutes: int,
    *,
    exclude_order: int | None = None,
) -> Coverage:
    """How an order of `minutes` for the beneficiary would be paid. Writes nothing."""
    beneficiary = await members.get_member(session, beneficiary_id)
    available, limit = await _balance(session, beneficiary)
    committed = await _committed(session, beneficiary_id, exclude_order)
    funding = decide_funding(
        minutes,
        sponsored=beneficiary.sponsored,
        available=available,
        committed=committed,
        overdraft_limit=limit,
    )
    return Coverage(minutes, funding, available, committed, limit)


@dataclass(frozen=True)
class Placed:
    order: Order
    coverage: Coverage
    replayed: bool = False


async def _by_key(session: AsyncSession, key: str) -> Order | None:
    return await session.scalar(select(Order).where(Order.idempotency_key == key))


async def find_by_key(session: AsyncSession, key: str) -> Order | None:
    """The order a conversation draft became, if it was sent already."""
    return await _by_key(session, key)


async def open_count(session: AsyncSession, beneficiary_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                Order.beneficiary_id == beneficiary_id, Order.status.in_(OPEN_STATUSES)
            )
        )
        or 0
    )


async def authorise(session: AsyncSession, requester_id: int, beneficiary_id: int) -> Member:
    """The beneficiary, if the requester may ask for help for them (oneself always may)."""
    requester = await members.get_member(session, requester_id)
    try:
        beneficiary = await members.get_member(session, beneficiary_id)
    except NotFound:
        raise family.NotAllowedForMember() from None
    if not await family.may_ask_for(session, requester, beneficiary):
        raise family.NotAllowedForMember()
    return beneficiary


async def _replay(session: AsyncSession, order: Order, requester_id: int) -> Placed:
    if order.requester_id != requester_id:
        raise KeyInUse()
    coverage = Coverage(order.estimated_minutes, order.funding)
    return Placed(order, coverage, replayed=True)


@dataclass(frozen=True)
class Prepared:
    """A request checked against the rules, ready to be shown for review or recorded."""

    beneficiary: Member
    branch: Branch
    category: Category
    window_start: datetime
    window_end: datetime
    description: str
    minutes: int
    address: str | None
    latitude: float | None
    longitude: float | None


async def _prepare(
    session: AsyncSession,
    requester_id: int,
    beneficiary_id: int,
    request: HelpRequest,
    now: datetime,
) -> Prepared:
    beneficiary = await authorise(session, requester_id, beneficiary_id)
    if beneficiary.branch_id is None:
        raise NoBranch()
    branch_id = request.branch_id or beneficiary.branch_id
    if not await memberships.belongs(session, beneficiary, branch_id):
        raise NotInBranch()
    branch = await session.get(Branch, branch_id)
    assert branch is not None
    category = await session.get(Category, request.category_id)
    if category is None:
        raise UnknownCategory()
    minutes = check_estimate(request.estimated_minutes)
    description = clean_description(request.description)
    start, end = schedule.window(request.when, branch.time_zone, now, timedelta(minutes=minutes))
    place = request.place
    address, latitude, longitude = place.address, place.latitude, place.longitude
    if place.kind == Place.HOME:
        if not has_home(beneficiary):
            raise NoHomeAddress()
        address = beneficiary.address
        latitude, longitude = beneficiary.home_latitude, beneficiary.home_longitude
    return Prepared(
        beneficiary,
        branch,
        category,
        start,
        end,
        description,
        minutes,
        address,
        latitude,
        longitude,
    )


@dataclass(frozen=True)
class Preview:
    prepared: Prepared
    coverage: Coverage


async def preview(
    session: AsyncSession,
    *,
    requester_id: int,
    beneficiary_id: int,
    request: HelpRequest,
    now: datetime | None = None,
) -> Preview:
    """Check a finished draft and say what it would cost, before the member sends it."""
    prepared = await _prepare(session, requester_id, beneficiary_id, request, now or utcnow())
    coverage = await quote(session, prepared.beneficiary.id, prepared.minutes)
    return Preview(prepared, coverage)


@dataclass(frozen=True)
class Start:
    """What a new request begins with: for whom, their home branch and every branch they
    are in (the help may be in any), and whether they have a last order to repeat."""

    beneficiary: Member
    branch: Branch
    has_last: bool
    branches: list[Branch]


async def start_request(
    session: AsyncSession, *, requester_id: int, beneficiary_id: int, max_open: int
) -> Start:
    """May the requester begin asking for help for the beneficiary now? Writes nothing.

    The first question waits on this, so what it reads besides the two people and the
    branch (usually in the session already) is one statement: the beneficiary's open
    orders, whether there is a last order to repeat, and whether they are in other
    branches (whose rows are read only then)."""
    beneficiary = await authorise(session, requester_id, beneficiary_id)
    branch = await session.get(Branch, beneficiary.branch_id) if beneficiary.branch_id else None
    if branch is None:
        raise NoBranch()
    row = (
        await session.execute(
            select(
                select(func.count())
                .where(Order.beneficiary_id == beneficiary.id, Order.status.in_(OPEN_STATUSES))
                .scalar_subquery(),
                select(Order.id)
                .where(Order.requester_id == requester_id, Order.beneficiary_id == beneficiary.id)
                .exists(),
                select(Membership.branch_id)
                .where(
                    Membership.member_id == beneficiary.id,
                    Membership.branch_id != beneficiary.branch_id,
                )
                .exists(),
            )
        )
    ).one()
    opened, has_last, elsewhere = int(row[0] or 0), bool(row[1]), bool(row[2])
    if opened >= max_open:
        raise TooManyOpenOrders(maximum=max_open)
    branches = await memberships.branches_of(session, beneficiary) if elsewhere else [branch]
    return Start(beneficiary, branch, has_last, branches)


@dataclass(frozen=True)
class Repeat:
    """A past order's answers, to ask for the same help again (all but the time)."""

    category_id: int
    description: str
    voice_file_id: str | None
    place: Place | None
    estimated_minutes: int


def place_of(order: Order) -> Place | None:
    """Where a past order was, as the member gave it; None if it no longer passes the checks."""
    try:
        if order.place_kind == Place.HOME:
            return Place.home()
        if order.place_kind == Place.LOCATION and order.latitude is not None:
            return Place.location(order.latitude, order.longitude or 0.0)
        return Place.typed(order.address or "")
    except InvalidInput:
        return None


async def repeat_last(session: AsyncSession, requester_id: int, beneficiary_id: int) -> Repeat:
    """The answers of the requester's last order for this beneficiary ("Same as last time")."""
    await authorise(session, requester_id, beneficiary_id)
    order = await last_order(session, requester_id, beneficiary_id)
    if order is None:
        raise NotFound()
    minutes = order.estimated_minutes if order.estimated_minutes in ESTIMATES else DEFAULT_ESTIMATE
    return Repeat(
        category_id=order.category_id,
        description=order.description,
        voice_file_id=order.voice_file_id,
        place=place_of(order),
        estimated_minutes=minutes,
    )


async def place_order(
    session: AsyncSession,
    *,
    requester_id: int,
    beneficiary_id: int,
    request: HelpRequest,
    key: str,
    max_open: int,
    now: datetime | None = None,
) -> Placed:
    """Record a request for help. The same `key` again returns the first order unchanged.

    The beneficiary's account pays (the branch pool if they are sponsored); an order they
    cannot cover is still recorded, marked as needing a sponsor for a coordinator to see.
    """
    now = now or utcnow()
    existing = await _by_key(session, key)
    if existing is not None:
        return await _replay(session, existing, requester_id)
    ready = await _prepare(session, requester_id, beneficiary_id, request, now)
    # One placement at a time per beneficiary (PostgreSQL row lock; SQLite has one writer),
    # so two proxies cannot both slip under the open-order limit.
    await session.execute(
        select(Member.id).where(Member.id == ready.beneficiary.id).with_for_update()
    )
    if await open_count(session, ready.beneficiary.id) >= max_open:
        raise TooManyOpenOrders(maximum=max_open)
    # The account that will pay, opened now so that accepting the order can hold credit on it.
    await ledger.payer_account(
        session, ready.beneficiary.id, ready.branch.id, sponsored=ready.beneficiary.sponsored
    )
    coverage = await quote(session, ready.beneficiary.id, ready.minutes)
    order = Order(
        branch_id=ready.branch.id,
        requester_id=requester_id,
        beneficiary_id=ready.beneficiary.id,
        category_id=ready.category.id,
        description=ready.description,
        voice_file_id=request.voice_file_id,
        window_start=ready.window_start,
        window_end=ready.window_end,
        when_asked=request.when.to_dict(),
        address=ready.address,
        latitude=ready.latitude,
        longitude=ready.longitude,
        place_kind=request.place.kind,
        estimated_minutes=ready.minutes,
        funding=coverage.funding,
        idempotency_key=key,
        created_at=now,
        updated_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(order)
            await session.flush()
    except IntegrityError:
        winner = await _by_key(session, key)
        if winner is None:
            raise
        return await _replay(session, winner, requester_id)
    session.add(
        OrderEvent(order_id=order.id, to_status=OrderStatus.OPEN, actor_id=requester_id, at=now)
    )
    if order.beneficiary_id != requester_id:
        await outbox.enqueue(
            session,
            key=f"asked-for-you:{order.id}",
            member_id=order.beneficiary_id,
            kind=notices.AskedForYou.KIND,
            payload=notices.AskedForYou(order_id=order.id).payload(),
        )
    await session.flush()
    if coverage.needs_sponsor:
        await nudges.tell_coordinators(
            session, order, notices.NeedsSponsor(order_id=order.id), f"needs_sponsor:{order.id}"
        )
    return Placed(order, coverage)


async def remember_home(session: AsyncSession, *, member_id: int, order_id: int) -> Member:
    """Keep the address a member typed for help at their own door as their home address,
    so that next time they tap "My home" instead of typing it again."""
    order = await session.get(Order, order_id)
    if (
        order is None
        or member_id != order.requester_id
        or member_id != order.beneficiary_id
        or order.place_kind != "address"
        or not order.address
    ):
        raise NotFound()
    member = await members.get_member(session, member_id)
    member.address = order.address
    await consent.record(session, member_id, consent.Detail.ADDRESS)
    return member


async def last_order(session: AsyncSession, requester_id: int, beneficiary_id: int) -> Order | None:
    """The requester's latest order for this beneficiary, to offer "Same as last time"."""
    return await session.scalar(
        select(Order)
        .where(Order.requester_id == requester_id, Order.beneficiary_id == beneficiary_id)
        .order_by(Order.created_at.desc(), Order.id.desc())
        .limit(1)
    )


@dataclass(frozen=True)
class OrderView:
    """An order with the people and category around it, as one viewer may see it."""

    order: Order
    category: Category
    branch: Branch
    requester: Member
    beneficiary: Member
    volunteer: Member | None
    shows_address: bool
    can_cancel: bool

    @property
    def by_proxy(self) -> bool:
        return self.order.requester_id != self.order.beneficiary_id


def _may_see(order: Order, viewer: Member, coordinating: bool) -> bool:
    """`coordinating`: the viewer coordinates the order's branch (`coordinators.coordinates`);
    another branch's coordinator is an outsider."""
    return coordinating or viewer.id in (
        order.requester_id,
        order.beneficiary_id,
        order.volunteer_id,
    )


def _shows_address(order: Order, viewer: Member, coordinating: bool) -> bool:
    """The exact place: the people who gave it, coordinators, and the accepted volunteer."""
    if coordinating or viewer.id in (order.requester_id, order.beneficiary_id):
        return True
    return viewer.id == order.volunteer_id and order.status in (
        OrderStatus.ACCEPTED,
        OrderStatus.DONE,
    )


def _may_cancel(order: Order, viewer: Member, coordinating: bool) -> bool:
    return order.status in OPEN_STATUSES and (
        coordinating or viewer.id in (order.requester_id, order.beneficiary_id)
    )


async def _view(session: AsyncSession, order: Order, viewer: Member) -> OrderView:
    category = await session.get(Category, order.category_id)
    branch = await session.get(Branch, order.branch_id)
    requester = await session.get(Member, order.requester_id)
    beneficiary = await session.get(Member, order.beneficiary_id)
    volunteer = await session.get(Member, order.volunteer_id) if order.volunteer_id else None
    coordinating = await coordinators.coordinates(session, viewer, order.branch_id)
    assert category is not None and branch is not None
    assert requester is not None and beneficiary is not None
    return OrderView(
        order,
        category,
        branch,
        requester,
        beneficiary,
        volunteer,
        shows_address=_shows_address(order, viewer, coordinating),
        can_cancel=_may_cancel(order, viewer, coordinating),
    )


async def order_view(session: AsyncSession, order_id: int, viewer_id: int) -> OrderView:
    """One order for one viewer; someone with no part in it is told it is not there."""
    viewer = await members.get_member(session, viewer_id)
    order = await session.get(Order, order_id)
    if order is None or not _may_see(
        order, viewer, await coordinators.coordinates(session, viewer, order.branch_id)
    ):
        raise NotFound()
    return await _view(session, order, viewer)


async def my_orders(
    session: AsyncSession, member_id: int, *, now: datetime | None = None
) -> list[OrderView]:
    """Open orders first (soonest first), then those closed in the last 30 days (newest first).

    "Mine" is every order I asked for or that is for me.
    """
    now = now or utcnow()
    viewer = await members.get_member(session, member_id)
    mine = or_(Order.requester_id == member_id, Order.beneficiary_id == member_id)
    open_rows = await session.scalars(
        select(Order)
        .where(mine, Order.status.in_(OPEN_STATUSES))
        .order_by(Order.window_start, Order.id)
        .limit(MAX_LISTED)
    )
    orders = list(open_rows)
    if len(orders) < MAX_LISTED:
        closed = await session.scalars(
            select(Order)
            .where(mine, Order.status.not_in(OPEN_STATUSES), Order.updated_at >= now - RECENT)
            .order_by(Order.updated_at.desc(), Order.id.desc())
            .limit(MAX_LISTED - len(orders))
        )
        orders += list(closed)
    return [await _view(session, order, viewer) for order in orders]


def clean_reason(reason: str) -> str:
    text = " ".join(reason.split())
    if not text or len(text) > MAX_REASON or text.startswith("/"):
        raise ReasonInvalid()
    return text


@dataclass(frozen=True)
class Cancelled:
    order: Order
    previous_status: str
    replayed: bool = False
    released_holds: list[int] = field(default_factory=list)


async def _release_holds(session: AsyncSession, order: Order) -> list[int]:
    """Void the credit held for the order (there is none before a volunteer accepts)."""
    pending = list(
        await session.scalars(
            select(LedgerHold.id)
            .where(LedgerHold.order_id == order.id, LedgerHold.status == ledger.HoldStatus.PENDING)
            .order_by(LedgerHold.id)
        )
    )
    for hold_id in pending:
        # One void per hold, whichever cancel got there: the key names the hold, not the tap.
        await ledger.void_hold(session, hold_id, key=f"order:{order.id}:cancel:hold:{hold_id}")
    return pending


async def cancel_order(
    session: AsyncSession,
    *,
    order_id: int,
    actor_id: int,
    reason: str,
    key: str,
    now: datetime | None = None,
) -> Cancelled:
    """Cancel an open or accepted order, with a reason, releasing what was held for it.

    The requester, the beneficiary and the branch's coordinators may. The same key again,
    or a cancel of an order already cancelled, changes nothing and says `replayed`.
    """
    now = now or utcnow()
    note = reason if reason in CANCEL_REASONS else clean_reason(reason)
    actor = await members.get_member(session, actor_id)
    # Read afresh and locked (PostgreSQL; SQLite has one writer), so one cancel wins.
    order = await session.get(Order, order_id, with_for_update=True, populate_existing=True)
    if order is None:
        raise NotFound()
    coordinating = await coordinators.coordinates(session, actor, order.branch_id)
    if not _may_see(order, actor, coordinating):
        raise NotFound()
    done = await session.scalar(select(OrderEvent).where(OrderEvent.key == key))
    if done is not None:
        if done.order_id != order_id:
            raise KeyInUse()
        return Cancelled(order, done.from_status or OrderStatus.OPEN, replayed=True)
    if order.status == OrderStatus.CANCELLED:
        return Cancelled(order, order.status, replayed=True)
    if not _may_cancel(order, actor, coordinating):
        raise CannotCancel()
    previous = order.status
    order.status = OrderStatus.CANCELLED
    order.updated_at = now
    session.add(
        OrderEvent(
            order_id=order.id,
            from_status=previous,
            to_status=OrderStatus.CANCELLED,
            actor_id=actor_id,
            note=note,
            at=now,
            key=key,
        )
    )
    await session.flush()
    released = await _release_holds(session, order)
    await nudges.close_nudges(session, order, notices.NudgeClosed, now)
    for member_id in parties(order):
        if member_id != actor_id:
            await outbox.enqueue(
                session,
                key=f"cancelled:{order.id}:{member_id}",
                member_id=member_id,
                kind=notices.Cancelled.KIND,
                payload=notices.Cancelled(order_id=order.id, by=actor_id).payload(),
            )
    return Cancelled(order, previous, released_holds=released)


def parties(order: Order) -> list[int]:
    """Everyone an order's news goes to: requester (proxy), beneficiary, volunteer."""
    people = [order.requester_id, order.beneficiary_id, order.volunteer_id]
    return list(dict.fromkeys(p for p in people if p is not None))


@dataclass(frozen=True)
class Contact:
    member_id: int
    external_id: str
    language: str | None
    name: str


async def contacts(session: AsyncSession, member_ids: list[int], platform: str) -> list[Contact]:
    """How to reach these members on one platform; those not on it are left out."""
    if not member_ids:
        return []
    rows = await session.execute(
        select(Identity.member_id, Identity.external_id, Member.language, Member.name)
        .join(Member, Member.id == Identity.member_id)
        .where(
            Identity.member_id.in_(member_ids),
            Identity.platform == platform,
            Member.erased_at.is_(None),
        )
        .order_by(Identity.member_id)
    )
    return [Contact(*row) for row in rows]
