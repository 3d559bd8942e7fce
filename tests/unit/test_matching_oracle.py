"""The one-statement `eligible` against its brute-force twin: the same top N, in the same
order, for random volunteers and orders (run on PostgreSQL with TIMEBANK_DATABASE_URL).

Homes fall on the 0.01° grid members' homes are rounded to, or anywhere, so distances tie
and cross band edges; some volunteers move after they joined, which the spatial index must
follow. Volunteers belong to the order's branch, to it by a membership besides their own,
to a neighbouring branch (asked only when the need reaches neighbours) or to a far one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import matching, volunteers
from core.db import create_engine, session_factory, transaction
from core.demo import seed_demo
from core.languages import LANGUAGES
from core.models import (
    BlockedMember,
    Branch,
    Category,
    Member,
    Membership,
    Nudge,
    Order,
    OrderStatus,
    VolunteerProfile,
)
from tests.conftest import _empty_tables
from tests.profiles import examples

NOW = datetime(2026, 3, 4, 9, 30, tzinfo=UTC)
EVERY_SLOT = volunteers.EVERY_SLOT

# Offsets from the branch's centre in 0.0001°: mostly within 2 km, some up to 6.7 km (past
# the widest reach).
offsets = st.one_of(
    st.integers(-20, 20).map(lambda cells: cells * 100),  # the home grid
    st.integers(-200, 200),
    st.integers(-60, 60).map(lambda cells: cells * 100),
    st.integers(-600, 600),
)
volunteer = st.fixed_dictionaries(
    {
        "north": offsets,
        "east": offsets,
        "moved_to": st.none() | st.tuples(offsets, offsets),
        "skills": st.sampled_from([{0, 1}, {0, 1}, {0}, {1}, set()]),
        "availability": st.sampled_from([EVERY_SLOT, EVERY_SLOT, 0]) | st.integers(0, EVERY_SLOT),
        "quiet": st.sampled_from([*volunteers.QUIET_CHOICES.values(), (600, 600), (None, None)]),
        "max_distance_m": st.sampled_from([*matching.DISTANCES_M, 5000, 5000]),
        "paused": st.integers(0, 9).map(lambda n: n == 0),
        "verified": st.integers(0, 9).map(lambda n: n > 0),
        "erased": st.integers(0, 19).map(lambda n: n == 0),
        "blocked": st.integers(0, 19).map(lambda n: n == 0),
        "max_open": st.integers(1, 3),
        "busy": st.sampled_from([0, 0, 0, 1, 2]),
        "recent": st.integers(0, 3),
        "old": st.integers(0, 2),
        "language": st.sampled_from(LANGUAGES),
        "also_speaks": st.lists(st.sampled_from(LANGUAGES), max_size=2),
        "ratings": st.tuples(st.integers(0, 100), st.integers(0, 20)),
        "nudged": st.integers(0, 9).map(lambda n: n == 0),
        "branch": st.sampled_from(["home", "home", "home", "member", "neighbour", "far"]),
    }
)
need = st.fixed_dictionaries(
    {
        "north": st.integers(-100, 100),
        "east": st.integers(-100, 100),
        "skill": st.integers(0, 1),
        "in_hours": st.floats(0, 24 * 7),
        "now_hours": st.floats(-12, 12),
        "language": st.none() | st.sampled_from(LANGUAGES),
        "limit": st.integers(1, 4) | st.integers(1, 20),
        "neighbours": st.booleans(),
    }
)


@dataclass(frozen=True)
class Place:
    branch_id: int
    latitude: float
    longitude: float
    time_zone: str
    categories: list[int]
    resident: int
    neighbour_id: int

    def at(self, north: int, east: int) -> tuple[float, float]:
        """The point `north` and `east` of the centre, in 0.0001°, as members' homes keep it."""
        return round(self.latitude + north / 10_000, 6), round(self.longitude + east / 10_000, 6)


