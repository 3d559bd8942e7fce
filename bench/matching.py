"""Matching latency: `core.matching.eligible` (grid prefilter) against a brute-force scan.

    python -m bench.matching [--volunteers 100000] [--orders 200] [--limit 20]
                             [--postgres URL | --no-postgres] [--no-sqlite]
                             [--no-sqlite-statistics] [--plan] [--profile]

One branch (Luoshan, Shanghai) with `--volunteers` volunteers spread over a city of 25 km
radius (dense neighbourhoods on a thinner background, homes rounded to 0.01° as
`core.members` stores them), random skills, availability, quiet hours, distance limits,
languages, ratings, open and recent orders, some paused, unverified, erased or blocked.
`--orders` open orders at random places and times then ask for their top `--limit`
volunteers: `eligible(...)` and `eligible_brute_force(...)` are each timed per call (a
fresh session per call, as the sweep would), after a warm-up of other orders. Both answers
must be the same ranked list; every difference is printed. The same synthetic data goes
into a scratch SQLite file and a scratch PostgreSQL database, both created and dropped.
PostgreSQL gets ANALYZE after loading, as autovacuum would soon give it; SQLite gets the
bounded ANALYZE the bot runs at start-up (`core.matching.optimize`), unless
`--no-sqlite-statistics` shows what the planner does without it.
`--plan` prints both databases' plan of a 1 km grid query; `--profile` adds a cProfile of
the grid calls (main thread: SQLAlchemy, the ranking, and the wait for the database).
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
from core.db import create_engine, session_factory, transaction
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
GOAL_P95_MS = 20.0
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
    radii: list[int] = field(default_factory=list)  # the last box `eligible` looked in

    def percentile(self, share: float) -> float:
        ordered = sorted(self.seconds)
        rank = max(0, math.ceil(share * len(ordered)) - 1)
        return ordered[rank] * 1e3

    @property
    def p50(self) -> float:
        return statistics.median(self.seconds) * 1e3


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
    last_radius = [0]
    cell_ranges = matching.cell_ranges

    def count(*_args: object) -> None:
        counted[0] += 1

    def watched_cell_ranges(latitude: float, longitude: float, radius_m: int) -> list:
        last_radius[0] = radius_m
        return cell_ranges(latitude, longitude, radius_m)

    # Watching which boxes `eligible` asks for costs a function call per box, nothing more.
    matching.cell_ranges = watched_cell_ranges
    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        for ask in asks:
            async with sessions() as session:
                counted[0] = last_radius[0] = 0
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
            timings.radii.append(last_radius[0])
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
        matching.cell_ranges = cell_ranges
    return timings


def _differences(asks: list[Ask], grid: Timings, brute: Timings) -> list[str]:
    lines = []
    for ask, fast, slow in zip(asks, grid.answers, brute.answers, strict=True):
        if fast == slow:
            continue
        first = next(
            (n for n, (a, b) in enumerate(zip(fast, slow, strict=False)) if a != b),
            min(len(fast), len(slow)),
        )
        missing = [c for c in slow if c not in fast]
        extra = [c for c in fast if c not in slow]
        lines.append(
            f"    order {ask.need.order_id} at ({ask.need.latitude:.5f}, {ask.need.longitude:.5f}):"
            f" grid {len(fast)} vs brute {len(slow)}, first difference at rank {first + 1};"
            f" only brute: {[(c.member_id, c.distance_m) for c in missing[:5]]};"
            f" only grid: {[(c.member_id, c.distance_m) for c in extra[:5]]}"
        )
    return lines


async def _plan(engine: AsyncEngine, ask: Ask) -> list[str]:
    """The plan the database makes for the 1 km grid query of `ask`, parameters bound as the
    app binds them (PostgreSQL: EXPLAIN ANALYZE; SQLite: EXPLAIN QUERY PLAN)."""
    ranges = matching.cell_ranges(ask.need.latitude, ask.need.longitude, matching.RADII_M[0])
    query = matching._base_query(ask.need).where(
        or_(*(VolunteerProfile.cell.between(low, high) for low, high in ranges))
    )
    compiled = query.compile(dialect=engine.dialect, compile_kwargs={"render_postcompile": True})
    parameters = tuple(compiled.params[name] for name in compiled.positiontup or ())
    sqlite = engine.dialect.name == "sqlite"
    explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN (ANALYZE) "
    async with engine.connect() as connection:
        rows = await connection.exec_driver_sql(explain + compiled.string, parameters)
        return [f"    {(row[3] if sqlite else row[0])[:150]}" for row in rows]


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
        await _time_calls(engine, sessions, world.warm_up[:3], matching.eligible_brute_force, 5)
        grid = await _time_calls(engine, sessions, world.asks, matching.eligible, args.limit)
        brute = await _time_calls(
            engine, sessions, world.asks, matching.eligible_brute_force, args.limit
        )
        lines = [
            f"  {count:,} volunteer profiles, {len(world.orders):,} orders,"
            f" {len(world.nudges):,} earlier nudges; data built in {world_cache['built']:.1f} s,"
            f" loaded in {loaded:.1f} s",
            _row("eligible (grid)", grid),
            _row("brute force", brute),
        ]
        speedup50 = brute.p50 / grid.p50
        speedup95 = brute.percentile(0.95) / grid.percentile(0.95)
        lines.append(f"  speed-up (brute / grid): p50 {speedup50:.1f}x, p95 {speedup95:.1f}x")
        by_radius: dict[int, list[float]] = defaultdict(list)
        for radius, seconds in zip(grid.radii, grid.seconds, strict=True):
            by_radius[radius].append(seconds * 1e3)
        lines.append(
            "  grid calls by the last box searched: "
            + ", ".join(
                f"{radius / 1000:g} km: {len(times)} (p50 {statistics.median(times):.1f} ms)"
                for radius, times in sorted(by_radius.items())
            )
        )
        sizes = [len(answer) for answer in grid.answers]
        short = sum(1 for size in sizes if size < args.limit)
        lines.append(
            f"  answers: {len(sizes) - short} orders with a full top {args.limit},"
            f" {short} with fewer (min {min(sizes)}, mean {statistics.mean(sizes):.1f})"
        )
        differences = _differences(world.asks, grid, brute)
        lines.append(
            f"  same top {args.limit} as brute force: {len(world.asks) - len(differences)}"
            f"/{len(world.asks)}" + ("" if not differences else "; MISMATCHES:")
        )
        lines += differences
        p95 = grid.percentile(0.95)
        lines.append(
            f"  goal p95 < {GOAL_P95_MS:.0f} ms: {'met' if p95 < GOAL_P95_MS else 'NOT met'}"
            f" ({p95:.2f} ms)"
        )
        if args.plan:
            median = sorted(range(len(world.asks)), key=grid.seconds.__getitem__)[
                len(world.asks) // 2
            ]
            lines.append(f"  plan of the 1 km grid query of the median order ({median}):")
            lines += await _plan(engine, world.asks[median])
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
    lines = ["  cProfile of the grid calls (main thread, by own time):"]
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
    parser.add_argument("--plan", action="store_true", help="print the grid query's plan")
    parser.add_argument(
        "--no-sqlite-statistics",
        dest="analyze",
        action="store_false",
        help="skip the ANALYZE the bot runs on SQLite at start-up",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the grid calls")
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
