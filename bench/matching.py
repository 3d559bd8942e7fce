"""Matching latency: `core.matching.eligible` (one statement on the spatial index) against
the grid prefilter it replaced and a brute-force scan, in the same run.

    python -m bench.matching [--volunteers 100000] [--orders 200] [--limit 20]
                             [--postgres URL | --no-postgres] [--no-sqlite]
                             [--no-sqlite-statistics] [--plan] [--profile]

One branch (Luoshan, Shanghai) with `--volunteers` volunteers spread over a city of 25 km
radius (dense neighbourhoods on a thinner background, homes rounded to 0.01° as
`core.members` stores them), random skills, availability, quiet hours, distance limits,
languages, ratings, open and recent orders, some paused, unverified, erased or blocked.
`--orders` open orders at random places and times then ask for their top `--limit`
volunteers: `eligible(...)`, `grid_eligible(...)` and `eligible_brute_force(...)` are each
timed per call (a fresh session per call, as the sweep would), after a warm-up of other
orders. All three answers must be the same ranked list; every difference is printed. The
same synthetic data goes into a scratch SQLite file and a scratch PostgreSQL database, both
created and dropped.
PostgreSQL gets ANALYZE after loading, as autovacuum would soon give it; SQLite gets the
bounded ANALYZE the bot runs at start-up (`core.matching.optimize`), unless
`--no-sqlite-statistics` shows what the planner does without it.
`--plan` prints both databases' plan of the one statement; `--profile` adds a cProfile of
its calls (main thread: SQLAlchemy, building the statement, and the wait for the database).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import math
import pstats
import random
import statistics
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import event, func, insert, or_, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench import databases
from core import matching
from core.db import create_engine, prepare, session_factory, transaction
from core.demo import seed_demo
from core.matching import Candidate, Need
from core.members import COARSE_DECIMALS
from core.models import (
    BlockedMember,
    Branch,
    Category,
    Member,
    Nudge,
    Order,
    OrderStatus,
    VolunteerProfile,
)
from core.volunteers import DAYS, DISTANCES_M, QUIET_CHOICES

BRANCH = "luoshan"
CITY_RADIUS_M = 25_000
M_PER_DEGREE = math.pi * matching.EARTH_RADIUS_M / 180
RESIDENTS = 3_000
FIRST_ID = 1_000  # above the demo members
WARM_UP = 20
GOAL_SPEED_UP = 50  # p95 of brute force over p95 of the one statement
BATCH = 5_000
LANGUAGE_WEIGHTS = {"zh_Hans": 80, "en": 10, "ko": 10}
# A sunday at midnight, Shanghai time: history lies in the 60 days before, orders the week after.
BASE = datetime(2026, 3, 1, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


# ---------------------------------------------------------------------------- synthetic data


@dataclass(frozen=True)
class Ask:
    """One timed order: what it needs and the moment the sweep would look."""

    need: Need
    now: datetime


@dataclass
class World:
    members: list[dict] = field(default_factory=list)
    profiles: list[dict] = field(default_factory=list)
    blocked: list[dict] = field(default_factory=list)
    orders: list[dict] = field(default_factory=list)
    nudges: list[dict] = field(default_factory=list)
    asks: list[Ask] = field(default_factory=list)
    warm_up: list[Ask] = field(default_factory=list)


class City:
    """Places in a city: dense neighbourhoods (hubs) on a thinner uniform background."""

    def __init__(self, rng: random.Random, latitude: float, longitude: float) -> None:
        self.rng, self.latitude, self.longitude = rng, latitude, longitude
        self.hubs = []
        for _ in range(16):
            r, angle = rng.uniform(0, 20_000), rng.uniform(0, 2 * math.pi)
            sigma, weight = rng.uniform(1_000, 3_500), rng.uniform(0.5, 2.0)
            self.hubs.append((r * math.cos(angle), r * math.sin(angle), sigma, weight))
        self.weights = [hub[3] for hub in self.hubs]

    def place(self) -> tuple[float, float]:
        rng = self.rng
        while True:
            if rng.random() < 0.65:
                north, east, sigma, _weight = rng.choices(self.hubs, self.weights)[0]
                north, east = north + rng.gauss(0, sigma), east + rng.gauss(0, sigma)
            else:
                r, angle = CITY_RADIUS_M * math.sqrt(rng.random()), rng.uniform(0, 2 * math.pi)
                north, east = r * math.cos(angle), r * math.sin(angle)
            if math.hypot(north, east) <= CITY_RADIUS_M:
                break
        latitude = self.latitude + north / M_PER_DEGREE
        cos = math.cos(math.radians(self.latitude))
        return latitude, self.longitude + east / (M_PER_DEGREE * cos)

    def home(self) -> tuple[float, float]:
        latitude, longitude = self.place()
        return round(latitude, COARSE_DECIMALS), round(longitude, COARSE_DECIMALS)


def _language(rng: random.Random) -> str:
    return rng.choices(list(LANGUAGE_WEIGHTS), list(LANGUAGE_WEIGHTS.values()))[0]


def _member(member_id: int, branch_id: int, name: str, language: str, **fields) -> dict:
    row = {
        "id": member_id,
        "name": name,
        "language": language,
        "branch_id": branch_id,
        "is_resident": False,
        "is_volunteer": False,
        "is_coordinator": False,
        "verified": False,
        "sponsored": False,
        "home_latitude": None,
        "home_longitude": None,
        "created_at": BASE - timedelta(days=90),
        "erased_at": None,
    }
    row.update(fields)
    return row


def _order(order_id: int, branch_id: int, category_id: int, requester: int, **fields) -> dict:
    row = {
        "id": order_id,
        "branch_id": branch_id,
        "requester_id": requester,
        "beneficiary_id": requester,
        "category_id": category_id,
        "description": "",
        "estimated_minutes": 60,
        "status": OrderStatus.CONFIRMED.value,
        "place_kind": "home",
        "funding": "own",
        "idempotency_key": f"bench:{order_id}",
        "volunteer_id": None,
        "latitude": None,
        "longitude": None,
        "window_start": None,
        "created_at": BASE,
        "updated_at": BASE,
    }
    row.update(fields)
    return row


def build_world(
    volunteers: int, orders: int, branch: Branch, categories: list[int], seed: int = 7
) -> World:
    rng = random.Random(seed)
    city = City(rng, branch.latitude or 0.0, branch.longitude or 0.0)
    world = World()
    all_slots = sum(matching.slot_bit(d, p) for d in range(DAYS) for p in range(3))
    quiet = list(QUIET_CHOICES.values())
    residents = []
    for i in range(RESIDENTS):
        latitude, longitude = city.home()
        member_id = FIRST_ID + i
        residents.append(member_id)
        world.members.append(
            _member(
                member_id, branch.id, f"resident {i}", _language(rng), is_resident=True,
                verified=True, home_latitude=latitude, home_longitude=longitude,
            )
        )  # fmt: skip
    by_home: dict[tuple[int, int], list[int]] = defaultdict(list)
    first_volunteer = FIRST_ID + RESIDENTS
    for i in range(volunteers):
        member_id = first_volunteer + i
        latitude, longitude = city.home()
        language = _language(rng)
        erased = rng.random() < 0.005
        world.members.append(
            _member(
                member_id, branch.id, f"volunteer {i}", language, is_volunteer=True,
                verified=rng.random() < 0.9, home_latitude=latitude, home_longitude=longitude,
                erased_at=BASE - timedelta(days=3) if erased else None,
            )
        )  # fmt: skip
        skills = 0
        for category in categories:
            if rng.random() < 0.25:
                skills |= matching.skill_bit(category)
        skills = skills or matching.skill_bit(rng.choice(categories))
        if rng.random() < 0.3:
            availability = all_slots
        else:
            availability = sum(
                matching.slot_bit(d, p)
                for d in range(DAYS)
                for p in range(3)
                if rng.random() < 0.45
            )
        quiet_start, quiet_end = rng.choices(quiet, (50, 35, 15))[0]
        spoken = [language] + ([rng.choice(list(LANGUAGE_WEIGHTS))] if rng.random() < 0.15 else [])
        rated = rng.choice((0, 0, 1, 2, 3, 5, 8, 13, 20))
        world.profiles.append(
            {
                "member_id": member_id,
                "branch_id": branch.id,
                "skills": skills,
                "availability": availability,
                "quiet_start": quiet_start,
                "quiet_end": quiet_end,
                "max_distance_m": rng.choices(DISTANCES_M, (10, 30, 40, 20))[0],
                "languages": sorted(set(spoken)),
                "paused": rng.random() < 0.08,
                "max_open": rng.choices((1, 2, 3), (20, 70, 10))[0],
                "latitude": latitude,
                "longitude": longitude,
                "cell": matching.cell_of(latitude, longitude),
                "rating_sum": round(rated * rng.uniform(3.5, 5.0)),
                "rating_count": rated,
                "updated_at": BASE - timedelta(days=1),
            }
        )
        if rng.random() < 0.01:
            world.blocked.append(
                {"member_id": member_id, "platform": "telegram", "blocked_at": BASE}
            )
        by_home[_grid(latitude, longitude)].append(member_id)
    order_id = 1
    # Past help: recent orders count against fairness, accepted/done ones against max_open.
    for i in range(volunteers):
        if rng.random() >= 0.3:
            continue
        for _ in range(rng.randint(1, 5)):
            status = rng.choices(
                (OrderStatus.CONFIRMED, OrderStatus.ACCEPTED, OrderStatus.DONE), (85, 10, 5)
            )[0]
            created = BASE - timedelta(days=rng.uniform(0, 60))
            world.orders.append(
                _order(
                    order_id, branch.id, rng.choice(categories), rng.choice(residents),
                    volunteer_id=first_volunteer + i, status=status.value, created_at=created,
                    updated_at=created,
                )
            )  # fmt: skip
            order_id += 1
    nudge_id = 1
    for index in range(orders + WARM_UP):
        beneficiary = rng.choice(residents)
        requester = beneficiary if rng.random() < 0.8 else rng.choice(residents)
        latitude, longitude = city.place() if rng.random() < 0.5 else city.home()
        day = rng.randrange(7)
        now = BASE + timedelta(days=day, hours=rng.uniform(7, 22))
        at = now + timedelta(hours=rng.uniform(1, 48))
        category = rng.choice(categories)
        world.orders.append(
            _order(
                order_id, branch.id, category, requester, beneficiary_id=beneficiary,
                status=OrderStatus.OPEN.value, latitude=latitude, longitude=longitude,
                window_start=at, created_at=now, updated_at=now, place_kind="location",
            )
        )  # fmt: skip
        # A third of the orders already had a wave or two: those volunteers are left out.
        if rng.random() < 1 / 3:
            row, column = _grid(latitude, longitude)
            near = [
                member
                for r in range(row - 1, row + 2)
                for c in range(column - 1, column + 2)
                for member in by_home.get((r, c), ())
            ]
            for member in rng.sample(near, min(len(near), rng.randint(5, 30))):
                world.nudges.append(
                    {
                        "id": nudge_id, "order_id": order_id, "member_id": member, "round": 1,
                        "wave": 1, "distance_m": 0, "status": "sent", "created_at": now,
                    }
                )  # fmt: skip
                nudge_id += 1
        ask = Ask(
            Need(
                branch_id=branch.id,
                category_id=category,
                at=at,
                time_zone=branch.time_zone,
                latitude=latitude,
                longitude=longitude,
                language=world.members[beneficiary - FIRST_ID]["language"],
                excluded=tuple(sorted({requester, beneficiary})),
                order_id=order_id,
            ),
            now,
        )
        (world.warm_up if index < WARM_UP else world.asks).append(ask)
        order_id += 1
    return world


def _grid(latitude: float, longitude: float) -> tuple[int, int]:
    return round(latitude * 100), round(longitude * 100)


# ---------------------------------------------------------------------------- loading


async def _seed(sessions: async_sessionmaker[AsyncSession]) -> tuple[Branch, list[int]]:
    async with transaction(sessions, write=True) as session:
        await seed_demo(session)
    async with sessions() as session:
        branch = await session.scalar(select(Branch).where(Branch.code == BRANCH))
        categories = list(await session.scalars(select(Category.id).order_by(Category.id)))
    assert branch is not None
    return branch, categories


def _batches(rows: list[dict], size: int = BATCH) -> Iterable[list[dict]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


async def load(engine: AsyncEngine, world: World, analyze_sqlite: bool) -> float:
    """Insert the world; ANALYZE on PostgreSQL (autovacuum would soon do it too), and on
    SQLite the statistics the bot gathers at start-up, unless asked not to."""
    started = time.perf_counter()
    tables = (
        (Member, world.members),
        (VolunteerProfile, world.profiles),
        (BlockedMember, world.blocked),
        (Order, world.orders),
        (Nudge, world.nudges),
    )
    async with engine.begin() as connection:
        for model, rows in tables:
            for batch in _batches(rows):
                await connection.execute(insert(model), batch)
        if engine.dialect.name == "postgresql":
            for table in ("members", "orders", "nudges"):
                await connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
                        f" (SELECT max(id) FROM {table}))"
                    )
                )
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("ANALYZE"))
    elif analyze_sqlite:
        await matching.optimize(engine)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------- timing

Finder = Callable[..., Awaitable[list[Candidate]]]


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)
    answers: list[list[Candidate]] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        ordered = sorted(self.seconds)
        rank = max(0, math.ceil(share * len(ordered)) - 1)
        return ordered[rank] * 1e3

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds) * 1e3


async def grid_eligible(
    session: AsyncSession, need: Need, *, now: datetime, limit: int = 20
) -> list[Candidate]:
    """The grid prefilter `eligible` was before migration 0006, kept here as a baseline: a
    box of 0.01° cells that grows until it holds `limit` eligible volunteers, each box a
    query of the profiles and two more of their members and workload."""
    base = matching._base_query(need)
    radii = matching.search_radii()
    for radius in radii:
        ranges = matching.cell_ranges(need.latitude, need.longitude, radius)
        query = base.where(or_(*(VolunteerProfile.cell.between(low, high) for low, high in ranges)))
        rows = (await session.execute(query)).all()
        candidates = await matching._judge(session, need, rows, now, radius)
        if len(candidates) >= limit or radius == radii[-1]:
            return candidates[:limit]
    raise AssertionError("unreachable")


async def _time_calls(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    asks: list[Ask],
    find: Finder,
    limit: int,
    profiler: cProfile.Profile | None = None,
) -> Timings:
    timings = Timings()
    counted = [0]

    def count(*_args: object) -> None:
        counted[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for ask in asks:
            async with sessions() as session:
                counted[0] = 0
                if profiler is not None:
                    profiler.enable()
                started = time.perf_counter()
                found = await find(session, ask.need, now=ask.now, limit=limit)
                elapsed = time.perf_counter() - started
                if profiler is not None:
                    profiler.disable()
            timings.seconds.append(elapsed)
            timings.statements.append(counted[0])
            timings.answers.append(found)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    return timings


def _differences(asks: list[Ask], name: str, fast: Timings, brute: Timings) -> list[str]:
    lines = []
    for ask, found, expected in zip(asks, fast.answers, brute.answers, strict=True):
        if found == expected:
            continue
        first = next(
            (n for n, (a, b) in enumerate(zip(found, expected, strict=False)) if a != b),
            min(len(found), len(expected)),
        )
        missing = [c for c in expected if c not in found]
        extra = [c for c in found if c not in expected]
        lines.append(
            f"    order {ask.need.order_id} at ({ask.need.latitude:.5f}, {ask.need.longitude:.5f}):"
            f" {name} {len(found)} vs brute {len(expected)}, first difference at rank {first + 1};"
            f" only brute: {[(c.member_id, c.distance_m) for c in missing[:5]]};"
            f" only {name}: {[(c.member_id, c.distance_m) for c in extra[:5]]}"
        )
    return lines


async def _plan(engine: AsyncEngine, ask: Ask, limit: int) -> list[str]:
    """The plan the database makes for the one statement of `ask`, its values bound as the
    app binds them. SQLite: EXPLAIN QUERY PLAN. PostgreSQL: EXPLAIN ANALYZE of its generic
    plan, the one a pooled connection settles on after five calls of the statement (asyncpg
    prepares every statement; `plan_cache_mode` auto)."""
    need = ask.need
    statement = matching.eligible_statement(
        engine.dialect.name, need.language is not None, need.order_id is not None
    )
    values = matching.statement_values(need, ask.now, limit)
    async with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            prepared = prepare(engine.dialect, statement)
            rows = await connection.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + prepared.sql, prepared.values(values)
            )
            return [f"    {row[3]}" for row in rows]
        compiled = statement.compile(dialect=engine.dialect)
        bound = compiled.construct_params(values)
        positional = tuple(bound[name] for name in compiled.positiontup or ())
        await connection.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        await connection.exec_driver_sql("PREPARE eligible AS " + compiled.string)
        arguments = ", ".join(map(_literal, positional))
        rows = await connection.exec_driver_sql(f"EXPLAIN (ANALYZE) EXECUTE eligible({arguments})")
        return [f"    {row[0][:150]}" for row in rows]


def _literal(value: object) -> str:
    """A bound value as PostgreSQL's literal (EXECUTE takes no parameters)."""
    if isinstance(value, list):
        return f"ARRAY[{', '.join(map(_literal, value))}]::integer[]"
    if isinstance(value, str | datetime):
        return "'" + str(value).replace("'", "''") + "'"
    return repr(value)


