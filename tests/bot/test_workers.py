"""Three webhook workers on one port, one PostgreSQL and one Redis; one killed mid-burst."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from core.models import Identity, Member, ProcessedUpdate
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN

pytestmark = pytest.mark.slow

REDIS_URL = "redis://127.0.0.1:6379/13"  # the other Redis tests use 14 and 15
USERS = 24
LANGUAGE = "Which language would you like me to speak?"
NAME = "What should we call you? Please type your name."
BRANCH = "Which time bank branch is near you?"
# What each user sends at once, and the question each message brings, in order. A message
# handled twice or out of order would ask the wrong question.
STEPS = [("/start", LANGUAGE), ("English", NAME), ("{name}", BRANCH), ("⬅️ Back", NAME)]
QUESTIONS = {LANGUAGE, NAME, BRANCH}
WAIT = 240.0  # three workers start on a busy 2-core machine; a killed one's chat lock expires


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def redis() -> Redis:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError:
        pytest.skip("several workers share Redis, and none answers at 127.0.0.1:6379")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


class Log:
    """The JSON log lines of the workers (they share the supervisor's stderr)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.events: list[dict] = []
        self.reader = asyncio.create_task(self._read(process))

    async def _read(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        async for line in process.stderr:
            try:
                self.events.append(json.loads(line))
            except ValueError:
                self.events.append({"event": line.decode(errors="replace")})

    def named(self, event: str) -> list[dict]:
        return [e for e in self.events if e.get("event") == event]

    async def until(self, event: str, count: int) -> list[dict]:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT
        while len(self.named(event)) < count:
            if loop.time() > deadline:
                tail = "\n".join(str(e) for e in self.events[-15:])
                raise AssertionError(f"fewer than {count} {event!r} in the log:\n{tail}")
            await asyncio.sleep(0.1)
        return self.named(event)


def _in_order(asked: list[str], expected: list[str]) -> bool:
    """`asked` is `expected` with some questions possibly missing (a reply lost when its
    worker died between the commit and the send), never repeated or swapped."""
    remaining = iter(expected)
    return all(any(q == e for e in remaining) for q in asked)


async def test_three_workers_handle_each_update_once_and_in_order_when_one_is_killed(
    sandbox, database_url, engine, sessions, seeded, redis
) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("several workers share PostgreSQL; this run is on SQLite")
    port = _free_port()
    env = {
        **os.environ,
        "TIMEBANK_TELEGRAM_TOKEN": TOKEN,
        "TIMEBANK_TELEGRAM_API_URL": sandbox.base_url,
        "TIMEBANK_DATABASE_URL": database_url,
        "TIMEBANK_REDIS_URL": REDIS_URL,
        "TIMEBANK_WEBHOOK_URL": f"http://127.0.0.1:{port}",
        "TIMEBANK_WEBHOOK_HOST": "127.0.0.1",
        "TIMEBANK_WEBHOOK_PORT": str(port),
        "TIMEBANK_WEBHOOK_SECRET": "workers-secret",
        "TIMEBANK_SWEEP_SECONDS": "5",
        "TIMEBANK_LOG_LEVEL": "INFO",
    }
    supervisor = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", "--webhook", "--workers", "3",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    log = Log(supervisor)
    try:
        await log.until("bot started", 3)
        leaders = await log.until("scheduler leader", 1)
        await asyncio.sleep(3)  # the others try the lock in the meantime
        assert len(log.named("scheduler leader")) == 1, "exactly one scheduler leader"
        leader_pid = leaders[0]["pid"]

        async with SandboxClient(sandbox.base_url) as control:
            users = [await control.user(f"Ann{i}", language_code="en") for i in range(USERS)]
            for user in users:
                for text, _ in STEPS:
                    if text.startswith("/"):
                        await user.command(text)
                    else:
                        await user.send(text.format(name=user.first_name))
            expected_updates = USERS * len(STEPS)

            async def asked(user) -> list[str]:
                await user.sync()
                return [m["text"] for m in user.bot_messages() if m.get("text") in QUESTIONS]

            async def answered() -> int:
                return sum([len(await asked(u)) for u in users])

            while await answered() < expected_updates // 4:  # noqa: ASYNC110 (the sandbox's)
                await asyncio.sleep(0.05)
            os.kill(leader_pid, signal.SIGKILL)  # mid-burst, the scheduler's leader

            await log.until("scheduler leader", 2)  # another worker (or its restart) took over
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT
            async with sessions() as session:
                while (
                    await session.scalar(select(func.count()).select_from(ProcessedUpdate))
                    < expected_updates
                ):
                    assert loop.time() < deadline, "not every update was handled"
                    await asyncio.sleep(0.2)
                    await session.rollback()
            await asyncio.sleep(1)  # the last replies go out after the last commits
            questions = [await asked(u) for u in users]
    finally:
        supervisor.send_signal(signal.SIGTERM)
        await asyncio.wait_for(supervisor.wait(), timeout=60)
        await asyncio.wait_for(log.reader, timeout=10)

    expected = [question for _, question in STEPS]
    assert all(_in_order(q, expected) for q in questions), questions
    lost = sum(len(expected) - len(q) for q in questions)
    print(f"replies lost in the commit-to-send window of the killed worker: {lost}")
    async with sessions() as session:
        named = await session.scalar(
            select(func.count())
            .select_from(Member)
            .join(Identity, Identity.member_id == Member.id)
            .where(Member.name.like("Ann%"))
        )
        assert named == USERS
    assert supervisor.returncode == 0
