"""End-to-end throughput of the real bot through the sandbox, by long polling and by webhook.

    python -m bench.e2e [--users 200] [--rounds 5] [--modes polling,webhook]
                        [--commands /help,/start] [--database sqlite]
                        [--database postgresql://postgres@127.0.0.1:5432/SCRATCH_NAME]
                        [--api-latency MS[,MS…]] [--no-null-bot] [--profile DIR]
                        [--bot-root CHECKOUT ...] [--workers 1,2,3 --redis URL] [--keep]

Starts ``python -m sandbox --no-rate-limits`` in a child process (the bot's own pace lifted too,
``TIMEBANK_SEND_RATE``), then for each database and
mode the bot as ``timebank run`` runs it (``python -m bot.cli run [--webhook]`` in a child
process, a fresh copy of a SQLite file prepared with ``seed-demo``, log level WARNING).
``--users`` sandbox users (created with ``started=True``) each send ``/help`` once (warm-up,
not counted); then, ``--rounds`` times, all of them send a command at once through the control
API, and the round ends when every one has its reply. Two commands are measured: ``/help``
(read-only) and ``/start`` from a user who has not signed up (the bot greets, asks for the
language and writes the conversation state: the state-writing path; each user's reply count
is learnt in a warm-up ``/start``).

Timing uses the sandbox's own event timestamps (``time`` of each message event, taken in the
sandbox process when it queued the user's update and when it accepted the bot's sendMessage),
so no client clock sits in the measured path. The end of a round is detected by polling
``GET /sandbox/health`` every 10 ms (its rate and share of the sandbox's ceiling are printed);
the events are fetched after the round, while the bot is idle.

Baselines in the same run: the sandbox's ceiling (getMe with a client that ignores the
answers, at the same concurrency as the users) and a null bot (raw aiohttp: getUpdates or a
webhook server, one sendMessage per update, no aiogram, no database): the most any bot can get
end to end through this sandbox on this machine; and ``no-db``, aiogram's own polling or
webhook handler with a /help handler and no database: the rest is the bot's own path.

``--database postgresql://…/NAME`` creates the scratch database NAME (it must not exist),
seeds it, runs the modes on it and drops it. ``--api-latency`` makes every sendMessage answer
that much later (a sandbox latency fault), as a Telegram far away would; given several
(``--api-latency 0,50``), each case's rounds alternate between them (0, 50, 50, 0, …) with the
same bot, and the rows (``polling+50``) are followed by the rate with latency as a share of
the rate without, beside the most a bot hiding the latency perfectly could reach (each
round's last reply comes the latency later whatever the bot does). ``--profile DIR``
attaches ``py-spy record --gil`` to the bot during the measured rounds and prints where its
samples fall (``pip install py-spy``). ``--bot-root`` runs the bot from another checkout (a
worktree with a change to measure), the sandbox and this script staying the same; given twice
or more, each checkout's bot runs in turn against the same sandbox and seeded database.
``--workers 1,2,3`` runs webhook mode with that many worker processes
(``timebank run --webhook --workers N``, PostgreSQL and ``--redis`` needed; every bot of the
run gets that Redis, one worker too, so 1 → N compares the same path; its database is
emptied first), and prints the
counts side by side with the gain over one worker and the most the machine's cores allow.

The bot's CPU counts its whole process tree (the supervisor and its workers). Under each row
the CPU of the measured rounds is shared out, as shares of all the machine's cores: the bot's
processes, the sandbox, this bench, the PostgreSQL server (all its work) and Redis;
then the memory of the bot's processes (RSS/PSS/USS, ``bench.procstats``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web

from bench import procstats
from bench.processes import ROOT, Child, free_port, sandbox_process
from bench.sandbox_ceiling import run_load

TOKEN = "1000000002:BENCH-e2e-token"
POLL_INTERVAL = 0.01
ROUND_TIMEOUT = 60.0
LIFTED_SEND_RATE = 1_000_000.0
START_TIMEOUT = 180.0  # a bot importing aiogram on a loaded 2-core machine


# ---------------------------------------------------------------------- child processes
async def run_quiet(args: list[str], env: dict[str, str], cwd: Path = ROOT) -> str:
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=cwd,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args[1:])} failed:\n{out.decode(errors='replace')}")
    return out.decode(errors="replace")


# ---------------------------------------------------------------------- the sandbox
class Sandbox:
    def __init__(self, base_url: str, http: aiohttp.ClientSession, child: Child) -> None:
        self.base_url = base_url
        self.http = http
        self.child = child
        self.api = f"{base_url}/bot{TOKEN}"
        self.health_polls = 0

    async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        async with self.http.request(method, self.base_url + path, **kw) as response:
            data = await response.json(content_type=None)
        if not data.get("ok"):
            raise RuntimeError(f"{method} {path}: {data}")
        return data

    async def seq(self) -> int:
        self.health_polls += 1
        return int((await self._json("GET", "/sandbox/health"))["seq"])

    async def create_user(self, name: str) -> int:
        data = await self._json(
            "POST",
            "/sandbox/users",
            json={"first_name": name, "language_code": "en", "started": True},
        )
        return int(data["user"]["id"])

    async def command(self, user_id: int, text: str) -> None:
        await self._json("POST", f"/sandbox/chats/{user_id}/command", json={"command": text})

    async def events(self, after: int) -> list[dict[str, Any]]:
        data = await self._json("GET", "/sandbox/events", params={"after": str(after)})
        return list(data["events"])

    async def bot_call(self, method: str, **params: Any) -> Any:
        async with self.http.post(f"{self.api}/{method}", json=params) as response:
            return await response.json(content_type=None)


@contextlib.asynccontextmanager
async def sandbox_with_client(log_dir: Path, users: int) -> AsyncIterator[Sandbox]:
    async with sandbox_process(TOKEN, rate_limits=False, log_dir=log_dir) as running:
        connector = aiohttp.TCPConnector(limit=max(users, 16) + 8)
        async with aiohttp.ClientSession(connector=connector) as http:
            yield Sandbox(running.base_url, http, running.child)


# ---------------------------------------------------------------------- rounds
@dataclass
class RoundResult:
    updates: int
    window: float  # first injection → last awaited reply, sandbox clock
    inject_span: float  # first → last injection
    latencies: list[float]  # injection → last awaited reply of that update
    first_replies: list[float]  # injection → first reply
    missing: int = 0


@dataclass
class Case:
    database: str
    mode: str
    command: str
    workers: int = 1
    replies: int = 1
    latency: float = 0.0  # ms added to every sendMessage during its rounds
    rounds: list[RoundResult] = field(default_factory=list)
    cpu: dict[str, float] = field(default_factory=dict)  # seconds during the rounds
    bot_cpu: list[float] = field(default_factory=list)  # by bot process, supervisor first
    seconds: float = 0.0  # wall time of the rounds
    health_polls: int = 0
    idle: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def updates(self) -> int:
        return sum(r.updates for r in self.rounds)

    @property
    def rate(self) -> float:
        window = sum(r.window for r in self.rounds)
        return self.updates / window if window > 0 else 0.0

    def round_rates(self) -> list[float]:
        return [r.updates / r.window for r in self.rounds if r.window > 0]

    def latencies(self) -> list[float]:
        return sorted(x for r in self.rounds for x in r.latencies)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def match_round(
    events: list[dict[str, Any]], users: list[int], replies: int
) -> tuple[RoundResult, bool]:
    """Pair each user's message with the bot's `replies`-th answer in that chat."""
    wanted = set(users)
    sent: dict[int, float] = {}
    sent_seq: dict[int, int] = {}
    answers: dict[int, list[float]] = {u: [] for u in users}
    for event in events:
        if event.get("type") != "message" or event.get("chat_id") not in wanted:
            continue
        chat = int(event["chat_id"])
        if event.get("by") == "user":
            sent.setdefault(chat, float(event["time"]))
            sent_seq.setdefault(chat, int(event["seq"]))
        elif event.get("by") == "bot" and chat in sent_seq and event["seq"] > sent_seq[chat]:
            answers[chat].append(float(event["time"]))
    done = [u for u in users if u in sent and len(answers[u]) >= replies]
    complete = len(done) == len(users)
    if not done:
        return RoundResult(0, 0.0, 0.0, [], [], missing=len(users)), complete
    first_sent = min(sent.values())
    last_reply = max(answers[u][replies - 1] for u in done)
    result = RoundResult(
        updates=len(done),
        window=last_reply - first_sent,
        inject_span=max(sent.values()) - first_sent,
        latencies=[answers[u][replies - 1] - sent[u] for u in done],
        first_replies=[answers[u][0] - sent[u] for u in done],
        missing=len(users) - len(done),
    )
    return result, complete


async def send_all(sandbox: Sandbox, users: list[int], text: str) -> None:
    await asyncio.gather(*(sandbox.command(u, text) for u in users))


async def wait_replies(
    sandbox: Sandbox,
    start_seq: int,
    users: list[int],
    replies: int,
    within: float,
    watched: list[Child],
) -> tuple[RoundResult, list[dict[str, Any]]]:
    target = start_seq + len(users) * (1 + replies)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    last_checked = -1
    while True:
        seq = await sandbox.seq()
        if seq >= target and seq != last_checked:
            last_checked = seq
            events = await sandbox.events(start_seq)
            result, complete = match_round(events, users, replies)
            if complete:
                return result, events
        if loop.time() > deadline:
            events = await sandbox.events(start_seq)
            result, _ = match_round(events, users, replies)
            return result, events
        for child in watched:
            child.check()
        await asyncio.sleep(POLL_INTERVAL)


async def settle(sandbox: Sandbox, quiet: float = 0.3) -> int:
    """Wait until no event has happened for `quiet` seconds; return the last seq."""
    seq = await sandbox.seq()
    while True:
        await asyncio.sleep(quiet)
        now = await sandbox.seq()
        if now == seq:
            return seq
        seq = now


async def learn_replies(
    sandbox: Sandbox, users: list[int], command: str, watched: list[Child]
) -> int:
    """Send `command` from every user (not measured); the number of bot messages each gets."""
    start = await sandbox.seq()
    await send_all(sandbox, users, command)
    result, _ = await wait_replies(sandbox, start, users, 1, START_TIMEOUT, watched)
    if result.missing:
        raise RuntimeError(f"{result.missing} of {len(users)} users got no answer to {command}")
    await settle(sandbox)
    counts: Counter[int] = Counter()
    for event in await sandbox.events(start):
        if event.get("type") == "message" and event.get("by") == "bot":
            counts[int(event["chat_id"])] += 1
    return min(counts[u] for u in users)


async def measure(
    sandbox: Sandbox,
    cases: list[Case],
    users: list[int],
    rounds: int,
    watched: list[Child],
    bot: Child,
) -> None:
    """`rounds` rounds of each case (one per API latency). With several latencies the
    rounds alternate (0, 50, 50, 0, 0, 50, …), each case's CPU and time counted over its own
    rounds: the same bot, database and sandbox in the same minutes, so the comparison is
    not one of two runs on a machine whose other load changes from minute to minute."""
    for number in range(rounds):
        order = cases if number % 2 == 0 else cases[::-1]
        for case in order:
            if case.note:
                continue
            if len(cases) > 1:
                await set_latency(sandbox, case.latency)
            await measure_round(sandbox, case, users, watched, bot)
    if len(cases) > 1:
        await set_latency(sandbox, 0.0)


async def measure_round(
    sandbox: Sandbox, case: Case, users: list[int], watched: list[Child], bot: Child
) -> None:
    polls = sandbox.health_polls
    bot_before = procstats.tree_cpu(bot.pid)
    before = cpu_now(sandbox)
    started = time.monotonic()
    start = await sandbox.seq()
    await send_all(sandbox, users, case.command)
    result, _ = await wait_replies(sandbox, start, users, case.replies, ROUND_TIMEOUT, watched)
    case.rounds.append(result)
    if result.missing:
        case.note = f"{result.missing} updates unanswered after {ROUND_TIMEOUT:g}s"
    await settle(sandbox, 0.05)
    case.seconds += time.monotonic() - started
    after = cpu_now(sandbox)
    bot_after = procstats.tree_cpu(bot.pid)
    used = [now - bot_before.get(pid, 0.0) for pid, now in bot_after.items()]
    case.bot_cpu = [a + b for a, b in itertools.zip_longest(case.bot_cpu, used, fillvalue=0.0)]
    spent = {"bot": sum(used)} | {k: after[k] - before[k] for k in after}
    for key, value in spent.items():
        case.cpu[key] = case.cpu.get(key, 0.0) + value
    case.health_polls += sandbox.health_polls - polls


async def set_latency(sandbox: Sandbox, latency_ms: float) -> None:
    """Every sendMessage answered `latency_ms` late from now on (a sandbox latency fault),
    or at once (0)."""
    await sandbox._json("DELETE", "/sandbox/faults")
    if latency_ms:
        await sandbox._json(
            "POST",
            "/sandbox/faults",
            json={
                "method": "sendMessage",
                "kind": "latency",
                "latency": latency_ms / 1000,
                "times": None,
            },
        )


def cpu_now(sandbox: Sandbox) -> dict[str, float]:
    """CPU seconds so far of what shares the machine with the bot. PostgreSQL's counts the
    whole server (a backend that ended is counted in its parent's), other work on it too."""
    return {
        "sandbox": sandbox.child.cpu(),
        "bench": time.process_time(),
        "postgres": procstats.named_cpu("postgres"),
        "redis": procstats.named_cpu("redis-server"),
    }


async def idle_latency(sandbox: Sandbox, user: int, count: int) -> list[float]:
    """One user, one /help at a time: the reply time with nothing else going on."""
    latencies = []
    for _ in range(count):
        after = await sandbox.seq()
        await sandbox.command(user, "/help")
        events: list[dict[str, Any]] = []
        while True:
            data = await sandbox._json(
                "GET",
                f"/sandbox/chats/{user}/events",
                params={"after": str(after), "timeout": "5"},
            )
            events += data["events"]
            after = max([after] + [int(e["seq"]) for e in data["events"]])
            result, complete = match_round(events, [user], 1)
            if complete:
                latencies.extend(result.latencies)
                break
    return latencies


# ---------------------------------------------------------------------- bots
def bot_env(database_url: str, api_url: str, send_rate: float = LIFTED_SEND_RATE) -> dict[str, str]:
    """The bot's environment. Its own pace (Telegram's 30 messages a second, `bot.pace`) is
    lifted by default, as the sandbox's limits are: what is measured is the bot's path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIMEBANK_")}
    env.update(
        TIMEBANK_TELEGRAM_TOKEN=TOKEN,
        TIMEBANK_TELEGRAM_API_URL=api_url,
        TIMEBANK_DATABASE_URL=database_url,
        TIMEBANK_LOG_LEVEL="WARNING",
        TIMEBANK_SEND_RATE=str(send_rate),
        PYTHONUNBUFFERED="1",
    )
    return env


def real_bot(
    database_url: str,
    api_url: str,
    mode: str,
    log_dir: Path,
    tag: str,
    root: Path,
    workers: int = 1,
    redis_url: str = "",
) -> Child:
    env = bot_env(database_url, api_url)
    args = [sys.executable, "-m", "bot.cli", "run"]
    if workers > 1:
        args += ["--workers", str(workers)]
    if redis_url:
        env["TIMEBANK_REDIS_URL"] = redis_url
    if mode == "webhook":
        port = free_port()
        env.update(
            TIMEBANK_WEBHOOK_URL=f"http://127.0.0.1:{port}",
            TIMEBANK_WEBHOOK_HOST="127.0.0.1",
            TIMEBANK_WEBHOOK_PORT=str(port),
            TIMEBANK_WEBHOOK_SECRET=secrets.token_hex(16),
        )
        args.append("--webhook")
    return Child(f"bot-{tag}-{mode}", args, env, log_dir, cwd=root)


def null_bot(api_url: str, mode: str, log_dir: Path) -> Child:
    args = [sys.executable, "-m", "bench.e2e", "--null-bot", mode, "--api", api_url]
    return Child(f"null-bot-{mode}", args, dict(os.environ), log_dir)


def no_database_bot(api_url: str, mode: str, log_dir: Path) -> Child:
    args = [sys.executable, "-m", "bench.e2e", "--no-database-bot", mode, "--api", api_url]
    return Child(f"no-db-bot-{mode}", args, dict(os.environ), log_dir)


async def serve_no_database_bot(mode: str, api_url: str) -> None:
    """aiogram as the bot uses it (its session, dispatcher, a /help handler), no database:
    what the bot's own database path adds is measured against this."""
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer
    from aiogram.filters import Command
    from aiogram.types import Message
    from aiogram.webhook.aiohttp_server import SimpleRequestHandler

    bot = Bot(TOKEN, session=AiohttpSession(api=TelegramAPIServer.from_base(api_url)))
    dispatcher = Dispatcher()

    @dispatcher.message(Command("help"))
    async def on_help(message: Message) -> None:
        await message.answer("ok")

    if mode == "polling":
        await bot.delete_webhook()
        await dispatcher.start_polling(bot, handle_signals=True)
        return
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    port = free_port()
    app = web.Application()
    SimpleRequestHandler(dispatcher, bot).register(app, "/hook")
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await bot.set_webhook(f"http://127.0.0.1:{port}/hook")
    await stop.wait()
    await runner.cleanup()
    await bot.session.close()


async def _null_send(http: aiohttp.ClientSession, api: str, update: dict[str, Any]) -> None:
    message = update.get("message")
    if message:
        payload = {"chat_id": message["chat"]["id"], "text": "ok"}
        async with http.post(f"{api}/sendMessage", json=payload) as response:
            await response.read()


async def serve_null_bot(mode: str, api_url: str) -> None:
    """No aiogram, no database: one sendMessage per update (the floor of any bot's cost)."""
    api = f"{api_url}/bot{TOKEN}"
    tasks: set[asyncio.Task[None]] = set()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    def handle(http: aiohttp.ClientSession, update: dict[str, Any]) -> None:
        task = asyncio.create_task(_null_send(http, api, update))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=100)) as http:
        if mode == "webhook":
            port = free_port()

            async def on_update(request: web.Request) -> web.Response:
                handle(http, await request.json())
                return web.json_response({})

            app = web.Application()
            app.router.add_post("/hook", on_update)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", port).start()
            async with http.post(
                f"{api}/setWebhook", json={"url": f"http://127.0.0.1:{port}/hook"}
            ) as response:
                await response.read()
            await stop.wait()
            await runner.cleanup()
            return
        async with http.post(f"{api}/deleteWebhook") as response:
            await response.read()
        offset = 0

        async def poll() -> None:
            nonlocal offset
            while True:
                payload = {"offset": offset, "timeout": 30, "limit": 100}
                async with http.post(f"{api}/getUpdates", json=payload) as response:
                    data = await response.json()
                for update in data.get("result", []):
                    offset = update["update_id"] + 1
                    handle(http, update)

        poller = asyncio.create_task(poll())
        await stop.wait()
        poller.cancel()
        with contextlib.suppress(asyncio.CancelledError, aiohttp.ClientError):
            await poller


