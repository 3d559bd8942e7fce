"""The public live screen: aggregates and opted-in first names only, by a token a coordinator
can rotate; no login."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core import ledger, screen
from core.coordinators import CoordinatorOnly
from core.db import transaction
from core.ledger import PostingKind
from core.models import Member, Order
from tests.figures import HIDDEN_NAME, HIDDEN_PHONE, THANKED
from tests.web.conftest import auth, init_data


async def _help_this_month(sessions, seeded) -> None:
    """Both volunteers are paid today: only the one who opted in may be thanked by name."""
    async with transaction(sessions, write=True) as s:
        order = await s.get(Order, seeded["order_n3"])
        payer = await ledger.open_member_account(s, seeded["neighbour"], seeded["branch"])
        await ledger.grant(s, payer.id, 300, key="screen:grant")
        for key, who, minutes in (("a", seeded["volunteer"], 60), ("b", seeded["helper"], 30)):
            earner = await ledger.open_member_account(s, who, seeded["branch"])
            await ledger.transfer(
                s, payer.id, earner.id, minutes, kind=PostingKind.SERVICE,
                key=f"screen:{key}", order_id=order.id,
            )  # fmt: skip


async def _address(client) -> str:
    response = await client.get("/dashboard/api/screen", headers=auth(init_data()))
    assert response.status == 200
    return (await response.json())["path"]


async def test_aggregates_and_only_opted_in_first_names(client, sessions, seeded) -> None:
    await _help_this_month(sessions, seeded)
    path = await _address(client)
    page = await client.get(path)
    assert page.status == 200
    data_response = await client.get(f"{path}/figures", params={"lang": "en"})
    data = await data_response.json()
    async with sessions() as s:
        expected = await screen.screen_figures(s, seeded["branch"])
    # 90 minutes paid today, and the 30 of 1 December while that is this month.
    assert data["minutes"] == expected.minutes_this_month >= 90
    assert data["volunteers"] == expected.volunteers_active == 2
    assert data["thanks"] == [THANKED.split()[0]]
    async with sessions() as s:
        hidden = list(await s.scalars(select(Member).where(Member.thanked_in_public.is_(False))))
    assert any(m.name == HIDDEN_NAME for m in hidden)
    for body in (await page.text(), await data_response.text()):
        for member in hidden:
            for word in member.name.split():
                assert word not in body, f"{member.name} on the public screen"
            if member.phone:
                assert member.phone[-8:] not in body
        assert HIDDEN_PHONE[-8:] not in body
        assert THANKED.split()[1] not in body  # the surname, even of one who opted in


async def test_a_member_opts_out_and_leaves_the_ticker(client, sessions, seeded) -> None:
    await _help_this_month(sessions, seeded)
    async with transaction(sessions, write=True) as s:
        await screen.set_public_thanks(s, seeded["helper"], False)
    path = await _address(client)
    data = await (await client.get(f"{path}/figures")).json()
    assert data["thanks"] == []
    async with transaction(sessions, write=True) as s:
        await screen.set_public_thanks(s, seeded["volunteer"], True)
    data = await (await client.get(f"{path}/figures")).json()
    assert data["thanks"] == ["김민지"]


async def test_rotating_retires_the_old_address(client, sessions, seeded) -> None:
    old = await _address(client)
    response = await client.post("/dashboard/api/screen", headers=auth(init_data()))
    new = (await response.json())["path"]
    assert new != old
    assert (await client.get(old)).status == 404
    assert (await client.get(f"{old}/figures")).status == 404
    assert (await client.get(f"{new}/figures")).status == 200
    assert (await client.get("/screen/guess")).status == 404


async def test_only_a_coordinator_of_the_branch_rotates(sessions, seeded) -> None:
    async with transaction(sessions, write=True) as s:
        with pytest.raises(CoordinatorOnly):
            await screen.rotate_screen_token(s, seeded["branch"], seeded["volunteer"])
        first = await screen.screen_token(s, seeded["branch"])
        assert first == await screen.screen_token(s, seeded["branch"])
        assert len(first) >= 32
        rotated = await screen.rotate_screen_token(s, seeded["branch"], seeded["coordinator"])
        assert rotated != first
        assert await screen.branch_of_token(s, rotated) == seeded["branch"]
        assert await screen.branch_of_token(s, first) is None
