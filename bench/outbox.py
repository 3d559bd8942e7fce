"""Outbox delivery rate: the real `bot.sender.Sender` against the sandbox's Telegram limits.

    python -m bench.outbox [--users 600] [--chats 5] [--per-chat 6] [--spread] [--rate 29]
                           [--postgres URL | --no-postgres] [--no-sqlite] [--in-process]

Starts the sandbox Bot API server (a child process `python -m sandbox`, or in this process
with `--in-process`) with its default limits: 30 messages a second per bot (burst 30), one a
second per chat (burst 4), 429 with `retry_after` beyond them. `--users` users who started
the bot are volunteers of one branch; each gets one nudge for one of 20 open orders (a
broadcast-like wave), and `--chats` requesters each get `--per-chat` relayed messages in a
row, somewhere in the middle of the wave (`--spread`: scattered through it instead). All
go into the outbox in one transaction through `core.outbox.enqueue`, then `Sender.run()`
delivers them as the bot does (aiogram `Bot` with the app's `RetryMiddleware` and HTML parse
mode) until no row is pending or sending.

Printed per database: messages a second between the first and the last delivery (the
sandbox's own clock) and its share of the 30/s limit; the same over the whole drain (from
starting the sender to the last row marked sent); 429 answers seen on the wire (a counting
request middleware inside `RetryMiddleware`, so the ones it waited out count too) and the
sender's own `throttled`; the most sends in any one second; enqueue-to-delivery delay
p50/p95/max (outbox `created_at` to the sandbox's message event); the smallest gap between
two messages to one chat. A scratch SQLite file and a scratch PostgreSQL database are
created and dropped.

The sender's cost: its process's CPU (this one's, the sandbox being a child) and, on
PostgreSQL, the server's (every postgres process, ended backends included) from starting
the sender to the drain, per message delivered. `--rate R` above 30 lifts the sandbox's
limits and gives the sender a pace of R a second overall and per chat, so that the rate
printed is the sender's own ceiling on this machine rather than Telegram's limit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import random
import statistics
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from itertools import pairwise
from pathlib import Path

import aiohttp
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.app  # noqa: F401  (keeps aiogram's Response[T] models, as the running bot does)
from bench import databases, procstats
from bench.processes import running_sandbox
from bot.i18n import create_i18n
from bot.lean_session import LeanSession
from bot.middlewares import PLATFORM
from bot.pace import RATE, Pace, PaceMiddleware
from bot.retry import RetryMiddleware
from bot.sender import Sender
from core import outbox
from core.db import create_engine, session_factory, utcnow
from core.demo import seed_demo
from core.ledger import atomically
from core.models import (
    Branch,
    Category,
    Identity,
    Member,
    Nudge,
    Order,
    OrderStatus,
    OutboxMessage,
    OutboxStatus,
)

TOKEN = "1000000002:BENCH-outbox"
ROOT = Path(__file__).resolve().parent.parent
LIMIT_PER_SECOND = 30.0  # the sandbox's default RateLimits().global_per_second
GOAL_SHARE = 0.95
ORDERS = 20
LANGUAGES = ("zh_Hans", "ko", "en")
UNFINISHED = (OutboxStatus.PENDING, OutboxStatus.SENDING)


# ---------------------------------------------------------------------------- the sandbox


async def _create_users(http: aiohttp.ClientSession, base_url: str, names: list[str]) -> list[int]:
    """Users who have started the bot (so it may write to them), created 8 at a time."""
    gate = asyncio.Semaphore(8)

    async def one(name: str, language: str) -> int:
        body = {"first_name": name, "language_code": language, "started": True}
        async with gate, http.post(f"{base_url}/sandbox/users", json=body) as response:
            response.raise_for_status()
            return int((await response.json())["user"]["id"])

    codes = {"zh_Hans": "zh-hans", "ko": "ko", "en": "en"}
    return list(
        await asyncio.gather(
            *(one(name, codes[LANGUAGES[i % len(LANGUAGES)]]) for i, name in enumerate(names))
        )
    )


async def _bot_messages(http: aiohttp.ClientSession, base_url: str, after: int) -> list[dict]:
    """Every message the bot sent since event `after`: (chat, time) from the sandbox."""
    found: list[dict] = []
    while True:
        async with http.get(
            f"{base_url}/sandbox/events", params={"after": str(after), "timeout": "0"}
        ) as response:
            response.raise_for_status()
            body = await response.json()
        events = body["events"]
        found += [e for e in events if e["type"] == "message" and e["by"] == "bot"]
        if not events or after >= body["last_seq"]:
            return found
        after = events[-1]["seq"]


async def _last_seq(http: aiohttp.ClientSession, base_url: str) -> int:
    async with http.get(f"{base_url}/sandbox/events", params={"after": "0"}) as response:
        return int((await response.json())["last_seq"])


# ---------------------------------------------------------------------------- the bot side


class CountRetryAfter(BaseRequestMiddleware):
    """Counts 429 answers and requests per method; registered after (inside) RetryMiddleware."""

    def __init__(self) -> None:
        self.too_many = 0
        self.calls: Counter[str] = Counter()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        self.calls[type(method).__name__] += 1
        try:
            return await make_request(bot, method)
        except TelegramRetryAfter:
            self.too_many += 1
            raise


def make_bot(base_url: str, counter: CountRetryAfter, rate: float = RATE) -> Bot:
    """The bot as `bot.app.create_bot` makes it, pointed at the sandbox, plus the counter;
    its pace keeps `rate` a second (above Telegram's, per chat too)."""
    session = LeanSession(api=TelegramAPIServer.from_base(base_url))
    session.middleware(RetryMiddleware())
    session.middleware(counter)
    lifted = rate > LIMIT_PER_SECOND
    session.middleware(PaceMiddleware(Pace(rate, chat_rate=rate) if lifted else Pace(rate)))
    return Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))


