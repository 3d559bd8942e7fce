"""Dispatcher hygiene: redelivered updates, forged buttons, flood control."""

from __future__ import annotations

import itertools

from aiogram.types import Update
from sqlalchemy import func, select

from bot.app import create_app, create_bot
from core.config import load_settings
from core.models import Member
from sandbox.client import SandboxClient
from sandbox.ratelimit import RateLimits
from sandbox.server import SandboxServer
from tests.bot.conftest import TOKEN

_ids = itertools.count(10_000)


def _user(user: dict) -> dict:
    return {"is_bot": False, **user}


def _message(user: dict, text: str, update_id: int | None = None) -> Update:
    entities = [{"type": "bot_command", "offset": 0, "length": len(text)}] if text[0] == "/" else []
    return Update.model_validate({
        "update_id": update_id or next(_ids),
        "message": {
            "message_id": next(_ids), "date": 0, "text": text, "entities": entities,
            "chat": {"id": user["id"], "type": "private"}, "from": _user(user),
        },
    })  # fmt: skip


def _callback(user: dict, data: str) -> Update:
    return Update.model_validate({
        "update_id": next(_ids),
        "callback_query": {
            "id": str(next(_ids)), "chat_instance": "1", "data": data, "from": _user(user),
        },
    })  # fmt: skip


async def _app_and_bot(sandbox: SandboxServer, engine, database_url: str):
    settings = load_settings(
        telegram_token=TOKEN, telegram_api_url=sandbox.base_url, database_url=database_url
    )
    return create_app(settings, engine), create_bot(settings)


async def test_an_update_delivered_twice_changes_nothing_the_second_time(
    sandbox, engine, database_url, sessions, seeded
) -> None:
    app, bot = await _app_and_bot(sandbox, engine, database_url)
    async with SandboxClient(sandbox.base_url) as control:
        ann = await control.user("Ann", language_code="en")
        await ann.command("/start")  # opens the chat; the bot is not polling here
        update = _message(ann.user, "English", update_id=5_000_001)
        try:
            await app.dispatcher.feed_update(bot, _message(ann.user, "/start"))
            await app.dispatcher.feed_update(bot, update)
            await ann.sync()
            sent_before = len(ann.bot_messages())
            await app.dispatcher.feed_update(bot, update)
            await ann.sync()
        finally:
            await app.close()
            await bot.session.close()
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 4 + 1
    assert len(ann.bot_messages()) == sent_before


async def test_forged_or_malformed_callback_data_is_answered_and_changes_nothing(
    sandbox, engine, database_url, sessions, seeded
) -> None:
    app, bot = await _app_and_bot(sandbox, engine, database_url)
    async with SandboxClient(sandbox.base_url) as control:
        ann = await control.user("Ann", language_code="en")
        answers = []
        original = bot.session.make_request

        async def spy(bot_, method, timeout=None):  # noqa: ASYNC109  (aiogram signature)
            if type(method).__name__ == "AnswerCallbackQuery":
                answers.append(method.text)
                return True
            return await original(bot_, method, timeout)

        bot.session.make_request = spy
        try:
            for data in ("erase:1", "erase:maybe", "x" * 64, "", "erase"):
                await app.dispatcher.feed_update(bot, _callback(ann.user, data))
        finally:
            await app.close()
            await bot.session.close()
    assert answers == ["This button is no longer active."] * 5
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Member)) == 4


async def test_flood_control_is_waited_out(engine, database_url, seeded, caplog) -> None:
    """With Telegram's own limits (about one message a second to a chat), nothing is lost."""
    from tests.bot.conftest import RunningBot

    limits = RateLimits(chat_per_second=2.0, chat_burst=2)
    async with SandboxServer(bots=[TOKEN], rate_limits=limits) as sandbox:
        settings = load_settings(
            telegram_token=TOKEN, telegram_api_url=sandbox.base_url,
            database_url=database_url, log_level="WARNING",
        )  # fmt: skip
        running = RunningBot(settings)
        await running.start()
        try:
            async with SandboxClient(sandbox.base_url) as control:
                ann = await control.user("Ann", language_code="en")
                for _ in range(5):
                    await ann.command("/help")
                await ann.wait_for(lambda _: len(ann.bot_messages()) >= 5, timeout=15)
                assert len(ann.bot_messages()) == 5
        finally:
            await running.stop()
    retried = [r for r in caplog.records if r.getMessage() == "telegram call retried"]
    assert any(r.fields["method"] == "SendMessage" for r in retried)
