"""A simulated city day through the local Bot API server: the real bot, a city-sized database.

    python -m bench.city [--members 100000] [--active 1000] [--minutes 10]
                         [--database sqlite | postgresql://postgres@127.0.0.1:5432/SCRATCH]
                         [--mode polling|webhook] [--workers N --redis URL] [--seed 7]

Seeds the demo (``seed-demo``), then ``--members`` members spread over the demo's first
three branches (two thirds residents, a third volunteers with skills, a place and
availability), with Core bulk inserts. ``--active`` of them are sandbox users, the ones who
tap during the day; the others only make the database city-sized. Then the day, compressed
into ``--minutes``: each active member sends updates at the day's rhythm (a morning and an
evening peak), of three kinds: ``/help`` (read-only), the passbook (``/passbook``: balance
and recent postings) and the main menu (``/start`` of a signed-up member). At 60 % of the
day the market-day announcement goes into the outbox for every active member (a notice
each, sent by the bot's sender), and a third of them look at their passbook within the
next tenth of the day.

Reply latency is taken from the sandbox's own event times (the user's message queued → the
bot's first reply in that chat), per kind. The outbox figure is announcements delivered per
second, from enqueue to the last one sent. RSS/PSS/USS per bot process, the database's
size, ``timebank ledger verify`` and a doubles check (no update answered more often than it
is answered alone) close the run.

Not played yet: orders, nudges with racing accepts, Done and confirmations (the wizards'
buttons are not scripted here); the sweep still runs its nudges for the demo's orders.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text

from bench import procstats
from bench.e2e import (
    Sandbox,
    bot_env,
    drop_database,
    prepare_database,
    real_bot,
    run_quiet,
    sandbox_with_client,
    settle,
)
from bench.processes import ROOT, Child
from core import matching, outbox
from core.config import async_database_url
from core.db import create_engine, session_factory, transaction, utcnow
from core.models import (
    Branch,
    Category,
    Identity,
    Member,
    Order,
    OrderStatus,
    OutboxMessage,
    VolunteerProfile,
)

KINDS = {"help": "/help", "passbook": "/passbook", "menu": "/start"}
WEIGHTS = {"help": 30, "passbook": 40, "menu": 30}
LANGUAGES = ("zh_Hans", "ko", "en")
BATCH = 5_000
PLATFORM = "telegram"


def rhythm(share: float) -> float:
    """The day's relative activity at `share` of the day: morning and evening peaks."""
    return 0.4 + math.exp(-(((share - 0.3) / 0.08) ** 2)) + math.exp(-(((share - 0.8) / 0.1) ** 2))