async def bench_database(url: str, world_cache: dict, args: argparse.Namespace) -> list[str]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        branch, categories = await _seed(sessions)
        key = (branch.id, tuple(categories))
        if key not in world_cache:
            started = time.perf_counter()
            world_cache[key] = build_world(args.volunteers, args.orders, branch, categories)
            world_cache["built"] = time.perf_counter() - started
        world: World = world_cache[key]
        loaded = await load(engine, world, args.analyze)
        async with sessions() as session:
            count = await session.scalar(select(func.count()).select_from(VolunteerProfile))
        await _time_calls(engine, sessions, world.warm_up, matching.eligible, args.limit)
        await _time_calls(engine, sessions, world.warm_up, grid_eligible, args.limit)
        await _time_calls(engine, sessions, world.warm_up[:3], matching.eligible_brute_force, 5)
        one = await _time_calls(engine, sessions, world.asks, matching.eligible, args.limit)
        grid = await _time_calls(engine, sessions, world.asks, grid_eligible, args.limit)
        brute = await _time_calls(
            engine, sessions, world.asks, matching.eligible_brute_force, args.limit
        )
        lines = [
            f"  {count:,} volunteer profiles, {len(world.orders):,} orders,"
            f" {len(world.nudges):,} earlier nudges; data built in {world_cache['built']:.1f} s,"
            f" loaded in {loaded:.1f} s",
            _row("one statement", one),
            _row("grid (before)", grid),
            _row("brute force", brute),
        ]
        for name, timings in (("one statement", one), ("grid", grid)):
            lines.append(
                f"  speed-up (brute / {name}): p50 {brute.p50 / timings.p50:.1f}x,"
                f" p95 {brute.percentile(0.95) / timings.percentile(0.95):.1f}x"
            )
        sizes = [len(answer) for answer in one.answers]
        short = sum(1 for size in sizes if size < args.limit)
        lines.append(
            f"  answers: {len(sizes) - short} orders with a full top {args.limit},"
            f" {short} with fewer (min {min(sizes)}, mean {statistics.mean(sizes):.1f})"
        )
        for name, timings in (("one statement", one), ("grid", grid)):
            differences = _differences(world.asks, name, timings, brute)
            lines.append(
                f"  {name}: same top {args.limit} as brute force:"
                f" {len(world.asks) - len(differences)}/{len(world.asks)}"
                + ("" if not differences else "; MISMATCHES:")
            )
            lines += differences
        speed_up = brute.percentile(0.95) / one.percentile(0.95)
        lines.append(
            f"  goal p95 >= {GOAL_SPEED_UP}x brute force's:"
            f" {'met' if speed_up >= GOAL_SPEED_UP else 'NOT met'} ({speed_up:.1f}x)"
        )
        if args.plan:
            median = sorted(range(len(world.asks)), key=one.seconds.__getitem__)[
                len(world.asks) // 2
            ]
            lines.append(f"  plan of the one statement for the median order ({median}):")
            lines += await _plan(engine, world.asks[median], args.limit)
        if args.profile:
            profiler = cProfile.Profile()
            await _time_calls(engine, sessions, world.asks, matching.eligible, args.limit, profiler)
            lines += _profile_lines(profiler)
        return lines
    finally:
        await engine.dispose()