# ---------------------------------------------------------------------- databases
@dataclass
class Database:
    label: str
    url: str  # what the bot gets
    template: Path | None = None  # SQLite: the seeded file each bot run gets a copy of
    drop: str | None = None  # PostgreSQL: the scratch database to drop at the end
    admin_url: str | None = None
    runs: int = 0

    def for_run(self, work: Path) -> str:
        self.runs += 1
        if self.template is None:
            return self.url
        target = work / f"timebank-{self.runs}.db"
        shutil.copyfile(self.template, target)
        return f"sqlite:///{target}"


async def prepare_database(spec: str, work: Path, api_url: str, root: Path) -> Database:
    if spec == "sqlite":
        template = work / "seeded.db"
        db = Database("sqlite", f"sqlite:///{template}", template=template)
    else:
        parts = urlsplit(spec)
        name = parts.path.lstrip("/") or f"timebank_e2e_{os.getpid()}"
        if parts.scheme not in ("postgresql", "postgres") or not name.isidentifier():
            raise SystemExit(f"bench.e2e: --database must be sqlite or postgresql://…/name: {spec}")
        import asyncpg

        admin = urlunsplit((parts.scheme, parts.netloc, "/postgres", "", ""))
        connection = await asyncpg.connect(admin)
        try:
            exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if exists:
                raise SystemExit(f"bench.e2e: database {name} already exists; pick another name")
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        url = urlunsplit((parts.scheme, parts.netloc, f"/{name}", "", ""))
        db = Database("postgresql", url, drop=name, admin_url=admin)
    seed = [sys.executable, "-m", "bot.cli", "seed-demo"]
    await run_quiet(seed, bot_env(db.url, api_url), cwd=root)
    return db


