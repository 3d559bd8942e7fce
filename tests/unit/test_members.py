from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from core import members
from core.db import transaction
from core.demo import seed_demo
from core.errors import InvalidInput
from core.models import Identity, Member


async def _join(sessions, external_id: str = "42", language: str = "ko") -> Member:
    async with transaction(sessions, write=True) as session:
        return await members.join(session, "telegram", external_id, language=language)


async def test_join_twice_gives_the_same_member(sessions) -> None:
    first = await _join(sessions)
    second = await _join(sessions, language="en")
    assert first.id == second.id
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 1
        assert (await session.get(Member, first.id)).language == "en"


async def test_concurrent_joins_of_one_identity_make_one_member(sessions) -> None:
    joined = await asyncio.gather(*(_join(sessions) for _ in range(5)), return_exceptions=True)
    ids = {m.id for m in joined if isinstance(m, Member)}
    assert len(ids) == 1
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Identity)) == 1


@pytest.mark.parametrize("name", ["", "   ", "x" * 65, "/start"])
async def test_bad_names_are_refused(sessions, name: str) -> None:
    member = await _join(sessions)
    async with transaction(sessions) as session:
        with pytest.raises(members.NameInvalid):
            await members.set_name(session, member.id, name)


async def test_name_whitespace_is_folded(sessions) -> None:
    member = await _join(sessions)
    async with transaction(sessions) as session:
        saved = await members.set_name(session, member.id, "  王   芳 ")
    assert saved.name == "王 芳"


async def test_roles(sessions) -> None:
    member = await _join(sessions)
    async with transaction(sessions) as session:
        both = await members.set_roles(session, member.id, members.Roles.BOTH)
        assert both.is_resident and both.is_volunteer
        helper = await members.set_roles(session, member.id, members.Roles.VOLUNTEER)
        assert helper.is_volunteer and not helper.is_resident
        with pytest.raises(InvalidInput):
            await members.set_roles(session, member.id, "king")


async def test_home_location_is_kept_coarse(sessions) -> None:
    member = await _join(sessions)
    async with transaction(sessions) as session:
        saved = await members.set_home_location(session, member.id, 31.214123, 121.553219)
    assert (saved.home_latitude, saved.home_longitude) == (31.21, 121.55)


async def test_neighbourhood_must_belong_to_the_members_branch(sessions) -> None:
    member = await _join(sessions)
    async with transaction(sessions, write=True) as session:
        await seed_demo(session)
    async with transaction(sessions) as session:
        from core import catalog

        luoshan = await catalog.branch_by_code(session, "luoshan")
        mapo = await catalog.branch_by_code(session, "mapo")
        await members.set_branch(session, member.id, luoshan.id)
        seoul_area = (await catalog.neighbourhoods(session, mapo.id))[0]
        with pytest.raises(members.NotFound):
            await members.set_neighbourhood(session, member.id, seoul_area.id)
        area = (await catalog.neighbourhoods(session, luoshan.id))[0]
        saved = await members.set_neighbourhood(session, member.id, area.id)
        assert saved.home_latitude == round(area.latitude, 2)


async def test_phone_is_normalised_and_checked(sessions) -> None:
    member = await _join(sessions)
    async with transaction(sessions) as session:
        saved = await members.set_phone(session, member.id, "+86 138-0013-8000")
        assert saved.phone == "+8613800138000"
        with pytest.raises(InvalidInput):
            await members.set_phone(session, member.id, "12")


async def test_erasing_keeps_an_anonymous_member_and_forgets_the_identity(sessions) -> None:
    member = await _join(sessions)
    async with transaction(sessions) as session:
        await members.set_name(session, member.id, "Kim")
        await members.set_phone(session, member.id, "+82 10 1234 5678")
        await members.set_home_location(session, member.id, 37.55, 126.9)
    async with transaction(sessions) as session:
        await members.erase_member(session, member.id)
    async with sessions() as session:
        row = await session.get(Member, member.id)
        assert row is not None and row.erased_at is not None
        assert (row.name, row.phone, row.home_latitude, row.language) == ("", None, None, None)
        assert await members.find_member(session, "telegram", "42") is None
    again = await _join(sessions)
    assert again.id != member.id


async def test_personal_data_lists_everything(sessions) -> None:
    member = await _join(sessions)
    async with transaction(sessions) as session:
        await members.set_name(session, member.id, "Mei")
        data = (await members.personal_data(session, member.id)).as_dict()
    assert data["name"] == "Mei"
    assert data["identities"] == ["telegram:42"]
    assert set(data) >= {"phone", "home", "address", "branch", "roles", "joined"}


@pytest.mark.parametrize(
    ("home", "near"),
    [
        ((31.214123, 121.553219), "luoshan-1"),
        ((31.2102, 121.5611), "luoshan-7"),
        ((31.3, 121.4), None),
    ],
)
async def test_a_shared_home_is_told_by_the_neighbourhood_it_is_near(sessions, home, near) -> None:
    """Homes are kept to two decimals (about a kilometre), so "near" reaches 2 km."""
    member = await _join(sessions)
    async with transaction(sessions, write=True) as session:
        await seed_demo(session)
    async with transaction(sessions) as session:
        from core import catalog

        luoshan = await catalog.branch_by_code(session, "luoshan")
        await members.set_branch(session, member.id, luoshan.id)
        await members.set_home_location(session, member.id, *home)
        data = await members.personal_data(session, member.id)
    assert data.neighbourhood is None
    assert (data.home_near.code if data.home_near else None) == near


async def test_seed_demo_is_idempotent(sessions) -> None:
    async with transaction(sessions, write=True) as session:
        first = await seed_demo(session)
    async with transaction(sessions, write=True) as session:
        second = await seed_demo(session)
    assert first["branches"] == 3 and first["categories"] == 12 and first["members"] >= 3
    assert set(second.values()) == {0}
