"""Demo data for what credits buy, in the Luoshan branch: partner shops with items, a
class and a parking space. Called by `core.demo.seed_demo`; running it twice adds nothing.

Luoshan lets rewards use a resident's overdraft, so the demo's resident can still spend
hours at a shop after the hour her first request cost her."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.db import utcnow
from core.models import Branch, Identity, Member, Neighbourhood
from core.rewards import classes, parking
from core.rewards.tables import (
    CommunityClass,
    Merchant,
    ParkingSpace,
    RewardItem,
    RewardSettings,
)

BRANCH = "luoshan"
COORDINATOR = "900003"  # the demo's coordinator, who also volunteers
PARKING_OWNER = "900001"

# (name, address, latitude, longitude, contact, [(category, names, minutes, stock)])
SHOPS = [
    ("老王粮油店", "罗山路 88 号", 31.2138, 121.5541, "021-5000 0001", [
        ("groceries", {"zh_Hans": "食用油一桶（5升）", "ko": "식용유 한 통(5L)",
                       "en": "A 5-litre bottle of cooking oil"}, 60, 5),
        ("groceries", {"zh_Hans": "大米 5 公斤", "ko": "쌀 5kg", "en": "5 kg of rice"}, 45, 10),
    ]),
    ("福临鱼馆", "罗山七村 3 号门面", 31.2105, 121.5603, "021-5000 0002", [
        ("meals", {"zh_Hans": "午餐九折", "ko": "점심 10% 할인", "en": "10 % off lunch"},
         30, None),
    ]),
    ("罗山洗衣房", "罗山一村 12 号", 31.2145, 121.5528, "021-5000 0003", [
        ("services", {"zh_Hans": "洗衣卡（10 次）", "ko": "세탁 카드(10회)",
                      "en": "Laundry card (10 washes)"}, 90, 8),
    ]),
]  # fmt: skip

CLASS_TITLES = {"zh_Hans": "智能手机课", "ko": "스마트폰 교실", "en": "Smartphone class"}
CLASS_DESCRIPTIONS = {
    "zh_Hans": "学会视频通话、扫码和叫车。",
    "ko": "영상 통화, QR 스캔, 택시 부르기를 배워요.",
    "en": "Video calls, scanning codes and calling a taxi.",
}


async def _member(session: AsyncSession, external_id: str) -> Member | None:
    return await session.scalar(
        select(Member)
        .join(Identity, Identity.member_id == Member.id)
        .where(Identity.platform == "telegram", Identity.external_id == external_id)
    )


def _next_saturdays(time_zone: str, now: datetime, count: int) -> list[datetime]:
    local = now.astimezone(ZoneInfo(time_zone))
    day = local.replace(hour=9, minute=30, second=0, microsecond=0)
    day += timedelta(days=(5 - day.weekday()) % 7 or 7)
    return [day + timedelta(weeks=i) for i in range(count)]


async def seed_rewards_demo(session: AsyncSession) -> dict[str, int]:
    added = {"shops": 0, "items": 0, "classes": 0, "parking spaces": 0}
    branch = await session.scalar(select(Branch).where(Branch.code == BRANCH))
    coordinator = await _member(session, COORDINATOR)
    if branch is None or coordinator is None:
        return added
    now = utcnow()
    if await session.get(RewardSettings, branch.id) is None:
        session.add(RewardSettings(branch_id=branch.id, rewards_may_overdraw=True))
    for name, address, lat, lon, contact, items in SHOPS:
        found = await session.scalar(
            select(Merchant).where(Merchant.branch_id == branch.id, Merchant.name == name)
        )
        if found is not None:
            continue
        shop = Merchant(
            branch_id=branch.id, name=name, address=address, latitude=lat, longitude=lon,
            contact=contact, created_by_id=coordinator.id,
        )  # fmt: skip
        session.add(shop)
        await session.flush()
        assert shop.id is not None
        await ledger.merchant_account(session, shop.id, branch.id)
        for category, names, minutes, stock in items:
            session.add(
                RewardItem(
                    merchant_id=shop.id,
                    category=category,
                    names=names,
                    descriptions={},
                    price_minutes=minutes,
                    stock=stock,
                )
            )
            added["items"] += 1
        added["shops"] += 1
    if coordinator.is_volunteer and (
        await session.scalar(
            select(CommunityClass.id).where(CommunityClass.teacher_id == coordinator.id)
        )
        is None
    ):
        await classes.create_class(
            session, coordinator.id, titles=CLASS_TITLES, descriptions=CLASS_DESCRIPTIONS,
            seats=8, sessions=[(start, 60) for start in _next_saturdays(branch.time_zone, now, 4)],
            age_note="60+", place="罗山市民会馆 2 楼", latitude=31.2131, longitude=121.5552,
            teacher_minutes=60, now=now,
        )  # fmt: skip
        added["classes"] += 1
    owner = await _member(session, PARKING_OWNER)
    if (
        owner is not None
        and owner.branch_id == branch.id
        and (
            await session.scalar(select(ParkingSpace.id).where(ParkingSpace.owner_id == owner.id))
            is None
        )
    ):
        area = await session.scalar(
            select(Neighbourhood).where(
                Neighbourhood.branch_id == branch.id, Neighbourhood.code == "luoshan-1"
            )
        )
        space = await parking.list_space(
            session, owner.id, address="罗山一村 5 号楼地下车库 B-12",
            notes="白天空闲，限小型车", neighbourhood_id=area.id if area else None,
        )  # fmt: skip
        for start in _next_saturdays(branch.time_zone, now, 2):
            begins = start.replace(hour=8, minute=0)
            await parking.offer_window(
                session, owner.id, space.id, begins, begins + timedelta(hours=10), now=now
            )
        added["parking spaces"] += 1
    await session.flush()
    return added
