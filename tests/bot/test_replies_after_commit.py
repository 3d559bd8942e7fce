"""Replies after commit: an update's calls wait for its transaction, and a rollback sends none."""

from __future__ import annotations

import itertools

import pytest
from aiogram.client.session.middlewares.base import BaseRequestMiddleware
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message, Update
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.app import create_app, create_bot
from core.config import load_settings
from core.models import ConversationState, Member, ProcessedUpdate
from sandbox.client import SandboxClient
from tests.bot.conftest import TOKEN

_ids = itertools.count(20_000)


class Boom(Exception):
    pass


def _command(user: dict, text: str, update_id: int | None = None) -> Update:
    return Update.model_validate({
        "update_id": update_id or next(_ids),
        "message": {
            "message_id": next(_ids), "date": 0, "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text)}],
            "chat": {"id": user["id"], "type": "private"}, "from": {"is_bot": False, **user},
        },
    })  # fmt: skip


async def _app_and_bot(sandbox, engine, database_url: str):
    settings = load_settings(
        telegram_token=TOKEN, telegram_api_url=sandbox.base_url, database_url=database_url
    )
    app = create_app(settings, engine)
    return app, create_bot(settings)


async def _members(sessions) -> int:
    async with sessions() as session:
        return await session.scalar(select(func.count()).select_from(Member))


async def test_a_handler_that_raises_after_replying_sends_nothing_and_writes_nothing(
    sandbox, engine, database_url, sessions, seeded
) -> None:
    app, bot = await _app_and_bot(sandbox, engine, database_url)
    members_before = await _members(sessions)

    async def replies_then_fails(message: Message, session: AsyncSession, state: FSMContext):
        await message.answer("This reply must never arrive.")
        session.add(Member(language="en"))
        await state.set_state("halfway")
        await session.flush()
        raise Boom

    app.dispatcher.message.register(replies_then_fails, Command("boom"))
    async with SandboxClient(sandbox.base_url) as control:
        ann = await control.user("Ann", language_code="en")
        await ann.command("/start")  # opens the chat, so a reply could arrive
        update = _command(ann.user, "/boom", update_id=6_000_001)
        try:
            with pytest.raises(Boom):
                await app.dispatcher.feed_update(bot, update)
            await ann.sync()
            assert ann.bot_messages() == []
        finally:
            await app.close()
            await bot.session.close()
    assert await _members(sessions) == members_before
    async with sessions() as session:
        assert await session.get(ProcessedUpdate, 6_000_001) is None
        assert await session.scalar(select(func.count()).select_from(ConversationState)) == 0


async def test_replies_go_out_in_order_and_a_kept_message_id_becomes_the_real_one(
    sandbox, engine, database_url, sessions, seeded
) -> None:
    app, bot = await _app_and_bot(sandbox, engine, database_url)
    seen_during_handler: list[int] = []

    async def replies_and_keeps_the_id(message: Message, state: FSMContext) -> None:
        await message.answer("first")
        sent = await message.answer("second, to be edited later")
        seen_during_handler.append(sent.message_id)
        await state.update_data(kept_message_id=sent.message_id)
        await message.bot.edit_message_text(
            "second, edited", chat_id=message.chat.id, message_id=sent.message_id
        )
        await message.bot.edit_message_text(
            "an edit that cannot be made becomes a new message",
            chat_id=message.chat.id,
            message_id=999_999,
        )

    app.dispatcher.message.register(replies_and_keeps_the_id, Command("keep"))
    async with SandboxClient(sandbox.base_url) as control:
        ann = await control.user("Ann", language_code="en")
        await ann.command("/start")  # opens the chat; the bot is not polling here
        try:
            await app.dispatcher.feed_update(bot, _command(ann.user, "/keep"))
            await ann.sync()
            key = next(iter(await _state_keys(sessions)))
            async with sessions() as session:
                row = await session.get(ConversationState, key)
        finally:
            await app.close()
            await bot.session.close()
    texts = [m["text"] for m in ann.bot_messages()]
    assert texts == [
        "first",
        "second, edited",
        "an edit that cannot be made becomes a new message",
    ]
    assert seen_during_handler[0] < 0  # a placeholder while the transaction was open
    assert row.data["kept_message_id"] == ann.bot_messages()[1]["message_id"]


async def _state_keys(sessions) -> list[str]:
    async with sessions() as session:
        return list(await session.scalars(select(ConversationState.key)))


class _Journal(BaseRequestMiddleware):
    """Writes each Bot API call the bot made, once answered, into a shared journal."""

    def __init__(self, journal: list[str]) -> None:
        self.journal = journal

    async def __call__(self, make_request, bot, method):
        response = await make_request(bot, method)
        self.journal.append(type(method).__name__)
        return response


async def test_a_writing_update_is_confirmed_at_commit_a_read_only_one_after_its_replies(
    sandbox, engine, database_url, sessions, seeded
) -> None:
    """Brought back after a crash, an update that wrote is skipped as handled, so holding
    the poller's window for its replies' round trip gains nothing; one that only showed
    something is answered again, so it is confirmed only once its replies went out."""
    app, bot = await _app_and_bot(sandbox, engine, database_url)
    journal: list[str] = []
    bot.session.middleware(_Journal(journal))

    async def writes_then_replies(message: Message, session: AsyncSession) -> None:
        session.add(Member(language="en"))
        await message.answer("saved")

    async def only_replies(message: Message) -> None:
        await message.answer("shown")

    app.dispatcher.message.register(writes_then_replies, Command("save"))
    app.dispatcher.message.register(only_replies, Command("show"))
    async with SandboxClient(sandbox.base_url) as control:
        ann = await control.user("Ann", language_code="en")
        await ann.command("/start")
        try:
            for command in ("/save", "/show"):
                journal.append(command)
                await app.dispatcher.feed_update(
                    bot,
                    _command(ann.user, command),
                    update_committed=lambda: journal.append("confirmed"),
                )
        finally:
            await app.close()
            await bot.session.close()
    assert journal == ["/save", "confirmed", "SendMessage", "/show", "SendMessage", "confirmed"]