# ---------------------------------------------------------------------------- the data


@dataclass
class Plan:
    """Who gets what: (member, kind, payload) in enqueue order."""

    messages: list[tuple[int, str, dict]] = field(default_factory=list)
    chats: dict[int, int] = field(default_factory=dict)  # member -> sandbox chat id


async def prepare(
    sessions: async_sessionmaker[AsyncSession],
    volunteer_chats: list[int],
    requester_chats: list[int],
    per_chat: int,
    spread: bool,
    rng: random.Random,
) -> Plan:
    """Members, identities, open orders and nudges (Core bulk inserts); the outbox plan."""
    async with sessions() as session, session.begin():
        await seed_demo(session)
        branch = await session.scalar(select(Branch).where(Branch.code == "luoshan"))
        categories = list(await session.scalars(select(Category.id)))
        first = (await session.scalar(select(func.max(Member.id)))) or 0
    assert branch is not None
    now = utcnow()
    plan = Plan()
    members, identities = [], []
    everyone = [*volunteer_chats, *requester_chats]
    for n, chat in enumerate(everyone):
        member_id = first + 1 + n
        volunteer = n < len(volunteer_chats)
        members.append(
            {
                "id": member_id, "name": f"{'V' if volunteer else 'R'}{n}",
                "language": LANGUAGES[n % len(LANGUAGES)], "branch_id": branch.id,
                "is_resident": not volunteer, "is_volunteer": volunteer, "is_coordinator": False,
                "verified": True, "sponsored": False, "created_at": now,
            }
        )  # fmt: skip
        identities.append(
            {"platform": PLATFORM, "external_id": str(chat), "member_id": member_id,
             "created_at": now}
        )  # fmt: skip
        plan.chats[member_id] = chat
    volunteer_ids = [row["id"] for row in members[: len(volunteer_chats)]]
    requester_ids = [row["id"] for row in members[len(volunteer_chats) :]]
    orders = []
    for n in range(ORDERS):
        requester = requester_ids[n] if n < len(requester_ids) else requester_ids[0]
        orders.append(
            {
                "branch_id": branch.id, "requester_id": requester, "beneficiary_id": requester,
                "category_id": rng.choice(categories), "description": "",
                "window_start": now + timedelta(hours=3 + n), "address": f"罗山路 {n + 1} 号",
                "estimated_minutes": 60, "status": OrderStatus.OPEN.value,
                "place_kind": "address", "funding": "own",
                "idempotency_key": f"bench-outbox:{uuid.uuid4().hex}",
                "created_at": now, "updated_at": now,
            }
        )  # fmt: skip
    async with sessions() as session, session.begin():
        await session.execute(insert(Member), members)
        await session.execute(insert(Identity), identities)
        order_ids = list(
            await session.scalars(
                insert(Order).returning(Order.id, sort_by_parameter_order=True), orders
            )
        )
        nudges = [
            {
                "order_id": order_ids[n % ORDERS], "member_id": member, "round": 1, "wave": 1,
                "distance_m": rng.randrange(100, 2000), "status": "sent", "created_at": now,
            }
            for n, member in enumerate(volunteer_ids)
        ]  # fmt: skip
        nudge_ids = list(
            await session.scalars(
                insert(Nudge).returning(Nudge.id, sort_by_parameter_order=True), nudges
            )
        )
    wave = [
        (member, "nudge", {"nudge_id": nudge_id})
        for member, nudge_id in zip(volunteer_ids, nudge_ids, strict=True)
    ]
    relays = []
    for n, requester in enumerate(requester_ids):
        relays.append(
            [
                (requester, "relay", {"order_id": order_ids[n], "from": volunteer_ids[n],
                                      "text": f"message {k + 1} of {per_chat}"})
                for k in range(per_chat)
            ]
        )  # fmt: skip
    if spread:
        slots = sorted(rng.sample(range(len(wave) + 1), sum(len(chat) for chat in relays)))
        pending = [message for chat in relays for message in chat]
        rng.shuffle(pending)
        for slot, message in sorted(zip(slots, pending, strict=True), reverse=True):
            wave.insert(slot, message)
        # Keep each chat's own messages in their order.
        seen: dict[int, int] = defaultdict(int)
        for index, (member, kind, _payload) in enumerate(wave):
            if kind == "relay":
                n = requester_ids.index(member)
                wave[index] = relays[n][seen[member]]
                seen[member] += 1
    else:
        for chat in relays:
            at = rng.randrange(len(wave) // 4, 3 * len(wave) // 4)
            wave[at:at] = chat
    plan.messages = wave
    return plan


async def enqueue(sessions: async_sessionmaker[AsyncSession], plan: Plan) -> None:
    run = uuid.uuid4().hex[:8]

    async def work(session: AsyncSession) -> None:
        for n, (member, kind, payload) in enumerate(plan.messages):
            await outbox.enqueue(
                session, key=f"bench:{run}:{n}", member_id=member, kind=kind, payload=payload
            )

    await atomically(sessions, work)


async def _unfinished(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_(UNFINISHED))
            )
            or 0
        )


