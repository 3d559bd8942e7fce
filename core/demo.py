"""Demo data: branches in Shanghai, Seoul and Qingdao, the categories, and a few members;
and the journey's readiness: the Luoshan volunteer set up to be matched, the resident able to
pay for a first request."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import broadcasts, ledger, market, members, needs, volunteers
from core.db import utcnow
from core.market.tables import MarketEvent
from core.matching import skill_bit
from core.members import COARSE_DECIMALS, normalise_phone
from core.models import (
    Branch,
    Category,
    Identity,
    Member,
    Membership,
    MembershipRole,
    Neighbourhood,
)
from core.rewards.demo import seed_rewards_demo
from core.schedule import local_today

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


@dataclass(frozen=True)
class DemoMember:
    external_id: str  # the Telegram user id
    name: str
    language: str
    branch: str
    roles: tuple[str, ...]
    verified: bool = False
    neighbourhood: str | None = None  # home; the branch's centre without one
    phone: str | None = None


# The first three are the demo page's resident, volunteer and coordinator, all in Luoshan.
MEMBERS: list[DemoMember] = [
    DemoMember("900001", "王芳", "zh_Hans", "luoshan", ("resident",),
               neighbourhood="luoshan-1", phone="+8613800000001"),
    DemoMember("900002", "김민지", "ko", "luoshan", ("volunteer",), verified=True,
               neighbourhood="luoshan-7", phone="+821000000002"),
    DemoMember("900003", "Li Wei", "en", "luoshan", ("coordinator", "volunteer"), verified=True,
               phone="+8613800000003"),
    DemoMember("900004", "박영수", "ko", "mapo", ("resident", "volunteer"), verified=True),
]  # fmt: skip
RESIDENT, VOLUNTEER = "900001", "900002"
# The demo coordinator also coordinates a second branch, to switch to with /branch.
SECOND_BRANCHES: dict[str, str] = {"900003": "shinan"}

# Credit the demo's branch pools start with, so a coordinator can cover a request.
DEMO_POOL_MINUTES = 20 * 60
# Welcome hours and overdrafts, so a resident's first request goes straight to volunteers.
DEMO_POLICIES: dict[str, ledger.BranchPolicy] = {
    "luoshan": ledger.BranchPolicy(welcome_minutes=60, resident_overdraft_limit=120),
    "mapo": ledger.BranchPolicy(welcome_minutes=120, resident_overdraft_limit=60),
    "shinan": ledger.BranchPolicy(welcome_minutes=60, resident_overdraft_limit=180),
}


async def seed_demo(session: AsyncSession) -> dict[str, int]:
    """Insert what is missing; running it twice changes nothing."""
    added = {"branches": 0, "categories": 0, "members": 0, "pool grants": 0}
    founded: set[str] = set()
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
            founded.add(spec["code"])
    for order, (code, emoji, names) in enumerate(CATEGORIES):
        if await session.scalar(select(Category).where(Category.code == code)) is None:
            session.add(Category(code=code, emoji=emoji, names=names, sort_order=order))
            added["categories"] += 1
    for spec in MEMBERS:
        if await _member(session, spec.external_id) is not None:
            continue
        branch = await session.scalar(select(Branch).where(Branch.code == spec.branch))
        area = None
        if spec.neighbourhood is not None:
            area = await session.scalar(
                select(Neighbourhood).where(
                    Neighbourhood.branch_id == branch.id, Neighbourhood.code == spec.neighbourhood
                )
            )
        home = area or branch
        member = Member(
            name=spec.name,
            language=spec.language,
            branch_id=branch.id,
            is_resident="resident" in spec.roles,
            is_volunteer="volunteer" in spec.roles,
            is_coordinator="coordinator" in spec.roles,
            verified=spec.verified,
            phone=normalise_phone(spec.phone) if spec.phone else None,
            neighbourhood_id=area.id if area else None,
            home_latitude=round(home.latitude, COARSE_DECIMALS),
            home_longitude=round(home.longitude, COARSE_DECIMALS),
            onboarded_at=utcnow(),
        )
        session.add(member)
        await session.flush()
        session.add(
            Identity(platform="telegram", external_id=spec.external_id, member_id=member.id)
        )
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
        await needs.ensure_need_categories(session, branch.id)
        if spec["code"] in founded:
            policy = asdict(DEMO_POLICIES[branch.code])
            await ledger.set_branch_policy(
                session, branch.id, actor=ledger.Actor(is_coordinator=True), **policy
            )
    added["memberships"] = await _seed_second_branches(session)
    added["market days"] = await seed_market_day(session)
    added |= await seed_rewards_demo(session)
    return added


async def _seed_second_branches(session: AsyncSession) -> int:
    added = 0
    for external_id, code in SECOND_BRANCHES.items():
        member = await _member(session, external_id)
        branch = await session.scalar(select(Branch).where(Branch.code == code))
        if member is None or branch is None or member.branch_id == branch.id:
            continue
        known = await session.scalar(
            select(Membership.id).where(
                Membership.member_id == member.id, Membership.branch_id == branch.id
            )
        )
        if known is None:
            role = MembershipRole.COORDINATOR if member.is_coordinator else MembershipRole.MEMBER
            session.add(Membership(member_id=member.id, branch_id=branch.id, role=role))
            await session.flush()
            added += 1
    return added


async def _member(session: AsyncSession, external_id: str) -> Member | None:
    return await session.scalar(
        select(Member)
        .join(Identity)
        .where(Identity.platform == "telegram", Identity.external_id == external_id)
    )


async def ready_the_journey(session: AsyncSession) -> dict[str, int]:
    """Make the demo's journey work from the first tap, after `seed_demo`: the volunteer
    offers every category on every day near the resident, the resident holds the
    welcome hours of her branch's policy, as if she had signed up through the bot, and the
    coordinator's announcement of the market day goes out to the branch.

    Kept apart from `seed_demo`, which tests use as a plain background: a volunteer who
    matches every request would answer their requests too."""
    done = {"volunteer profiles": 0, "welcome grants": 0}
    volunteer = await _member(session, VOLUNTEER)
    if volunteer is not None and volunteer.is_volunteer:
        row = await volunteers.profile(session, volunteer.id)
        if not row.skills:
            categories = await session.scalars(select(Category.id))
            row.skills = sum(skill_bit(category_id) for category_id in categories)
            done["volunteer profiles"] += 1
    resident = await _member(session, RESIDENT)
    if resident is not None:
        done["welcome grants"] += bool(await members.grant_welcome_hours(session, resident))
    done["announcements"] = await announce_market_day(session)
    return done


DEMO_MARKET_KEY = "demo:market:luoshan"
# (names, organiser, places per half hour or None for walk-in)
DEMO_UNITS: list[tuple[dict[str, str], str, int | None]] = [
    ({"zh_Hans": "公益理发", "ko": "무료 이발", "en": "Free haircuts"}, "爱心妈妈志愿服务队", 6),
    (
        {"zh_Hans": "中医义诊", "ko": "한의 무료 진료", "en": "Free TCM consultation"},
        "社区卫生服务中心",
        4,
    ),
    (
        {"zh_Hans": "家电维修", "ko": "가전제품 수리", "en": "Appliance repair"},
        "绿色环保志愿服务队",
        3,
    ),
    ({"zh_Hans": "扭扭花手工", "ko": "꽃 공예 체험", "en": "Paper-flower crafts"}, "李大姐", None),
]


async def seed_market_day(session: AsyncSession) -> int:
    """One upcoming market day in Luoshan a week ahead, with the demo coordinator staffing the
    haircuts (so the demo can book and check in); 1 if it was added, 0 if it was there."""
    if await session.scalar(select(MarketEvent.id).where(MarketEvent.key == DEMO_MARKET_KEY)):
        return 0
    branch = await session.scalar(select(Branch).where(Branch.code == "luoshan"))
    coordinator = await session.scalar(
        select(Member)
        .join(Identity, Identity.member_id == Member.id)
        .where(Identity.platform == "telegram", Identity.external_id == "900003")
    )
    if branch is None or coordinator is None:
        return 0
    now = utcnow()
    day = market.Hours(
        local_today(branch.time_zone, now) + timedelta(days=7), time(9), time(11, 30)
    )
    event_id = await market.create_event(
        session,
        coordinator.id,
        branch_id=branch.id,
        names={"zh_Hans": "友邻集市", "ko": "이웃 장터", "en": "Friendly Neighbours market"},
        hours=day,
        venue=market.Venue("罗山路 300 号社区广场", branch.latitude, branch.longitude),
        key=DEMO_MARKET_KEY,
        now=now,
    )
    for names, organiser, places in DEMO_UNITS:
        unit_id = await market.add_unit(
            session, coordinator.id, event_id, market.UnitDraft(names, organiser, places), now=now
        )
        if places == 6:
            await market.sign_up(session, coordinator.id, unit_id)
    return 1


DEMO_ANNOUNCEMENT_KEY = "demo:announcement:luoshan"
DEMO_ANNOUNCEMENT = {
    "zh_Hans": "友邻集市下周在罗山路 300 号社区广场开市！有公益理发、中医义诊、家电维修和"
    "扭扭花手工，都不用花时间。要来的话，点下面的“我会来”告诉我们。",
    "ko": "다음 주에 뤄산로 300번지 마을 광장에서 이웃 장터가 열려요! 무료 이발, 한의 무료 "
    "진료, 가전제품 수리, 꽃 공예 체험이 있어요. 오실 분은 아래 “갈게요”를 눌러 주세요.",
    "en": "The Friendly Neighbours market opens next week on the community square, 300 "
    "Luoshan Road: free haircuts, TCM consultations, appliance repair and paper-flower "
    "crafts. Coming? Tap “I'll come” below.",
}


async def announce_market_day(session: AsyncSession) -> int:
    """The demo coordinator's announcement of the demo market day to Luoshan, in three
    languages with "I'll come", sent now (the bot's broadcast job delivers it); 1 if it was
    made, 0 if it was there or there is no market day."""
    if await session.scalar(
        select(broadcasts.Broadcast.id).where(broadcasts.Broadcast.key == DEMO_ANNOUNCEMENT_KEY)
    ):
        return 0
    event = await session.scalar(select(MarketEvent).where(MarketEvent.key == DEMO_MARKET_KEY))
    coordinator = await _member(session, "900003")
    if event is None or coordinator is None or not coordinator.is_coordinator:
        return 0
    draft = broadcasts.Draft(
        texts=DEMO_ANNOUNCEMENT,
        audience=broadcasts.Audience(branch_ids=(event.branch_id,)),
        buttons=(broadcasts.Button.coming(event.id),),
    )
    broadcast_id = await broadcasts.create(
        session, coordinator.id, draft, key=DEMO_ANNOUNCEMENT_KEY
    )
    await broadcasts.send(session, broadcast_id, coordinator.id)
    return 1
