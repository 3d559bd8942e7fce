"""A branch's figures for a period, counted in the branch's own time zone.

Requests are counted by when they were asked: of the requests asked in the period, how many
found a volunteer (covered), were done (done or confirmed), lapsed with nobody found,
were disputed. Hours are the service postings the ledger recorded in the period for the
branch's requests (where the help happened), reversed ones left out, in whole minutes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, case, distinct, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.errors import InvalidInput, NotFound
from core.ledger.tables import LedgerEntry, LedgerTransaction
from core.ledger.values import PostingKind
from core.models import Branch, Member, Order, OrderProgress, OrderStatus

orders = Order.__table__
progress = OrderProgress.__table__
members = Member.__table__
transactions = LedgerTransaction.__table__
entries = LedgerEntry.__table__

DONE = (OrderStatus.DONE, OrderStatus.CONFIRMED)
# The longest custom period: a year and a day, so a leap year fits.
MAX_DAYS = 367


class PeriodInvalid(InvalidInput):
    """Not this week, month or year, nor a custom range of at most a year."""


class UnknownBranch(NotFound):
    pass


class PeriodKind(StrEnum):
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"
    CUSTOM = "custom"


@dataclass(frozen=True, slots=True)
class Period:
    """Whole local days, `first` to `last` inclusive."""

    kind: PeriodKind
    first: date
    last: date

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The period's start and end as UTC instants (end exclusive)."""
        return _local_midnight(self.first, zone), _local_midnight(
            self.last + timedelta(days=1), zone
        )

    def weeks(self) -> list[date]:
        """The Mondays starting the weeks the period touches."""
        monday = self.first - timedelta(days=self.first.weekday())
        found = []
        while monday <= self.last:
            found.append(monday)
            monday += timedelta(days=7)
        return found


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def period_of(
    kind: str, today: date, first: date | None = None, last: date | None = None
) -> Period:
    """This week (from Monday), month or year up to `today`, or a custom range of days."""
    try:
        kind = PeriodKind(kind)
    except ValueError:
        raise PeriodInvalid() from None
    if kind is PeriodKind.WEEK:
        return Period(kind, today - timedelta(days=today.weekday()), today)
    if kind is PeriodKind.MONTH:
        return Period(kind, today.replace(day=1), today)
    if kind is PeriodKind.YEAR:
        return Period(kind, today.replace(month=1, day=1), today)
    if first is None or last is None or first > last or (last - first).days >= MAX_DAYS:
        raise PeriodInvalid()
    return Period(kind, first, last)


