"""A branch with a coordinator, a partner shop with staff and items, and members with credit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest

from core import ledger
from core.db import transaction
from core.models import Branch, Member
from core.rewards import merchants

COORDINATOR = ledger.Actor(member_id=None, is_coordinator=True)


@dataclass
class Town:
    branch: int
    other_branch: int
    coordinator: int
    other_coordinator: int
    shop: int
    staff: int
    other_shop: int
    other_staff: int
    oil: int  # 60 min, 3 in stock
    coupon: int  # 30 min, unlimited
    residents: list[int]


async def add_member(session, branch_id: int, name: str, **fields) -> int:
    member = Member(name=name, language="en", branch_id=branch_id, **fields)
    session.add(member)
    await session.flush()
    assert member.id is not None
    return member.id


async def give(session, member_id: int, branch_id: int, minutes: int) -> None:
    account = await ledger.open_member_account(session, member_id, branch_id)
    await ledger.grant(session, account.id, minutes, key=f"start:{member_id}:{minutes}")


async def staff_for(session, coordinator: int, shop: int, name: str, branch: int) -> int:
    member = await add_member(session, branch, name)
    invite = await merchants.invite_staff(session, coordinator, shop)
    await merchants.join_staff(session, member, invite.code)
    return member


@pytest.fixture
async def town(sessions) -> Town:
    async with transaction(sessions, write=True) as session:
        branches = [
            Branch(code=code, names={"en": code}, time_zone="Asia/Shanghai", default_language="en")
            for code in ("luoshan", "mapo")
        ]
        session.add_all(branches)
        await session.flush()
        branch, other = (b.id for b in branches)
        coordinator = await add_member(session, branch, "Li Wei", is_coordinator=True)
        other_coordinator = await add_member(session, other, "Park", is_coordinator=True)
        shop = await merchants.register_merchant(
            session, coordinator, branch, name="老王粮油店", address="罗山路 1 号",
            latitude=31.2141, longitude=121.5532, contact="021-000",
        )  # fmt: skip
        other_shop = await merchants.register_merchant(
            session, other_coordinator, other, name="망원 국수", latitude=37.55, longitude=126.90
        )
        staff = await staff_for(session, coordinator, shop.id, "Shopkeeper", branch)
        other_staff = await staff_for(session, other_coordinator, other_shop.id, "Kim", other)
        oil = await merchants.add_item(
            session, staff, category="groceries", price_minutes=60, stock=3,
            names={"zh_Hans": "食用油一瓶", "ko": "식용유 한 병", "en": "A bottle of oil"},
        )  # fmt: skip
        coupon = await merchants.add_item(
            session, staff, category="meals", price_minutes=30,
            names={"en": "10 % off a meal"}, descriptions={"en": "Any weekday"},
        )  # fmt: skip
        residents = []
        for i, name in enumerate(("王秀英", "김영희", "Mary Smith")):
            resident = await add_member(
                session, branch, name, phone=f"+86138000000{i}", address="secret street",
                home_latitude=31.21, home_longitude=121.55,
            )  # fmt: skip
            await give(session, resident, branch, 120)
            residents.append(resident)
        return Town(
            branch, other, coordinator, other_coordinator, shop.id, staff, other_shop.id,
            other_staff, oil.id, coupon.id, residents,
        )  # fmt: skip


async def available(sessions, member_id: int) -> int:
    async with sessions() as session:
        account = await ledger.find_member_account(session, member_id)
        return (await ledger.balance_of(session, account.id)).available


async def shop_balance(sessions, merchant_id: int, branch_id: int) -> int:
    async with transaction(sessions, write=True) as session:
        account = await ledger.merchant_account(session, merchant_id, branch_id)
        return (await ledger.balance_of(session, account.id)).balance


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
