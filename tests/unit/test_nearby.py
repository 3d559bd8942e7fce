"""Near me for a volunteer (core.nearby): only open requests in their skills, at times they
are free, within reach, nearest first, a page at a time; taking one goes through the nudge's
accept, so the first tap wins."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from core import catalog, helping, ledger, matching, nearby, orders, schedule, volunteers
from core.db import transaction, utcnow
from core.demo import seed_demo
from core.models import Category, Member, OrderStatus
from core.orders import HelpRequest, Place
from core.schedule import When

LAT, LON = 31.2135, 121.5560


async def _people(sessions) -> dict[str, int]:
    async with transaction(sessions, write=True) as s:
        await seed_demo(s)
        branch = await catalog.branch_by_code(s, "luoshan")
        repairs = await s.scalar(select(Category.id).where(Category.code == "repairs"))
        ids = {}
        for key, volunteer in (("resident", False), ("vic", True), ("val", True), ("new", True)):
            row = Member(
                name=key, language="en", branch_id=branch.id, onboarded_at=utcnow(),
                is_resident=not volunteer, is_volunteer=volunteer, verified=key != "new",
                home_latitude=LAT + (0.001 if volunteer else 0), home_longitude=LON,
            )  # fmt: skip
            s.add(row)
            await s.flush()
            ids[key] = row.id
            if volunteer:
                profile = await volunteers.profile(s, row.id)
                profile.skills = matching.skill_bit(repairs)
                mornings = [matching.slot_bit(day, 0) for day in range(7)]
                profile.availability = sum(mornings)
        account = await ledger.open_member_account(s, ids["resident"], branch.id)
        await ledger.grant(s, account.id, 3000, key="test:nearby")
    return ids


async def _ask(sessions, resident: int, code: str, part: str, place: Place, n: int) -> int:
    async with transaction(sessions, write=True) as s:
        branch = await catalog.branch_by_code(s, "luoshan")
        category = await s.scalar(select(Category.id).where(Category.code == code))
        tomorrow = schedule.local_today(branch.time_zone, utcnow()) + timedelta(days=1)
        placed = await orders.place_order(
            s, requester_id=resident, beneficiary_id=resident,
            request=HelpRequest(category, When.day_part(tomorrow, part), place, 60),
            key=f"nearby:{n}", max_open=20,
        )  # fmt: skip
        return placed.order.id


async def test_only_requests_a_volunteer_could_take_nearest_first(sessions) -> None:
    ids = await _people(sessions)
    near = Place.location(LAT + 0.002, LON)
    nearer = Place.location(LAT + 0.0012, LON)
    shown = await _ask(sessions, ids["resident"], "repairs", "morning", near, 1)
    closest = await _ask(sessions, ids["resident"], "repairs", "morning", nearer, 2)
    await _ask(sessions, ids["resident"], "shopping", "morning", near, 3)  # not their skill
    await _ask(sessions, ids["resident"], "repairs", "evening", near, 4)  # not when free
    await _ask(sessions, ids["resident"], "repairs", "morning", Place.location(LAT + 0.2, LON), 5)
    declined = await _ask(sessions, ids["resident"], "repairs", "morning", near, 6)
    async with transaction(sessions, write=True) as s:
        nudge_id = await nearby._own_nudge(
            s, await s.get(orders.Order, declined), ids["vic"], utcnow()
        )
        await helping.decline(s, nudge_id=nudge_id, member_id=ids["vic"])
    async with transaction(sessions, write=True) as s:
        found = await nearby.requests_near(s, ids["vic"])
    assert [r.order.id for r in found.requests] == [closest, shown]
    assert found.requests[0].distance_m < found.requests[1].distance_m
    assert not found.has_more


async def test_a_page_at_a_time(sessions) -> None:
    ids = await _people(sessions)
    made = [
        await _ask(sessions, ids["resident"], "repairs", "morning",
                   Place.location(LAT + 0.001 * (n + 2), LON), n)
        for n in range(7)
    ]  # fmt: skip
    async with transaction(sessions, write=True) as s:
        first = await nearby.requests_near(s, ids["vic"])
        second = await nearby.requests_near(s, ids["vic"], page=1)
    assert [r.order.id for r in first.requests] == made[:5] and first.has_more
    assert [r.order.id for r in second.requests] == made[5:] and not second.has_more


async def test_first_tap_wins_and_a_repeat_replays(sessions) -> None:
    ids = await _people(sessions)
    order_id = await _ask(
        sessions, ids["resident"], "repairs", "morning", Place.location(LAT, LON), 1
    )
    async with transaction(sessions, write=True) as s:
        with pytest.raises(nearby.NotVerifiedYet):
            await nearby.take(s, ids["new"], order_id)
    async with transaction(sessions, write=True) as s:
        first = await nearby.take(s, ids["vic"], order_id)
    assert first.order.status == OrderStatus.ACCEPTED and not first.replayed
    async with transaction(sessions, write=True) as s:
        with pytest.raises(helping.AlreadyTaken):
            await nearby.take(s, ids["val"], order_id)
    async with transaction(sessions, write=True) as s:
        again = await nearby.take(s, ids["vic"], order_id)
        assert again.replayed and again.order.volunteer_id == ids["vic"]
        assert (await nearby.requests_near(s, ids["val"])).requests == []
