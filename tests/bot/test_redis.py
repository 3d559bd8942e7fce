"""With TIMEBANK_REDIS_URL set, conversations live in Redis and survive a restart there."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from core.config import load_settings
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN, RunningBot

# A database of its own for each run, since the SQLite and PostgreSQL runs go side by side.
REDIS_URL = "redis://127.0.0.1:6379/" + (
    "14" if os.environ.get("TIMEBANK_DATABASE_URL", "").startswith("postgres") else "15"
)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except OSError:
        pytest.fail("Redis is expected at 127.0.0.1:6379 (see README)")
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def test_a_conversation_kept_in_redis_survives_a_restart(
    sandbox, database_url, engine, seeded, redis
) -> None:
    settings = load_settings(
        telegram_token=TOKEN, telegram_api_url=sandbox.base_url,
        database_url=database_url, redis_url=REDIS_URL, log_level="WARNING",
    )  # fmt: skip
    bot = RunningBot(settings)
    await bot.start()
    try:
        async with SandboxClient(sandbox.base_url) as control:
            ann = await control.user("Ann", language_code="en")
            await ann.command("/start")
            await ann.wait_reply()
            await ann.tap("English")
            await ann.wait_reply()
            states = [await redis.get(key) for key in await redis.keys("fsm:*:state")]
            assert b"Onboarding:name" in states

            await bot.restart()

            await ann.send("Ann")
            assert (await ann.wait_reply())["text"] == "Which time bank branch is near you?"
    finally:
        await bot.stop()
