"""Consent to keep a phone number or a home address: recorded with its date where the
detail is saved, dated again when given again, forgotten with the details on erasing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from core import consent, family, members
from core.consent import Consent
from core.db import transaction
from core.demo import seed_demo
from core.models import Member

PHONE = "+8613800138000"
NOW = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)


async def test_sharing_a_phone_records_consent_and_erasing_forgets_it(sessions) -> None:
    async with transaction(sessions, write=True) as s:
        member = await members.join(s, "telegram", "5550001", language="en")
        await members.set_phone(s, member.id, PHONE)
        await consent.record(s, member.id, consent.Detail.PHONE, now=NOW + timedelta(days=1))
        given = await consent.given(s, member.id)
        assert [(g.detail, g.given_at, g.in_person) for g in given] == [
            (consent.Detail.PHONE, NOW + timedelta(days=1), False)
        ]
        await members.erase_member(s, member.id)
        assert await s.scalar(select(func.count()).select_from(Consent)) == 0
        assert (await s.get(Member, member.id)).phone is None


async def test_a_coordinator_writing_down_an_address_records_it_in_person(sessions) -> None:
    async with transaction(sessions, write=True) as s:
        await seed_demo(s)
        branch_id = await s.scalar(select(Member.branch_id).where(Member.branch_id.is_not(None)))
        coordinator = Member(name="Li", is_coordinator=True, branch_id=branch_id)
        s.add(coordinator)
        await s.flush()
        resident = await family.register_offline_resident(
            s, coordinator.id, name="Grandma Wu", branch_id=branch_id, address="3 Luoshan Road"
        )
        given = await consent.given(s, resident.id)
    assert [(g.detail, g.in_person) for g in given] == [(consent.Detail.ADDRESS, True)]
