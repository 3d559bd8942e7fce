"""With TIMEBANK_REDIS_URL set, the per-chat lock lives in Redis, shared by the workers, and
holds through dropped connections; the conversation state stays in the database, committed
with the effects of each answer.

Where no Redis listens (a contributor's laptop), the test is skipped and says why; in CI
(`CI` set), which starts Redis, it fails instead, so a broken Redis cannot pass unseen.
TIMEBANK_TEST_REDIS_URL names another server.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiogram.fsm.storage.base import StorageKey
from aiogram.fsm.storage.redis import RedisEventIsolation
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from bot.locks import SteadyRedisIsolation
from core.config import load_settings
from core.models import ConversationState
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN, RunningBot

# A database of its own for each run, since the SQLite and PostgreSQL runs go side by side.
REDIS_SERVER = os.environ.get("TIMEBANK_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/")
REDIS_URL = REDIS_SERVER + (
    "/14" if os.environ.get("TIMEBANK_DATABASE_URL", "").startswith("postgres") else "/15"
)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=5)
    try:
        await client.ping()
    except (OSError, RedisConnectionError) as error:
        await client.aclose()
        why = f"no Redis answers at {REDIS_SERVER} ({type(error).__name__})"
        if os.environ.get("CI"):
            pytest.fail(f"{why}; CI starts one (see README)")
        pytest.skip(f"{why}: start one, or set TIMEBANK_TEST_REDIS_URL, to run this test")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


def _settings(sandbox, database_url: str):
    return load_settings(
        telegram_token=TOKEN, telegram_api_url=sandbox.base_url,
        database_url=database_url, redis_url=REDIS_URL, log_level="WARNING",
    )  # fmt: skip


async def test_the_conversation_commits_to_the_database_and_survives_a_restart(
    sandbox, database_url, engine, sessions, seeded, redis
) -> None:
    bot = RunningBot(_settings(sandbox, database_url))
    await bot.start()
    try:
        async with SandboxClient(sandbox.base_url) as control:
            ann = await control.user("Ann", language_code="en")
            await ann.command("/start")
            await ann.wait_reply()
            await ann.tap("English")
            await ann.wait_reply()
            async with sessions() as session:
                steps = (await session.scalars(select(ConversationState.state))).all()
            assert "Onboarding:name" in steps
            assert await redis.keys("fsm:*:state") == []

            await bot.restart()

            await ann.send("Ann")
            assert (await ann.wait_reply())["text"] == "Which time bank branch is near you?"
    finally:
        await bot.stop()


async def test_a_chat_waits_for_its_lock_in_redis(sandbox, database_url, engine, seeded, redis):
    """Another worker holding the chat's lock keeps this one from answering until it is free."""
    bot = RunningBot(_settings(sandbox, database_url))
    await bot.start()
    locks = RedisEventIsolation(Redis.from_url(REDIS_URL))
    try:
        async with SandboxClient(sandbox.base_url) as control:
            ann = await control.user("Ann", language_code="en")
            key = StorageKey(bot_id=int(TOKEN.split(":")[0]), chat_id=ann.id, user_id=ann.id)
            async with locks.lock(key):
                await ann.command("/start")
                with pytest.raises(TimeoutError):
                    await ann.wait_reply(timeout=2)
            assert (await ann.wait_reply())["text"] == "Which language would you like me to speak?"
    finally:
        await locks.close()
        await bot.stop()


def _steady_locks(client: Redis | None = None) -> SteadyRedisIsolation:
    return SteadyRedisIsolation(RedisEventIsolation(client or Redis.from_url(REDIS_URL)))


async def test_chat_locks_hold_while_redis_drops_its_clients(redis) -> None:
    """Every connection of the lock's database is killed (CLIENT KILL) again and again while
    updates of three chats take and give back their locks: none fails, a chat is never held
    twice at once, and no lock is left behind."""
    locks = _steady_locks()
    db = int(REDIS_URL.rsplit("/", 1)[1])
    holders: Counter[int] = Counter()
    most = 0
    kills = 0
    stop = asyncio.Event()

    async def update(chat: int) -> None:
        nonlocal most
        async with locks.lock(StorageKey(bot_id=1, chat_id=chat, user_id=chat)):
            holders[chat] += 1
            most = max(most, holders[chat])
            await asyncio.sleep(0.01)
            holders[chat] -= 1

    async def killer() -> None:
        nonlocal kills
        me = await redis.client_id()
        while not stop.is_set():
            await asyncio.sleep(0.05)
            for entry in await redis.client_list():
                if int(entry["db"]) == db and int(entry["id"]) != me:
                    await redis.execute_command("CLIENT", "KILL", "ID", entry["id"])
                    kills += 1

    killing = asyncio.create_task(killer())
    try:
        await asyncio.gather(*(update(n % 3) for n in range(60)))
    finally:
        stop.set()
        await killing
    assert kills >= 3, "Redis never dropped a client while the locks were used"
    assert most == 1
    assert await redis.keys("*lock*") == []


async def test_a_lock_taken_by_a_try_whose_answer_was_lost_is_known_as_taken(redis) -> None:
    """The SET that takes the lock goes through, then the connection drops before its answer:
    the next try sees the lock is its own rather than waiting out its 60 s expiry."""
    client = Redis.from_url(REDIS_URL)
    taking = client.set

    async def taken_then_dropped(*args: Any, **kwargs: Any) -> Any:
        client.set = taking  # once
        await taking(*args, **kwargs)
        raise RedisConnectionError("Connection closed by server.")

    client.set = taken_then_dropped  # type: ignore[method-assign]
    key = StorageKey(bot_id=1, chat_id=7, user_id=7)
    async with asyncio.timeout(10):
        async with _steady_locks(client).lock(key):
            assert len(await redis.keys("*lock*")) == 1
    assert await redis.keys("*lock*") == []