async def _world(session: AsyncSession, people: list[dict]) -> Place:
    """The demo, one resident and `people` as volunteers (each dict gets its member "id")."""
    await seed_demo(session)
    branch = await session.scalar(select(Branch).where(Branch.code == "luoshan"))
    categories = list(await session.scalars(select(Category.id).order_by(Category.id)))[:4]
    assert branch is not None and branch.latitude is not None and branch.longitude is not None
    resident = Member(name="R", language="zh_Hans", branch_id=branch.id, is_resident=True)
    others = {
        code: Branch(code=code, names={"en": code}, time_zone="UTC", default_language="en")
        for code in ("neighbour", "far")
    }
    session.add_all([resident, *others.values()])
    await session.flush()
    place = Place(
        branch.id,
        branch.latitude,
        branch.longitude,
        branch.time_zone,
        categories,
        resident.id,
        others["neighbour"].id,
    )
    branch_of = {"home": branch.id, "member": others["far"].id}
    branch_of |= {code: row.id for code, row in others.items()}
    order_rows: list[dict] = []
    for n, person in enumerate(people):
        latitude, longitude = place.at(person["north"], person["east"])
        member = Member(
            name=f"V{n}",
            language=person["language"],
            branch_id=branch_of[person.get("branch", "home")],
            is_volunteer=True,
            verified=person["verified"],
            home_latitude=latitude,
            home_longitude=longitude,
        )
        session.add(member)
        await session.flush()
        person["id"] = member.id
        if person.get("branch") == "member":
            session.add(Membership(member_id=member.id, branch_id=place.branch_id))
        row = await volunteers.profile(session, member.id)
        row.skills = sum(matching.skill_bit(categories[skill]) for skill in person["skills"])
        row.availability = person["availability"]
        row.quiet_start, row.quiet_end = person["quiet"]
        row.max_distance_m = person["max_distance_m"]
        row.paused = person["paused"]
        row.max_open = person["max_open"]
        row.languages = sorted({person["language"], *person["also_speaks"]})
        row.rating_sum, row.rating_count = person["ratings"]
        if person["erased"]:
            member.erased_at = NOW - timedelta(days=1)
        if person["blocked"]:
            session.add(BlockedMember(member_id=member.id, platform="telegram", blocked_at=NOW))
        history = (
            [(OrderStatus.ACCEPTED, NOW)] * person["busy"]
            + [(OrderStatus.CONFIRMED, NOW - timedelta(days=3))] * person["recent"]
            + [(OrderStatus.CONFIRMED, NOW - timedelta(days=45))] * person["old"]
        )
        for status, created in history:
            order_rows.append(
                {
                    "branch_id": place.branch_id,
                    "requester_id": place.resident,
                    "beneficiary_id": place.resident,
                    "category_id": categories[0],
                    "estimated_minutes": 60,
                    "status": status.value,
                    "idempotency_key": f"history:{len(order_rows)}",
                    "volunteer_id": member.id,
                    "created_at": created,
                    "updated_at": created,
                }
            )
    await session.flush()
    if order_rows:
        await session.execute(insert(Order), order_rows)
    for person in people:
        if person["moved_to"] is not None and not person["erased"]:
            latitude, longitude = place.at(*person["moved_to"])
            await session.execute(
                update(Member)
                .where(Member.id == person["id"])
                .values(home_latitude=latitude, home_longitude=longitude)
            )
            session.expire_all()
            await volunteers.profile(session, person["id"])  # the home point refreshed
    return place


async def _compare(database_url: str, people: list[dict], needs: list[dict]) -> None:
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    try:
        await _empty_tables(engine)
        async with transaction(sessions, write=True) as session:
            place = await _world(session, people)
            orders = []
            for n, asked in enumerate(needs):
                order = Order(
                    branch_id=place.branch_id,
                    requester_id=place.resident,
                    beneficiary_id=place.resident,
                    category_id=place.categories[asked["skill"]],
                    estimated_minutes=60,
                    idempotency_key=f"asked:{n}",
                )
                session.add(order)
                await session.flush()
                orders.append(order.id)
                for person in people:
                    if person["nudged"] and n % 2 == 0:
                        nudge = Nudge(
                            order_id=order.id, member_id=person["id"], round=1, wave=1, distance_m=0
                        )
                        session.add(nudge)
        for asked, order_id in zip(needs, orders, strict=True):
            now = NOW + timedelta(hours=asked["now_hours"])
            need = matching.Need(
                branch_id=place.branch_id,
                category_id=place.categories[asked["skill"]],
                at=now + timedelta(hours=asked["in_hours"]),
                time_zone=place.time_zone,
                latitude=place.latitude + asked["north"] / 10_000,
                longitude=place.longitude + asked["east"] / 10_000,
                language=asked["language"],
                excluded=(place.resident, people[0]["id"]),
                order_id=order_id,
                neighbours=(place.neighbour_id,) if asked["neighbours"] else (),
            )
            limit = asked["limit"]
            async with sessions() as session:
                indexed = await matching.eligible(session, need, now=now, limit=limit)
                brute = await matching.eligible_brute_force(session, need, now=now, limit=limit)
            event("a full top N" if len(brute) == limit else "fewer than N eligible")
            farthest = max((c.distance_m for c in brute), default=0)
            event(f"the last of them within {farthest // 1000 + 1} km")
            assert indexed == brute
    finally:
        await engine.dispose()


@settings(
    max_examples=examples(ci=8, thorough=100),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    people=st.lists(volunteer, min_size=20, max_size=80),
    needs=st.lists(need, min_size=1, max_size=6),
)
def test_indexed_matching_gives_the_brute_force_answer(
    database_url: str, people: list[dict], needs: list[dict]
) -> None:
    asyncio.run(_compare(database_url, people, needs))


async def test_index_follows_a_volunteer_who_moves_away(sessions) -> None:
    people = [
        {
            "north": 10,  # 110 m north of the centre, then 5.6 km
            "east": 0,
            "moved_to": (500, 0),
            "skills": {0},
            "availability": EVERY_SLOT,
            "quiet": (None, None),
            "max_distance_m": 5000,
            "paused": False,
            "verified": True,
            "erased": False,
            "blocked": False,
            "max_open": 1,
            "busy": 0,
            "recent": 0,
            "old": 0,
            "language": "en",
            "also_speaks": [],
            "ratings": (0, 0),
            "nudged": False,
        }
    ]
    async with transaction(sessions, write=True) as session:
        place = await _world(session, people)
    need = matching.Need(
        branch_id=place.branch_id,
        category_id=place.categories[0],
        at=NOW,
        time_zone=place.time_zone,
        latitude=place.latitude,
        longitude=place.longitude,
    )
    async with sessions() as session:
        assert await matching.eligible(session, need, now=NOW) == []
        profile = await session.get(VolunteerProfile, people[0]["id"])
        assert profile is not None
        profile.latitude = place.latitude + 0.001
        await session.flush()
        [found] = await matching.eligible(session, need, now=NOW)
    assert found.member_id == people[0]["id"] and found.distance_m == 111
