"""Demo data: branches in Shanghai, Seoul and Qingdao, the categories, and a few members."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import ledger
from core.db import utcnow
from core.models import Branch, Category, Identity, Member, Neighbourhood

BRANCHES: list[dict[str, Any]] = [
    {
        "code": "luoshan",
        "names": {"zh_Hans": "上海罗山", "ko": "상하이 뤄산", "en": "Luoshan, Shanghai"},
        "time_zone": "Asia/Shanghai",
        "default_language": "zh_Hans",
        "latitude": 31.2135,
        "longitude": 121.5560,
        "neighbourhoods": [
            (
                "luoshan-1",
                {"zh_Hans": "罗山一村", "ko": "뤄산 1촌", "en": "Luoshan Village 1"},
                31.2141,
                121.5532,
            ),
            (
                "luoshan-7",
                {"zh_Hans": "罗山七村", "ko": "뤄산 7촌", "en": "Luoshan Village 7"},
                31.2102,
                121.5611,
            ),
        ],
    },
    {
        "code": "mapo",
        "names": {"zh_Hans": "首尔麻浦", "ko": "서울 마포", "en": "Mapo, Seoul"},
        "time_zone": "Asia/Seoul",
        "default_language": "ko",
        "latitude": 37.5663,
        "longitude": 126.9019,
        "neighbourhoods": [
            (
                "mangwon",
                {"zh_Hans": "望远洞", "ko": "망원동", "en": "Mangwon-dong"},
                37.5556,
                126.9010,
            ),
            (
                "seogyo",
                {"zh_Hans": "西桥洞", "ko": "서교동", "en": "Seogyo-dong"},
                37.5552,
                126.9186,
            ),
        ],
    },
    {
        "code": "shinan",
        "names": {"zh_Hans": "青岛市南", "ko": "칭다오 스난", "en": "Shinan, Qingdao"},
        "time_zone": "Asia/Shanghai",
        "default_language": "zh_Hans",
        "latitude": 36.0671,
        "longitude": 120.3826,
        "neighbourhoods": [
            (
                "badaguan",
                {"zh_Hans": "八大关", "ko": "바다관", "en": "Badaguan"},
                36.0551,
                120.3561,
            ),
        ],
    },
]

CATEGORIES: list[tuple[str, str, dict[str, str]]] = [
    ("companionship", "🫖", {"zh_Hans": "陪伴探访", "ko": "말벗·방문", "en": "Company & visits"}),
    ("shopping", "🛒", {"zh_Hans": "买菜跑腿", "ko": "장보기·심부름", "en": "Shopping & errands"}),
    ("repairs", "🔧", {"zh_Hans": "维修", "ko": "수리", "en": "Repairs"}),
    ("hospital", "🏥", {"zh_Hans": "陪同就医", "ko": "병원 동행", "en": "Hospital escort"}),
    ("smartphone", "📱", {"zh_Hans": "手机教学", "ko": "스마트폰 배우기", "en": "Smartphone help"}),
    ("cooking", "🍲", {"zh_Hans": "做饭送菜", "ko": "반찬·요리", "en": "Cooking & side dishes"}),
    ("cleaning", "🧹", {"zh_Hans": "打扫卫生", "ko": "청소", "en": "Cleaning"}),
    ("pets", "🐕", {"zh_Hans": "遛狗照看宠物", "ko": "반려동물 산책", "en": "Pet walking"}),
    ("carpool", "🚗", {"zh_Hans": "顺风车", "ko": "카풀", "en": "Car-pooling"}),
    ("classes", "📚", {"zh_Hans": "课程", "ko": "강좌", "en": "Classes"}),
    ("parking", "🅿️", {"zh_Hans": "车位共享", "ko": "주차 공간 나눔", "en": "Parking spaces"}),
    ("other", "💬", {"zh_Hans": "其他", "ko": "기타", "en": "Other"}),
]

# (telegram user id, name, language, branch code, roles, verified)
MEMBERS: list[tuple[str, str, str, str, tuple[str, ...], bool]] = [
    ("900001", "王芳", "zh_Hans", "luoshan", ("resident",), False),
    ("900002", "김민지", "ko", "mapo", ("volunteer",), True),
    ("900003", "Li Wei", "en", "luoshan", ("coordinator", "volunteer"), True),
    ("900004", "박영수", "ko", "mapo", ("resident", "volunteer"), True),
]


# Credit the demo's branch pools start with, so a coordinator can cover a request.
DEMO_POOL_MINUTES = 20 * 60


async def seed_demo(session: AsyncSession) -> dict[str, int]:
    """Insert what is missing; running it twice changes nothing."""
    added = {"branches": 0, "categories": 0, "members": 0, "pool grants": 0}
    for spec in BRANCHES:
        branch = await session.scalar(select(Branch).where(Branch.code == spec["code"]))
        if branch is None:
            fields = {k: v for k, v in spec.items() if k != "neighbourhoods"}
            branch = Branch(**fields)
            session.add(branch)
            await session.flush()
            for order, (code, names, lat, lon) in enumerate(spec["neighbourhoods"]):
                session.add(
                    Neighbourhood(
                        branch_id=branch.id,
                        code=code,
                        names=names,
                        latitude=lat,
                        longitude=lon,
                        sort_order=order,
                    )
                )
            added["branches"] += 1
    for order, (code, emoji, names) in enumerate(CATEGORIES):
        if await session.scalar(select(Category).where(Category.code == code)) is None:
            session.add(Category(code=code, emoji=emoji, names=names, sort_order=order))
            added["categories"] += 1
    for external_id, name, language, branch_code, roles, verified in MEMBERS:
        known = await session.scalar(
            select(Identity).where(
                Identity.platform == "telegram", Identity.external_id == external_id
            )
        )
        if known is not None:
            continue
        branch = await session.scalar(select(Branch).where(Branch.code == branch_code))
        member = Member(
            name=name,
            language=language,
            branch_id=branch.id,
            is_resident="resident" in roles,
            is_volunteer="volunteer" in roles,
            is_coordinator="coordinator" in roles,
            verified=verified,
            home_latitude=round(branch.latitude, 2),
            home_longitude=round(branch.longitude, 2),
            onboarded_at=utcnow(),
        )
        session.add(member)
        await session.flush()
        session.add(Identity(platform="telegram", external_id=external_id, member_id=member.id))
        added["members"] += 1
    for spec in BRANCHES:
        branch = await session.scalar(select(Branch).where(Branch.code == spec["code"]))
        pool = await ledger.pool_account(session, branch.id)
        posting = await ledger.grant(
            session,
            pool.id,
            DEMO_POOL_MINUTES,
            key=f"demo:pool:{branch.code}",
            memo="demo: the community pool's first hours",
        )
        added["pool grants"] += not posting.replayed
    return added