# ---------------------------------------------------------------------- the city
async def seed_city(url: str, members: int, chats: list[int], rng: random.Random) -> list[int]:
    """Members in three branches; the first len(chats) of them are the sandbox's users."""
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            branches = list(await session.scalars(select(Branch).order_by(Branch.id).limit(3)))
            categories = list(await session.scalars(select(Category.id)))
            first = int(await session.scalar(select(func.max(Member.id))) or 0) + 1
        now = utcnow()
        rows, identities, profiles = [], [], []
        for n in range(members):
            branch = branches[n % len(branches)]
            member_id = first + n
            volunteer = n % 3 == 2
            latitude = round((branch.latitude or 0.0) + rng.uniform(-0.1, 0.1), 2)
            longitude = round((branch.longitude or 0.0) + rng.uniform(-0.1, 0.1), 2)
            rows.append(
                {
                    "id": member_id, "name": f"citizen {n}", "language": rng.choice(LANGUAGES),
                    "branch_id": branch.id, "is_resident": not volunteer,
                    "is_volunteer": volunteer, "is_coordinator": False, "verified": True,
                    "sponsored": False, "home_latitude": latitude, "home_longitude": longitude,
                    "created_at": now, "onboarded_at": now,
                }
            )  # fmt: skip
            external = str(chats[n]) if n < len(chats) else f"city-{n}"
            identities.append(
                {"platform": PLATFORM, "external_id": external, "member_id": member_id,
                 "created_at": now}
            )  # fmt: skip
            if volunteer:
                skills = sum(matching.skill_bit(c) for c in categories if rng.random() < 0.25)
                profiles.append(
                    {
                        "member_id": member_id, "branch_id": branch.id,
                        "skills": skills or matching.skill_bit(categories[0]),
                        "availability": rng.getrandbits(21), "quiet_start": 22,
                        "quiet_end": 7, "max_distance_m": 3000, "languages": [rows[-1]["language"]],
                        "paused": False, "max_open": 2, "latitude": latitude,
                        "longitude": longitude, "cell": matching.cell_of(latitude, longitude),
                        "rating_sum": 0, "rating_count": 0, "updated_at": now,
                    }
                )  # fmt: skip
        async with engine.begin() as connection:
            for model, table in (
                (Member, rows),
                (Identity, identities),
                (VolunteerProfile, profiles),
            ):
                for start in range(0, len(table), BATCH):
                    await connection.execute(insert(model), table[start : start + BATCH])
            # The order the market-day announcement is relayed about (a notice needs one).
            await connection.execute(
                insert(Order),
                [
                    {
                        "branch_id": branches[0].id, "requester_id": first,
                        "beneficiary_id": first, "category_id": categories[0],
                        "description": "market day", "window_start": now, "address": "square",
                        "estimated_minutes": 60, "status": OrderStatus.CONFIRMED.value,
                        "place_kind": "address", "funding": "own",
                        "idempotency_key": f"city:{uuid.uuid4().hex}", "created_at": now,
                        "updated_at": now, "volunteer_id": first + 2,
                    }
                ],
            )  # fmt: skip
            if engine.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT setval(pg_get_serial_sequence('members', 'id'), "
                         "(SELECT max(id) FROM members))")
                )  # fmt: skip
        return [first + n for n in range(len(chats))]
    finally:
        await engine.dispose()


async def announce(url: str, member_ids: list[int]) -> float:
    """The market-day announcement: one notice per active member, into the outbox."""
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            order = await session.scalar(select(Order).where(Order.description == "market day"))
        assert order is not None
        run = uuid.uuid4().hex[:8]
        async with transaction(sessions, write=True) as session:
            for member_id in member_ids:
                await outbox.enqueue(
                    session, key=f"city:{run}:{member_id}", member_id=member_id, kind="relay",
                    payload={"order_id": order.id, "from": order.volunteer_id,
                             "text": "Market day tomorrow at the square: come along!"},
                )  # fmt: skip
        return time.time()
    finally:
        await engine.dispose()


async def outbox_figures(url: str, since: float) -> tuple[int, float]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            sent, last = (
                await connection.execute(
                    select(func.count(), func.max(OutboxMessage.sent_at)).where(
                        OutboxMessage.key.like("city:%"), OutboxMessage.sent_at.is_not(None)
                    )
                )
            ).one()
    finally:
        await engine.dispose()
    if not sent or last is None:
        return 0, 0.0
    if isinstance(last, str):
        from datetime import UTC, datetime

        last = datetime.fromisoformat(last).replace(tzinfo=UTC)
    return int(sent), max(last.timestamp() - since, 1e-3)


async def database_size(url: str, file: Path | None) -> int:
    if file is not None:
        return sum(p.stat().st_size for p in file.parent.glob(file.name + "*"))
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return int(await connection.scalar(text("SELECT pg_database_size(current_database())")))
    finally:
        await engine.dispose()


def bot_memory(pid: int) -> str:
    """RSS/PSS/USS MB of the bot's processes, supervisor first, with their peak RSS. Forked
    workers share the supervisor's pages, which RSS counts in full in each: PSS (shared
    pages divided among their sharers) and USS (private pages) are what a worker costs."""
    return ", ".join(
        f"pid {p} {m} (peak RSS {m.peak_rss:.0f})" for p, m in procstats.tree_memory(pid).items()
    )


# ---------------------------------------------------------------------- the day
class Day:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.sent: dict[int, list[str]] = defaultdict(list)  # chat → kinds, in order
        self.events: list[dict[str, Any]] = []
        self.last_seq = 0
        self.failures = 0

    async def tap(self, chat: int, kind: str) -> None:
        self.sent[chat].append(kind)
        try:
            await self.sandbox.command(chat, KINDS[kind])
        except Exception:
            self.failures += 1

    async def collect(self) -> None:
        """The sandbox keeps its last 20,000 events: fetch them as the day goes on."""
        events = await self.sandbox.events(self.last_seq)
        if events:
            self.events += events
            self.last_seq = max(int(e["seq"]) for e in events)


