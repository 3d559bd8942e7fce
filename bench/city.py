"""A simulated city day through the local Bot API server: the real bot, a city-sized database.

    python -m bench.city [--members 100000] [--active 1000] [--minutes 4] [--orders 600]
                         [--database sqlite | postgresql://postgres@127.0.0.1:5432/SCRATCH]
                         [--mode polling|webhook] [--workers N --redis URL] [--seed 7]
                         [--profile DIR]

Seeds the demo (``seed-demo``), then ``--members`` members spread over the demo's first
three branches (in each branch two thirds residents and a third volunteers with skills, a
place and availability), with Core bulk inserts. ``--active`` of them are sandbox users,
the ones who tap during the day: residents and volunteers in every branch, living near
their branch's centre (the others at least ~1 km out, so that the active volunteers are
the nearest and get the nudges); the active volunteers offer every category at every hour
in every language, and the active residents hold credit. The others only make the
database city-sized: their chat ids are unknown to the sandbox, which refuses what is
sent to them (the outbox skips it, as for a member who left Telegram).

Then the day, compressed into ``--minutes``, the bot sweeping every ``--sweep-seconds``:

- every active member taps about ``--taps`` times at the day's rhythm (a morning and an
  evening peak): ``/help``, the passbook and the main menu;
- ``--orders`` requests for help at the same rhythm, a quarter of them through the
  ask-for-help wizard (the member taps the bot's buttons and types the description and
  the address), the others placed directly with ``core.orders.place_order``;
- the sweep nudges volunteers; an active volunteer who is nudged taps Accept, and for
  ``--races`` of the orders two or three tap it at nearly the same time (one must win);
- the winner taps Done a little later and says how long it took; the requester confirms
  with five stars and skips the thank-you note: the credit is posted;
- at 60 % of the day the coordinator's market-day announcement (the demo's broadcast with
  "I'll come") goes to everyone in its branch, and ``--come`` of the active recipients tap
  "I'll come".

A member taps one thing at a time and waits for the bot's answer (the wizard's steps in
a row; a background tap on a busy chat is not made). Reply latency is taken from the
sandbox's own event times (the user's update → the bot's first reply in that chat: a
message the outbox did not send, an edit, or the answer to that very button), per kind of
tap; the pairing and the checks on the event stream are in `bench.city_day`. Then:
updates/s, the bot's CPU per update (its whole process tree), the outbox (messages sent,
notice wait from enqueue to sent, the announcements sent and not), RSS/PSS/USS per bot
process, the database's size, and the checks: ``timebank ledger verify``, no update
answered twice, every race one winner, no order accepted or paid twice, the credits
posted equal to the minutes confirmed. ``--profile DIR`` records the bot with py-spy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select, text, update

from bench import city_day as cd
from bench import procstats
from bench.e2e import (
    Profiler,
    Sandbox,
    bot_env,
    drop_database,
    empty_redis,
    percentile,
    prepare_database,
    real_bot,
    run_quiet,
    sandbox_with_client,
    settle,
)
from bench.processes import ROOT, Child
from bot.pace import RATE
from core import broadcasts, catalog, ledger, matching, orders
from core.config import async_database_url
from core.db import create_engine, session_factory, transaction, utcnow
from core.demo import DEMO_ANNOUNCEMENT_KEY
from core.ledger.tables import LedgerEntry, LedgerTransaction
from core.models import (
    Branch,
    Category,
    Identity,
    Member,
    Order,
    OrderEvent,
    OrderStatus,
    OutboxMessage,
    OutboxStatus,
    VolunteerProfile,
)
from core.schedule import When
from tests.bot.lang import t

WEIGHTS = {"help": 30, "passbook": 40, "menu": 30}
LANGUAGES = ("zh_Hans", "ko", "en")
BATCH = 5_000
PLATFORM = "telegram"
EVERY_HOUR = (1 << 21) - 1  # the availability bits: 7 days × 3 parts
ACTIVE_SPREAD = 0.002  # degrees around the branch centre (~200 m) where active members live
GRANT = 1_200  # minutes each active resident holds
REPLY_TIMEOUT = 30.0
UNKNOWN_CHATS = 9_000_000_000


Waiter = tuple[Callable[[dict[str, Any]], bool], asyncio.Future[dict[str, Any]]]


@dataclass(frozen=True)
class Citizen:
    member_id: int
    chat: int
    language: str
    volunteer: bool
    latitude: float
    longitude: float


# ---------------------------------------------------------------------- the city
def offset(rng: random.Random, spread: float, hole: float) -> tuple[float, float]:
    """Degrees north and east of a branch's centre, within `spread` and outside `hole`.
    The others live at least ~1 km out, so an order near the centre nudges the active
    volunteers first (matching ranks by 500 m band, then by fewest recent helps)."""
    while True:
        north, east = rng.uniform(-spread, spread), rng.uniform(-spread, spread)
        if max(abs(north), abs(east)) >= hole:
            return north, east


async def seed_city(url: str, members: int, chats: list[int], rng: random.Random) -> list[Citizen]:
    """Members in three branches; the first len(chats) of them are the sandbox's users.
    Branch and role are independent (n % 3 and n // 3 % 3), so every branch has both."""
    engine = create_engine(url)
    try:
        sessions = session_factory(engine)
        async with sessions() as session:
            branches = list(await session.scalars(select(Branch).order_by(Branch.id).limit(3)))
            categories = list(await session.scalars(select(Category.id)))
            first = int(await session.scalar(select(func.max(Member.id))) or 0) + 1
        every_skill = sum(matching.skill_bit(c) for c in categories)
        now = utcnow()
        rows, identities, profiles, active = [], [], [], []
        for n in range(members):
            branch = branches[n % len(branches)]
            member_id = first + n
            volunteer = n // 3 % 3 == 2
            is_active = n < len(chats)
            north, east = offset(rng, ACTIVE_SPREAD, 0.0) if is_active else offset(rng, 0.1, 0.01)
            latitude = round((branch.latitude or 0.0) + north, 4)
            longitude = round((branch.longitude or 0.0) + east, 4)
            language = rng.choice(LANGUAGES)
            rows.append(
                {
                    "id": member_id, "name": f"citizen {n}", "language": language,
                    "branch_id": branch.id, "is_resident": not volunteer,
                    "is_volunteer": volunteer, "is_coordinator": False, "verified": True,
                    "sponsored": False, "home_latitude": latitude, "home_longitude": longitude,
                    "created_at": now, "onboarded_at": now,
                }
            )  # fmt: skip
            # A chat id the sandbox does not know: what is sent there is refused ("chat
            # not found") and skipped, as for a member who left Telegram.
            external = str(chats[n] if is_active else UNKNOWN_CHATS + n)
            identities.append(
                {"platform": PLATFORM, "external_id": external, "member_id": member_id,
                 "created_at": now}
            )  # fmt: skip
            if is_active:
                active.append(
                    Citizen(member_id, chats[n], language, volunteer, latitude, longitude)
                )
            if volunteer:
                skills = sum(matching.skill_bit(c) for c in categories if rng.random() < 0.25)
                profiles.append(
                    {
                        "member_id": member_id, "branch_id": branch.id,
                        "skills": every_skill if is_active
                        else skills or matching.skill_bit(categories[0]),
                        "availability": EVERY_HOUR if is_active else rng.getrandbits(21),
                        "quiet_start": None if is_active else 22,
                        "quiet_end": None if is_active else 7,
                        "max_distance_m": 5000 if is_active else 3000,
                        "languages": list(LANGUAGES) if is_active else [language],
                        "paused": False, "max_open": 10 if is_active else 2,
                        "latitude": latitude, "longitude": longitude,
                        "cell": matching.cell_of(latitude, longitude),
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
            # seed-demo sent the market-day announcement: it goes out at 60 % of the day.
            await connection.execute(
                update(broadcasts.Broadcast)
                .where(broadcasts.Broadcast.key == DEMO_ANNOUNCEMENT_KEY)
                .values(status=broadcasts.BroadcastStatus.DRAFT, send_at=None, started_at=None)
            )
            if engine.dialect.name == "postgresql":
                await connection.execute(
                    text("SELECT setval(pg_get_serial_sequence('members', 'id'), "
                         "(SELECT max(id) FROM members))")
                )  # fmt: skip
        async with transaction(sessions, write=True) as session:
            for citizen in active:
                if not citizen.volunteer:
                    branch_id = branches[(citizen.member_id - first) % len(branches)].id
                    account = await ledger.open_member_account(
                        session, citizen.member_id, branch_id
                    )
                    await ledger.grant(
                        session, account.id, GRANT, key=f"city:grant:{citizen.member_id}"
                    )
        return active
    finally:
        await engine.dispose()


async def category_labels(sessions: Any) -> tuple[list[int], dict[str, set[str]]]:
    """The categories' ids, and their reply-button labels per language."""
    async with sessions() as session:
        found = list(await session.scalars(select(Category)))
    labels = {
        language: {f"{c.emoji} {catalog.localized(c.names, language)}" for c in found}
        for language in LANGUAGES
    }
    return [c.id for c in found if c.id is not None], labels


# ---------------------------------------------------------------------- the day
class Day:
    """The active members: what they tap, when, and what they saw (from the event stream)."""

    def __init__(
        self, sandbox: Sandbox, citizens: list[Citizen], sessions: Any, rng: random.Random,
        args: argparse.Namespace,
    ) -> None:  # fmt: skip
        self.sandbox = sandbox
        self.sessions = sessions
        self.rng = rng
        self.args = args
        self.run = uuid.uuid4().hex[:8]
        self.citizens = {c.chat: c for c in citizens}
        self.volunteers = {c.chat for c in citizens if c.volunteer}
        self.residents = [c for c in citizens if not c.volunteer]
        self.locks: dict[int, asyncio.Lock] = defaultdict(asyncio.Lock)
        self.taps: list[cd.Tap] = []
        self.events: list[dict[str, Any]] = []
        self.bot_events: dict[int, list[dict[str, Any]]] = defaultdict(list)
        self.keyboards: dict[int, list[str]] = defaultdict(list)
        self.waiters: dict[int, list[Waiter]] = defaultdict(list)
        self.last_seq = 0
        self.failures = 0
        self.pressed: set[tuple[int, str]] = set()
        self.nudged: dict[int, list[tuple[int, int, str]]] = {}  # order tag → (chat, message, data)
        self.races: list[tuple[int, list[cd.Tap]]] = []
        self.order_errors: Counter[str] = Counter()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stopping = False
        self.category_ids: list[int] = []
        self.category_labels: dict[str, set[str]] = {}

    def spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # -- the event stream ---------------------------------------------------------------
    async def pump(self) -> None:
        while not self.stopping:
            try:
                data = await self.sandbox._json(
                    "GET", "/sandbox/events", params={"after": str(self.last_seq), "timeout": "1"}
                )
            except Exception:
                await asyncio.sleep(0.2)
                continue
            for event in data["events"]:
                self.seen(event)

    def seen(self, event: dict[str, Any]) -> None:
        self.events.append(event)
        self.last_seq = max(self.last_seq, int(event["seq"]))
        chat = event.get("chat_id")
        if chat not in self.citizens or event.get("by") != "bot":
            return
        self.bot_events[chat].append(event)
        message = event.get("message") or {}
        if event.get("type") in ("message", "edit"):
            labels = cd.reply_labels(message.get("reply_markup"))
            if labels is not None and event.get("type") == "message":
                self.keyboards[chat] = labels
            if not self.stopping:
                self.react(chat, event, message)
        for waiter in list(self.waiters[chat]):
            predicate, future = waiter
            if not future.done() and predicate(event):
                future.set_result(event)
                self.waiters[chat].remove(waiter)

    async def wait_for(
        self, chat: int, predicate: Callable[[dict[str, Any]], bool], since: int
    ) -> dict[str, Any] | None:
        """The first bot event in `chat` after seq `since` that `predicate` accepts."""
        for event in self.bot_events[chat]:
            if event["seq"] > since and predicate(event):
                return event
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        waiter = (lambda e: e["seq"] > since and predicate(e), future)
        self.waiters[chat].append(waiter)
        try:
            return await asyncio.wait_for(future, REPLY_TIMEOUT)
        except TimeoutError:
            with contextlib.suppress(ValueError):
                self.waiters[chat].remove(waiter)
            return None

    # -- taps -----------------------------------------------------------------------------
    async def _act(self, chat: int, kind: str, action: str, body: dict[str, Any]) -> cd.Tap | None:
        """One update from the member (the chat's lock held by the caller), then the bot's reply."""
        try:
            result = await self.sandbox._json("POST", f"/sandbox/chats/{chat}/{action}", json=body)
        except Exception:
            self.failures += 1
            return None
        tap = cd.Tap(chat, kind, int(result["seq"]), time.time(), result.get("callback_query_id"))
        self.taps.append(tap)
        await self.wait_for(chat, lambda e: cd.is_reply(e, tap), tap.seq)
        return tap

    async def command(self, chat: int, kind: str) -> None:
        lock = self.locks[chat]
        if lock.locked():
            return  # busy with something else: this tap is not made
        async with lock:
            await self._act(chat, kind, "command", {"command": cd.COMMANDS[kind]})

    async def press(
        self, chat: int, kind: str, message_id: int, data: str, delay: float = 0.0
    ) -> cd.Tap | None:
        await asyncio.sleep(delay)
        async with self.locks[chat]:
            body = {"message_id": message_id, "callback_data": data}
            return await self._act(chat, kind, "press", body)

    def react(self, chat: int, event: dict[str, Any], message: dict[str, Any]) -> None:
        """What a member does about a bot message that asks for a tap."""
        data = cd.button(message, cd.ACCEPT)
        if data is not None:
            tag = cd.order_tag(message.get("text"))
            if event.get("type") == "message" and chat in self.volunteers and tag is not None:
                wave = self.nudged.setdefault(tag, [])
                wave.append((chat, message["message_id"], data))
                if len(wave) == 1:
                    self.spawn(self.race(tag))
            return
        step = cd.next_tap(message)
        if step is None or (chat, step[1]) in self.pressed:
            return
        kind, data = step
        self.pressed.add((chat, data))
        if kind == "I'll come" and self.rng.random() >= self.args.come:
            return
        seconds = self.args.minutes * 60
        delay = (
            self.rng.uniform(0.01, 0.04) * seconds if kind == "done"
            else self.rng.uniform(0.3, 0.01 * seconds) if kind in ("rate", "I'll come")
            else self.rng.uniform(0.3, 1.5)
        )  # fmt: skip
        self.spawn(self.press(chat, kind, message["message_id"], data, delay))

    async def race(self, tag: int) -> None:
        """The wave's nudges arrive within moments: then one, two or three tap Accept."""
        await asyncio.sleep(0.5)
        wave = self.nudged[tag]
        chosen = set(cd.racers(sorted({chat for chat, _m, _d in wave}), self.rng, self.args.races))
        picks = {chat: (message_id, data) for chat, message_id, data in wave if chat in chosen}
        async with contextlib.AsyncExitStack() as stack:
            for chat in sorted(picks):  # one order of locking: no deadlock between races
                await stack.enter_async_context(self.locks[chat])
            taps = await asyncio.gather(
                *(
                    self._act(chat, "accept", "press", {"message_id": m, "callback_data": d})
                    for chat, (m, d) in picks.items()
                )
            )
        made = [tap for tap in taps if tap is not None]
        if len(picks) > 1:
            self.races.append((tag, made))

    # -- orders ---------------------------------------------------------------------------
    async def order(self, tag: int, wizard: bool) -> None:
        citizen = self.residents[tag % len(self.residents)]
        if wizard:
            async with self.locks[citizen.chat]:
                await self.ask(citizen, tag)
            return
        request = orders.HelpRequest(
            category_id=self.rng.choice(self.category_ids),
            when=When.asap(),
            place=orders.Place.location(citizen.latitude, citizen.longitude),
            estimated_minutes=60,
            description=f"city #{tag}: a hand with the shopping",
        )
        try:
            async with transaction(self.sessions, write=True) as session:
                await orders.place_order(
                    session, requester_id=citizen.member_id, beneficiary_id=citizen.member_id,
                    request=request, key=f"city:{self.run}:{tag}", max_open=3,
                )  # fmt: skip
        except Exception as error:
            self.order_errors[type(error).__name__] += 1

    async def ask(self, citizen: Citizen, tag: int) -> None:
        """The ask-for-help wizard, tapped and typed like a member (the chat's lock held)."""
        chat, language = citizen.chat, citizen.language
        ask = t(language, "🙋 Ask for help")
        if ask not in self.keyboards[chat]:
            since = self.last_seq
            await self._act(chat, "menu", "command", {"command": "/start"})
            await self.keyboard(chat, lambda labels: ask in labels, since)
        categories = self.category_labels[language]
        soon = [t(language, "⚡ As soon as possible"), t(language, "☀️ Tomorrow afternoon")]
        Step = tuple[str, Callable[[], dict[str, Any] | None], Callable[[list[str]], bool]]
        steps: list[Step] = [
            ("ask: start", lambda: {"text": ask}, lambda labels: bool(categories & set(labels))),
            ("ask: what", lambda: {"text": next(iter(categories & set(self.keyboards[chat])))},
             lambda labels: True),
            ("ask: describe", lambda: {"text": f"city #{tag}: the kitchen tap drips"},
             lambda labels: any(label in labels for label in soon)),
            ("ask: when", lambda: {"text": next(lb for lb in soon if lb in self.keyboards[chat])},
             lambda labels: True),
        ]  # fmt: skip
        for kind, body, ready in steps:
            since = self.last_seq
            try:
                sent = body()
            except StopIteration:
                self.order_errors["wizard: no button"] += 1
                return
            if sent is None or await self._act(chat, kind, "messages", sent) is None:
                return
            if not await self.keyboard(chat, ready, since):
                self.order_errors[f"wizard: stuck after {kind}"] += 1
                return
        since = self.last_seq
        tap = await self._act(chat, "ask: where", "messages", {"text": f"{tag} Market Street"})
        if tap is None:
            return
        review = await self.wait_for(chat, lambda e: cd.button(e.get("message"), cd.SEND) is not None, since)  # fmt: skip  # noqa: E501
        if review is None:
            self.order_errors["wizard: no review"] += 1
            return
        send = cd.button(review["message"], cd.SEND)
        assert send is not None
        body = {"message_id": review["message"]["message_id"], "callback_data": send}
        await self._act(chat, "ask: send", "press", body)

    async def keyboard(self, chat: int, ready: Callable[[list[str]], bool], since: int) -> bool:
        """Wait until the bot's reply keyboard in `chat` is `ready` (it may come a moment
        after a step's first words)."""
        if ready(self.keyboards[chat]) and any(e["seq"] > since for e in self.bot_events[chat]):
            return True
        found = await self.wait_for(
            chat,
            lambda e: (
                e.get("type") == "message"
                and (labels := cd.reply_labels((e.get("message") or {}).get("reply_markup")))
                is not None
                and ready(labels)
            ),
            since,
        )
        return found is not None


async def play(day: Day, minutes: float, per_member: float, count: int, announce: Any) -> float:
    """The day: taps at the rhythm, orders on their schedule, the announcement at 60 %.
    Returns when the announcement went out (time.time())."""
    rng = day.rng
    seconds = minutes * 60
    chats = list(day.citizens)
    rate = len(chats) * per_member / seconds / cd.mean_rhythm()  # taps per second at rhythm 1
    schedule = list(
        zip(cd.order_times(count, seconds, rng), cd.by_wizard(count, 0.25, rng), strict=True)
    )
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    started = time.monotonic()
    announced_at = 0.0
    tag = 0
    step = 0.25
    while (elapsed := time.monotonic() - started) < seconds:
        share = elapsed / seconds
        for chat in rng.sample(chats, min(cd.poisson(rng, rate * cd.rhythm(share) * step), len(chats))):  # fmt: skip  # noqa: E501
            day.spawn(day.command(chat, rng.choices(kinds, weights)[0]))
        while schedule and schedule[0][0] <= elapsed:
            _at, wizard = schedule.pop(0)
            tag += 1
            day.spawn(day.order(tag, wizard))
        if not announced_at and share >= 0.6:
            announced_at = await announce()
        await asyncio.sleep(max(0.0, step - (time.monotonic() - started - elapsed)))
    return announced_at


async def announce(sessions: Any) -> float:
    """The coordinator sends the market-day announcement now (the bot's broadcast sweep
    expands it into the outbox and its sender delivers it)."""
    async with transaction(sessions, write=True) as session:
        found = await session.scalar(
            select(broadcasts.Broadcast).where(broadcasts.Broadcast.key == DEMO_ANNOUNCEMENT_KEY)
        )
        if found is None:
            return time.time()
        await broadcasts.send(session, found.id, found.author_id)
    return time.time()


# ---------------------------------------------------------------------- figures
def _seconds(value: Any) -> float:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.timestamp()


@dataclass
class Outcome:
    sent: int = 0
    notice_waits: list[float] | None = None
    announced: int = 0
    announced_sent: int = 0
    announced_statuses: dict[str, int] | None = None
    statuses: dict[str, int] | None = None
    accepted_twice: int = 0
    paid_twice: int = 0
    credits: int = 0
    confirmed_minutes: int = 0
    notices: set[tuple[int, int]] | None = None


async def outcome(sessions: Any, since: datetime) -> Outcome:
    found = Outcome()
    async with sessions() as session:
        rows = (
            await session.execute(
                select(OutboxMessage.kind, OutboxMessage.created_at, OutboxMessage.sent_at)
                .where(OutboxMessage.sent_at >= since)
            )
        ).all()  # fmt: skip
        found.sent = len(rows)
        sent_notices = await session.execute(
            select(OutboxMessage.chat_id, OutboxMessage.message_id).where(
                OutboxMessage.sent_at >= since, OutboxMessage.message_id.is_not(None)
            )
        )
        found.notices = {
            (int(chat), int(message)) for chat, message in sent_notices if str(chat).isdigit()
        }
        found.notice_waits = [
            (_seconds(sent) - _seconds(created)) * 1000
            for kind, created, sent in rows
            if kind != broadcasts.BroadcastNotice.KIND
        ]
        by_status = dict(
            (
                await session.execute(
                    select(OutboxMessage.status, func.count())
                    .where(OutboxMessage.kind == broadcasts.BroadcastNotice.KIND)
                    .group_by(OutboxMessage.status)
                )
            ).all()
        )  # fmt: skip
        found.announced = sum(by_status.values())
        found.announced_sent = by_status.get(OutboxStatus.SENT, 0)
        found.announced_statuses = by_status
        city = Order.description.like("city #%")
        found.statuses = dict(
            (
                await session.execute(
                    select(Order.status, func.count()).where(city).group_by(Order.status)
                )
            ).all()
        )
        accepted = (
            select(OrderEvent.order_id)
            .join(Order, Order.id == OrderEvent.order_id)
            .where(city, OrderEvent.to_status == OrderStatus.ACCEPTED)
            .group_by(OrderEvent.order_id)
            .having(func.count() > 1)
        )
        found.accepted_twice = len((await session.execute(accepted)).all())
        pays = (
            select(LedgerTransaction.order_id)
            .join(Order, Order.id == LedgerTransaction.order_id)
            .where(city, LedgerTransaction.idempotency_key.like("order:%:pay"))
        )
        paid = [row[0] for row in (await session.execute(pays)).all()]
        found.paid_twice = sum(1 for n in Counter(paid).values() if n > 1)
        found.credits = int(
            await session.scalar(
                select(func.coalesce(func.sum(LedgerEntry.amount), 0))
                .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
                .join(Order, Order.id == LedgerTransaction.order_id)
                .where(city, LedgerTransaction.idempotency_key.like("order:%:pay"),
                       LedgerEntry.amount > 0)
            )
            or 0
        )  # fmt: skip
        found.confirmed_minutes = int(
            await session.scalar(
                select(
                    func.coalesce(
                        func.sum(func.coalesce(Order.actual_minutes, Order.estimated_minutes)), 0
                    )
                ).where(city, Order.status == OrderStatus.CONFIRMED)
            )
            or 0
        )
    return found


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


def tree_cpu(pid: int) -> float:
    return sum(procstats.tree_cpu(pid).values())


# ---------------------------------------------------------------------- main
async def ready(sandbox: Sandbox, bot: Child, chat: int) -> None:
    """Wait until the bot answers `/help` (it has started and found its database)."""
    start_seq = await sandbox.seq()
    await sandbox.command(chat, "/help")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        bot.check()
        await asyncio.sleep(0.2)
        if any(e.get("by") == "bot" for e in await sandbox.events(start_seq)):
            break
    await settle(sandbox, 0.5)


async def main(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="timebank-city-"))
    db = None
    profile = ""
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
            citizens = await seed_city(url, args.members, chats, rng)
            seeded = time.monotonic() - began
            if args.redis:
                await empty_redis(args.redis)
            await sandbox.bot_call("deleteWebhook", drop_pending_updates=True)
            bot: Child = real_bot(
                url, sandbox.base_url, args.mode, work, "city", ROOT, args.workers, args.redis
            )
            bot.env["TIMEBANK_SWEEP_SECONDS"] = str(args.sweep_seconds)
            await bot.start()
            engine = create_engine(url)
            profiler = Profiler(Path(args.profile) if args.profile else None)
            try:
                sessions = session_factory(engine)
                day = Day(sandbox, citizens, sessions, rng, args)
                day.category_ids, day.category_labels = await category_labels(sessions)
                await ready(sandbox, bot, citizens[0].chat)
                day.last_seq = await sandbox.seq()
                pump = asyncio.create_task(day.pump())
                await profiler.start(bot.pid, "city")
                cpu_before = tree_cpu(bot.pid)
                sandbox_before = procstats.cpu(sandbox.child.pid)
                bench_before = time.process_time()
                day_began = utcnow()
                day_started = time.monotonic()
                announced_at = await play(
                    day, args.minutes, args.taps, args.orders, lambda: announce(sessions)
                )
                # What was started finishes (a last order's Done and stars), then the rest.
                drain = time.monotonic() + args.drain
                while day.tasks and (left := drain - time.monotonic()) > 0:
                    await asyncio.wait(set(day.tasks), timeout=left)
                day.stopping = True
                for task in list(day.tasks):
                    task.cancel()
                await settle(sandbox, 2.0)
                await pump
                day_seconds = time.monotonic() - day_started
                cpu = tree_cpu(bot.pid) - cpu_before
                sandbox_cpu = procstats.cpu(sandbox.child.pid) - sandbox_before
                bench_cpu = time.process_time() - bench_before
                profile = await profiler.stop()
                memory = bot_memory(bot.pid)
                sandbox_memory = procstats.memory(sandbox.child.pid)
                result = await outcome(sessions, day_began)
            finally:
                await bot.stop()
                await engine.dispose()
            size = await database_size(url, file)
            verify_command = [sys.executable, "-m", "bot.cli", "ledger", "verify"]
            try:
                verify = await run_quiet(verify_command, bot_env(url, sandbox.base_url))
            except RuntimeError as error:
                verify = f"FAILED {error}"
    finally:
        if db is not None:
            await drop_database(db)
        shutil.rmtree(work, ignore_errors=True)
    report(args, day, result, locals() | {"load_before": load_before})


def report(args: argparse.Namespace, day: Day, result: Outcome, run: dict[str, Any]) -> None:
    notices = result.notices or set()
    found, unanswered = cd.pair_replies(day.taps, day.events, notices)
    twice = cd.doubled(day.taps, day.events, notices)
    day_seconds, cpu = run["day_seconds"], run["cpu"]
    db, load_before = run["db"], run["load_before"]
    volunteers = len(day.volunteers)
    print(
        f"bench.city: {args.members} members in 3 branches, {args.active} active "
        f"({args.active - volunteers} residents, {volunteers} volunteers), {args.orders} orders, "
        f"{args.minutes:g}-minute day, {db.label if db else args.database}, {args.mode}"
        f"{f' ×{args.workers} workers' if args.workers > 1 else ''}, sweep every "
        f"{args.sweep_seconds}s; seeded in {run['seeded']:.0f}s; load average "
        f"{load_before[0]:.2f} at start, {os.getloadavg()[0]:.2f} at end, {os.cpu_count()} CPUs"
    )
    print(f"{'tap':14} {'updates':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    everything: list[float] = []
    for kind in cd.KINDS:
        values = found.get(kind, [])
        everything += values
        print(
            f"{kind:14} {len(values):8} {percentile(values, 0.5):8.0f} "
            f"{percentile(values, 0.95):8.0f} {percentile(values, 0.99):8.0f}"
        )
    print(
        f"{'all taps':14} {len(everything):8} {percentile(everything, 0.5):8.0f} "
        f"{percentile(everything, 0.95):8.0f} {percentile(everything, 0.99):8.0f}"
        "   (goal p95 < 300 ms)"
    )
    updates = len(day.taps)
    print(
        f"updates: {updates} in {day_seconds:.0f}s = {updates / day_seconds:.1f}/s "
        f"({len(unanswered)} unanswered within {REPLY_TIMEOUT:.0f}s, {day.failures} not "
        f"injected); bot CPU {cpu:.0f}s = {cpu / max(updates, 1) * 1000:.1f} ms/update "
        f"(process tree); sandbox CPU {run['sandbox_cpu']:.0f}s, this bench's own "
        f"{run['bench_cpu']:.0f}s"
    )
    waits = result.notice_waits or []
    print(
        f"outbox: {result.sent} sent = {result.sent / day_seconds:.1f}/s, notice wait p50 "
        f"{percentile(waits, 0.5):.0f} ms p95 {percentile(waits, 0.95):.0f} ms "
        f"({len(waits)} notices); announcement: {result.announced_sent} sent, "
        f"{result.announced - result.announced_sent} not (of {result.announced}: "
        f"{result.announced_statuses})"
    )
    sent_at, replies_at = cd.new_messages(day.events, notices)
    print(
        f"new messages: {len(sent_at) / day_seconds:.1f}/s, "
        f"busiest 10 s {cd.busiest(sent_at):.1f}/s; of them replies "
        f"{len(replies_at) / day_seconds:.1f}/s, busiest 10 s {cd.busiest(replies_at):.1f}/s "
        f"(the bench lifts the bot's pace; Telegram takes ~{RATE + 1:g}/s: more would wait)"
    )
    statuses = result.statuses or {}
    placed = sum(statuses.values())
    reached = {
        "accepted": placed - statuses.get(OrderStatus.OPEN, 0) - statuses.get("expired", 0)
        - statuses.get("cancelled", 0),
        "done": statuses.get(OrderStatus.DONE, 0) + statuses.get(OrderStatus.CONFIRMED, 0),
        "confirmed": statuses.get(OrderStatus.CONFIRMED, 0),
    }  # fmt: skip
    errors = ", ".join(f"{k} {v}" for k, v in day.order_errors.items()) or "none"
    print(
        f"orders: {placed} placed, {reached['accepted']} accepted, {reached['done']} done, "
        f"{reached['confirmed']} confirmed; by status {dict(statuses)}; not placed: {errors}"
    )
    multi = [tag for tag, taps in day.races if cd.race_winners(taps, day.events, tag) > 1]
    none = [tag for tag, taps in day.races if cd.race_winners(taps, day.events, tag) == 0]
    print(
        f"memory MB, RSS/PSS/USS: bot {run['memory']}; sandbox {run['sandbox_memory']}   "
        "(goal RSS < 150 per worker)"
    )
    print(f"database size: {run['size'] / 1e6:.0f} MB")
    verify = run["verify"].strip()
    balanced = "ok" if result.credits == result.confirmed_minutes else "FAILED"
    print(
        f"checks: ledger verify {verify.splitlines()[-1] if verify else 'ok'}; "
        f"{len(twice)} updates answered twice {dict(Counter(twice))}; races {len(day.races)}, "
        f"{len(multi)} with several winners, {len(none)} with none told; "
        f"{result.accepted_twice} orders accepted twice; {result.paid_twice} orders paid twice; "
        f"credits {result.credits} min vs confirmed {result.confirmed_minutes} min {balanced}"
    )
    if run["profile"]:
        print(run["profile"])


def cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.city", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=1_000, help="members who tap (sandbox users)")
    parser.add_argument("--minutes", type=float, default=4.0, help="length of the compressed day")
    parser.add_argument("--taps", type=float, default=4.0, help="taps per active member per day")
    parser.add_argument("--orders", type=int, default=600, help="requests for help in the day")
    parser.add_argument("--races", type=float, default=0.3, help="share of orders raced for")
    parser.add_argument("--come", type=float, default=0.3, help="share tapping “I'll come”")
    parser.add_argument("--sweep-seconds", type=int, default=2)
    parser.add_argument("--drain", type=float, default=30.0, help="seconds to finish after the day")
    parser.add_argument("--database", default="sqlite")
    parser.add_argument("--mode", choices=["polling", "webhook"], default="polling")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--redis", default="")
    parser.add_argument("--profile", default="", help="directory for a py-spy profile of the bot")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.workers > 1 and (args.mode != "webhook" or not args.redis):
        parser.error("several workers need --mode webhook and --redis")
    args.active = max(9, min(args.active, args.members))
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
