"""Fixtures for the sandbox tests: a server per test, raw HTTP, the control client, aiogram."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
from aiogram import Bot, Dispatcher
from aiohttp import web

from sandbox import RateLimits, SandboxClient, SandboxServer, Settings
from sandbox.client import aiogram_session

TOKEN = "123456789:SANDBOX-test-token"
OTHER_TOKEN = "987654321:SANDBOX-other-token"

# Fast retries so webhook tests do not wait for Telegram-sized backoffs.
FAST = Settings(webhook_retry_initial=0.05, webhook_retry_max=0.2, webhook_timeout=2.0)


@pytest.fixture
async def sandbox() -> AsyncIterator[SandboxServer]:
    """A sandbox with one bot (TOKEN) and no rate limits (see test_rate_limits for those)."""
    server = SandboxServer(
        bots=[{"token": TOKEN, "username": "timebank_test_bot"}],
        settings=FAST,
        rate_limits=RateLimits.relaxed(),
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        yield session


@pytest.fixture
async def client(sandbox: SandboxServer) -> AsyncIterator[SandboxClient]:
    async with SandboxClient(sandbox.base_url) as control:
        yield control


class Api:
    """Raw Bot API calls: ``status, body = await api("sendMessage", chat_id=1, text="x")``."""

    def __init__(self, http: aiohttp.ClientSession, server: SandboxServer, token: str) -> None:
        self.http = http
        self.server = server
        self.token = token

    def url(self, method: str, token: str | None = None) -> str:
        return f"{self.server.base_url}/bot{token or self.token}/{method}"

    async def __call__(self, method: str, **params: Any) -> tuple[int, dict[str, Any]]:
        async with self.http.post(self.url(method), json=params) as response:
            return response.status, await response.json()

    async def ok(self, method: str, **params: Any) -> Any:
        status, body = await self(method, **params)
        assert status == 200 and body["ok"], body
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        status, body = await self(method, **params)
        assert not body["ok"], body
        assert body["error_code"] == status
        return status, body["description"]


@pytest.fixture
def api(http: aiohttp.ClientSession, sandbox: SandboxServer) -> Api:
    return Api(http, sandbox, TOKEN)


async def started_user(
    client: SandboxClient, first_name: str = "Mei", **fields: Any
) -> dict[str, Any]:
    """A user who has opened the chat with the bot (so the bot may write to them)."""
    return await client.create_user(first_name, started=True, **fields)


@pytest.fixture
async def user(client: SandboxClient) -> dict[str, Any]:
    return await started_user(client, "Mei", language_code="zh-hans", username="mei")


@pytest.fixture
async def aiobot(sandbox: SandboxServer) -> AsyncIterator[Bot]:
    """An aiogram Bot talking to the sandbox."""
    bot = Bot(TOKEN, session=aiogram_session(sandbox.base_url))
    try:
        yield bot
    finally:
        await bot.session.close()


@contextlib.asynccontextmanager
async def polling(dp: Dispatcher, bot: Bot, **kwargs: Any) -> AsyncIterator[asyncio.Task[None]]:
    """Run ``dp.start_polling`` in the background for the duration of the block."""
    kwargs.setdefault("polling_timeout", 5)
    kwargs.setdefault("handle_signals", False)
    task = asyncio.create_task(dp.start_polling(bot, **kwargs))
    try:
        yield task
    finally:
        with contextlib.suppress(RuntimeError):
            await dp.stop_polling()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 10)


async def eventually(
    check: Callable[[], Awaitable[bool]], within: float = 3.0, interval: float = 0.02
) -> None:
    """For conditions that have no event to wait on (e.g. a webhook receiver's counters)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def webhook_receiver(
    handle: Callable[[web.Request], Awaitable[web.StreamResponse]],
) -> AsyncIterator[str]:
    """A bot's webhook endpoint on a free local port, answered by `handle`; yields its URL."""
    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/hook"
    finally:
        await runner.cleanup()
