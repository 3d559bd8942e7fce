"""The demo's data: its journey is ready from the first tap, and seeding twice changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.demo import demo_log_level
from core import helping, matching
from core.config import load_settings
from core.db import transaction
from core.demo import DEMO_POLICIES, RESIDENT, VOLUNTEER, ready_the_journey, seed_demo
from core.models import Category, Identity, Member, Order

# Monday 3 a.m. and Sunday 8 p.m. in Shanghai: any day, any part of it
ANY_TIME = (datetime(2026, 12, 6, 19, 0, tzinfo=UTC), datetime(2026, 12, 6, 12, 0, tzinfo=UTC))

WELCOME = DEMO_POLICIES["luoshan"].welcome_minutes  # what the resident starts with


async def _member(session, external_id: str) -> Member:
    return await session.scalar(
        select(Member).join(Identity).where(Identity.external_id == external_id)
    )


async def test_the_resident_can_pay_and_the_volunteer_is_matched(sessions) -> None:
    async with transaction(sessions, write=True) as session:
        await seed_demo(session)
        first = await ready_the_journey(session)
    async with transaction(sessions, write=True) as session:
        again = await seed_demo(session) | await ready_the_journey(session)
    assert first == {"volunteer profiles": 1, "welcome grants": 1, "announcements": 1}
    assert set(again.values()) == {0}

    async with sessions() as session:
        resident = await _member(session, RESIDENT)
        volunteer = await _member(session, VOLUNTEER)
        assert resident.branch_id == volunteer.branch_id and volunteer.verified
        assert await helping.balance(session, resident.id) == WELCOME
        for code in ("companionship", "shopping", "repairs"):
            category = await session.scalar(select(Category.id).where(Category.code == code))
            order = Order(
                branch_id=resident.branch_id,
                requester_id=resident.id,
                beneficiary_id=resident.id,
                category_id=category,
                estimated_minutes=60,
                idempotency_key=f"demo-test:{code}",
            )
            for at in ANY_TIME:
                need = await matching.need_for(session, order, at)
                found = await matching.eligible(session, need, now=at)
                assert [c.member_id for c in found] == [volunteer.id], (code, at)


def test_the_demo_logs_warnings_unless_told_otherwise() -> None:
    settings = load_settings(log_level="DEBUG")
    assert demo_log_level(settings, {}) == "WARNING"
    assert demo_log_level(settings, {"TIMEBANK_LOG_LEVEL": "DEBUG"}) == "DEBUG"


def test_a_user_added_to_the_demo_is_never_a_seeded_member() -> None:
    from bot.demo import DEMO_TOKEN, PERSONAS, _number_newcomers_above_seeded, _start_chats
    from core.demo import MEMBERS
    from sandbox.server import SandboxServer

    sandbox = SandboxServer("127.0.0.1", 0, bots=[{"token": DEMO_TOKEN, "username": "demo_bot"}])
    _start_chats(sandbox, PERSONAS)
    _number_newcomers_above_seeded(sandbox)
    newcomer = sandbox.add_user("<b>Ma</b>", language_code="zh-hans")
    assert str(newcomer.id) not in {member.external_id for member in MEMBERS}
