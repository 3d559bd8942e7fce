"""A small, known month of Luoshan's activity (November 2026, Asia/Shanghai), for the
figures, the dashboard's API and the live screen; the expected figures are worked out by
hand next to the rows."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest.mock import patch

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from core import ledger
from core.db import transaction
from core.demo import seed_demo
from core.ledger import Actor, PostingKind
from core.models import (
    Branch,
    Category,
    Identity,
    Member,
    Neighbourhood,
    Order,
    OrderProgress,
    OrderStatus,
)

# Local midnight of 1 November in Shanghai is 16:00 UTC on 31 October.
FIRST_MINUTE = datetime(2026, 10, 31, 16, 30, tzinfo=UTC)  # 1 Nov, 00:30 local: counted
AFTER = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)  # 1 Dec, 00:30 local: not counted
WEEK_2 = datetime(2026, 11, 10, 2, 0, tzinfo=UTC)  # Tuesday 10 Nov, local
WEEK_4 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)  # Tuesday 24 Nov, local

# What `branch_figures` must say for Luoshan, 1–30 November.
EXPECTED = {
    "asked": 5,
    "covered": 4,
    "done": 2,
    "lapsed": 1,
    "cancelled": 0,
    "disputed": 1,
    "minutes": 150,  # 90 + 60; the 45 reversed, the 30 posted in December
    "active_volunteers": 2,
    "active_residents": 2,
    "new_members": 2,
}
# The members whose names must never reach the public screen, and the one who opted in.
HIDDEN_NAME, HIDDEN_PHONE = "王芳", "+8613800000001"
THANKED = "Chen Xiuying"


async def _at(moment: datetime, work):
    with patch("core.ledger.postings.utcnow", return_value=moment):
        return await work


async def seed_november(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with transaction(sessions, write=True) as s:
        await seed_demo(s)
        branch = await s.scalar(select(Branch).where(Branch.code == "luoshan"))
        area = await s.scalar(select(Neighbourhood).where(Neighbourhood.code == "luoshan-7"))
        categories = list(await s.scalars(select(Category.id).order_by(Category.sort_order)))
        ids = {
            tid: await s.scalar(select(Identity.member_id).where(Identity.external_id == tid))
            for tid in ("900001", "900002", "900003")
        }
        resident, volunteer, coordinator = ids["900001"], ids["900002"], ids["900003"]
        # Joined in November: a second volunteer (thanked in public) and a second resident.
        helper = Member(
            name=THANKED,
            branch_id=branch.id,
            is_volunteer=True,
            verified=True,
            thanked_in_public=True,
            phone="+8613800000009",
            created_at=WEEK_2,
        )
        neighbour = Member(
            name="Zhao Lei",
            branch_id=branch.id,
            is_resident=True,
            neighbourhood_id=area.id,
            phone="+8613800000008",
            created_at=WEEK_4,
        )
        december = Member(name="Sun Mei", branch_id=branch.id, is_resident=True, created_at=AFTER)
        s.add_all([helper, neighbour, december])
        await s.flush()

        def order(key, who, at, status, category=0, volunteer_id=None, disputed=False):
            row = Order(
                branch_id=branch.id,
                requester_id=who,
                beneficiary_id=who,
                category_id=categories[category],
                estimated_minutes=60,
                status=status,
                volunteer_id=volunteer_id,
                idempotency_key=key,
                created_at=at,
                updated_at=at,
            )
            s.add(row)
            return row, disputed

        made = [
            order("n1", resident, FIRST_MINUTE, OrderStatus.CONFIRMED, 0, volunteer),
            order("n2", resident, WEEK_2, OrderStatus.DONE, 1, helper.id),
            order("n3", neighbour.id, WEEK_4, OrderStatus.ACCEPTED, 1, volunteer),
            order("n4", neighbour.id, WEEK_4, OrderStatus.NOT_CREDITED, 0, helper.id, True),
            order("n5", resident, WEEK_4, OrderStatus.EXPIRED),
            order("d1", resident, AFTER, OrderStatus.CONFIRMED, 0, volunteer),
        ]
        await s.flush()
        for row, disputed in made:
            s.add(OrderProgress(order_id=row.id, disputed_at=WEEK_4 if disputed else None))
        orders = {row.idempotency_key: row.id for row, _ in made}

        payer = await ledger.open_member_account(s, resident, branch.id)
        await ledger.grant(s, payer.id, 600, key="seed:grant")
        earner = await ledger.open_member_account(s, volunteer, branch.id)
        helper_account = await ledger.open_member_account(s, helper.id, branch.id)

        def service(key, to, minutes, order_key):
            return ledger.transfer(
                s, payer.id, to, minutes, kind=PostingKind.SERVICE, key=key,
                order_id=orders[order_key],
            )  # fmt: skip

        await _at(WEEK_2, service("pay:n1", earner.id, 90, "n1"))
        await _at(WEEK_4, service("pay:n2", helper_account.id, 60, "n2"))
        wrong = await _at(WEEK_4, service("pay:n4", helper_account.id, 45, "n4"))
        await _at(
            WEEK_4,
            ledger.reverse(
                s,
                wrong.id,
                reason="dispute settled",
                actor=Actor(coordinator, is_coordinator=True),
                key="undo:n4",
            ),
        )
        await _at(AFTER, service("pay:d1", earner.id, 30, "d1"))
        return {
            "branch": branch.id,
            "resident": resident,
            "volunteer": volunteer,
            "coordinator": coordinator,
            "helper": helper.id,
            "neighbour": neighbour.id,
            "area": area.id,
            "category_0": categories[0],
            "category_1": categories[1],
            **{f"order_{key}": value for key, value in orders.items()},
        }