def today_in(zone: ZoneInfo, now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(zone).date()


@dataclass(frozen=True, slots=True)
class Counts:
    asked: int = 0
    covered: int = 0
    done: int = 0
    lapsed: int = 0
    cancelled: int = 0
    disputed: int = 0
    minutes: int = 0


MINUTES = 6  # the place of `minutes` among Counts' fields


class _Tally:
    """Counts being summed, row by row, for a total and per category, area and week."""

    def __init__(self, mondays: list[date]) -> None:
        self.totals = [0] * 7
        self.by_category: dict[int, list[int]] = defaultdict(lambda: [0] * 7)
        self.by_neighbourhood: dict[int | None, list[int]] = defaultdict(lambda: [0] * 7)
        self.by_week: dict[date, list[int]] = {monday: [0] * 7 for monday in mondays}

    def add(
        self,
        category_id: int,
        neighbourhood_id: int | None,
        week: date,
        numbers: list[tuple[int, int]],
    ) -> None:
        for target in (
            self.totals,
            self.by_category[category_id],
            self.by_neighbourhood[neighbourhood_id],
            self.by_week[week],
        ):
            for place, number in numbers:
                target[place] += number

    @staticmethod
    def counts(numbers: dict) -> dict:
        return {key: Counts(*values) for key, values in numbers.items()}


@dataclass(frozen=True, slots=True)
class Figures:
    branch_id: int
    period: Period
    totals: Counts
    active_volunteers: int
    active_residents: int
    new_members: int
    by_category: dict[int, Counts] = field(default_factory=dict)
    # None: the beneficiary gave no neighbourhood.
    by_neighbourhood: dict[int | None, Counts] = field(default_factory=dict)
    # Keyed by the Monday (local) that starts the week.
    by_week: dict[date, Counts] = field(default_factory=dict)


def _week_of(column: ColumnElement, starts: list[datetime]) -> ColumnElement:
    """The index of the week an instant falls in, computed by the database for any zone."""
    if len(starts) == 1:
        return literal(0)
    return case(
        *((column < start, index - 1) for index, start in enumerate(starts[1:], start=1)),
        else_=len(starts) - 1,
    )


async def branch_figures(session: AsyncSession, branch_id: int, period: Period) -> Figures:
    branch = await session.get(Branch, branch_id)
    if branch is None:
        raise UnknownBranch()
    zone = ZoneInfo(branch.time_zone)
    start, end = period.bounds(zone)
    mondays = period.weeks()
    starts = [_local_midnight(monday, zone) for monday in mondays]
    conn = await session.connection()

    asked = (
        (orders.c.branch_id == branch_id)
        & (orders.c.created_at >= start)
        & (orders.c.created_at < end)
    )
    order_week = _week_of(orders.c.created_at, starts).label("week")
    status = orders.c.status
    # A lookup per request asked: PostgreSQL would rather hash-join every request's progress.
    disputed = (
        select(progress.c.order_id)
        .where(progress.c.order_id == orders.c.id, progress.c.disputed_at.is_not(None))
        .exists()
    )
    rows = await conn.execute(
        select(
            orders.c.category_id,
            members.c.neighbourhood_id,
            order_week,
            func.count(),
            func.count(orders.c.volunteer_id),
            func.sum(case((status.in_(DONE), 1), else_=0)),
            func.sum(case((status == OrderStatus.EXPIRED, 1), else_=0)),
            func.sum(case((status == OrderStatus.CANCELLED, 1), else_=0)),
            func.sum(case((disputed, 1), else_=0)),
        )
        .select_from(orders)
        .join(members, members.c.id == orders.c.beneficiary_id)
        .where(asked)
        .group_by(orders.c.category_id, members.c.neighbourhood_id, order_week)
    )
    tally = _Tally(mondays)
    for category_id, neighbourhood_id, week, *numbers in rows:
        tally.add(category_id, neighbourhood_id, mondays[week], list(enumerate(numbers)))

    # The few postings ever reversed, read once from the unique index on `reverses_id`; as a
    # join per posting, SQLite, once ANALYZE has seen the column nearly all NULL, builds a
    # temporary index over every transaction instead (seen: 270 ms a month).
    reversed_ids = select(transactions.c.reverses_id).where(transactions.c.reverses_id.is_not(None))
    earned = (
        select(
            orders.c.category_id,
            members.c.neighbourhood_id,
            entries.c.account_id,
            entries.c.amount,
            transactions.c.created_at,
        )
        .select_from(transactions)
        .join(orders, orders.c.id == transactions.c.order_id)
        .join(members, members.c.id == orders.c.beneficiary_id)
        .join(entries, entries.c.transaction_id == transactions.c.id)
        .where(
            transactions.c.kind == PostingKind.SERVICE,
            transactions.c.created_at >= start,
            transactions.c.created_at < end,
            orders.c.branch_id == branch_id,
            # A service posting pays the volunteer's member account: its one positive leg.
            entries.c.amount > 0,
            transactions.c.id.not_in(reversed_ids),
        )
        .subquery()
    )
    posted_week = _week_of(earned.c.created_at, starts).label("week")
    earners: set[int] = set()
    for category_id, neighbourhood_id, week, account_id, minutes in await conn.execute(
        select(
            earned.c.category_id,
            earned.c.neighbourhood_id,
            posted_week,
            earned.c.account_id,
            func.sum(earned.c.amount),
        ).group_by(
            earned.c.category_id, earned.c.neighbourhood_id, posted_week, earned.c.account_id
        )
    ):
        tally.add(category_id, neighbourhood_id, mondays[week], [(MINUTES, int(minutes))])
        earners.add(account_id)

    residents = await conn.scalar(
        select(func.count(distinct(orders.c.beneficiary_id))).where(asked)
    )
    joined = await conn.scalar(
        select(func.count()).where(
            members.c.branch_id == branch_id,
            members.c.created_at >= start,
            members.c.created_at < end,
        )
    )
    return Figures(
        branch_id=branch_id,
        period=period,
        totals=Counts(*tally.totals),
        active_volunteers=len(earners),
        active_residents=int(residents or 0),
        new_members=int(joined or 0),
        by_category=_Tally.counts(tally.by_category),
        by_neighbourhood=_Tally.counts(tally.by_neighbourhood),
        by_week=_Tally.counts(tally.by_week),
    )
