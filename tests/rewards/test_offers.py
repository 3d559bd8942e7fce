"""Standing offers: found nearby by category; "ask for this" nudges that volunteer first."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from core import catalog, nudges
from core.db import transaction
from core.demo import seed_demo
from core.models import Member, Nudge, OutboxMessage
from core.orders import HelpRequest, Place
from core.rewards import offers
from core.schedule import When
from tests.rewards.conftest import give

NOW = datetime(2026, 11, 25, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
TOMORROW = date(2026, 11, 26)


async def _member(session, name: str, **fields) -> int:
    branch = await catalog.branch_by_code(session, "luoshan")
    member = Member(name=name, language="zh_Hans", branch_id=branch.id, **fields)
    session.add(member)
    await session.flush()
    return member.id


@pytest.fixture
async def world(sessions) -> dict:
    async with transaction(sessions, write=True) as session:
        await seed_demo(session)
        categories = {c.code: c.id for c in await catalog.categories(session)}
        near = await _member(session, "刘师傅", is_volunteer=True,
                             home_latitude=31.21, home_longitude=121.55)  # fmt: skip
        far = await _member(session, "Kim Far", is_volunteer=True,
                            home_latitude=31.30, home_longitude=121.60)  # fmt: skip
        resident = await _member(session, "王奶奶", is_resident=True,
                                 home_latitude=31.21, home_longitude=121.55)  # fmt: skip
        await give(session, resident, (await catalog.branch_by_code(session, "luoshan")).id, 120)
        phone = await offers.offer_skill(
            session, near, categories["smartphone"], description="教用微信视频",
            availability=0b111,
        )  # fmt: skip
        await offers.offer_skill(session, far, categories["smartphone"], description="Apps")
        await offers.offer_skill(session, far, categories["repairs"], description="Bikes")
    return {"near": near, "far": far, "resident": resident, "offer": phone.id,
            "categories": categories}  # fmt: skip


async def test_offers_nearest_first_by_category(sessions, world) -> None:
    async with sessions() as session:
        found = await offers.offers_near(
            session, world["resident"], category_id=world["categories"]["smartphone"]
        )
        assert [c.volunteer_first_name for c in found] == ["师傅", "Kim"]
        assert found[0].distance_m < found[1].distance_m and found[0].availability == 0b111
        everything = await offers.offers_near(session, world["resident"])
        assert len(everything) == 3
    async with transaction(sessions, write=True) as session:
        with pytest.raises(offers.VolunteersOnly):
            await offers.offer_skill(session, world["resident"], world["categories"]["pets"])
        await offers.withdraw_offer(session, world["far"], found[1].offer_id)
    async with sessions() as session:
        found = await offers.offers_near(
            session, world["resident"], category_id=world["categories"]["smartphone"]
        )
        assert [c.volunteer_first_name for c in found] == ["师傅"]


async def test_asking_for_an_offer_nudges_that_volunteer_first(sessions, world) -> None:
    request = HelpRequest(
        category_id=world["categories"]["smartphone"],
        when=When.day_part(TOMORROW, "afternoon"),
        place=Place.typed("罗山路 7 弄 3 号"),
        estimated_minutes=60,
        description="想学视频通话",
    )
    answers = []
    for _ in range(2):
        async with transaction(sessions, write=True) as session:
            answers.append(await offers.ask_for_offer(
                session, world["resident"], world["offer"], request=request, key="ask-1",
                max_open=3, now=NOW,
            ))  # fmt: skip
    first, asked = answers
    assert first.nudge_id is not None and not first.placed.coverage.needs_sponsor
    assert asked.placed.replayed and asked.nudge_id is None
    order_id = asked.placed.order.id
    async with sessions() as session:
        [nudge] = list(await session.scalars(select(Nudge).where(Nudge.order_id == order_id)))
        assert (nudge.member_id, nudge.wave) == (world["near"], 0)
        sent = await session.scalar(select(OutboxMessage).where(OutboxMessage.kind == "nudge"))
        assert sent.member_id == world["near"] and sent.payload["offer_id"] == world["offer"]
    async with transaction(sessions, write=True) as session:
        early = await nudges.sweep(session, now=NOW + timedelta(minutes=5))
    assert early.waves == []
    async with transaction(sessions, write=True) as session:
        later = await nudges.sweep(session, now=NOW + offers.FIRST_ASK + timedelta(seconds=1))
    assert later.waves == [(order_id, 1)]
    async with transaction(sessions, write=True) as session:
        with pytest.raises(offers.OwnOffer):
            await offers.ask_for_offer(
                session, world["near"], world["offer"], request=request, key="own",
                max_open=3, now=NOW,
            )  # fmt: skip
        await offers.withdraw_offer(session, world["near"], world["offer"])
        with pytest.raises(offers.OfferGone):
            await offers.ask_for_offer(
                session, world["resident"], world["offer"], request=request, key="gone",
                max_open=3, now=NOW,
            )  # fmt: skip


async def test_another_branchs_member_cannot_ask_for_an_offer(sessions, world) -> None:
    """A forged "ask for this" from another branch places nothing (the list never shows it)."""
    request = HelpRequest(
        category_id=world["categories"]["smartphone"],
        when=When.day_part(TOMORROW, "afternoon"),
        place=Place.typed("Mapo-daero 12"),
        estimated_minutes=60,
    )
    async with transaction(sessions, write=True) as session:
        mapo = await catalog.branch_by_code(session, "mapo")
        outsider = Member(name="Lee", language="ko", branch_id=mapo.id, is_resident=True)
        session.add(outsider)
        await session.flush()
        with pytest.raises(offers.OfferGone):
            await offers.ask_for_offer(
                session, outsider.id, world["offer"], request=request, key="mapo",
                max_open=3, now=NOW,
            )  # fmt: skip
    async with sessions() as session:
        assert await session.scalar(select(Nudge.id)) is None
