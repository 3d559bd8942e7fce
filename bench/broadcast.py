"""A coordinator's broadcast through the bot and the sandbox at Telegram's limits, while members
keep asking the bot for /help; then the same with the bot killed (SIGKILL) half-way.

    python -m bench.broadcast [--recipients 5000] [--askers 20] [--no-kill] [--kill-only]
                              [--kills N] [--postgres URL | --no-postgres] [--no-sqlite]

The sandbox (`python -m sandbox`, a child process) has Telegram's limits: 30 messages a
second per bot, one a second per chat, 429 with `retry_after` beyond them. A branch of
`--recipients` members who started the bot (languages mixed) gets a three-language
broadcast, made as the composer makes it (`core.broadcasts.create` and `send`); the bot
(`python -m bot.cli run`, a child process) expands it with its broadcast job and delivers
it through the outbox's broadcast lane. Meanwhile `--askers` users each send /help, wait
for the answer, and send it again a second later.

Printed per case, with the machine's load (`uptime`) at its start and end: the bot's
messages a second between the first and the last delivery of the broadcast (the outbox's
`sent_at`; the broadcast's and the /help answers of that time) as a share of 30/s, and the
broadcast's own; 429 answers the sandbox gave (it keeps the last 1,000 refusals); the
/help answers' p50/p95/max (from sending the command to the bot's answer, the sandbox's
clock); the bot process's largest resident memory and its CPU time per message sent
(broadcast and /help answers; every run of the bot in the kill case); then, from every
recipient's chat in the sandbox, who got the announcement twice (duplicates) and who never
got it (missed).

The window in which a kill could make a duplicate or a miss is measured twice. From
outside: from the sandbox taking each announcement (its event's time) to the outbox
recording it (`sent_at`, taken just before that transaction commits). From inside: the
sender's own timings (its log at INFO, the last summary of each run of the bot): claim
committed → request left, left → Telegram's answer, answer → recorded.

In the kill case the bot is killed (SIGKILL) once half of the messages are sent and started
again at once; a message it had claimed (its request had left) is settled as sent,
unconfirmed, when its claim's lease (30 s) runs out. `--kills N` runs the kill case N times
(a fresh database each) and prints each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, insert, select

from bench import databases
from bench.e2e import TOKEN, bot_env
from bench.processes import Child, sandbox_process
from core import broadcasts
from core.broadcasts import Audience, Draft
from core.db import create_engine, session_factory, transaction, utcnow
from core.models import Branch, Identity, Member, OutboxMessage, OutboxStatus
from core.outbox import UNCONFIRMED

TEXTS = {
    "zh_Hans": "【测试】友邻集市本周六上午九点开市",
    "ko": "【테스트】이번 토요일 오전 9시에 이웃 장터가 열려요",
    "en": "[bench] The market opens on Saturday at 9",
}
LANGUAGES = tuple(TEXTS)
TELEGRAM_RATE = 30.0


@dataclass
class Case:
    killed: bool
    recipients: int
    sent_rate: float = 0.0
    seconds: float = 0.0
    throttled: int = 0
    help_latencies: list[float] = field(default_factory=list)
    answered_at: list[float] = field(default_factory=list)
    total_rate: float = 0.0
    restart_latencies: list[float] = field(default_factory=list)
    unanswered: int = 0
    rate_before_kill: float | None = None
    rss_mb: float = 0.0
    cpu_seconds: float = 0.0
    duplicates: int = 0
    missed: int = 0
    unconfirmed: int = 0
    kill_at: int | None = None
    load_before: str = ""
    load_after: str = ""
    taken_to_recorded: list[float] = field(default_factory=list)
    sender_timings: list[dict[str, Any]] = field(default_factory=list)

    def lines(self) -> list[str]:
        title = "killed (SIGKILL) half-way" if self.killed else "undisturbed"
        helps = sorted(self.help_latencies)
        p = (lambda q: helps[min(len(helps) - 1, int(q * len(helps)))] * 1000) if helps else None
        messages = self.recipients + len(self.help_latencies) + len(self.restart_latencies)
        window = sorted(self.taken_to_recorded)
        q = lambda f: window[min(len(window) - 1, int(f * len(window)))] * 1000  # noqa: E731
        taken = (
            f"p50 {q(0.5):.1f} ms, p95 {q(0.95):.1f} ms, max {window[-1] * 1000:.1f} ms"
            if window
            else "-"
        )
        inside = "; ".join(
            f"run {n}: " + ", ".join(f"{k} {v}" for k, v in t.items() if k != "sent")
            for n, t in enumerate(self.sender_timings)
        )
        help_line = (
            f"/help answers {len(helps)}: p50 {p(0.5):.0f} ms, p95 {p(0.95):.0f} ms, "
            f"max {helps[-1] * 1000:.0f} ms"
            if p
            else "/help answers: none"
        )
        killed = f", killed after {self.kill_at} sent" if self.kill_at is not None else ""
        restart = (
            f"; {len(self.restart_latencies)} asked while the bot restarted, answered within "
            f"{max(self.restart_latencies):.1f} s"
            if self.restart_latencies
            else ""
        )
        before = (
            f"; before the kill {self.rate_before_kill:.1f}/s "
            f"({self.rate_before_kill / TELEGRAM_RATE:.0%})"
            if self.rate_before_kill
            else ""
        )
        return [
            f"  broadcast to {self.recipients}, {title}{killed}:",
            f"    load at start: {self.load_before}",
            f"    {self.total_rate:.1f} messages/s between the first and the last delivery "
            f"({self.total_rate / TELEGRAM_RATE:.0%} of 30/s): the broadcast's "
            f"{self.sent_rate:.1f}/s, the rest /help answers; {self.seconds:.0f} s in all{before}",
            f"    429 answers: {self.throttled}; bot memory (largest RSS): {self.rss_mb:.0f} MB; "
            f"bot CPU {self.cpu_seconds:.0f} s, {self.cpu_seconds / messages * 1000:.1f} ms "
            f"per message ({messages} sent)",
            f"    {help_line}{restart}; unanswered {self.unanswered}",
            f"    taken by the sandbox → recorded sent: {taken}",
            f"    sender (ms, p50/p95/max) {inside or '-'}",
            f"    duplicates {self.duplicates}, missed {self.missed}; settled as sent, "
            f"unconfirmed: {self.unconfirmed}",
            f"    load at end: {self.load_after}",
        ]


class Run:
    def __init__(self, url: str, args: argparse.Namespace, *, killed: bool) -> None:
        self.url, self.args, self.killed = url, args, killed
        self.case = Case(killed=killed, recipients=args.recipients)
        self.recipients: dict[int, str] = {}  # user id → language
        self.askers: list[int] = []
        self.stop = asyncio.Event()
        self.up = asyncio.Event()
        self.bot: Child | None = None
        self.generation = 0
        self.taken: defaultdict[int, list[float]] = defaultdict(list)

    async def call(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        async with self.http.request(method, self.base_url + path, **kw) as response:
            data = await response.json(content_type=None)
        if not data.get("ok"):
            raise RuntimeError(f"{method} {path}: {data}")
        return data

    async def user(self, name: str, language: str) -> int:
        body = {"first_name": name, "language_code": language.split("_")[0], "started": True}
        return int((await self.call("POST", "/sandbox/users", json=body))["user"]["id"])

    async def people(self) -> int:
        """The sandbox users and their members; the broadcast, sent now. Returns its id."""
        gate = asyncio.Semaphore(32)

        async def one(n: int) -> tuple[int, str]:
            async with gate:
                language = LANGUAGES[n % 3]
                return await self.user(f"M{n}", language), language

        made = await asyncio.gather(*(one(n) for n in range(self.args.recipients)))
        self.recipients = dict(made)
        self.askers = [await self.user(f"Asker {n}", "en") for n in range(self.args.askers)]
        coordinator_user = await self.user("Coordinator", "en")
        engine = create_engine(self.url)
        try:
            async with transaction(session_factory(engine), write=True) as session:
                branch = Branch(
                    code="bench", names={"en": "Bench"}, time_zone="Asia/Shanghai",
                    default_language="zh_Hans",
                )  # fmt: skip
                session.add(branch)
                await session.flush()
                coordinator = Member(
                    name="Coordinator", branch_id=branch.id, is_coordinator=True,
                    language="en", onboarded_at=utcnow(),
                )  # fmt: skip
                session.add(coordinator)
                await session.flush()
                session.add(
                    Identity(
                        platform="telegram",
                        external_id=str(coordinator_user),
                        member_id=coordinator.id,
                    )
                )
                now = utcnow()
                for user_id, language in self.recipients.items():
                    await session.execute(
                        insert(Member).values(
                            name=f"M{user_id}",
                            branch_id=branch.id,
                            is_resident=True,
                            language=language,
                            onboarded_at=now,
                            created_at=now,
                        )
                    )
                ids = list(
                    await session.scalars(
                        select(Member.id).where(Member.id > coordinator.id).order_by(Member.id)
                    )
                )
                await session.execute(
                    insert(Identity),
                    [
                        {"platform": "telegram", "external_id": str(u), "member_id": m,
                         "created_at": now}
                        for u, m in zip(self.recipients, ids, strict=True)
                    ],
                )  # fmt: skip
                draft = Draft(TEXTS, Audience(branch_ids=(branch.id,), roles=("resident",)))
                broadcast_id = await broadcasts.create(session, coordinator.id, draft, key="bench")
                await broadcasts.send(session, broadcast_id, coordinator.id)
        finally:
            await engine.dispose()
        return broadcast_id

    # ------------------------------------------------------------------ the bot process
    async def start_bot(self) -> None:
        """Start the bot and wait until it polls (importing it takes seconds on a busy
        machine); /help asked meanwhile counts as asked during a restart."""
        self.up.clear()
        env = bot_env(self.url, self.base_url)
        env["TIMEBANK_LOG_LEVEL"] = "INFO"  # the sender's timings
        self.bot = Child(
            f"bot-{self.generation}", [sys.executable, "-m", "bot.cli", "run"], env, self.work
        )
        self.generation += 1
        before = await self.polls()
        await self.bot.start()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and await self.polls() <= before:
            self.bot.check()
            await asyncio.sleep(0.1)
        self.up.set()

    async def polls(self) -> int:
        calls = (await self.call("GET", "/sandbox/api_calls"))["api_calls"]
        return int(calls.get("getupdates", 0))

    def rss_mb(self) -> float:
        if self.bot is None or self.bot.process is None:
            return 0.0
        try:
            status = Path(f"/proc/{self.bot.pid}/status").read_text()
        except OSError:
            return 0.0
        line = next((x for x in status.splitlines() if x.startswith("VmRSS:")), "VmRSS: 0 kB")
        return int(line.split()[1]) / 1024

    async def watch_memory(self) -> None:
        while not self.stop.is_set():
            self.case.rss_mb = max(self.case.rss_mb, self.rss_mb())
            await asyncio.sleep(1)

    async def watch_announcements(self) -> None:
        """When the sandbox took each message to a recipient (its events' clock)."""
        after = 0
        while not self.stop.is_set():
            data = await self.call(
                "GET", "/sandbox/events", params={"after": str(after), "timeout": "2"}
            )
            for event in data["events"]:
                after = max(after, int(event["seq"]))
                chat = event.get("chat_id")
                if event.get("by") == "bot" and event.get("type") == "message":
                    if chat in self.recipients:
                        self.taken[chat].append(float(event["time"]))

    async def windows(self, sessions) -> None:
        """Taken by the sandbox → recorded sent, per announcement; settled unconfirmed."""
        async with sessions() as session:
            rows = await session.execute(
                select(Identity.external_id, OutboxMessage.sent_at, OutboxMessage.error)
                .join(Identity, Identity.member_id == OutboxMessage.member_id)
                .where(
                    OutboxMessage.kind == "broadcast",
                    OutboxMessage.status == OutboxStatus.SENT,
                )
            )
        for chat, sent_at, error in rows:
            if error == UNCONFIRMED:
                self.case.unconfirmed += 1
                continue
            taken = self.taken.get(int(chat))
            if taken and sent_at is not None:
                self.case.taken_to_recorded.append(sent_at.timestamp() - taken[0])

    def read_timings(self) -> None:
        """The last summary of the sender's timings in each run's log."""
        for log in sorted(self.work.glob("bot-*.log")):
            last = None
            for line in log.read_text(errors="replace").splitlines():
                if '"sender timings' in line:
                    last = line
            if last is not None:
                event = json.loads(last)
                self.case.sender_timings.append(
                    {k: event[k] for k in ("claim_to_leave", "leave_to_answer", "answer_to_record")}
                )

    # ------------------------------------------------------------------ /help meanwhile
    async def ask_help(self, user_id: int) -> None:
        """/help, the answer waited for; again a second later, until the broadcast is done."""
        after = 0
        while not self.stop.is_set():
            up = self.up.is_set()
            began = time.time()
            sent = await self.call(
                "POST", f"/sandbox/chats/{user_id}/command", json={"command": "/help"}
            )
            after = max(after, int(sent.get("seq", after)))
            deadline = began + 30
            answered = None
            while answered is None and time.time() < deadline and not self.stop.is_set():
                data = await self.call(
                    "GET", f"/sandbox/chats/{user_id}/events",
                    params={"after": str(after), "timeout": "5"},
                )  # fmt: skip
                for event in data["events"]:
                    after = max(after, int(event["seq"]))
                    if event.get("by") == "bot" and event.get("type") == "message":
                        answered = float(event["time"])
            if answered is None:
                self.case.unanswered += not self.stop.is_set()
            elif up and self.up.is_set():
                self.case.help_latencies.append(answered - began)
                self.case.answered_at.append(answered)
            else:
                self.case.restart_latencies.append(answered - began)
                self.case.answered_at.append(answered)
            await asyncio.sleep(1)

    # ------------------------------------------------------------------ the broadcast
    async def sent(self, sessions) -> int:
        async with sessions() as session:
            return (
                await session.scalar(
                    select(func.count()).where(
                        OutboxMessage.kind == "broadcast",
                        OutboxMessage.status == OutboxStatus.SENT,
                    )
                )
                or 0
            )

    async def rate(self, sessions) -> float:
        """Broadcast messages a second between the first and the last sent so far; with
        the /help answers of that time, all the bot's messages a second (`total_rate`)."""
        async with sessions() as session:
            first, last, count = (
                await session.execute(
                    select(
                        func.min(OutboxMessage.sent_at),
                        func.max(OutboxMessage.sent_at),
                        func.count(),
                    ).where(
                        OutboxMessage.kind == "broadcast",
                        OutboxMessage.status == OutboxStatus.SENT,
                    )
                )
            ).one()
        span = (last - first).total_seconds() if first and last else 0
        if not span:
            return 0.0
        start, end = first.timestamp(), last.timestamp()
        answers = sum(1 for at in self.case.answered_at if start <= at <= end)
        self.case.total_rate = (count - 1 + answers) / span
        return (count - 1) / span

    async def until_done(self, sessions, broadcast_id: int) -> None:
        killed = not self.killed
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            assert self.bot is not None
            self.bot.check()
            if not killed and await self.sent(sessions) >= self.args.recipients // 2:
                assert self.bot.process is not None
                self.case.cpu_seconds += self.bot.cpu()
                self.bot.process.send_signal(signal.SIGKILL)
                await self.bot.process.wait()
                self.case.kill_at = await self.sent(sessions)
                self.case.rate_before_kill = await self.rate(sessions)
                killed = True
                await self.start_bot()
            async with sessions() as session:
                found = await session.get(
                    broadcasts.Broadcast, broadcast_id, populate_existing=True
                )
                if found is not None and found.status == "done":
                    return
            await asyncio.sleep(0.5)
        raise RuntimeError("the broadcast did not finish within an hour")

    async def count_received(self) -> None:
        gate = asyncio.Semaphore(16)
        seen: Counter[int] = Counter()

        async def one(user_id: int, language: str) -> None:
            async with gate:
                chat = await self.call("GET", f"/sandbox/chats/{user_id}")
            seen[user_id] = sum(
                1
                for m in chat["messages"]
                if m.get("from") == "bot" and m.get("text") == TEXTS[language]
            )

        await asyncio.gather(*(one(u, lang) for u, lang in self.recipients.items()))
        self.case.duplicates = sum(max(0, n - 1) for n in seen.values())
        self.case.missed = sum(1 for u in self.recipients if seen[u] == 0)

    async def run(self) -> Case:
        with tempfile.TemporaryDirectory(prefix="bench-broadcast-") as work:
            self.work = Path(work)
            async with sandbox_process(TOKEN, rate_limits=True, log_dir=self.work) as sandbox:
                self.base_url = sandbox.base_url
                async with aiohttp.ClientSession() as self.http:
                    broadcast_id = await self.people()
                    engine = create_engine(self.url)
                    sessions = session_factory(engine)
                    began = time.monotonic()
                    self.case.load_before = uptime()
                    await self.start_bot()
                    background = [
                        asyncio.create_task(self.watch_memory()),
                        asyncio.create_task(self.watch_announcements()),
                        *(asyncio.create_task(self.ask_help(u)) for u in self.askers),
                    ]
                    try:
                        await self.until_done(sessions, broadcast_id)
                    finally:
                        self.stop.set()
                        await asyncio.gather(*background, return_exceptions=True)
                        if self.bot is not None:
                            self.case.cpu_seconds += self.bot.cpu()
                            await self.bot.stop()
                    self.case.load_after = uptime()
                    self.case.seconds = time.monotonic() - began
                    self.case.sent_rate = await self.rate(sessions)
                    await self.windows(sessions)
                    self.read_timings()
                    await engine.dispose()
                    errors = (await self.call("GET", "/sandbox/api_errors"))["api_errors"]
                    self.case.throttled = sum(1 for e in errors if e.get("error_code") == 429)
                    await self.count_received()
        return self.case


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def bench_with(args: argparse.Namespace):
    async def bench(url: str) -> list[str]:
        lines: list[str] = []
        kinds = [False] if not args.kill_only else []
        kinds += [True] * (0 if args.no_kill else args.kills)
        for killed in kinds:
            if killed and lines:
                url = await fresh(url)
            case = await Run(url, args, killed=killed).run()
            lines += case.lines()
            print("\n".join(case.lines()), flush=True)
        return lines

    return bench


async def fresh(url: str) -> str:
    """The database emptied for the next case (each case starts from no rows)."""
    from sqlalchemy import text
    from sqlmodel import SQLModel

    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            for table in reversed(SQLModel.metadata.sorted_tables):
                if table.name != "alembic_version":
                    await connection.execute(text(f"DELETE FROM {table.name}"))
    finally:
        await engine.dispose()
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--askers", type=int, default=20)
    parser.add_argument("--no-kill", action="store_true", help="only the undisturbed case")
    parser.add_argument("--kill-only", action="store_true", help="only the killed case")
    parser.add_argument("--kills", type=int, default=1, help="times the killed case runs")
    databases.add_arguments(parser)
    args = parser.parse_args()
    os.environ.setdefault("TIMEBANK_LOG_LEVEL", "WARNING")
    databases.run_on_each(args, "broadcast", bench_with(args))


if __name__ == "__main__":
    main()
