"""A chaos day: a compressed busy day through the local Bot API server while things break.

    python -m bench.chaos [--minutes 10] [--seed 1] [--database sqlite|postgresql]

The bot runs as ``timebank run`` (``python -m bot.cli run``, long polling, its sweep every
second) against ``python -m sandbox`` in a child process. Residents (members with credit)
place requests (through ``core.orders``, as the finished ask-for-help conversation does) and
sometimes cancel them; the bot's sweep nudges the volunteers; volunteers tap "✅ Accept",
"✔️ Done" and "As estimated" on the bot's messages; residents tap the five stars that
confirm and pay; everybody sends /help now and then and waits for its answer.

Meanwhile the bot process is killed with SIGKILL 1-10 s after it starts polling, and started
again; the sandbox injects 429s, 5xx, dropped connections (before and after the work is
done) and latency; on
PostgreSQL (a scratch database on the server of ``TIMEBANK_DATABASE_URL``, else
127.0.0.1:5432) a connection to the day's database is terminated now and then; with
``TIMEBANK_REDIS_URL`` set, the Redis clients of that URL's database are killed now and then
(use a database number of your own). Then the faults stop, the bot runs undisturbed until the
sandbox is quiet, and the day is checked: ``verify_ledger`` clean, no order in an impossible
state, no order paid twice, no volunteer nudged twice for one order, no stored conversation
left mid-step; /help commands without an answer are lost; repeated nudges and notices (the
same text to the same chat) are duplicates, counted from the sandbox's transcript. Two
documented at-least-once windows are counted apart, by name: an extra answer to /help when
the bot was killed after that /help was sent (a read-only update is not recorded as
handled, so its redelivery is answered again), and a message sent again because the
connection of its sendMessage was dropped after Telegram had sent it (the caller saw a
network error, so the sender, or the handler run again, tried once more). Any other repeat
is a duplicate. The figures name each kind of tap, and how the day's orders ended.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import func, select

from bench.e2e import TOKEN, Database, bot_env, drop_database, prepare_database
from bench.processes import ROOT, Child, sandbox_process

BRANCH = "luoshan"
BRANCH_AT = (31.2135, 121.5560)
TAG = "Chaos task #"
FAULTY_METHODS = ("sendMessage", "editMessageText", "answerCallbackQuery", "getUpdates")
VOLUNTEER_TAPS = ("As estimated", "✔️ Done", "✅ Accept")  # the furthest step first
RESIDENT_TAPS = ("⭐⭐⭐⭐⭐", "Skip")
HELP = "/help"


@dataclass
class Figures:
    kills: int = 0
    faults: int = 0
    db_kills: int = 0
    redis_kills: int = 0
    orders: int = 0
    cancels: int = 0
    taps: int = 0
    helps: int = 0
    updates: int = 0
    lost: int = 0
    answered_again: int = 0  # /help answered again after a kill: the at-least-once window
    resent: int = 0  # a message sent again after its sendMessage was dropped after the work
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)


class Day:
    """The sandbox, the bot process and the database of one chaos day."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.rng = random.Random(args.seed)
        self.figures = Figures()
        self.residents: dict[int, int] = {}  # sandbox user id → member id
        self.volunteers: dict[int, int] = {}
        self.help_sent: Counter[int] = Counter()
        self.steps: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self.duplicated: list[str] = []
        self.kill_seqs: list[int] = []  # the sandbox's event counter just after each kill
        self.pending_helps: list[Counter[int]] = []  # each chat's /help unconfirmed at each kill
        # The sandbox's event counter as each "drop after the work" of sendMessage was set:
        # the next message the bot sends is the one whose answer is lost.
        self.drop_after_seqs: list[int] = []
        self.tapped: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()
        self.resent_kinds: Counter[str] = Counter()
        self.dropped: set[int] = set()
        self.bot_errors: Counter[str] = Counter()
        self.stop = asyncio.Event()
        self.bot: Child | None = None
        self.bot_lock = asyncio.Lock()

    # ------------------------------------------------------------------ sandbox calls
    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        async with self.http.request(method, self.base_url + path, **kw) as response:
            data = await response.json(content_type=None)
        if not data.get("ok"):
            raise RuntimeError(f"{method} {path}: {data}")
        return data

    async def chat(self, user_id: int) -> dict[str, Any]:
        return await self.call("GET", f"/sandbox/chats/{user_id}")

    # ------------------------------------------------------------------ set-up
    async def people(self, sessions: Any) -> None:
        from core import catalog, ledger, matching, volunteers
        from core.db import transaction, utcnow
        from core.models import Category, Identity, Member

        async with transaction(sessions, write=True) as session:
            branch = await catalog.branch_by_code(session, BRANCH)
            repairs = await session.scalar(select(Category.id).where(Category.code == "repairs"))
        for n in range(self.args.residents + self.args.volunteers):
            resident = n < self.args.residents
            name = f"{'Resident' if resident else 'Volunteer'} {n}"
            data = await self.call(
                "POST",
                "/sandbox/users",
                json={"first_name": name, "language_code": "en", "started": True},
            )
            user_id = int(data["user"]["id"])
            async with transaction(sessions, write=True) as session:
                row = Member(
                    name=name,
                    language="en",
                    branch_id=branch.id,
                    onboarded_at=utcnow(),
                    is_resident=resident,
                    is_volunteer=not resident,
                    verified=not resident,
                    home_latitude=round(BRANCH_AT[0] + 0.001 * (n + 1), 4),
                    home_longitude=BRANCH_AT[1],
                )
                session.add(row)
                await session.flush()
                session.add(
                    Identity(platform="telegram", external_id=str(user_id), member_id=row.id)
                )
                member_id = int(row.id)
                if resident:
                    account = await ledger.open_member_account(session, member_id, branch.id)
                    await ledger.grant(session, account.id, 6000, key=f"chaos:grant:{member_id}")
                else:
                    profile = await volunteers.profile(session, member_id)
                    profile.skills = matching.skill_bit(repairs)
                    profile.max_distance_m = 5000
            (self.residents if resident else self.volunteers)[user_id] = member_id
        self.repairs = repairs

    # ------------------------------------------------------------------ the bot process
    def bot_child(self) -> Child:
        env = bot_env(self.db_url, self.base_url)
        env.update(TIMEBANK_SWEEP_SECONDS="1", TIMEBANK_LOG_LEVEL="WARNING")
        if os.environ.get("TIMEBANK_REDIS_URL"):
            env["TIMEBANK_REDIS_URL"] = os.environ["TIMEBANK_REDIS_URL"]
        return Child(
            f"bot-{self.figures.kills}", [sys.executable, "-m", "bot.cli", "run"], env, self.work
        )

    async def start_bot(self) -> None:
        self.bot = self.bot_child()
        await self.bot.start()

    async def polls(self) -> int:
        calls = (await self.call("GET", "/sandbox/api_calls"))["api_calls"]
        return int(calls.get("getupdates", 0))

    async def ready(self) -> None:
        """Until the bot (just started) polls: importing it took 2-3 min at load 20, and a
        kill before it polls would only kill an import, leaving the day without a bot."""
        before = await self.polls()
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not self.stop.is_set():
            if await self.polls() > before or self.bot_exited():
                return
            await asyncio.sleep(0.1)

    def bot_exited(self) -> bool:
        """Whether the bot process ended by itself (a database connection terminated while
        `timebank run` migrated at its start ends it with a traceback)."""
        return (
            self.bot is not None
            and self.bot.process is not None
            and self.bot.process.returncode is not None
        )

    async def killer(self) -> None:
        """SIGKILL the bot at a random moment 1-10 s after it started polling; start it again.
        (Starting takes 15-30 s on a loaded machine: killed sooner, the bot would spend the
        day starting, and no order would get from Accept to the stars that pay.)"""
        while not self.stop.is_set():
            await self.ready()
            await self.pause(1, 10)
            if self.stop.is_set():
                return
            async with self.bot_lock:
                assert self.bot is not None and self.bot.process is not None
                if self.bot.process.returncode is not None:
                    last = self.bot.tail().strip().splitlines()[-1:]
                    self.figures.problems.append(f"the bot exited by itself: {last}")
                else:
                    self.bot.process.send_signal(signal.SIGKILL)
                    await self.bot.process.wait()
                    self.figures.kills += 1
                    self.kill_seqs.append(int((await self.call("GET", "/sandbox/health"))["seq"]))
                    self.pending_helps.append(await self.pending_help())
                await self.start_bot()

    async def pending_help(self) -> Counter[int]:
        """Each chat's /help the killed bot had not confirmed: the next bot gets them again.
        (The sandbox shows the first 100 pending updates; any beyond count as duplicates.)"""
        bot = (await self.call("GET", f"/sandbox/bots/{TOKEN}"))["bot"]
        return Counter(
            int(u["message"]["chat"]["id"])
            for u in bot["updates"]
            if (u.get("message") or {}).get("text") == HELP
        )

    # ------------------------------------------------------------------ faults
    async def faults(self) -> None:
        while not self.stop.is_set():
            await self.pause(0.5, 2)
            method = self.rng.choice(FAULTY_METHODS)
            kind = self.rng.choice(["429", "5xx", "drop", "drop-after", "latency"])
            spec: dict[str, Any] = {"method": method, "times": 1}
            if kind == "429":
                spec.update(kind="error", status=429, retry_after=1)
            elif kind == "5xx":
                spec.update(kind="error", status=self.rng.choice([500, 502, 503]))
            elif kind.startswith("drop"):
                spec.update(kind="drop", after=kind == "drop-after")
            else:
                spec.update(kind="latency", latency=round(self.rng.uniform(0.3, 2.0), 2), times=3)
            await self.call("POST", "/sandbox/faults", json=spec)
            self.figures.faults += 1
            if kind == "drop-after" and method == "sendMessage":
                seq = int((await self.call("GET", "/sandbox/health"))["seq"])
                self.drop_after_seqs.append(seq)

    async def database_killer(self) -> None:
        import asyncpg

        name = urlsplit(self.db_url).path.lstrip("/")
        while not self.stop.is_set():
            await self.pause(3, 8)
            connection = await asyncpg.connect(self.admin_url)
            try:
                pids = await connection.fetch(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()",
                    name,
                )
                if pids:
                    pid = self.rng.choice(pids)["pid"]
                    await connection.execute("SELECT pg_terminate_backend($1)", pid)
                    self.figures.db_kills += 1
            finally:
                await connection.close()

    async def redis_killer(self, url: str) -> None:
        from redis.asyncio import Redis

        client = Redis.from_url(url)
        db = int(urlsplit(url).path.lstrip("/") or 0)
        try:
            me = await client.client_id()
            while not self.stop.is_set():
                await self.pause(3, 8)
                for entry in await client.client_list():
                    if int(entry.get("db", -1)) == db and int(entry["id"]) != me:
                        await client.execute_command("CLIENT", "KILL", "ID", entry["id"])
                        self.figures.redis_kills += 1
        finally:
            await client.aclose()

    # ------------------------------------------------------------------ people
    async def pause(self, low: float, high: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), self.rng.uniform(low, high))

    async def resident(self, user_id: int, sessions: Any) -> None:
        from core import ledger, orders
        from core.db import utcnow
        from core.orders import HelpRequest, Place
        from core.schedule import When

        member_id = self.residents[user_id]
        n = 0
        while not self.stop.is_set():
            await self.pause(1, 4)
            if self.stop.is_set():
                return
            await self.tap(user_id, RESIDENT_TAPS)
            roll = self.rng.random()
            try:
                if roll < 0.35:
                    n += 1
                    request = HelpRequest(
                        category_id=self.repairs,
                        when=When.day_part((utcnow() + timedelta(days=1)).date(), "afternoon"),
                        place=Place(kind="address", address="12 Luoshan Road"),
                        estimated_minutes=60,
                        description=f"{TAG}{member_id}-{n}",
                    )
                    key = f"chaos:{self.args.seed}:{member_id}:{n}"
                    await ledger.atomically(
                        sessions,
                        lambda s, request=request, key=key: orders.place_order(
                            s,
                            requester_id=member_id,
                            beneficiary_id=member_id,
                            request=request,
                            key=key,
                            max_open=3,
                        ),
                    )
                    self.figures.orders += 1
                elif roll < 0.45:
                    await self.cancel_one(sessions, member_id)
                elif roll < 0.7:
                    await self.ask_help(user_id)
            except Exception as exc:  # refusals (too many open requests), killed connections
                self.refusals[type(exc).__name__] += 1
                await asyncio.sleep(0.2)

    async def cancel_one(self, sessions: Any, member_id: int) -> None:
        from core import ledger, orders
        from core.models import Order, OrderStatus

        async with sessions() as session:
            order_id = await session.scalar(
                select(Order.id).where(
                    Order.requester_id == member_id, Order.status == OrderStatus.OPEN
                )
            )
        if order_id is None:
            return
        await ledger.atomically(
            sessions,
            lambda s: orders.cancel_order(
                s,
                order_id=order_id,
                actor_id=member_id,
                reason="chaos",
                key=f"chaos:cancel:{order_id}",
            ),
        )
        self.figures.cancels += 1

    async def volunteer(self, user_id: int) -> None:
        while not self.stop.is_set():
            await self.pause(0.5, 3)
            if self.stop.is_set():
                return
            with contextlib.suppress(aiohttp.ClientError, RuntimeError):
                await self.tap(user_id, VOLUNTEER_TAPS)
                if self.rng.random() < 0.2:
                    await self.ask_help(user_id)

    async def tap(self, user_id: int, labels: tuple[str, ...]) -> None:
        """Press the newest inline button of the chat that starts with the first of `labels`
        found there: the step that carries an order furthest (Done before a newer nudge's
        Accept), so that a busy day reaches the stars that confirm and pay."""
        messages = [
            m
            for m in reversed((await self.chat(user_id))["messages"])
            if m.get("from") == "bot" and not m.get("deleted")
        ]
        for label in labels:
            for message in messages:
                markup = message.get("reply_markup") or {}
                for row in markup.get("inline_keyboard", []):
                    for button in row:
                        if button.get("callback_data") and button["text"].startswith(label):
                            await self.call(
                                "POST",
                                f"/sandbox/chats/{user_id}/press",
                                json={
                                    "message_id": message["message_id"],
                                    "callback_data": button["callback_data"],
                                },
                            )
                            self.figures.taps += 1
                            self.tapped[label] += 1
                            return

    async def ask_help(self, user_id: int) -> None:
        """/help, then wait (up to 60 s: kills and faults slow it) for one more /help answer."""
        before = self.help_answers(await self.chat(user_id))
        await self.call("POST", f"/sandbox/chats/{user_id}/command", json={"command": HELP})
        self.help_sent[user_id] += 1
        self.figures.helps += 1
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not self.stop.is_set():
            await asyncio.sleep(0.5)
            if self.help_answers(await self.chat(user_id)) > before:
                return

    def help_answers(self, chat: dict[str, Any]) -> int:
        return sum(
            1
            for m in chat["messages"]
            if m.get("from") == "bot" and m.get("text") == self.help_text
        )

    # ------------------------------------------------------------------ the day
    async def run(self) -> Figures:
        async with sandbox_process(TOKEN, rate_limits=False, log_dir=self.work) as running:
            self.base_url = running.base_url
            async with aiohttp.ClientSession() as self.http:
                db = await self.database()
                try:
                    await self.day(db)
                finally:
                    await drop_database(db)
        return self.figures

    async def database(self) -> Database:
        if self.args.database == "sqlite":
            spec = "sqlite"
        else:
            given = os.environ.get("TIMEBANK_DATABASE_URL", "")
            server = given.rsplit("/", 1)[0] if given.startswith("postgres") else ""
            base = server or "postgresql://postgres@127.0.0.1:5432"
            spec = f"{base.rstrip('/')}/timebank_chaos_{os.getpid()}"
        db = await prepare_database(spec, self.work, self.base_url, ROOT)
        self.db_url = db.url
        self.admin_url = db.admin_url
        return db

    async def day(self, db: Database) -> None:
        from core.config import async_database_url
        from core.db import create_engine, session_factory

        engine = create_engine(async_database_url(self.db_url))
        sessions = session_factory(engine)
        try:
            await self.people(sessions)
            await self.start_bot()
            first = next(iter(self.residents))
            await self.call("POST", f"/sandbox/chats/{first}/command", json={"command": HELP})
            self.help_sent[first] += 1
            self.help_text = await self.first_bot_text(first)
            workers = [self.killer(), self.faults()]
            if self.args.database == "postgresql":
                workers.append(self.database_killer())
            if os.environ.get("TIMEBANK_REDIS_URL"):
                workers.append(self.redis_killer(os.environ["TIMEBANK_REDIS_URL"]))
            workers += [self.resident(u, sessions) for u in self.residents]
            workers += [self.volunteer(u) for u in self.volunteers]
            tasks = [asyncio.create_task(w) for w in workers]
            await asyncio.sleep(self.args.minutes * 60)
            self.stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
            for result in results:
                if isinstance(result, BaseException):
                    self.figures.problems.append(f"a worker failed: {result!r}")
            await self.call("DELETE", "/sandbox/faults")
            async with self.bot_lock:
                assert self.bot is not None and self.bot.process is not None
                if self.bot.process.returncode is not None:
                    await self.start_bot()
            await self.quiet()
            await self.bot.stop()
            await self.check(sessions)
        finally:
            if (
                self.bot is not None
                and self.bot.process is not None
                and self.bot.process.returncode is None
            ):
                self.bot.process.kill()
                await self.bot.process.wait()
            await engine.dispose()

    async def first_bot_text(self, user_id: int) -> str:
        """The answer to the day's first /help: importing and starting the bot took over
        three minutes on a busy machine (2 cores, load 17)."""
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            messages = [m for m in (await self.chat(user_id))["messages"] if m.get("from") == "bot"]
            if messages:
                return str(messages[0]["text"])
            await asyncio.sleep(0.1)
        raise RuntimeError(f"the bot never answered /help:\n{self.bot.tail() if self.bot else ''}")

    async def quiet(self, still: float = 5.0, longest: float = 600.0) -> None:
        """Until the bot confirmed every update and the sandbox has seen nothing for `still`
        seconds (the bot's sweep answers getUpdates, which is no event), or `longest`. A bot
        that takes minutes to start on a busy machine is not taken for one that lost them."""
        deadline = time.monotonic() + longest
        seq = -1
        while time.monotonic() < deadline:
            now = int((await self.call("GET", "/sandbox/health"))["seq"])
            bots = (await self.call("GET", "/sandbox/bots"))["bots"]
            if now == seq and not any(b["pending_update_count"] for b in bots):
                return
            seq = now
            await asyncio.sleep(still)

    # ------------------------------------------------------------------ the checks
    async def check(self, sessions: Any) -> None:
        from core.ledger import verify_ledger
        from core.ledger.tables import LedgerTransaction
        from core.models import Nudge, Order, OrderStatus

        figures = self.figures
        report = await verify_ledger(sessions)
        if not report.ok:
            figures.problems.append(f"ledger: {report.summary}")
        async with sessions() as session:
            for order in await session.scalars(select(Order)):
                staffed = order.status in (
                    OrderStatus.ACCEPTED,
                    OrderStatus.DONE,
                    OrderStatus.CONFIRMED,
                )
                if staffed and order.volunteer_id is None:
                    figures.problems.append(
                        f"order {order.id} is {order.status} without a volunteer"
                    )
                if order.status == OrderStatus.OPEN and order.volunteer_id is not None:
                    figures.problems.append(f"order {order.id} is open with a volunteer")
            paid_twice = await session.execute(
                select(LedgerTransaction.order_id, LedgerTransaction.kind, func.count())
                .where(LedgerTransaction.order_id.is_not(None))
                .group_by(LedgerTransaction.order_id, LedgerTransaction.kind)
                .having(func.count() > 1)
            )
            for order_id, kind, count in paid_twice:
                figures.problems.append(f"order {order_id}: {count} {kind} postings")
            nudged_twice = await session.execute(
                select(Nudge.order_id, Nudge.member_id, func.count())
                .group_by(Nudge.order_id, Nudge.member_id)
                .having(func.count() > 1)
            )
            for order_id, member_id, count in nudged_twice:
                figures.problems.append(
                    f"order {order_id}: member {member_id} nudged {count} times"
                )
            by_status = await session.execute(
                select(Order.status, func.count()).group_by(Order.status)
            )
            for status, count in by_status:
                self.outcomes[str(getattr(status, "value", status))] = int(count)
            self.confirmed = self.outcomes.get(str(OrderStatus.CONFIRMED.value), 0)
        await self.check_transcripts()
        await self.check_conversations(sessions)
        self.read_bot_errors()

    def read_bot_errors(self) -> None:
        """ERROR lines of every bot process, by the first line of their event."""
        for log in self.work.glob("bot-*.log"):
            for line in log.read_text(errors="replace").splitlines():
                if '"level": "error"' in line:
                    try:
                        event = str(json.loads(line).get("event", ""))
                    except ValueError:
                        event = line
                    self.bot_errors[event.split("\n")[-1][:120]] += 1

    async def check_transcripts(self) -> None:
        figures = self.figures
        events = (await self.call("GET", "/sandbox/events", params={"after": "0"}))["events"]
        figures.updates = sum(
            1
            for e in events
            if e.get("by") == "user" and e.get("type") in ("message", "callback_query")
        )
        chats = {u: await self.chat(u) for u in [*self.residents, *self.volunteers]}
        self.find_dropped(chats)
        if self.args.keep:  # to look into a repeat after the day
            kept = {
                "kills": self.kill_seqs,
                "pending_helps": self.pending_helps,
                "drops_after": self.drop_after_seqs,
                "chats": chats,
            }
            (self.work / "transcript.json").write_text(json.dumps(kept, ensure_ascii=False))
        for user_id, chat in chats.items():
            answers = self.help_answers(chat)
            figures.lost += max(0, self.help_sent[user_id] - answers)
            self.count_help_answered_again(user_id, chat)
            copies: dict[str, list[dict[str, Any]]] = {}
            for m in sorted(chat["messages"], key=lambda m: m["seq"]):
                if m.get("from") == "bot" and TAG in (m.get("text") or "") and not m.get("edited"):
                    copies.setdefault(m["text"], []).append(m)
            for text, sent in copies.items():
                for previous, again in itertools.pairwise(sent):
                    self.count_again(user_id, text, previous, again)

    def find_dropped(self, chats: dict[int, dict[str, Any]]) -> None:
        """The bot's messages whose sendMessage answer was dropped after the work: for each
        such fault, the first message the bot sent after it was set."""
        sent = sorted(
            m["seq"] for chat in chats.values() for m in chat["messages"] if m.get("from") == "bot"
        )
        self.dropped: set[int] = set()
        for seq in self.drop_after_seqs:
            victim = next((s for s in sent if s > seq and s not in self.dropped), None)
            if victim is not None:
                self.dropped.add(victim)

    def count_again(
        self, user_id: int, text: str, previous: dict[str, Any], again: dict[str, Any]
    ) -> None:
        """A message sent again: the at-least-once window when its previous copy's answer was
        dropped after Telegram had sent it (the sender tried again); else a duplicate."""
        kind = "nudge" if previous.get("reply_markup") else "notice"
        if previous["seq"] in self.dropped:
            self.figures.resent += 1
            self.resent_kinds[kind] += 1
            return
        killed = any(previous["seq"] < k < again["seq"] for k in self.kill_seqs)
        self.figures.duplicates += 1
        self.duplicated.append(
            f"{kind} to {user_id}{' (a kill between)' if killed else ''}: {text[:60]!r}"
        )

    def count_help_answered_again(self, user_id: int, chat: dict[str, Any]) -> None:
        """Answers to /help beyond the /help sent so far. Two are the documented
        at-least-once window: a /help that a killed bot had answered but not confirmed
        (read-only, not recorded as handled; the offset stays at the oldest update in
        flight, so it may be several bot lives old) comes back to the next bot and is
        answered again; and an answer whose sendMessage was dropped after the work is sent
        again. So at each kill, the chat's /help still pending in the sandbox, less those
        not answered yet, may each be answered once more; a dropped answer explains one.
        Any other is a duplicate."""
        owed = 0  # /help not answered yet
        unconfirmed = 0  # /help answered, which the latest kill left to be answered again
        resend = 0  # answers whose connection was dropped after they were sent
        kills = sorted(zip(self.kill_seqs, self.pending_helps, strict=True), key=lambda k: k[0])
        for message in sorted(chat["messages"], key=lambda m: m["seq"]):
            while kills and kills[0][0] < message["seq"]:
                _seq, pending = kills.pop(0)
                unconfirmed = max(0, pending[user_id] - owed)
            if message.get("from") == "user" and message.get("text") == HELP:
                owed += 1
            elif message.get("from") == "bot" and message.get("text") == self.help_text:
                if owed:
                    owed -= 1
                elif resend:
                    resend -= 1
                    self.figures.resent += 1
                    self.resent_kinds["/help answer"] += 1
                elif unconfirmed:
                    unconfirmed -= 1
                    self.figures.answered_again += 1
                else:
                    self.figures.duplicates += 1
                    self.duplicated.append(
                        f"/help answered twice to {user_id} without a kill (seq {message['seq']})"
                    )
                if message["seq"] in self.dropped:
                    resend += 1

    async def check_conversations(self, sessions: Any) -> None:
        """Every stored conversation of the day's people is at a step the bot knows."""
        from aiogram.fsm.state import StatesGroup

        import bot.app  # noqa: F401 - loads every conversation's states
        from core.models import ConversationState

        known: set[str] = set()
        groups = list(StatesGroup.__subclasses__())
        while groups:
            group = groups.pop()
            groups += group.__subclasses__()
            known.update(group.__all_states_names__)
        people = [str(u) for u in [*self.residents, *self.volunteers]]
        async with sessions() as session:
            rows = list(await session.scalars(select(ConversationState)))
        for row in rows:
            if not any(f":{u}:" in f"{row.key}:" for u in people) or row.state is None:
                continue
            self.steps[row.state] += 1
            if row.state not in known:
                self.figures.problems.append(f"{row.key} is at an unknown step {row.state!r}")


