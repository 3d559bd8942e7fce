"""Who could help with an order: eligible volunteers, nearest first, then fairly.

Eligible: of the order's branch (at home or by a membership; of a neighbouring branch too
when the branch allows it, see `matching_branches`), verified, not paused, has the skill,
available at the order's time, outside their quiet hours now, not the requester or
beneficiary, under their open-order limit, not already offered this order (or declined
it), not blocked the bot, and within the distance they said they would go.

Ranked by distance (in 500 m bands), then fairness (fewer orders in the last 30 days
first), then whether they speak the beneficiary's language, then rating.

`eligible` asks the database once: a single statement on a real spatial index of the
volunteers' homes (SQLite's R*Tree `volunteer_homes_by_skill` of migration 0017, a point
per skill of each home, kept in step by triggers, so one search filters by skill and box;
on PostgreSQL a GiST index on `ll_to_earth(latitude, longitude)` from the `cube` and
`earthdistance` extensions of migration 0006). Its first part picks the reach:
the smallest of 1, 2, 4 km that holds `limit` eligible volunteers, else the widest
distance a volunteer may choose; since every reach is a whole number of bands, the best
`limit` of those within it are the best overall. Its second part ranks everyone eligible
within the reach. The distance is the haversine of `distance_m`, written with the same
operations in the same order so both databases compute the same floating-point value.
Every value of the need is a bound parameter (lists too), so each kind of need (with or
without a language, an order) is one statement text, compiled once: on SQLite it goes to
the driver in one call (`core.db.prepare`, `in_sqlite_thread`); on PostgreSQL asyncpg
prepares it once per connection and the server settles on a generic plan.

`eligible_brute_force` is the oracle: the same filters and ranking in Python over a scan of
the whole branch. The grid of 0.01° cells (`cell_ranges`) remains the coordinators' wider
search (`core.coordination`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    JSON,
    BigInteger,
    BindParameter,
    Float,
    Integer,
    String,
    and_,
    any_,
    bindparam,
    case,
    cast,
    column,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.sql import ColumnElement, Select

from core.db import UTCDateTime, in_sqlite_thread, prepare
from core.models import (
    BlockedMember,
    Branch,
    BranchNeighbour,
    Member,
    Membership,
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
# How far a volunteer may choose to go; no one farther away than the widest can be eligible.
DISTANCES_M: tuple[int, ...] = (500, 1000, 2000, 5000)
# The reach's steps; the last, widest one is the farthest any volunteer may choose to go
# (`search_radii`). Each is a whole number of bands.
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
    """The reach's radii: the steps of `RADII_M` below the widest distance a volunteer may
    choose, then that distance."""
    widest = max(DISTANCES_M)
    return (*(radius for radius in RADII_M if radius < widest), widest)


async def optimize(engine: AsyncEngine) -> None:
    """Give SQLite's planner statistics: ANALYZE, its cost bounded by `analysis_limit`.

    Without statistics SQLite can't tell which index of a join is selective (the grid
    search of `cell_ranges` then scans the whole branch for its wider boxes). Not
    `PRAGMA optimize`: before SQLite 3.46 it only analyses tables queried on the same
    connection, so on a fresh one at start-up it does nothing.
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
    # Whose volunteers may be asked, when more than the need's own branch (neighbours).
    neighbours: tuple[int, ...] = ()

    @property
    def branch_ids(self) -> list[int]:
        return [self.branch_id, *self.neighbours]


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
            math.floor(self.exact_m / BAND_M),  # as `eligible`'s SQL takes it
            self.recent_orders,
            not self.speaks_language,
            -self.rating,
            self.exact_m,
            self.member_id,
        )


async def matching_branches(session: AsyncSession, branch_id: int) -> tuple[int, ...]:
    """The neighbouring branches a request of the branch may also go to: none unless the
    branch allows it (`Branch.match_neighbours`)."""
    branch = await session.get(Branch, branch_id)
    if branch is None or not branch.match_neighbours:
        return ()
    return tuple(
        await session.scalars(
            select(BranchNeighbour.neighbour_id)
            .where(
                BranchNeighbour.branch_id == branch_id, BranchNeighbour.neighbour_id != branch_id
            )
            .order_by(BranchNeighbour.neighbour_id)
        )
    )


