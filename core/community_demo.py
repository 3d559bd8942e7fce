"""The demo's needs survey and volunteer team in Luoshan, so the coordinator's /needs,
/team and dashboard show something from the first tap. Kept apart from `seed_demo`, which
tests use as a plain background; run after it (`timebank seed-demo`, the demo page)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import needs, teams
from core.models import Identity, Member, Need, NeedCategory, Team

COORDINATOR = "900003"
# (who tells of it, the category's code, the words, anonymously)
DEMO_NEEDS: list[tuple[str, str, str, bool]] = [
    ("900001", "health", "社区里能不能每个月量一次血压？", False),
    ("900001", "services", "想学用手机挂号。", False),
    ("900002", "environment", "공원 벤치가 부서졌어요.", True),
    ("900003", "elderly", "More lunch places for older neighbours.", False),
]
DEMO_TEAM = {"zh_Hans": "绿色环保志愿服务队", "ko": "초록 환경 봉사 모임", "en": "Green volunteers"}
# The leader first.
DEMO_TEAM_MEMBERS = ("900002", "900003")


async def _member(session: AsyncSession, external_id: str) -> Member | None:
    return await session.scalar(
        select(Member)
        .join(Identity)
        .where(Identity.platform == "telegram", Identity.external_id == external_id)
    )


async def seed_community_demo(session: AsyncSession) -> dict[str, int]:
    """Luoshan's demo needs and its volunteer team, each added once."""
    added = {"needs": 0, "teams": 0}
    coordinator = await _member(session, COORDINATOR)
    if coordinator is None or coordinator.branch_id is None:
        return added
    for number, (external_id, code, text, anonymous) in enumerate(DEMO_NEEDS):
        key = f"demo:need:{number}"
        raiser = await _member(session, external_id)
        category = await session.scalar(
            select(NeedCategory).where(
                NeedCategory.branch_id == coordinator.branch_id, NeedCategory.code == code
            )
        )
        if raiser is None or category is None:
            continue
        if await session.scalar(select(Need.id).where(Need.idempotency_key == key)):
            continue
        await needs.raise_need(
            session, member_id=raiser.id, category_id=category.id, key=key, text=text,
            anonymous=anonymous,
        )  # fmt: skip
        added["needs"] += 1
    people = [await _member(session, external_id) for external_id in DEMO_TEAM_MEMBERS]
    have = await session.scalars(select(Team).where(Team.branch_id == coordinator.branch_id))
    if all(people) and not any(team.names == DEMO_TEAM for team in have):
        leader, *others = people
        await teams.create_team(
            session,
            coordinator_id=coordinator.id,
            branch_id=coordinator.branch_id,
            names=DEMO_TEAM,
            leader_id=leader.id,  # type: ignore[union-attr]
            member_ids=[member.id for member in others],  # type: ignore[union-attr]
            key=f"demo:team:{coordinator.branch_id}",
        )
        added["teams"] += 1
    return added
