"""An update whose handling raised is never confirmed as handled: by long polling it is
handled again (`bot.runner.Poller`), so a dropped connection loses nothing; a bug that fails
every time is given up after a few tries, so it cannot hold back every later update. By
webhook it gets a 500, and the Bot API delivers it again."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update

from bot import runner
from core.config import load_settings
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN, RunningBot
from tests.bot.test_run import _free_port


class FailingFirst(BaseMiddleware):
    """Inside the unit of work: the first update's first `times` handlings raise `error`."""

    def __init__(self, error: Exception, times: int) -> None:
        self.error = error
        self.times = times
        self.first: int | None = None
        self.attempts: Counter[int] = Counter()

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        assert isinstance(event, Update)
        self.first = self.first or event.update_id
        self.attempts[event.update_id] += 1
        if event.update_id == self.first and self.attempts[event.update_id] <= self.times:
            raise self.error
        return await handler(event, data)


@pytest.fixture
def failing(monkeypatch: pytest.MonkeyPatch) -> Callable[[Exception, int], FailingFirst]:
    monkeypatch.setattr(runner, "FIRST_RETRY_PAUSE", 0.05)

    def install(error: Exception, times: int) -> FailingFirst:
        middleware = FailingFirst(error, times)
        create_app = runner.create_app

        def create_failing_app(*args: Any, **kwargs: Any) -> Any:
            app = create_app(*args, **kwargs)
            app.dispatcher.update.outer_middleware(middleware)
            return app

        monkeypatch.setattr(runner, "create_app", create_failing_app)
        return middleware

    return install


async def _pending(control: SandboxClient) -> int:
    bots = (await control.request("GET", "/sandbox/bots"))["bots"]
    return sum(bot["pending_update_count"] for bot in bots)


async def _run(sandbox, database_url: str) -> RunningBot:
    settings = load_settings(
        telegram_token=TOKEN, telegram_api_url=sandbox.base_url,
        database_url=database_url, log_level="WARNING",
    )  # fmt: skip
    bot = RunningBot(settings)
    await bot.start()
    return bot


async def test_an_update_that_lost_its_connection_is_handled_again_and_answered_once(
    sandbox, database_url, engine, seeded, failing
) -> None:
    middleware = failing(ConnectionResetError("the database went away"), 3)
    bot = await _run(sandbox, database_url)
    try:
        async with SandboxClient(sandbox.base_url) as control:
            ann = await control.user("Ann", language_code="en")
            await ann.command("/help")
            assert "/mydata" in (await ann.wait_reply(timeout=60))["text"]
            await ann.command("/help")
            await ann.wait_reply(timeout=60)
            for _ in range(600):
                if not await _pending(control):
                    break
                await asyncio.sleep(0.1)
            assert await _pending(control) == 0
            await ann.sync()
            helps = [m for m in ann.bot_messages() if "/mydata" in (m.get("text") or "")]
            assert len(helps) == 2
    finally:
        await bot.stop()
    assert middleware.first is not None and middleware.attempts[middleware.first] == 4


async def test_an_update_that_fails_every_time_is_given_up_and_later_ones_go_through(
    sandbox, database_url, engine, seeded, failing, caplog
) -> None:
    middleware = failing(ZeroDivisionError("a bug"), 1000)
    bot = await _run(sandbox, database_url)
    try:
        async with SandboxClient(sandbox.base_url) as control:
            ann = await control.user("Ann", language_code="en")
            caplog.set_level(logging.WARNING, logger="timebank.runner")
            await ann.command("/start")
            await ann.command("/help")
            assert "/mydata" in (await ann.wait_reply(timeout=60))["text"]
            for _ in range(600):  # five handlings and their pauses: seconds on a busy machine
                given_up = [r for r in caplog.records if r.getMessage() == "update given up"]
                if given_up and not await _pending(control):
                    break
                await asyncio.sleep(0.1)
            assert await _pending(control) == 0
    finally:
        await bot.stop()
    assert middleware.first is not None
    assert middleware.attempts[middleware.first] == runner.GIVE_UP_AFTER
    assert len(given_up) == 1 and given_up[0].levelno == logging.ERROR


async def test_by_webhook_a_failed_update_gets_a_500_and_comes_again(
    sandbox, database_url, engine, seeded, failing
) -> None:
    middleware = failing(ConnectionResetError("the database went away"), 1)
    port = _free_port()
    settings = load_settings(
        telegram_token=TOKEN, telegram_api_url=sandbox.base_url, database_url=database_url,
        webhook_url=f"http://127.0.0.1:{port}", webhook_secret="s3cret-token",
        webhook_host="127.0.0.1", webhook_port=port, log_level="WARNING",
    )  # fmt: skip
    task = asyncio.create_task(runner.serve(settings, webhook=True, handle_signals=False))
    try:
        async with SandboxClient(sandbox.base_url) as control:
            for _ in range(600):
                info = await control.request("GET", f"/bot{TOKEN}/getWebhookInfo")
                if info.get("result", {}).get("url"):
                    break
                await asyncio.sleep(0.1)
            ann = await control.user("Ann", language_code="en")
            await ann.command("/help")
            assert "/mydata" in (await ann.wait_reply(timeout=60))["text"]
            await ann.expect_no_reply(within=2)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert middleware.first is not None and middleware.attempts[middleware.first] == 2
