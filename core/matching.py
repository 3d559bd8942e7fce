"""Who could help with an order: eligible volunteers, nearest first, then fairly.

Eligible: same branch, verified, not paused, has the skill, available at the order's time,
outside their quiet hours now, not the requester or beneficiary, under their open-order
limit, not already offered this order (or declined it), not blocked the bot, and within
the distance they said they would go.

Ranked by distance (in 500 m bands), then fairness (fewer orders in the last 30 days
first), then whether they speak the beneficiary's language, then rating.

A grid of 0.01° cells (about 1 km) is the spatial index: `volunteer_profiles.cell` with an
index on (branch, cell). Each latitude row of cells is a contiguous range of cell numbers,
so a box of cells around the order is a handful of index range scans. The box grows
(1, 2, 4 km, then the widest distance a volunteer may choose) until it holds enough
volunteers to be sure of the top N; exact distances are computed only for what the box
holds.

SQLite only uses the (branch, cell) index for the wider boxes when it has statistics;
`optimize` gathers them, and the app runs it at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, exists, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.models import (
    BlockedMember,
    Branch,
    Member,
    Nudge,
    Order,
    OrderStatus,
    VolunteerProfile,
)
from core.schedule import DAY_PARTS

CELL_DEGREES = 0.01
_LON_SPAN = 40000  # cells per latitude row: more than 360 / 0.01
EARTH_RADIUS_M = 6_371_000
METRES_PER_DEGREE = EARTH_RADIUS_M * math.pi / 180  # the same earth as `distance_m`
BAND_M = 500
# The box's steps; the last, widest one is the farthest any volunteer may choose to go
# (`search_radii`), since no one farther away can be eligible.
RADII_M: tuple[int, ...] = (1000, 2000, 4000, 8000)
RECENT = timedelta(days=30)
PARTS: tuple[str, ...] = tuple(DAY_PARTS)
BUSY_STATUSES = (OrderStatus.ACCEPTED, OrderStatus.DONE)
HELPED_STATUSES = (OrderStatus.ACCEPTED, OrderStatus.DONE, OrderStatus.CONFIRMED)


def cell_of(latitude: float, longitude: float) -> int:
    row = math.floor(latitude / CELL_DEGREES) + 9000
    column = math.floor(longitude / CELL_DEGREES) + 18000
    return row * _LON_SPAN + column


def cell_ranges(latitude: float, longitude: float, radius_m: int) -> list[tuple[int, int]]:
    """Cell number ranges (one per latitude row) covering a circle of `radius_m`."""
    dlat = radius_m / METRES_PER_DEGREE
    dlon = radius_m / (METRES_PER_DEGREE * max(math.cos(math.radians(latitude)), 0.01))
    first_row = math.floor((latitude - dlat) / CELL_DEGREES) + 9000
    last_row = math.floor((latitude + dlat) / CELL_DEGREES) + 9000
    first_col = math.floor((longitude - dlon) / CELL_DEGREES) + 18000
    last_col = math.floor((longitude + dlon) / CELL_DEGREES) + 18000
    return [
        (row * _LON_SPAN + first_col, row * _LON_SPAN + last_col)
        for row in range(first_row, last_row + 1)
    ]


def search_radii() -> tuple[int, ...]:
    """The box's radii: the steps of `RADII_M` below the widest distance a volunteer may
    choose, then that distance."""
    # core.volunteers imports this module, so its choices are read here, not at import.
    from core.volunteers import DISTANCES_M

    widest = max(DISTANCES_M)
    return (*(radius for radius in RADII_M if radius < widest), widest)


async def optimize(engine: AsyncEngine) -> None:
    """Give SQLite's planner statistics: ANALYZE, its cost bounded by `analysis_limit`.

    Without statistics SQLite can't tell that the (branch, cell) index is selective, and for
    the wider boxes scans the whole branch instead (matching's p95 on 100,000 volunteers:
    52 ms without, 15 ms with). Not `PRAGMA optimize`: before SQLite 3.46 it only analyses
    tables queried on the same connection, so on a fresh one at start-up it does nothing.
    With `analysis_limit` each index is sampled, not read whole, so this stays quick on a
    large database. PostgreSQL's autovacuum keeps its own statistics; there this does nothing.
    """
    if engine.dialect.name != "sqlite":
        return
    async with engine.begin() as connection:
        await connection.execute(text("PRAGMA analysis_limit=400"))
        await connection.execute(text("ANALYZE"))


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def part_of(hour: int) -> int:
    """Which part of the day an hour falls in (before noon morning, from 17 evening)."""
    for index, (_first, last) in enumerate(DAY_PARTS.values()):
        if hour < last:
            return index
    return len(DAY_PARTS) - 1


def slot_bit(day: int, part: int) -> int:
    return 1 << (day * len(PARTS) + part)


def skill_bit(category_id: int) -> int:
    if not 0 < category_id < 63:
        raise ValueError("category ids above 62 do not fit the skills mask")
    return 1 << category_id


def in_quiet_hours(minute: int, start: int | None, end: int | None) -> bool:
    if start is None or end is None or start == end:
        return False
    if start < end:
        return start <= minute < end
    return minute >= start or minute < end


@dataclass(frozen=True)
class Need:
    """What an order needs, as plain values (an order, or a benchmark's made-up one)."""

    branch_id: int
    category_id: int
    at: datetime
    time_zone: str
    latitude: float
    longitude: float
    language: str | None = None
    excluded: tuple[int, ...] = ()
    order_id: int | None = None


@dataclass(frozen=True)
class Candidate:
    member_id: int
    distance_m: int  # rounded, as shown and stored
    recent_orders: int
    speaks_language: bool
    rating: float
    exact_m: float  # what the band is taken from: the rounded distance could cross a band

    def rank_key(self) -> tuple:
        return (
            int(self.exact_m // BAND_M),
            self.recent_orders,
            not self.speaks_language,
            -self.rating,
            self.exact_m,
            self.member_id,
        )


async def need_for(session: AsyncSession, order: Order, now: datetime) -> Need:
    """An order's need: its place, else the beneficiary's home, else the branch's centre."""
    branch = await session.get(Branch, order.branch_id)
    beneficiary = await session.get(Member, order.beneficiary_id)
    assert branch is not None and beneficiary is not None
    latitude, longitude = order.latitude, order.longitude
    if latitude is None or longitude is None:
        latitude, longitude = beneficiary.home_latitude, beneficiary.home_longitude
    if latitude is None or longitude is None:
        latitude, longitude = branch.latitude or 0.0, branch.longitude or 0.0
    at = max(order.window_start or now, now)
    return Need(
        branch_id=order.branch_id,
        category_id=order.category_id,
        at=at,
        time_zone=branch.time_zone,
        latitude=latitude,
        longitude=longitude,
        language=beneficiary.language,
        excluded=(order.requester_id, order.beneficiary_id),
        order_id=order.id,
    )


_COLUMNS = (
    VolunteerProfile.member_id,
    VolunteerProfile.latitude,
    VolunteerProfile.longitude,
    VolunteerProfile.max_distance_m,
    VolunteerProfile.quiet_start,
    VolunteerProfile.quiet_end,
    VolunteerProfile.languages,
    VolunteerProfile.max_open,
    VolunteerProfile.rating_sum,
    VolunteerProfile.rating_count,
)


def _base_query(need: Need):
    """The volunteer profiles that could fit; their members are checked in `_members`.

    Not joined with `members` here: PostgreSQL then hashes every member of the branch for
    a handful of profiles from the grid (p95 33 ms against 13-16 ms without the join)."""
    local = need.at.astimezone(ZoneInfo(need.time_zone))
    slot = slot_bit(local.weekday(), part_of(local.hour))
    query = select(*_COLUMNS).where(
        VolunteerProfile.branch_id == need.branch_id,
        VolunteerProfile.paused.is_(False),
        VolunteerProfile.skills.op("&")(skill_bit(need.category_id)) != 0,
        VolunteerProfile.availability.op("&")(slot) != 0,
        VolunteerProfile.latitude.is_not(None),
        ~exists().where(BlockedMember.member_id == VolunteerProfile.member_id),
    )
    if need.excluded:
        query = query.where(VolunteerProfile.member_id.not_in(need.excluded))
    if need.order_id is not None:
        query = query.where(
            ~exists().where(
                Nudge.order_id == need.order_id, Nudge.member_id == VolunteerProfile.member_id
            )
        )
    return query


async def _members(session: AsyncSession, member_ids: Sequence[int]) -> dict[int, str | None]:
    """The language of each of these members who is a verified volunteer, not erased."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(Member.id, Member.language).where(
            Member.id.in_(list(member_ids)),
            Member.verified.is_(True),
            Member.is_volunteer.is_(True),
            Member.erased_at.is_(None),
        )
    )
    return {row[0]: row[1] for row in rows}


async def workload(
    session: AsyncSession, member_ids: Sequence[int], now: datetime
) -> dict[int, tuple[int, int]]:
    """(open orders, orders in the last 30 days) of each volunteer who has any."""
    if not member_ids:
        return {}
    busy = func.sum(case((Order.status.in_(BUSY_STATUSES), 1), else_=0))
    recent = func.sum(
        case(
            (and_(Order.status.in_(HELPED_STATUSES), Order.created_at >= now - RECENT), 1), else_=0
        )
    )
    rows = await session.execute(
        select(Order.volunteer_id, busy, recent)
        .where(Order.volunteer_id.in_(list(member_ids)))
        .group_by(Order.volunteer_id)
    )
    return {row[0]: (int(row[1] or 0), int(row[2] or 0)) for row in rows}


async def _judge(
    session: AsyncSession, need: Need, rows: Sequence, now: datetime, within_m: float
) -> list[Candidate]:
    local_now = now.astimezone(ZoneInfo(need.time_zone))
    minute = local_now.hour * 60 + local_now.minute
    near = []
    for row in rows:
        if in_quiet_hours(minute, row.quiet_start, row.quiet_end):
            continue
        distance = distance_m(need.latitude, need.longitude, row.latitude, row.longitude)
        if distance < within_m and distance <= row.max_distance_m:
            near.append((row, distance))
    languages = await _members(session, [row.member_id for row, _d in near])
    near = [(row, distance) for row, distance in near if row.member_id in languages]
    loads = await workload(session, [row.member_id for row, _d in near], now)
    candidates = []
    for row, distance in near:
        busy, recent = loads.get(row.member_id, (0, 0))
        if busy >= row.max_open:
            continue
        speaks = need.language is not None and (
            need.language in (row.languages or ()) or need.language == languages[row.member_id]
        )
        rating = row.rating_sum / row.rating_count if row.rating_count else 0.0
        candidates.append(
            Candidate(row.member_id, round(distance), recent, speaks, rating, distance)
        )
    candidates.sort(key=Candidate.rank_key)
    return candidates


async def eligible(
    session: AsyncSession, need: Need, *, now: datetime, limit: int = 20
) -> list[Candidate]:
    """The best `limit` eligible volunteers for the need, best first."""
    base = _base_query(need)
    radii = search_radii()
    for radius in radii:
        ranges = cell_ranges(need.latitude, need.longitude, radius)
        query = base.where(or_(*(VolunteerProfile.cell.between(low, high) for low, high in ranges)))
        rows = (await session.execute(query)).all()
        candidates = await _judge(session, need, rows, now, radius)
        if len(candidates) >= limit or radius == radii[-1]:
            return candidates[:limit]
    raise AssertionError("unreachable")


async def eligible_brute_force(
    session: AsyncSession, need: Need, *, now: datetime, limit: int = 20
) -> list[Candidate]:
    """The same answer from a scan of the whole branch: the benchmark's baseline."""
    rows = (await session.execute(_base_query(need))).all()
    return (await _judge(session, need, rows, now, search_radii()[-1]))[:limit]
