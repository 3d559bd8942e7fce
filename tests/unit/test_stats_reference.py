"""A branch's figures, as the indexed queries of `core.stats` count them, equal the same
figures worked out row by row in Python over a seeded year with some postings reversed."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select

from bench.stats import _month_end, seed_year
from core.ledger.tables import LedgerEntry, LedgerTransaction
from core.ledger.values import PostingKind
from core.models import Branch, Member, Order, OrderProgress, OrderStatus
from core.stats import Counts, Figures, Period, branch_figures, period_of

DONE = {OrderStatus.DONE, OrderStatus.CONFIRMED}


async def _reverse_some(sessions, every: int) -> None:
    """A reversing transaction for every `every`-th service posting (its entries don't
    matter to the figures: a reversed posting is left out whole)."""
    async with sessions() as s:
        services = list(
            (
                await s.execute(
                    select(LedgerTransaction.id, LedgerTransaction.created_at)
                    .where(LedgerTransaction.kind == PostingKind.SERVICE)
                    .order_by(LedgerTransaction.id)
                )
            ).all()
        )
        first = int(await s.scalar(select(func.max(LedgerTransaction.id)))) + 1
        rows = [
            {
                "id": first + n, "kind": "reversal", "memo": "", "reverses_id": tx_id,
                "idempotency_key": f"undo:{tx_id}", "fingerprint": "test",
                "created_at": at + timedelta(hours=1),
            }
            for n, (tx_id, at) in enumerate(services[::every])
        ]  # fmt: skip
        await s.execute(insert(LedgerTransaction.__table__), rows)
        await s.commit()
    assert rows


async def _by_hand(sessions, branch_id: int, period: Period) -> Figures:
    """Every row read, every figure summed in Python."""
    async with sessions() as s:
        branch = await s.get(Branch, branch_id)
        zone = ZoneInfo(branch.time_zone)
        start, end = period.bounds(zone)
        area = dict((await s.execute(select(Member.id, Member.neighbourhood_id))).all())
        disputed = set(
            (
                await s.execute(
                    select(OrderProgress.order_id).where(OrderProgress.disputed_at.is_not(None))
                )
            ).scalars()
        )
        orders = {o.id: o for o in (await s.execute(select(Order))).scalars()}
        reversed_ids = set((await s.execute(select(LedgerTransaction.reverses_id))).scalars()) - {
            None
        }
        services = (
            await s.execute(
                select(LedgerTransaction).where(LedgerTransaction.kind == PostingKind.SERVICE)
            )
        ).scalars()
        services = list(services)
        entries = list((await s.execute(select(LedgerEntry))).scalars())
        joined = [
            m
            for m in (await s.execute(select(Member))).scalars()
            if m.branch_id == branch_id and start <= m.created_at < end
        ]

    def week(at: datetime) -> date:
        local = at.astimezone(zone).date()
        return local - timedelta(days=local.weekday())

    totals = [0] * 7
    by_category, by_area = defaultdict(lambda: [0] * 7), defaultdict(lambda: [0] * 7)
    by_week = {monday: [0] * 7 for monday in period.weeks()}

    def add(order: Order, at: datetime, numbers: list[int]) -> None:
        for target in (
            totals,
            by_category[order.category_id],
            by_area[area[order.beneficiary_id]],
            by_week[week(at)],
        ):
            for place, number in enumerate(numbers):
                target[place] += number

    residents = set()
    for order in orders.values():
        if order.branch_id == branch_id and start <= order.created_at < end:
            residents.add(order.beneficiary_id)
            add(
                order,
                order.created_at,
                [
                    1,
                    order.volunteer_id is not None,
                    order.status in DONE,
                    order.status == OrderStatus.EXPIRED,
                    order.status == OrderStatus.CANCELLED,
                    order.id in disputed,
                ],
            )
    earners = set()
    counted = {
        tx.id: tx
        for tx in services
        if tx.id not in reversed_ids
        and start <= tx.created_at < end
        and orders[tx.order_id].branch_id == branch_id
    }
    for entry in entries:
        tx = counted.get(entry.transaction_id)
        if tx is not None and entry.amount > 0:
            add(orders[tx.order_id], tx.created_at, [0] * 6 + [entry.amount])
            earners.add(entry.account_id)

    def counts(numbers: dict) -> dict:
        return {key: Counts(*map(int, values)) for key, values in numbers.items()}

    return Figures(
        branch_id=branch_id,
        period=period,
        totals=Counts(*map(int, totals)),
        active_volunteers=len(earners),
        active_residents=len(residents),
        new_members=len(joined),
        by_category=counts(by_category),
        by_neighbourhood=counts(by_area),
        by_week=counts(by_week),
    )


async def test_figures_equal_a_row_by_row_count(database_url, sessions) -> None:
    branch_id = await seed_year(database_url, members=120, orders=900, postings=1500)
    await _reverse_some(sessions, every=7)
    periods = [
        period_of("custom", date(2027, 1, 1), date(2026, m, 1), _month_end(2026, m))
        for m in (1, 2, 6, 11, 12)
    ] + [period_of("year", date(2026, 12, 31)), period_of("week", date(2026, 3, 18))]
    async with sessions() as s:
        branches = list((await s.execute(select(Branch.id))).scalars())
    assert branch_id in branches
    for branch in branches:
        for period in periods:
            async with sessions() as s:
                figures = await branch_figures(s, branch, period)
            assert figures == await _by_hand(sessions, branch, period), (branch, period)
            if branch == branch_id and period.kind == "year":
                assert figures.totals.asked and figures.totals.minutes  # not an empty year