# ---------------------------------------------------------------------------- one run


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


async def run_once(url: str, args: argparse.Namespace) -> list[str]:
    rng = random.Random(11)
    engine = create_engine(url)
    sessions = session_factory(engine)
    try:
        async with (
            running_sandbox(
                TOKEN, rate_limits=args.rate <= LIMIT_PER_SECOND, in_process=args.in_process
            ) as base_url,
            aiohttp.ClientSession() as http,
        ):
            volunteer_chats = await _create_users(
                http, base_url, [f"Volunteer {i}" for i in range(args.users)]
            )
            requester_chats = await _create_users(
                http, base_url, [f"Requester {i}" for i in range(args.chats)]
            )
            plan = await prepare(
                sessions, volunteer_chats, requester_chats, args.per_chat, args.spread, rng
            )
            counter = CountRetryAfter()
            bot = make_bot(base_url, counter, args.rate)
            sender = Sender(bot, sessions, create_i18n("zh_Hans"))
            postgres = url.startswith("postgresql")
            try:
                after = await _last_seq(http, base_url)
                await enqueue(sessions, plan)
                started = time.time()
                cpu = time.process_time(), procstats.named_cpu("postgres") if postgres else 0.0
                task = asyncio.create_task(sender.run())
                deadline = started + args.timeout
                while time.time() < deadline:
                    if not await _unfinished(sessions):
                        break
                    await asyncio.sleep(0.1)
                drained = time.time()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                used = (
                    time.process_time() - cpu[0],
                    (procstats.named_cpu("postgres") - cpu[1]) if postgres else 0.0,
                )
            finally:
                await bot.session.close()
            delivered = await _bot_messages(http, base_url, after)
        lines = await _report(sessions, plan, delivered, counter, sender, started, drained)
        n = max(1, len(delivered))
        server = f", PostgreSQL server {used[1] * 1000 / n:.2f} ms" if postgres else ""
        return [
            *lines,
            f"  CPU per message delivered: sender process {used[0] * 1000 / n:.2f} ms{server}"
            f" ({used[0]:.1f} s{f' + {used[1]:.1f} s' if postgres else ''} for {n})",
        ]
    finally:
        await engine.dispose()