def of_branches(branch_ids: ColumnElement) -> ColumnElement[bool]:
    """A volunteer of these branches: at home, or by a membership."""
    return or_(
        VolunteerProfile.branch_id.in_(branch_ids),
        exists().where(
            Membership.member_id == VolunteerProfile.member_id,
            Membership.branch_id.in_(branch_ids),
        ),
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
        neighbours=await matching_branches(session, order.branch_id),
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
        of_branches(need.branch_ids),
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


# SQLite's R*Tree of the volunteers' homes, one point per skill of each profile with a place
# on the map, its id `member_id * 64 + skill` (migration 0017; triggers on
# `volunteer_profiles` fill it).
HOMES = table(
    "volunteer_homes_by_skill",
    column("id"),
    column("min_skill"),
    column("max_skill"),
    column("min_lat"),
    column("max_lat"),
    column("min_lon"),
    column("max_lon"),
)
# The search box is a per-cent wider than the circle it covers, so that no rounding (the
# R*Tree keeps 32-bit floats, earthdistance's box is a cube around a chord) leaves out a
# home the exact distance keeps.
BOX_SLACK = 1.01
EARTHDISTANCE_RADIUS = "earth()"  # earthdistance's own sphere, 6,378,168 m by default


def _float(value: float) -> ColumnElement[float]:
    return literal(value, Float)


def _value(name: str, type_: type[Float] | type[Integer] = Float) -> BindParameter:
    """A value of the need, bound when the statement runs (see `statement_values`)."""
    return bindparam(name, type_=type_)


def _status_in(statuses: Sequence[OrderStatus]) -> ColumnElement[bool]:
    """An order's status is one of these, written into the statement (not a list expanded
    when it runs, which `core.db.prepare` refuses)."""
    return Order.status.in_([literal(status.value) for status in statuses])


def _sql_distance(sqlite: bool) -> ColumnElement[float]:
    """`distance_m` from the need's place to each home, as SQL: the same floating-point
    operations in the same order (libm's sin, cos, asin, sqrt and pow on both databases),
    so the bands and ties come out as the brute-force oracle computes them."""
    per_degree = _float(math.pi / 180)  # what `math.radians` multiplies by
    latitude = VolunteerProfile.latitude * per_degree
    dp = (latitude - _value("p1")) / _float(2.0)
    dl = (VolunteerProfile.longitude - _value("longitude")) * per_degree / _float(2.0)
    a = func.power(func.sin(dp, type_=Float), 2.0, type_=Float) + _value("cos_p1") * func.cos(
        latitude, type_=Float
    ) * func.power(func.sin(dl, type_=Float), 2.0, type_=Float)
    smaller = func.min if sqlite else func.least
    root = smaller(_float(1.0), func.sqrt(a, type_=Float), type_=Float)
    return _float(2.0 * EARTH_RADIUS_M) * func.asin(root, type_=Float)


class EligibleQuery:
    """The one statement of `eligible`, in one database's dialect, for needs with or without
    a language and an order. Built once per kind (`eligible_statement`); a need's values are
    bound when it runs (`statement_values`), so SQLAlchemy compiles it once too."""

    def __init__(self, dialect: str, language: bool, order: bool) -> None:
        self.sqlite, self.language, self.order = dialect == "sqlite", language, order
        self.distance = _sql_distance(self.sqlite)

    def within(self, radius: ColumnElement[int], *columns: ColumnElement) -> Select:
        """Everyone eligible closer than `radius` metres, as `_judge` would keep them."""
        profile = VolunteerProfile
        minute = _value("minute", Integer)
        start, end = profile.quiet_start, profile.quiet_end
        quiet = and_(
            start.is_not(None),
            end.is_not(None),
            start != end,
            or_(
                and_(start < end, start <= minute, end > minute),
                and_(start > end, or_(start <= minute, end > minute)),
            ),
        )
        busy = (
            select(func.count())
            .where(Order.volunteer_id == profile.member_id, _status_in(BUSY_STATUSES))
            .scalar_subquery()
        )
        query = (
            select(*columns)
            .select_from(profile)
            .join(Member, Member.id == profile.member_id)
            .where(
                self.of_branches(),
                profile.paused.is_(False),
                profile.skills.op("&")(_value("skill", BigInteger)) != 0,
                profile.availability.op("&")(_value("slot", Integer)) != 0,
                not_(quiet),
                Member.verified.is_(True),
                Member.is_volunteer.is_(True),
                Member.erased_at.is_(None),
                self._near(radius),
                self.distance < radius,
                self.distance <= profile.max_distance_m,
                not_(self.listed(profile.member_id, "excluded")),
                ~exists().where(BlockedMember.member_id == profile.member_id),
                busy < profile.max_open,
            )
        )
        if self.order:
            query = query.where(
                ~exists().where(
                    Nudge.order_id == _value("order_id", Integer),
                    Nudge.member_id == profile.member_id,
                )
            )
        return query

    def listed(self, value: ColumnElement[int], name: str) -> ColumnElement[bool]:
        """Whether `value` is in the list of numbers bound as `name`: one parameter whatever
        the list's length (a JSON array on SQLite, an array on PostgreSQL), so the
        statement's text stays the same."""
        if self.sqlite:
            numbers = func.json_each(bindparam(name, type_=JSON)).table_valued("value")
            return value.in_(select(numbers.c.value))
        return value == any_(bindparam(name, type_=ARRAY(Integer)))

    def of_branches(self) -> ColumnElement[bool]:
        """`of_branches` of the need's branches, bound as `branch_ids`."""
        return or_(
            self.listed(VolunteerProfile.branch_id, "branch_ids"),
            exists().where(
                Membership.member_id == VolunteerProfile.member_id,
                self.listed(Membership.branch_id, "branch_ids"),
            ),
        )

    def _near(self, radius: ColumnElement[int]) -> ColumnElement[bool]:
        """The spatial index's box around the need's place, `radius` metres and some slack."""
        if self.sqlite:
            # The profiles of the homes in the box, looked up by id: joined instead, SQLite's
            # planner may scan the branch and look each home up, or build a Bloom filter of
            # every profile first.
            dlat = radius * _value("lat_per_m")
            dlon = radius * _value("lon_per_m")
            skill = _value("skill_number", Integer)
            homes = (
                select(HOMES.c.id.op(">>")(6))
                .where(
                    HOMES.c.min_skill <= skill,
                    HOMES.c.max_skill >= skill,
                    HOMES.c.min_lat <= _value("latitude") + dlat,
                    HOMES.c.max_lat >= _value("latitude") - dlat,
                    HOMES.c.min_lon <= _value("longitude") + dlon,
                    HOMES.c.max_lon >= _value("longitude") - dlon,
                )
                .correlate_except(HOMES)
            )
            return VolunteerProfile.member_id.in_(homes)
        # An angle on our sphere is the same angle on earthdistance's.
        scale = text(f"{EARTHDISTANCE_RADIUS} * {BOX_SLACK / EARTH_RADIUS_M!r}")
        box = func.earth_box(
            func.ll_to_earth(_value("latitude"), _value("longitude")), radius * scale
        )
        return box.op("@>", is_comparison=True)(
            func.ll_to_earth(VolunteerProfile.latitude, VolunteerProfile.longitude)
        )

    def speaks(self) -> ColumnElement[bool]:
        if not self.language:
            return false()
        language = bindparam("language", type_=String)
        spoken = VolunteerProfile.languages
        if self.sqlite:
            codes = func.json_each(spoken).table_valued("value")
            listed = exists().select_from(codes).where(codes.c.value == language)
        else:
            listed = cast(spoken, JSONB).has_key(language)
        return or_(listed, Member.language == language)

    def reach(self) -> ColumnElement[int]:
        """The radius to rank within: the smallest step of `search_radii` that holds `limit`
        eligible volunteers (counted no further than that), else the widest.

        The steps are tried in order by a recursive CTE, each counted only if the one before
        fell short, with a single copy of `within` for all of them (half the statement the
        databases plan for each call). Its one row is materialized, so the ranking's box
        search is bound to a value instead of inlining the steps again."""
        limit = _value("limit", Integer)
        radii = search_radii()
        steps = union_all(
            *(
                select(literal(radius).label("radius"), literal(after).label("after"))
                for radius, after in zip((0, *radii[:-1]), radii, strict=True)
            )
        ).cte("steps")
        tried = select(literal(0).label("radius"), false().label("enough")).cte(
            "tried", recursive=True
        )
        # The `limit`-th eligible volunteer within the step, if there is one.
        last = (
            self.within(steps.c.after, VolunteerProfile.member_id)
            .limit(1)
            .offset(limit - 1)
            .scalar_subquery()
        )
        tried = tried.union_all(
            select(steps.c.after, or_(steps.c.after == radii[-1], last.is_not(None)))
            .select_from(tried.join(steps, steps.c.radius == tried.c.radius))
            .where(not_(tried.c.enough))
        )
        reach = select(func.max(tried.c.radius).label("radius")).cte("reach")
        return reach.prefix_with("MATERIALIZED").c.radius

    def ranked(self) -> Select:
        """The best `limit` within the reach (`reach`)."""
        limit = _value("limit", Integer)
        profile = VolunteerProfile
        recent = (
            select(func.count())
            .where(
                Order.volunteer_id == profile.member_id,
                _status_in(HELPED_STATUSES),
                Order.created_at >= bindparam("since", type_=UTCDateTime(timezone=True)),
            )
            .scalar_subquery()
            .label("recent")
        )
        speaks = self.speaks().label("speaks")
        rating = case(
            (profile.rating_count > 0, cast(profile.rating_sum, Float) / profile.rating_count),
            else_=_float(0.0),
        ).label("rating")
        distance = self.distance.label("distance")
        return (
            self.within(self.reach(), profile.member_id, distance, recent, speaks, rating)
            .order_by(
                func.floor(self.distance / _float(BAND_M)),
                recent,
                speaks.desc(),
                rating.desc(),
                distance,
                profile.member_id,
            )
            .limit(limit)
        )


@functools.cache
def eligible_statement(dialect: str, language: bool, order: bool) -> Select:
    return EligibleQuery(dialect, language, order).ranked()


def statement_values(need: Need, now: datetime, limit: int) -> dict[str, object]:
    """The need's values for `eligible_statement`."""
    time_zone = ZoneInfo(need.time_zone)
    local_at = need.at.astimezone(time_zone)
    local_now = now.astimezone(time_zone)
    p1 = math.radians(need.latitude)
    lat_per_m = BOX_SLACK / METRES_PER_DEGREE
    values: dict[str, object] = {
        "branch_ids": need.branch_ids,
        "skill": skill_bit(need.category_id),
        "skill_number": need.category_id,
        "slot": slot_bit(local_at.weekday(), part_of(local_at.hour)),
        "minute": local_now.hour * 60 + local_now.minute,
        "excluded": list(need.excluded),
        "latitude": need.latitude,
        "longitude": need.longitude,
        "p1": p1,
        "cos_p1": math.cos(p1),
        "lat_per_m": lat_per_m,
        "lon_per_m": lat_per_m / max(math.cos(p1), 0.01),
        "since": now - RECENT,
        "limit": limit,
    }
    if need.language is not None:
        values["language"] = need.language
    if need.order_id is not None:
        values["order_id"] = need.order_id
    return values


async def eligible(
    session: AsyncSession, need: Need, *, now: datetime, limit: int = 20
) -> list[Candidate]:
    """The best `limit` eligible volunteers for the need, best first, in one statement.

    On SQLite the statement goes to the driver in aiosqlite's thread in one call, compiled
    once (`core.db.prepare`), which bypasses the session's autoflush: the session's pending
    changes (a nudge just added, a profile just paused) are flushed first, as its own
    `execute` would."""
    if session.new or session.dirty or session.deleted:
        await session.flush()
    conn = await session.connection()
    dialect = conn.dialect
    statement = eligible_statement(
        dialect.name, need.language is not None, need.order_id is not None
    )
    values = statement_values(need, now, limit)
    if dialect.name == "sqlite":
        prepared = prepare(dialect, statement)
        parameters = prepared.values(values)
        rows = await in_sqlite_thread(
            conn, lambda driver: driver.execute(prepared.sql, parameters).fetchall()
        )
    else:
        rows = (await conn.execute(statement, values)).all()
    return [
        Candidate(member_id, round(distance), recent, bool(speaks), rating, distance)
        for member_id, distance, recent, speaks, rating in rows
    ]


async def eligible_brute_force(
    session: AsyncSession, need: Need, *, now: datetime, limit: int = 20
) -> list[Candidate]:
    """The same answer from a scan of the whole branch: the benchmark's baseline."""
    rows = (await session.execute(_base_query(need))).all()
    return (await _judge(session, need, rows, now, search_radii()[-1]))[:limit]