def print_figures(args: argparse.Namespace, day: Day, elapsed: float) -> None:
    f = day.figures
    print(
        f"bench.chaos: {args.database}, seed {args.seed}, {args.minutes:g} min of chaos "
        f"({elapsed:.0f} s in all), {args.residents} residents, {args.volunteers} volunteers"
    )
    print(f"kills survived     {f.kills}")
    print(
        f"faults injected    {f.faults + f.db_kills + f.redis_kills} "
        f"(sandbox {f.faults}, database connections {f.db_kills}, redis clients {f.redis_kills})"
    )
    print(f"updates handled    {f.updates} (taps {f.taps}, /help {f.helps})")
    taps = ", ".join(f"{n} {label}" for label, n in day.tapped.most_common()) or "none"
    print(f"taps by kind       {taps}")
    print(
        f"orders             {f.orders} placed, {f.cancels} cancelled, "
        f"{getattr(day, 'confirmed', 0)} confirmed and paid"
    )
    ends = ", ".join(f"{n} {status}" for status, n in sorted(day.outcomes.items())) or "none"
    print(f"orders at the end  {ends}")
    refused = ", ".join(f"{n} {name}" for name, n in day.refusals.most_common()) or "none"
    print(f"refused or failed  {refused} (the residents' own calls, retried)")
    print(f"duplicates         {f.duplicates}")
    print(
        f"at-least-once      {f.answered_again} /help answered again after a kill (read-only, "
        f"not recorded as handled); {f.resent} sent again after a dropped connection after "
        f"the work ({', '.join(f'{n} {k}' for k, n in day.resent_kinds.items()) or 'none'})"
    )
    for sample in day.duplicated[:5]:
        print(f"  = {sample}")
    print(f"lost               {f.lost}")
    steps = ", ".join(f"{n} at {state}" for state, n in day.steps.most_common()) or "none"
    print(f"conversations      {steps}")
    print(f"bot ERROR lines    {sum(day.bot_errors.values())}")
    for event, n in day.bot_errors.most_common(5):
        print(f"  {n:>4} {event}")
    print(f"problems           {len(f.problems)}")
    for problem in f.problems:
        print(f"  ! {problem}")


async def main(args: argparse.Namespace) -> Day:
    work = Path(tempfile.mkdtemp(prefix="timebank-chaos-"))
    day = Day(args, work)
    started = time.monotonic()
    try:
        await day.run()
    finally:
        if args.keep:
            print(f"logs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print_figures(args, day, time.monotonic() - started)
    return day


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    p.add_argument("--residents", type=int, default=4)
    p.add_argument("--volunteers", type=int, default=6)
    p.add_argument("--keep", action="store_true", help="keep the logs and the transcript")
    return p


def cli() -> None:
    args = parser().parse_args()
    day = asyncio.run(main(args))
    f = day.figures
    sys.exit(0 if not f.problems and not f.lost else 1)


if __name__ == "__main__":
    cli()