async def _report(
    sessions: async_sessionmaker[AsyncSession],
    plan: Plan,
    delivered: list[dict],
    counter: CountRetryAfter,
    sender: Sender,
    started: float,
    drained: float,
) -> list[str]:
    async with sessions() as session:
        rows = (
            await session.execute(
                select(
                    OutboxMessage.status,
                    OutboxMessage.created_at,
                    OutboxMessage.sent_at,
                    OutboxMessage.chat_id,
                    OutboxMessage.message_id,
                )
            )
        ).all()
    statuses = Counter(row.status for row in rows)
    enqueued = {
        (int(row.chat_id), int(row.message_id)): row.created_at for row in rows if row.chat_id
    }
    times = sorted(event["time"] for event in delivered)
    delays = []
    for event in delivered:
        made = enqueued.get((int(event["chat_id"]), int(event["message"]["message_id"])))
        if made is not None:
            delays.append(event["time"] - made.timestamp())
    last_sent = max((row.sent_at.timestamp() for row in rows if row.sent_at), default=drained)
    expected = len(plan.messages)
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    rate = (len(times) - 1) / span if span else 0.0
    whole = len(times) / (last_sent - started) if last_sent > started else 0.0
    busiest = 0
    low = 0
    for high, moment in enumerate(times):
        while moment - times[low] >= 1.0:
            low += 1
        busiest = max(busiest, high - low + 1)
    per_chat: dict[int, list[float]] = defaultdict(list)
    for event in delivered:
        per_chat[int(event["chat_id"])].append(event["time"])
    wanted = Counter(plan.chats[member] for member, _kind, _payload in plan.messages)
    extra = sum(max(0, len(per_chat[chat]) - n) for chat, n in wanted.items())
    missing = sum(max(0, n - len(per_chat[chat])) for chat, n in wanted.items())
    gaps = [
        later - earlier
        for moments in per_chat.values()
        for earlier, later in pairwise(sorted(moments))
    ]
    pauses = [later - earlier for earlier, later in pairwise(times) if later - earlier > 0.1]
    share = rate / LIMIT_PER_SECOND
    met = share >= GOAL_SHARE and counter.too_many == 0 and not missing and not extra
    multi = [chat for chat, moments in per_chat.items() if len(moments) > 1]
    multi_done = [max(per_chat[chat]) - started for chat in multi]
    return [
        f"  {expected} messages enqueued, {len(times)} delivered to the sandbox;"
        f" outbox: {dict(sorted(statuses.items()))}; missing {missing}, extra {extra}",
        f"  rate, first to last delivery: {rate:6.2f} msg/s over {span:.2f} s"
        f" = {share:.3f} of {LIMIT_PER_SECOND:.0f}/s",
        f"  rate, sender start to last marked sent: {whole:6.2f} msg/s over"
        f" {last_sent - started:.2f} s = {whole / LIMIT_PER_SECOND:.3f};"
        f" drain noticed after {drained - started:.2f} s",
        f"  429s on the wire: {counter.too_many}; sender.throttled {sender.throttled};"
        f" API calls {dict(counter.calls)}; most sends in any 1 s: {busiest}",
        f"  enqueue -> delivery: p50 {statistics.median(delays):.2f} s"
        f"  p95 {_percentile(delays, 0.95):.2f} s  max {max(delays):.2f} s"
        f" (an ideal 30/s queue: p50 {expected / 2 / LIMIT_PER_SECOND:.2f} s,"
        f" max {expected / LIMIT_PER_SECOND:.2f} s)",
        f"  pauses over 0.1 s between two deliveries: {len(pauses)}, {sum(pauses):.2f} s in all"
        f" (longest {max(pauses, default=0):.2f} s); at 29/s the sender's own spacing is 0.034 s",
        f"  chats with several messages: {len(multi)}, smallest gap within a chat"
        f" {min(gaps, default=0):.2f} s, their last message after"
        f" {', '.join(f'{done:.1f}' for done in sorted(multi_done))} s",
        f"  goal >= {GOAL_SHARE:.0%} of the limit with zero 429s: {'met' if met else 'NOT met'}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=600, help="one nudge each")
    parser.add_argument("--chats", type=int, default=5, help="chats with several messages")
    parser.add_argument("--per-chat", type=int, default=6, help="messages to each of those")
    parser.add_argument("--spread", action="store_true", help="scatter those, not in a row")
    databases.add_arguments(parser)
    parser.add_argument("--in-process", action="store_true", help="sandbox in this process")
    parser.add_argument("--timeout", type=float, default=120.0, help="give up after (s)")
    parser.add_argument(
        "--rate", type=float, default=RATE, help="the sender's pace; above 30 lifts the limits"
    )
    args = parser.parse_args()
    args.chats = max(1, min(args.chats, ORDERS))
    where = "this process" if args.in_process else "a child process"
    print(
        f"outbox: {args.users} users x 1 nudge + {args.chats} chats x {args.per_chat} relays"
        f" ({'scattered' if args.spread else 'in a row'}); sandbox in {where}, "
        + (
            f"limits lifted, the sender's pace {args.rate:g}/s"
            if args.rate > LIMIT_PER_SECOND
            else "default limits (30/s per bot, 1/s per chat, burst 4)"
        ),
        flush=True,
    )
    databases.run_on_each(args, "outbox", lambda url: run_once(url, args))


if __name__ == "__main__":
    main()