def _row(name: str, timings: Timings) -> str:
    return (
        f"  {name:<16} p50 {timings.p50:7.2f} ms  p95 {timings.percentile(0.95):7.2f} ms"
        f"  p99 {timings.percentile(0.99):7.2f} ms  max {max(timings.seconds) * 1e3:7.2f} ms"
        f"  statements/call {statistics.mean(timings.statements):.1f}"
    )


def _profile_lines(profiler: cProfile.Profile) -> list[str]:
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(18)
    lines = ["  cProfile of the one statement's calls (main thread, by own time):"]
    keep = False
    for line in out.getvalue().splitlines():
        if line.strip().startswith("ncalls"):
            keep = True
        if keep and line.strip():
            lines.append("    " + line.rstrip()[:150])
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--volunteers", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=200, help="timed orders")
    parser.add_argument("--limit", type=int, default=20, help="top N asked for")
    databases.add_arguments(parser)
    parser.add_argument("--plan", action="store_true", help="print the one statement's plan")
    parser.add_argument(
        "--no-sqlite-statistics",
        dest="analyze",
        action="store_false",
        help="skip the ANALYZE the bot runs on SQLite at start-up",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the one statement's calls")
    args = parser.parse_args()
    print(
        f"matching: {args.volunteers:,} volunteers within {CITY_RADIUS_M // 1000} km,"
        f" {args.orders} timed orders (after {WARM_UP} warm-up), top {args.limit}",
        flush=True,
    )
    world_cache: dict = {}
    stats = "start-up statistics as the bot gathers them" if args.analyze else "no ANALYZE"
    databases.run_on_each(
        args, "matching", lambda url: bench_database(url, world_cache, args), sqlite_note=stats
    )


if __name__ == "__main__":
    main()