async def drop_database(db: Database) -> None:
    if db.drop is None or db.admin_url is None:
        return
    import asyncpg

    connection = await asyncpg.connect(db.admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{db.drop}" WITH (FORCE)')
    finally:
        await connection.close()


async def empty_redis(url: str) -> None:
    """The sandbox numbers its users the same in every run: a conversation state left in
    Redis by an earlier run would greet a new user as a returning one."""
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


# ---------------------------------------------------------------------- profiling
class Profiler:
    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        beside = Path(sys.executable).parent / "py-spy"
        self.py_spy = shutil.which("py-spy") or (str(beside) if beside.exists() else "")
        if directory is not None and not self.py_spy:
            print("--profile: py-spy not found (pip install py-spy); not profiling")
            self.directory = None
        self.process: asyncio.subprocess.Process | None = None
        self.output: Path | None = None

    async def start(self, pid: int, name: str) -> None:
        if self.directory is None:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        self.output = self.directory / f"{name}.txt"
        self.process = await asyncio.create_subprocess_exec(
            self.py_spy,
            "record",
            "--pid",
            str(pid),
            "--rate",
            "200",
            "--format",
            "raw",
            "--nonblocking",
            "--gil",
            "--output",
            str(self.output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await asyncio.sleep(0.5)  # py-spy attaches

    async def stop(self) -> str:
        if self.process is None or self.output is None:
            return ""
        self.process.send_signal(signal.SIGINT)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.process.wait(), 15)
        self.process = None
        return summarize_profile(self.output)


BUCKETS = [  # (label, substring of a frame "function (file)"), first match from the leaf up
    ("sqlite3 / aiosqlite thread work", "aiosqlite/core.py"),
    ("asyncpg", "asyncpg/"),
    ("SQLAlchemy ORM + Core", "sqlalchemy/"),
    ("aiohttp client/server", "aiohttp/"),
    ("aiogram dispatch, filters, FSM", "aiogram/"),
    ("pydantic (aiogram types)", "pydantic"),
    ("gettext / babel", "gettext"),
    ("json", "json/"),
    ("logging", "logging/"),
    ("asyncio event loop", "asyncio/"),
]


def summarize_profile(path: Path) -> str:
    """Where the GIL-holding samples fall: by library (innermost matching frame), the
    project's own frames (inclusive; SQLAlchemy's greenlets show as separate stacks, so
    database time is under the library line, not under the caller), and leaf functions."""
    if not path.exists():
        return f"  (no profile written to {path})"
    leaves: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaves[_frame_name(frames[-1])] += count
        for frame in reversed(frames):
            label = next((name for name, key in BUCKETS if key in frame), None)
            if label:
                buckets[label] += count
                break
        else:
            buckets["other (bot/core, stdlib)"] += count
        mine = {f for f in frames if ("(bot/" in f or "(core/" in f) and "(bot/cli.py" not in f}
        for name in {_frame_name(f) for f in mine}:
            own[name] += count
    if not total:
        return "  (empty profile)"
    lines = [f"  {total} samples while holding the GIL ({path}); by library:"]
    lines += [f"    {n / total:6.1%}  {label}" for label, n in buckets.most_common()]
    lines.append("  bot/ and core/ frames (inclusive, own coroutine time only):")
    lines += [f"    {n / total:6.1%}  {name}" for name, n in own.most_common(8)]
    lines.append("  leaf functions:")
    lines += [f"    {n / total:6.1%}  {name}" for name, n in leaves.most_common(8)]
    return "\n".join(lines)


def _frame_name(frame: str) -> str:
    """`func (path/file.py:123)` → `func (path/file.py)`."""
    name, _, where = frame.partition(" (")
    return f"{name} ({where.rsplit(':', 1)[0].rstrip(')')})" if where else name


# ---------------------------------------------------------------------- one bot run
async def run_bot(
    sandbox: Sandbox,
    bot: Child,
    database: str,
    mode: str,
    commands: list[str],
    args: argparse.Namespace,
    profiler: Profiler,
    reports: list[str],
    workers: int = 1,
) -> list[Case]:
    await sandbox.bot_call("deleteWebhook", drop_pending_updates=True)
    await bot.start()
    watched = [bot, sandbox.child]
    cases: list[Case] = []
    try:
        users = [await sandbox.create_user(f"U{i}") for i in range(args.users)]
        loner = await sandbox.create_user("Idle")
        await learn_replies(sandbox, [*users, loner], "/help", watched)  # warm-up + readiness
        idle = await idle_latency(sandbox, loner, 20)
        for command in commands:
            replies = await learn_replies(sandbox, users, command, watched)
            each = [
                Case(database, mode, command, workers, replies, latency,
                     idle=idle if command == "/help" and not latency else [])
                for latency in args.api_latency
            ]  # fmt: skip
            await settle(sandbox, 0.1)
            await profiler.start(bot.pid, f"{database}-{mode}-{command.strip('/')}")
            await measure(sandbox, each, users, args.rounds, watched, bot)
            summary = await profiler.stop()
            if summary:
                reports.append(f"{database} {mode} {command}:\n{summary}")
            cases += each
            for case in each:
                print_case(case, args.ceiling)
            if len(each) > 1:
                print_latency_cost(each)
        print_memory(procstats.tree_memory(bot.pid))
    finally:
        await bot.stop()
        await sandbox.bot_call("deleteWebhook", drop_pending_updates=True)
    return cases


# ---------------------------------------------------------------------- output
HEADER = (
    f"{'database':<22} {'mode':<10} {'command':<7} {'updates':>7} {'upd/s':>6} "
    f"{'(rounds min-max)':>16} {'p50 ms':>7} {'p99 ms':>7} {'1st p50':>7} {'idle p50':>8} "
    f"{'vs ceil':>7} {'bot ms/u':>8} {'sbx ms/u':>8}"
)


def mode_label(case: Case) -> str:
    return case.mode if not case.latency else f"{case.mode}+{case.latency:g}"


def print_case(case: Case, ceiling: float) -> None:
    rates = case.round_rates()
    lat = case.latencies()
    first = sorted(x for r in case.rounds for x in r.first_replies)
    spread = f"{min(rates):.0f}-{max(rates):.0f}" if rates else "-"
    idle = f"{statistics.median(case.idle) * 1000:8.1f}" if case.idle else f"{'':>8}"
    per = max(case.updates, 1)
    print(
        f"{case.database:<22} {mode_label(case):<10} {case.command:<7} {case.updates:>7} "
        f"{case.rate:>6.0f} {spread:>16} {percentile(lat, 0.5) * 1000:>7.1f} "
        f"{percentile(lat, 0.99) * 1000:>7.1f} {percentile(first, 0.5) * 1000:>7.1f} {idle} "
        f"{case.rate / ceiling if ceiling else 0:>7.1%} "
        f"{case.cpu.get('bot', 0) * 1000 / per:>8.2f} "
        f"{case.cpu.get('sandbox', 0) * 1000 / per:>8.2f}"
        + (f"  ! {case.note}" if case.note else ""),
        flush=True,
    )
    print_cpu_shares(case)


def print_latency_cost(cases: list[Case]) -> None:
    """Each latency's rate as a share of the first's (0 ms), and the most it could be: a
    round ends with its last update's replies, which no concurrency can hurry, so even a
    bot that hides the latency perfectly ends each round `replies` × latency later."""
    first = cases[0]
    window = sum(r.window for r in first.rounds)
    for case in cases[1:]:
        if not first.rate or not case.rounds:
            continue
        tail = len(first.rounds) * case.replies * (case.latency - first.latency) / 1000
        bound = window / (window + tail) if window + tail > 0 else 0.0
        print(
            f"{'':<8}with {case.latency:g} ms: {case.rate / first.rate:.0%} of the rate at "
            f"{first.latency:g} ms; a bot hiding the latency perfectly: {bound:.0%} "
            f"(each round's last reply {case.replies} × {case.latency - first.latency:g} ms later)"
        )


def print_cpu_shares(case: Case) -> None:
    """Who used the machine's cores during the rounds: each bot process, then the rest."""
    capacity = case.seconds * (os.cpu_count() or 1)
    if capacity <= 0:
        return
    bot = [f"{used / capacity:.0%}" for used in case.bot_cpu]
    if len(bot) > 1:
        detail = f"supervisor {bot[0]}, workers {' '.join(bot[1:])}"
    else:
        detail = "one process"
    others = ", ".join(f"{k} {v / capacity:.0%}" for k, v in case.cpu.items() if k != "bot")
    idle = 1 - sum(case.cpu.values()) / capacity
    print(
        f"{'':<8}CPU of {os.cpu_count()} cores in the rounds: bot {case.cpu['bot'] / capacity:.0%} "
        f"({detail}), {others}, idle or other {idle:.0%}"
    )


def print_memory(memory: dict[int, procstats.Memory]) -> None:
    if not memory:
        return
    shown = [str(m) for m in memory.values()]
    if len(shown) > 1:
        listed = f"supervisor {shown[0]}, workers {', '.join(shown[1:])}"
    else:
        listed = f"one process {shown[0]}"
    print(f"{'':<8}bot memory MB, RSS/PSS/USS: {listed}")


def print_scaling(cases: list[Case]) -> None:
    """Each command's rate with 1 → 2 → 3 workers, the gain over one, and the most the
    cores allow: one worker can use one core, N share them all with the sandbox and this
    bench, so the gain is at most cores × bot / (bot + the rest), CPU per update."""
    runs: dict[tuple[str, str, str], dict[int, Case]] = {}
    for case in cases:
        base = case.database.split("×")[0]
        runs.setdefault((base, case.mode, case.command), {})[case.workers] = case
    cores = os.cpu_count() or 1
    for (database, mode, command), by_count in runs.items():
        one = by_count.get(1)
        if one is None or len(by_count) < 2 or not one.rate:
            continue
        counts = sorted(by_count)
        rates = " → ".join(
            f"{by_count[n].rate:.0f}" + (f" (×{by_count[n].rate / one.rate:.2f})" if n > 1 else "")
            for n in counts
        )
        per = max(one.updates, 1)
        bot = one.cpu.get("bot", 0) / per
        rest = sum(v for k, v in one.cpu.items() if k != "bot") / per
        bound = cores * bot / (bot + rest) if bot + rest else 0.0
        print(
            f"workers {' → '.join(map(str, counts))}, {database} {mode} {command}: {rates} upd/s; "
            f"{cores} cores allow at most ×{bound:.2f} over one worker "
            f"(bot {bot * 1000:.1f} ms CPU per update, the rest {rest * 1000:.1f}: "
            + ", ".join(f"{k} {v / per * 1000:.1f}" for k, v in one.cpu.items() if k != "bot")
            + ")"
        )


def print_footer(cases: list[Case], users: int, ceiling: float) -> None:
    injected = [r.inject_span for c in cases for r in c.rounds]
    polls = sum(c.health_polls for c in cases)
    window = sum(r.window for c in cases for r in c.rounds)
    bench_cpu = sum(c.cpu.get("bench", 0) for c in cases)
    updates = sum(c.updates for c in cases)
    if injected:
        print(
            f"\ninjection: {users} control-API POSTs at once take "
            f"{statistics.median(injected) * 1000:.0f} ms"
            f" (median, sandbox clock); end-of-round detection: {polls} health polls "
            f"(~{polls / window if window else 0:.0f}/s during rounds, "
            f"{polls / window / ceiling if window and ceiling else 0:.1%} of the getMe ceiling); "
            f"bench process CPU "
            f"{bench_cpu * 1000 / max(updates, 1):.2f} ms per update."
        )
    print(
        "upd/s: updates ÷ (last awaited reply − first injection), sandbox clock, summed over "
        "rounds; p50/p99: injection → last reply of that update (/start sends 2 messages); "
        "1st p50: → first reply; idle p50: one /help at a time; vs ceil: upd/s ÷ getMe req/s; "
        "ms/u: CPU ms per update of the bot and of the sandbox process."
    )


# ---------------------------------------------------------------------- main
async def main(args: argparse.Namespace) -> None:
    started = time.monotonic()
    load_before = os.getloadavg()
    work = Path(tempfile.mkdtemp(prefix="timebank-e2e-"))
    profiler = Profiler(Path(args.profile) if args.profile else None)
    reports: list[str] = []
    databases: list[Database] = []
    cases: list[Case] = []
    commands = args.commands
    if args.redis:
        await empty_redis(args.redis)
    try:
        async with sandbox_with_client(work, args.users) as sandbox:
            url = f"{sandbox.api}/getMe"
            await run_load(sandbox.http, url, None, args.users, 0.5, 5_000)  # warm-up
            ceiling = await run_load(sandbox.http, url, None, args.users, 1.5, 200_000)
            args.ceiling = ceiling["rps"]
            print(
                f"bench.e2e: {args.users} users, {args.rounds} rounds per case, "
                f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} at start"
            )
            print(
                f"sandbox ceiling (getMe, no-op aiohttp client, concurrency {args.users}): "
                f"{ceiling['rps']:.0f} req/s, p50 {ceiling['p50_ms']:.1f} ms, "
                f"p99 {ceiling['p99_ms']:.1f} ms, {ceiling['errors']:.0f} errors\n"
            )
            if len(args.api_latency) > 1:
                print(
                    "rounds alternate between sendMessage answered "
                    + ", ".join(f"{latency:g}" for latency in args.api_latency)
                    + " ms late (sandbox fault; the mode column shows it, e.g. polling+50)"
                )
            elif args.api_latency[0]:
                await set_latency(sandbox, args.api_latency[0])
                print(f"every sendMessage answered {args.api_latency[0]:g} ms late (sandbox fault)")
            print(HEADER, flush=True)
            if not args.no_null_bot:
                for mode in args.modes:
                    for label, baseline in (("null-bot", null_bot), ("no-db", no_database_bot)):
                        cases += await run_bot(
                            sandbox,
                            baseline(sandbox.base_url, mode, work),
                            label,
                            mode,
                            ["/help"],
                            args,
                            Profiler(None),
                            reports,
                        )
            for spec in args.database:
                db = await prepare_database(spec, work, sandbox.base_url, args.bot_root[0])
                databases.append(db)
                for root in args.bot_root:
                    tag = db.label if root == args.bot_root[0] else f"{db.label}@{root.name}"
                    for mode in args.modes:
                        for workers in args.workers if mode == "webhook" else [1]:
                            label = tag if workers == 1 else f"{tag}×{workers}"
                            bot = real_bot(
                                db.for_run(work), sandbox.base_url, mode, work, label, root,
                                workers, args.redis,
                            )  # fmt: skip
                            cases += await run_bot(
                                sandbox, bot, label, mode, commands, args, profiler, reports,
                                workers,
                            )  # fmt: skip
            print_footer(cases, args.users, args.ceiling)
            print_scaling(cases)
            real = [
                c for c in cases if c.database not in ("null-bot", "no-db") and c.command == "/help"
            ]
            if real:
                best = max(real, key=lambda c: c.rate)
                print(
                    f"goal 1000 /help updates/s end to end: best here {best.rate:.0f} "
                    f"({best.database}, {best.mode}) = {best.rate / 1000:.0%} of it"
                )
    finally:
        for db in databases:
            with contextlib.suppress(Exception):
                await drop_database(db)
        if args.keep:
            print(f"logs and databases kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for report in reports:
        print(f"\nprofile of the bot, {report}")
    load_after = os.getloadavg()
    print(
        f"\nload average {load_before[0]:.2f} → {load_after[0]:.2f}; "
        f"whole run {time.monotonic() - started:.0f}s"
    )


def cli() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.e2e", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--users", type=int, default=200, help="simulated users (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds per case")
    parser.add_argument(
        "--modes", default="polling,webhook", help="comma-separated: polling, webhook"
    )
    parser.add_argument(
        "--commands", default="/help,/start", help="measured commands (default /help,/start)"
    )
    parser.add_argument(
        "--database",
        action="append",
        help="sqlite (default) or postgresql://user@host:port/SCRATCH_NAME; repeatable",
    )
    parser.add_argument(
        "--api-latency",
        default="0",
        metavar="MS",
        help="delay every sendMessage answer by MS milliseconds, as a distant Telegram would; "
        "several (e.g. 0,50): each case's rounds alternate between them, same bot and minute",
    )
    parser.add_argument("--no-null-bot", action="store_true", help="skip the null-bot baseline")
    parser.add_argument("--profile", metavar="DIR", help="py-spy the bot during measured rounds")
    parser.add_argument(
        "--bot-root",
        type=Path,
        action="append",
        help="checkout to run the bot from (default: this one); repeatable, the first also "
        "seeds the databases; the others' rows are labelled DATABASE@DIRECTORY",
    )
    parser.add_argument(
        "--workers",
        default="1",
        help="webhook only: comma-separated worker counts, e.g. 1,2,3 (more than 1 needs "
        "PostgreSQL and --redis)",
    )
    parser.add_argument(
        "--redis",
        default="",
        help="a scratch Redis database for the bots, emptied first (several workers need one)",
    )
    parser.add_argument("--keep", action="store_true", help="keep logs and database files")
    parser.add_argument("--null-bot", choices=["polling", "webhook"], help=argparse.SUPPRESS)
    parser.add_argument("--no-database-bot", choices=["polling", "webhook"], help=argparse.SUPPRESS)
    parser.add_argument("--api", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.null_bot:
        asyncio.run(serve_null_bot(args.null_bot, args.api))
        return
    if args.no_database_bot:
        asyncio.run(serve_no_database_bot(args.no_database_bot, args.api))
        return
    args.bot_root = [r.resolve() for r in args.bot_root or [ROOT]]
    args.workers = [int(w) for w in args.workers.split(",") if w.strip()]
    if any(w > 1 for w in args.workers) and not args.redis:
        parser.error("several workers need --redis")
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or any(m not in ("polling", "webhook") for m in args.modes):
        parser.error("--modes takes polling and/or webhook")
    args.database = args.database or ["sqlite"]
    args.commands = [c.strip() for c in args.commands.split(",") if c.strip().startswith("/")]
    if not args.commands:
        parser.error("--commands takes commands such as /help,/start")
    try:
        args.api_latency = [float(ms) for ms in args.api_latency.split(",") if ms.strip()]
    except ValueError:
        parser.error("--api-latency takes milliseconds, e.g. 50 or 0,50")
    if not args.api_latency or any(ms < 0 for ms in args.api_latency):
        parser.error("--api-latency takes milliseconds, e.g. 50 or 0,50")
    args.users = min(max(args.users, 1), 2_000)
    args.rounds = min(max(args.rounds, 1), 50)
    asyncio.run(main(args))


if __name__ == "__main__":
    cli()