async def play(
    day: Day, chats: list[int], minutes: float, per_member: float, rng: random.Random,
    announce_at: Any,
) -> None:  # fmt: skip
    """Each active member taps about `per_member` times over the day, at its rhythm."""
    seconds = minutes * 60
    step = 1.0
    mean = sum(rhythm(s / 1000) for s in range(1000)) / 1000
    rate = len(chats) * per_member / seconds / mean  # taps per second at rhythm 1
    started = time.monotonic()
    announced = False
    tasks: set[asyncio.Task[None]] = set()
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    lookers: list[int] = []
    while (elapsed := time.monotonic() - started) < seconds:
        share = elapsed / seconds
        count = _poisson(rng, rate * rhythm(share) * step)
        for chat in rng.sample(chats, min(count, len(chats))):
            task = asyncio.create_task(day.tap(chat, rng.choices(kinds, weights)[0]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if not announced and share >= 0.6:
            announced = True
            await announce_at()
            lookers = rng.sample(chats, len(chats) // 3)
        if announced and lookers and share < 0.7:
            for chat in lookers[: max(1, len(lookers) // 10)]:
                task = asyncio.create_task(day.tap(chat, "passbook"))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            del lookers[: max(1, len(lookers) // 10)]
        await day.collect()
        await asyncio.sleep(max(0.0, step - (time.monotonic() - started - elapsed)))
    if tasks:
        await asyncio.gather(*tasks)


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def latencies(
    day: Day, replies_per_kind: dict[str, int]
) -> tuple[dict[str, list[float]], int, int]:
    """Per kind, the user's message → the bot's first reply; unanswered and doubled counts."""
    by_chat: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for event in day.events:
        if event.get("type") == "message" and event.get("chat_id") in day.sent:
            by_chat[int(event["chat_id"])].append(event)
    found: dict[str, list[float]] = defaultdict(list)
    unanswered = doubled = 0
    for chat, kinds in day.sent.items():
        events = sorted(by_chat[chat], key=lambda e: e["seq"])
        asked = [e for e in events if e["by"] == "user"]
        for n, (kind, message) in enumerate(zip(kinds, asked, strict=False)):
            until = asked[n + 1]["seq"] if n + 1 < len(asked) else math.inf
            answers = [
                e for e in events
                if e["by"] == "bot" and message["seq"] < e["seq"] < until
                and "Market day" not in str(e.get("message", {}).get("text", ""))
            ]  # fmt: skip
            if not answers:
                unanswered += 1
                continue
            found[kind].append((answers[0]["time"] - message["time"]) * 1000)
            # Replies of two updates sent close together may interleave; only the last
            # update of a chat is checked for extra answers.
            if until == math.inf and len(answers) > replies_per_kind.get(kind, 1):
                doubled += 1
        unanswered += max(0, len(kinds) - len(asked))
    return found, unanswered, doubled


def pct(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))] if ordered else float("nan")


# ---------------------------------------------------------------------- main
async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="timebank-city-"))
    db = None
    try:
        async with sandbox_with_client(work, min(args.active, 500)) as sandbox:
            db = await prepare_database(args.database, work, sandbox.base_url, ROOT)
            url = async_database_url(db.for_run(work))
            file = Path(url.split("///", 1)[1]) if url.startswith("sqlite") else None
            began = time.monotonic()
            chats: list[int] = []
            for start in range(0, args.active, 100):
                batch = range(start, min(start + 100, args.active))
                chats += await asyncio.gather(*(sandbox.create_user(f"C{n}") for n in batch))
            active_ids = await seed_city(url, args.members, chats, rng)
            seeded = time.monotonic() - began
            await sandbox.bot_call("deleteWebhook", drop_pending_updates=True)
            bot: Child = real_bot(
                url, sandbox.base_url, args.mode, work, "city", ROOT, args.workers, args.redis
            )
            await bot.start()
            try:
                day = Day(sandbox)
                # Readiness and the reply count of each kind, from one member.
                probe = chats[0]
                replies_per_kind: dict[str, int] = {}
                for kind, command in KINDS.items():
                    start_seq = await sandbox.seq()
                    await sandbox.command(probe, command)
                    deadline = time.monotonic() + 180
                    while time.monotonic() < deadline:
                        bot.check()
                        await asyncio.sleep(0.2)
                        events = await sandbox.events(start_seq)
                        if any(e.get("by") == "bot" for e in events):
                            break
                    await settle(sandbox, 0.5)
                    replies_per_kind[kind] = sum(
                        1 for e in await sandbox.events(start_seq)
                        if e.get("type") == "message" and e.get("by") == "bot"
                    )  # fmt: skip
                day.last_seq = await sandbox.seq()
                announced_at: list[float] = []

                async def announce_now() -> None:
                    announced_at.append(await announce(url, active_ids))

                cpu_before = bot.cpu()
                day_started = time.monotonic()
                await play(day, chats, args.minutes, args.taps, rng, announce_now)
                await settle(sandbox, 2.0)
                await day.collect()
                day_seconds = time.monotonic() - day_started
                memory = bot_memory(bot.pid)
                sandbox_memory = procstats.memory(sandbox.child.pid)
                cpu = bot.cpu() - cpu_before
            finally:
                await bot.stop()
            sent, outbox_seconds = await outbox_figures(url, announced_at[0] if announced_at else 0)
            size = await database_size(url, file)
            verify_command = [sys.executable, "-m", "bot.cli", "ledger", "verify"]
            verify = await run_quiet(verify_command, bot_env(url, sandbox.base_url))
    finally:
        if db is not None:
            await drop_database(db)
        shutil.rmtree(work, ignore_errors=True)

    found, unanswered, doubled = latencies(day, replies_per_kind)
    updates = sum(len(v) for v in day.sent.values())
    print(
        f"bench.city: {args.members} members in 3 branches, {args.active} active, "
        f"{args.minutes:g}-minute day, {db.label if db else args.database}, {args.mode}"
        f"{f' ×{args.workers} workers' if args.workers > 1 else ''}; seeded in {seeded:.0f}s; "
        f"load average {load_before[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'kind':10} {'updates':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    everything: list[float] = []
    for kind in KINDS:
        values = found.get(kind, [])
        everything += values
        print(
            f"{kind:10} {len(values):8} {pct(values, 0.5):8.0f} {pct(values, 0.95):8.0f} "
            f"{pct(values, 0.99):8.0f}"
        )
    print(
        f"{'all taps':10} {len(everything):8} {pct(everything, 0.5):8.0f} "
        f"{pct(everything, 0.95):8.0f} {pct(everything, 0.99):8.0f}   (goal p95 < 300 ms)"
    )
    print(
        f"updates: {updates} sent, {updates / day_seconds:.1f}/s over the day "
        f"({unanswered} unanswered, {doubled} answered twice, {day.failures} not injected); "
        f"bot CPU {cpu:.0f}s = {cpu / max(updates, 1) * 1000:.1f} ms/update"
    )
    if sent:
        print(f"outbox: {sent} announcements sent in {outbox_seconds:.1f}s = "
              f"{sent / outbox_seconds:.0f}/s")  # fmt: skip
    else:
        print("outbox: no announcement sent")
    print(
        f"memory MB, RSS/PSS/USS: bot {memory}; sandbox {sandbox_memory}   "
        "(goal RSS < 150 per worker)"
    )
    print(f"database size: {size / 1e6:.0f} MB")
    print(f"ledger verify: {verify.strip().splitlines()[-1] if verify.strip() else 'ok'}")
    median = statistics.median(everything) if everything else float("nan")
    print(f"median tap {median:.0f} ms")


def cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.city", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=1_000, help="members who tap (sandbox users)")
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the compressed day")
    parser.add_argument("--taps", type=float, default=4.0, help="taps per active member per day")
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--mode", choices=["polling", "webhook"], default="polling")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--redis", default="")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.workers > 1 and (args.mode != "webhook" or not args.redis):
        parser.error("several workers need --mode webhook and --redis")
    args.active = max(1, min(args.active, args.members))
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
