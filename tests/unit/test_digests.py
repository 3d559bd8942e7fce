"""The weekly digest: opted in with a local hour, queued once per member per week (from
Monday at that hour in the branch's zone) however often and wherever the sweep runs,
through the broadcast lane; what it gathers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core import digests, matching, outbox, volunteers
from core.db import transaction
from core.demo import seed_demo
from core.models import Branch, Category, Member, Order, OrderStatus, OutboxMessage
from core.notices import Kind

# Monday 7 December 2026, 08:30 in Shanghai (00:30 UTC).
MONDAY_0830 = datetime(2026, 12, 7, 0, 30, tzinfo=UTC)


async def _members(sessions, count: int) -> list[int]:
    async with transaction(sessions, write=True) as s:
        await seed_demo(s)
        branch = await s.scalar(select(Branch).where(Branch.code == "luoshan"))
        rows = [Member(name=f"M{n}", branch_id=branch.id, is_resident=True) for n in range(count)]
        s.add_all(rows)
        await s.flush()
        return [row.id for row in rows]


async def _queued(sessions) -> list[OutboxMessage]:
    async with sessions() as s:
        return list(await s.scalars(select(OutboxMessage).where(OutboxMessage.kind == Kind.DIGEST)))


async def _sweep(sessions, now: datetime) -> int:
    async with transaction(sessions, write=True) as s:
        return await digests.queue_due_digests(s, now)


async def test_once_a_week_at_the_chosen_hour_across_restarts(sessions) -> None:
    early, late, stopped = await _members(sessions, 3)
    async with transaction(sessions, write=True) as s:
        await digests.subscribe(s, early, 8)
        await digests.subscribe(s, late, 10)
        await digests.subscribe(s, stopped, 8)
        await digests.unsubscribe(s, stopped)

    assert await _sweep(sessions, MONDAY_0830 - timedelta(hours=1)) == 0  # Monday 07:30
    assert await _sweep(sessions, MONDAY_0830) == 1  # 08:30: the early one
    # A restart: a new process sweeps again the same morning, and later that week.
    assert await _sweep(sessions, MONDAY_0830 + timedelta(minutes=5)) == 0
    assert await _sweep(sessions, MONDAY_0830 + timedelta(hours=2)) == 1  # 10:30: the late one
    assert await _sweep(sessions, MONDAY_0830 + timedelta(days=3)) == 0
    queued = await _queued(sessions)
    assert sorted(row.member_id for row in queued) == sorted([early, late])
    assert {row.priority for row in queued} == {outbox.Priority.BROADCAST}
    assert await _sweep(sessions, MONDAY_0830 + timedelta(days=7, hours=2)) == 2  # next week
    assert len(await _queued(sessions)) == 4


async def test_a_missed_monday_is_caught_up_that_week(sessions) -> None:
    [member] = await _members(sessions, 1)
    async with transaction(sessions, write=True) as s:
        await digests.subscribe(s, member, 20)
    assert await _sweep(sessions, MONDAY_0830 + timedelta(days=2)) == 1  # Wednesday morning


async def test_an_hour_out_of_range_is_refused(sessions) -> None:
    [member] = await _members(sessions, 1)
    async with transaction(sessions, write=True) as s:
        for hour in (-1, 24, "9"):
            with pytest.raises(digests.HourInvalid):
                await digests.subscribe(s, member, hour)  # type: ignore[arg-type]


async def test_a_volunteer_reads_the_open_requests_that_fit(sessions) -> None:
    resident, helper = await _members(sessions, 2)
    async with transaction(sessions, write=True) as s:
        repairs = await s.scalar(select(Category).where(Category.code == "repairs"))
        shopping = await s.scalar(select(Category).where(Category.code == "shopping"))
        volunteer = await s.get(Member, helper)
        volunteer.is_volunteer = True
        (await volunteers.profile(s, helper)).skills = matching.skill_bit(repairs.id)
        for number, (category, status) in enumerate(
            [(repairs, OrderStatus.OPEN), (shopping, OrderStatus.OPEN), (repairs, OrderStatus.DONE)]
        ):
            s.add(
                Order(
                    branch_id=volunteer.branch_id, requester_id=resident, beneficiary_id=resident,
                    category_id=category.id, estimated_minutes=60, status=status,
                    idempotency_key=f"digest-{number}",
                )
            )  # fmt: skip
    async with sessions() as s:
        found = await digests.digest_of(s, await s.get(Member, helper))
        nothing = await digests.digest_of(s, await s.get(Member, resident))
    assert [names["en"] for names, _when in found.requests] == ["Repairs"]
    assert nothing.requests == []
